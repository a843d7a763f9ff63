"""Issue 17 item 5: editing a published listing keeps the published version public (page, search, matching input)
until a reviewer approves; the reviewer sees a field-by-field diff; 退回 keeps the published version and tells the
owner; contact details, deadline and budget/price apply at once."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Achievement, Demand, ListingRevision, Notification
from tests import factories
from tests.helpers import Poster, achievement_form, assert_refused, client_for, demand_form

OLD_TITLE = "寻求高透光导电膜玻璃镀膜技术"
NEW_TITLE = "寻求钙钛矿电池封装胶膜技术"


@pytest.fixture
def login_as(app, world):
    return lambda name: client_for(app, getattr(world.users, name))


@pytest.fixture
def need(world):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                         title=OLD_TITLE, keywords="导电膜,镀膜")
    db.session.commit()
    return d


def _form(world, d, **over):
    """The edit form as the owner would post it: everything as stored, `over` changed."""
    base = demand_form(world, title=d.title, description=d.description, indicators=d.indicators,
                       budget="50", keywords="导电膜、镀膜", modes=["development"],
                       deadline=d.deadline.isoformat(), contact_name=d.contact_name, contact_phone=d.contact_phone,
                       contact_email="")
    base.pop("form_token")
    return {**base, **over}


def _row(d):
    db.session.expire_all()
    return db.session.get(Demand, d.id)


def _revision(d):
    return db.session.scalar(select(ListingRevision).where(ListingRevision.listing_id == d.id,
                                                           ListingRevision.kind == "demand"))


def _search(client, words):
    """The search page's text with the highlighting taken out."""
    return re.sub(r"</?mark>", "", client.get("/search", query_string={"q": words}).get_data(as_text=True))


def test_edit_stays_public_until_approved_and_the_diff_shows(world, app, login_as, need):
    owner = Poster(login_as("enterprise"))
    # set the stored modes to what the form posts, so that only the title and description differ
    assert owner.post(f"/demands/{need.id}/edit", _form(world, need)).status_code == 302
    assert _revision(need) is None, "an edit that changes nothing reviewed stores no revision"
    anon = app.test_client()
    assert OLD_TITLE in _search(anon, "导电膜")

    resp = owner.post(f"/demands/{need.id}/edit",
                      _form(world, need, title=NEW_TITLE, description="需要耐湿热的钙钛矿电池封装胶膜，水汽透过率低。"))
    assert resp.status_code == 302, assert_refused(resp)
    row = _row(need)
    assert (row.status, row.title) == ("published", OLD_TITLE)
    rev = _revision(need)
    assert rev.status == "pending" and rev.values["title"] == NEW_TITLE and rev.submitted_by_id == world.users.enterprise.id

    # the public page, the list and the search keep the published text
    page = anon.get(f"/demands/{need.id}").get_data(as_text=True)
    assert OLD_TITLE in page and NEW_TITLE not in page and "pending-revision" not in page
    assert OLD_TITLE in anon.get("/demands").get_data(as_text=True)
    assert OLD_TITLE in _search(anon, "导电膜")
    assert NEW_TITLE not in _search(anon, "钙钛矿")
    # the owner is told a change waits, and the edit form goes on from it
    assert "pending-revision" in owner.get(f"/demands/{need.id}").get_data(as_text=True)
    assert f'value="{NEW_TITLE}"' in owner.get(f"/demands/{need.id}/edit").get_data(as_text=True)

    # the reviewer: listed in the queue, the diff field by field (old -> new)
    official = Poster(login_as("official"))
    queue = official.get("/review/?kind=demand").get_data(as_text=True)
    assert f"/review/revisions/{rev.id}" in queue
    diff = official.get(f"/review/revisions/{rev.id}").get_data(as_text=True)
    assert 'data-field="title"' in diff and OLD_TITLE in diff and NEW_TITLE in diff
    assert 'data-field="description"' in diff
    assert 'data-field="indicators"' not in diff, "unchanged fields are not in the diff"
    # another county's official and another enterprise cannot see or decide it
    assert login_as("official_b").get(f"/review/revisions/{rev.id}").status_code == 404
    assert login_as("enterprise_b").get(f"/review/revisions/{rev.id}").status_code == 403
    assert Poster(login_as("official_b")).post(f"/review/revisions/{rev.id}", {"decision": "publish"}).status_code == 404
    assert _row(need).title == OLD_TITLE

    resp = official.post(f"/review/revisions/{rev.id}", {"decision": "publish"})
    assert resp.status_code == 302
    row = _row(need)
    assert (row.status, row.title) == ("published", NEW_TITLE)
    assert _revision(need).status == "approved"
    # the index catches up after the commit
    assert NEW_TITLE in _search(anon, "钙钛矿")
    assert OLD_TITLE not in _search(anon, "导电膜")
    assert NEW_TITLE in anon.get(f"/demands/{need.id}").get_data(as_text=True)
    assert db.session.scalar(select(Notification).where(Notification.user_id == world.users.enterprise.id,
                                                        Notification.kind == "listing_revision_approved"))
    # decided once: a second decision is a 409 and changes nothing
    assert official.post(f"/review/revisions/{rev.id}", {"decision": "return", "reason": "x"}).status_code == 409


