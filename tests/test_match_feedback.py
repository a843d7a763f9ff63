"""What users see of suggestions (issue 15, part B): one 匹配度 0-100 with 强/中/弱 on every page, every list sorted by
it, weak ones marked rather than hidden, a need without strong ones offered wider searches; owners' feedback: 不相关
marks that stay hidden through refreshes, 技术不对口 declines that demote the pairing and similar ones, and the
officials' dashboard counting both per month."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from market.extensions import db
from market.matching import degree, feedback
from market.models import Interest, MatchFeedback, Suggestion
from tests import factories
from tests.helpers import client_for, count, post

ON_POSTGRES = os.environ.get("MARKET_TEST_DB") == "postgres"
PAGES_ONLY = pytest.mark.skipif(ON_POSTGRES, reason="what the pages show of stored scores does not depend on the database")
DEGREE_RE = re.compile(r'data-degree="(\d+)"[^>]*>匹配度 (\d+) · ([强中弱])<')


def film_result(world, owner=None, **kw):
    kw.setdefault("title", "磁控溅射低方阻透明导电膜制备技术")
    kw.setdefault("summary", "本成果采用磁控溅射工艺在玻璃基板上制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。")
    kw.setdefault("keywords", "导电膜,磁控溅射,镀膜玻璃")
    kw.setdefault("maturity", 6)
    return factories.achievement(owner=owner or world.users.institution, field=world.fields["materials"],
                                 status="published", **kw)


def film_need(world, owner=None, **kw):
    kw.setdefault("title", "寻求高透光导电膜玻璃镀膜技术")
    kw.setdefault("description", "我公司导电膜玻璃方阻偏高、透光率不足，希望引进磁控溅射镀膜技术，降低导电膜方阻。")
    kw.setdefault("keywords", "导电膜,镀膜,磁控溅射")
    d = factories.demand(owner=owner or world.users.enterprise, field=world.fields["materials"], status="published", **kw)
    d.set_modes(["transfer"])
    return d


def scores() -> dict[tuple[int, int], float]:
    found = {(d, a): s for d, a, s in db.session.execute(
        select(Suggestion.demand_id, Suggestion.achievement_id, Suggestion.score))}
    db.session.commit()  # never keep SQLite's write lock while the code under test writes
    return found


def shown_degrees(html: str) -> list[tuple[int, str]]:
    out = []
    for data, text, label in DEGREE_RE.findall(html):
        assert data == text
        out.append((int(text), label))
    return out


@pytest.fixture
def login_as(app, world):
    """A signed-in client per world user, made once per test without a password check (tests/helpers.client_for)."""
    made = {}

    def _as(name: str):
        if name not in made:
            made[name] = client_for(app, getattr(world.users, name))
        return made[name]

    return _as


@pytest.fixture
def films(world):
    """A need of 怀远甲企业 and three film results of 蚌埠测试大学 that the engine suggests for it."""
    need = film_need(world)
    results = [
        film_result(world),
        film_result(world, title="导电膜玻璃磁控溅射镀膜生产线", keywords="导电膜,磁控溅射",
                    summary="导电膜玻璃磁控溅射镀膜生产线工艺包，方阻均匀性好。"),
        film_result(world, title="透明导电氧化物薄膜低温沉积", keywords="透明导电膜,低温沉积",
                    summary="透明导电氧化物薄膜低温沉积方法，适用于柔性基底。"),
    ]
    db.session.commit()
    pairs = scores()
    assert {(need.id, r.id) for r in results} <= set(pairs), pairs
    return need, results


# -- 匹配度 on every page ------------------------------------------------------------------------------------

def test_every_list_shows_one_degree_scale_sorted_by_it(films, world, login_as):
    need, results = films
    # the broker's queue once listed 40.04, 31.39, 31.67, 34.04 with the best pair (54.11) buried: give the pairs
    # scores out of order and newest-first timestamps that would put them in that order
    wanted = {results[0].id: 31.39, results[1].id: 54.11, results[2].id: 40.04}
    for achievement_id, score in wanted.items():
        db.session.execute(update(Suggestion).where(Suggestion.demand_id == need.id,
                                                    Suggestion.achievement_id == achievement_id).values(score=score))
    db.session.commit()
    expected = [(degree.match_degree(s), degree.strength_label(degree.match_degree(s)))
                for s in sorted(wanted.values(), reverse=True)]

    panel = login_as("enterprise").get(f"/demands/{need.id}").get_data(as_text=True)
    mine = login_as("enterprise").get("/matching").get_data(as_text=True)
    queue = login_as("broker").get("/deals/queue").get_data(as_text=True)
    for html in (panel, mine, queue):
        assert shown_degrees(html) == expected
        assert "54.11" not in html and "分</span>" not in html  # no raw points anywhere
    titles = [results[1].title, results[2].title, results[0].title]
    for html in (panel, mine, queue):
        positions = [html.index(t) for t in titles]
        assert positions == sorted(positions), "not sorted by 匹配度"
    assert all(0 <= d <= 100 for d, _ in expected)


@PAGES_ONLY
def test_the_degree_is_monotone_and_labelled():
    degrees = [degree.match_degree(s) for s in (None, float("nan"), -5, 0, 10, 19.6, 20, 35, 49.4, 50, 99.6, 150)]
    assert degrees == sorted(degrees) and degrees[0] == 0 and degrees[-1] == 100
    assert [degree.strength_label(d) for d in (0, 49, 50, 100)][-1] == "强"
    assert degree.strength_label(0) == "弱"


@PAGES_ONLY
def test_weak_suggestions_are_marked_and_offered_wider_searches(films, world, login_as):
    need, results = films
    db.session.execute(update(Suggestion).where(Suggestion.demand_id == need.id).values(score=5.0))
    db.session.commit()
    html = login_as("enterprise").get(f"/demands/{need.id}").get_data(as_text=True)
    assert [label for _, label in shown_degrees(html)] == ["弱"] * 3  # all shown, each marked weak
    assert html.count("弱匹配，仅供参考") == 3
    assert "暂无较强匹配" in html and 'id="only-weak"' in html
    hrefs = [unescape(h) for h in re.findall(r'<a href="([^"]+)"[^>]*data-widen="\w+"', html)]
    assert len(hrefs) == 3 and all(h.startswith("/search?") and "kind=achievement" in h for h in hrefs), hrefs
    assert "field=" in hrefs[1] and "region=" in hrefs[2]
    resp = login_as("enterprise").get(hrefs[0])  # the wider search finds the results, highlighted
    found = re.sub(r"</?mark>", "", resp.get_data(as_text=True))
    assert resp.status_code == 200 and all(r.title in found for r in results)


@PAGES_ONLY
def test_a_need_with_no_suggestion_says_why(world, login_as):
    lonely = film_need(world, title="餐厨垃圾就地处理设备", description="餐厨垃圾就地处理设备，日处理五吨。",
                       keywords="餐厨垃圾")
    db.session.commit()
    html = login_as("enterprise").get(f"/demands/{lonely.id}").get_data(as_text=True)
    assert 'id="no-suggestions"' in html and "暂无较强匹配" in html
    hrefs = [unescape(h) for h in re.findall(r'<a href="([^"]+)"[^>]*data-widen="all"', html)]
    assert len(hrefs) == 1 and "餐厨" in parse_qs(urlsplit(hrefs[0]).query)["q"][0]


# -- 不相关 marks -------------------------------------------------------------------------------------------

def test_an_owner_marks_not_relevant_and_it_stays_hidden_through_refreshes(films, world, login_as, runner):
    need, results = films
    ent = login_as("enterprise")
    target = db.session.scalar(select(Suggestion).where(Suggestion.demand_id == need.id,
                                                        Suggestion.achievement_id == results[0].id))
    target_id = target.id
    db.session.commit()
    resp = post(ent, f"/matching/{target_id}/not-relevant")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/demands/{need.id}#suggestions")
    rows = db.session.scalars(select(MatchFeedback)).all()
    assert [(r.demand_id, r.achievement_id, r.org_id, r.user_id) for r in rows] == [
        (need.id, results[0].id, world.orgs.ent_a.id, world.users.enterprise.id)]
    db.session.commit()

    def everywhere() -> list[str]:
        return [login_as("enterprise").get(f"/demands/{need.id}").get_data(as_text=True),
                login_as("institution").get(f"/achievements/{results[0].id}").get_data(as_text=True),
                login_as("enterprise").get("/matching").get_data(as_text=True),
                login_as("broker").get("/deals/queue").get_data(as_text=True)]

    for html in everywhere():
        assert f'data-suggestion-id="{target_id}"' not in html
    assert results[1].title in everywhere()[0]  # the others stay
    # the refresh job that the mark queued ran: the pair is gone from the stored suggestions
    assert (need.id, results[0].id) not in scores()

    # every kind of refresh keeps it out: a full recompute, an edit of either listing
    assert runner.invoke(args=["match", "refresh", "--all"]).exit_code == 0
    assert (need.id, results[0].id) not in scores()
    film = db.session.get(type(results[0]), results[0].id)
    film.summary += "新增中试数据。"
    film.version = (film.version or 1) + 1
    db.session.commit()
    assert (need.id, results[0].id) not in scores() and (need.id, results[1].id) in scores()
    assert f'data-suggestion-id="{target_id}"' not in everywhere()[0]
    # marking twice is harmless (the suggestion is gone: 404, nothing added)
    assert post(ent, f"/matching/{target_id}/not-relevant").status_code == 404
    assert count(MatchFeedback) == 1

    # the result's owner may mark too, from its 推荐匹配 page, and goes back there
    sid = db.session.scalar(select(Suggestion.id).where(Suggestion.achievement_id == results[2].id))
    db.session.commit()
    resp = post(login_as("institution"), f"/matching/{sid}/not-relevant", {"back": "matching"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/matching")
    assert db.session.scalar(select(MatchFeedback.org_id).where(MatchFeedback.achievement_id == results[2].id)) \
        == world.orgs.uni.id
    html = login_as("institution").get("/matching").get_data(as_text=True)
    assert f'data-suggestion-id="{sid}"' not in html and "不相关" in html  # the other rows keep their button


def test_only_owners_verified_users_may_mark(films, world, login_as, client):
    need, results = films
    sid = db.session.scalar(select(Suggestion.id).where(Suggestion.demand_id == need.id,
                                                        Suggestion.achievement_id == results[0].id))
    db.session.commit()
    before = scores()
    refused = {
        "enterprise_b": 404,  # another company: the pairing is not theirs
        "broker": 403, "official": 403, "city_official": 403, "admin": 403,
        "unverified": 403,  # signed in, organisation not verified
    }
    got = {who: post(login_as(who), f"/matching/{sid}/not-relevant").status_code for who in refused}
    assert got == refused
    assert login_as("enterprise").post(f"/matching/{sid}/not-relevant").status_code == 400  # the owner, no CSRF token
    assert count(MatchFeedback) == 0 and scores() == before
    html = login_as("enterprise").get(f"/demands/{need.id}").get_data(as_text=True)
    assert f'data-suggestion-id="{sid}"' in html

    anonymous = post(client, f"/matching/{sid}/not-relevant")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client.get(f"/matching/{sid}/not-relevant").status_code in (302, 405)
    # the owner organisation lost its verification: its users read, but do not mark
    world.orgs.ent_a.status = "pending"
    db.session.commit()
    assert post(login_as("enterprise"), f"/matching/{sid}/not-relevant").status_code == 403
    assert count(MatchFeedback) == 0


# -- 技术不对口 declines ------------------------------------------------------------------------------------

def test_a_decline_as_not_relevant_demotes_the_pair_and_similar_ones(films, world, login_as, runner):
    need, results = films
    other = film_need(world, owner=world.users.enterprise_b, title="导电膜玻璃镀膜方阻改进",
                      description="导电膜玻璃镀膜后方阻偏高，需要磁控溅射工艺改进。")
    db.session.commit()
    # a pair's score depends on the side it was computed from: score them as the decline's refresh will (the
    # need, then the result), on this index, without feedback
    args = ["match", "refresh", "--demand", str(need.id), "--achievement", str(results[0].id)]
    db.session.commit()  # reading the ids opened a transaction: end it before the command writes
    assert runner.invoke(args=args).exit_code == 0
    before = scores()
    # a decline for another reason (price) changes nothing
    priced = Interest(kind="interest", achievement_id=results[0].id, demand_id=need.id,
                      from_org_id=world.orgs.ent_a.id, from_user_id=world.users.enterprise.id,
                      to_org_id=world.orgs.uni.id, message="希望合作", status="pending")
    db.session.add(priced)
    db.session.commit()
    assert post(login_as("institution"), f"/deals/interests/{priced.id}/decide",
                {"decision": "decline", "reason_code": "price"}).status_code == 302
    assert scores() == before
    # the company asks again about result 0 for its need; the university answers 技术不对口
    interest = Interest(kind="interest", achievement_id=results[0].id, demand_id=need.id,
                        from_org_id=world.orgs.ent_a.id, from_user_id=world.users.enterprise.id,
                        to_org_id=world.orgs.uni.id, message="希望合作", status="pending")
    db.session.add(interest)
    db.session.commit()
    resp = post(login_as("institution"), f"/deals/interests/{interest.id}/decide",
                {"decision": "decline", "reason_code": "not_relevant"})
    assert resp.status_code == 302
    after = scores()
    exact = (need.id, results[0].id)
    assert after[exact] == pytest.approx(before[exact] * feedback.EXACT_FACTOR, abs=0.02)
    reasons = json.loads(db.session.scalar(select(Suggestion.reasons).where(
        Suggestion.demand_id == need.id, Suggestion.achievement_id == results[0].id)))
    db.session.commit()
    assert feedback.EXACT_REASON in reasons
    # result 1 reads like result 0 (导电膜 / 磁控溅射), and the other company's need like this one: similar pairings,
    # demoted less; pairings with neither side declined nor like a declined one keep their score
    similar = (need.id, results[1].id)
    assert after[similar] == pytest.approx(before[similar] * feedback.SIMILAR_FACTOR, abs=0.02)
    alike = (other.id, results[0].id)
    assert after[alike] == pytest.approx(before[alike] * feedback.SIMILAR_FACTOR, abs=0.02)
    untouched = [pair for pair in before if pair[0] == other.id and pair != alike]
    assert untouched and all(after[pair] == before[pair] for pair in untouched)
    # the demotion is ordering too: the declined pair now sorts below the similar one
    html = login_as("enterprise").get(f"/demands/{need.id}").get_data(as_text=True)
    assert html.index(results[1].title) < html.index(results[0].title)


# -- the officials' dashboard --------------------------------------------------------------------------------

def test_the_dashboard_counts_feedback_per_month(films, world, login_as, frozen_today):
    need, results = films
    at = lambda month, day=10: datetime(2025, month, day, 4, 0, tzinfo=timezone.utc)  # noqa: E731
    rows = [  # (created, decided, reason): two in March, one declined 技术不对口 in April, one declined for price
        (at(3), at(4), "not_relevant"), (at(3, 20), None, ""), (at(5), at(5, 12), "price"),
    ]
    for created, decided, reason in rows:
        db.session.add(Interest(kind="solution", demand_id=need.id, from_org_id=world.orgs.uni.id,
                                from_user_id=world.users.institution.id, to_org_id=world.orgs.ent_a.id,
                                message="揭榜应答", status="declined" if decided else "withdrawn",
                                reason_code=reason, decided_at=decided, created_at=created))
    for a, month in ((results[0], 4), (results[1], 6)):
        db.session.add(MatchFeedback(demand_id=need.id, achievement_id=a.id, kind="not_relevant",
                                     org_id=world.orgs.ent_a.id, user_id=world.users.enterprise.id, created_at=at(month)))
    db.session.commit()

    def table(who: str) -> dict[str, list[str]]:
        html = login_as(who).get("/dashboard/conversions", query_string={"period": "year", "year": "2025"})
        assert html.status_code == 200
        section = html.get_data(as_text=True).split('id="table-match-feedback"', 1)[1].split("</table>", 1)[0]
        out = {}
        for row in re.findall(r"<tr[^>]*data-month=\"([^\"]+)\"[^>]*>(.*?)</tr>", section, re.S):
            out[row[0]] = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)][1:]
        return out

    mine = table("official")  # county A: the company is there
    assert len(mine) == 13  # twelve months and the total
    assert mine["2025年3月"] == ["2", "0", "0.0%", "0"]
    assert mine["2025年4月"] == ["0", "1", "—", "1"]
    assert mine["2025年5月"] == ["1", "0", "0.0%", "0"]
    assert mine["2025年6月"] == ["0", "0", "—", "1"]
    assert mine["合计"] == ["3", "1", "33.3%", "2"]
    assert table("official_b")["合计"] == ["0", "0", "—", "0"]  # county B sees nothing of county A
    assert table("admin")["合计"] == ["3", "1", "33.3%", "2"]