def test_return_keeps_the_published_version_and_tells_the_owner(world, app, login_as, need):
    owner = Poster(login_as("enterprise"))
    owner.post(f"/demands/{need.id}/edit", _form(world, need, title=NEW_TITLE))
    rev = _revision(need)
    official = Poster(login_as("official"))
    # 退回 without a reason: the form again with the error at the field, nothing decided
    resp = official.post(f"/review/revisions/{rev.id}", {"decision": "return", "reason": ""})
    assert resp.status_code == 400 and "请填写退回理由" in resp.get_data(as_text=True)
    assert _revision(need).status == "pending"
    resp = official.post(f"/review/revisions/{rev.id}", {"decision": "return", "reason": "标题与描述不符"})
    assert resp.status_code == 302
    row = _row(need)
    assert (row.status, row.title) == ("published", OLD_TITLE)
    rev = _revision(need)
    assert (rev.status, rev.reason, rev.decided_by_id) == ("returned", "标题与描述不符", world.users.official.id)
    note = db.session.scalar(select(Notification).where(Notification.user_id == world.users.enterprise.id,
                                                        Notification.kind == "listing_revision_returned"))
    assert note is not None and "标题与描述不符" in note.text
    assert OLD_TITLE in _search(app.test_client(), "导电膜")


def test_free_fields_apply_at_once(world, app, login_as, need):
    owner = Poster(login_as("enterprise"))
    later = (date.today() + timedelta(days=200)).isoformat()
    resp = owner.post(f"/demands/{need.id}/edit",
                      _form(world, need, budget="88.5", deadline=later, contact_phone="0552-9999999",
                            contact_public="y"))
    assert resp.status_code == 302
    row = _row(need)
    assert row.status == "published" and row.budget == Decimal("885000") and row.deadline.isoformat() == later
    assert row.contact_phone == "0552-9999999" and row.contact_public
    assert _revision(need) is None
    page = app.test_client().get(f"/demands/{need.id}").get_data(as_text=True)
    assert "0552-9999999" in page and "88.5" in page
    # free and reviewed fields together: the free ones now, the rest waits
    resp = owner.post(f"/demands/{need.id}/edit", _form(world, need, title=NEW_TITLE, contact_name="周六",
                                                        budget="90", deadline=later))
    row = _row(need)
    assert (row.title, row.contact_name, row.budget) == (OLD_TITLE, "周六", Decimal("900000"))
    assert _revision(need).values["title"] == NEW_TITLE


def test_editing_back_withdraws_and_withdrawing_to_draft_keeps_the_change(world, login_as, need):
    owner = Poster(login_as("enterprise"))
    owner.post(f"/demands/{need.id}/edit", _form(world, need))  # align stored modes and keywords with the form
    owner.post(f"/demands/{need.id}/edit", _form(world, need, title=NEW_TITLE))
    assert _revision(need).status == "pending"
    owner.post(f"/demands/{need.id}/edit", _form(world, need, title=OLD_TITLE))
    assert _revision(need).status == "withdrawn"
    # a second change replaces nothing published; withdrawing the listing to a draft folds it into the draft
    owner.post(f"/demands/{need.id}/edit", _form(world, need, title=NEW_TITLE))
    assert owner.post(f"/demands/{need.id}/withdraw", {}).status_code == 302
    row = _row(need)
    assert (row.status, row.title) == ("draft", NEW_TITLE)
    assert not db.session.scalar(select(ListingRevision).where(ListingRevision.status == "pending"))


def test_a_colleague_edits_and_another_org_cannot(world, app, login_as, need):
    colleague = factories.user(role="enterprise", org=world.orgs.ent_a, username="ent_a2")
    db.session.commit()
    c = Poster(client_for(app, colleague))
    assert c.post(f"/demands/{need.id}/edit", _form(world, need, title=NEW_TITLE)).status_code == 302
    assert _revision(need).submitted_by_id == colleague.id
    # a published listing is public: another organisation sees it but may not edit it (403)
    intruder = Poster(login_as("enterprise_b"))
    assert intruder.post(f"/demands/{need.id}/edit", _form(world, need, title="被他人篡改的标题内容")).status_code == 403
    assert _revision(need).values["title"] == NEW_TITLE
    assert _row(need).title == OLD_TITLE


def test_achievement_diff_names_its_fields(world, login_as):
    a = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    db.session.commit()
    form = achievement_form(world, title=a.title, summary=a.summary, maturity="7", ip_type=a.ip_type or "",
                            ip_numbers=a.ip_numbers, ip_status=a.ip_status or "", team_lead=a.team_lead,
                            team_members=a.team_members, keywords="、".join(a.keyword_list), modes=a.mode_list,
                            price="80", contact_name=a.contact_name, contact_phone=a.contact_phone)
    form.pop("form_token")
    resp = Poster(login_as("institution")).post(f"/achievements/{a.id}/edit", form)
    assert resp.status_code == 302, assert_refused(resp)
    db.session.expire_all()
    assert db.session.get(Achievement, a.id).maturity == a.maturity
    rev = db.session.scalar(select(ListingRevision).where(ListingRevision.kind == "achievement"))
    page = Poster(login_as("admin")).get(f"/review/revisions/{rev.id}").get_data(as_text=True)
    assert 'data-field="maturity"' in page and "7级" in page
