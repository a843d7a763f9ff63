"""The open API's tokens (issue 21): a token x endpoint matrix like the role x route one, expiry and revocation, no
reach into another organisation's objects or another region's figures, idempotent creates (retried and concurrent),
problem+json, ETag / 304, cursor pagination and the rate limit."""
from __future__ import annotations

import io
import json
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from market.api import services as api_services
from market.api.tokens import ROLE_SCOPES, hash_secret
from market.extensions import db
from market.models import API_SCOPES, ApiToken, Contract, Demand, RegPoint, User
from market.models.base import utcnow
from tests import factories
from tests.helpers import client_for, diff, objects, snapshot

PROBLEM = "application/problem+json"


def issue(user, scopes=None, *, days: int = 30, name: str = "测试令牌") -> str:
    """A live token of `user` with `scopes` (default: all its role may hold); its secret."""
    scopes = list(ROLE_SCOPES.get(user.role, ())) if scopes is None else scopes
    _token, secret = api_services.token_create(user=user, name=name, scopes=scopes,
                                               expires_at=utcnow() + timedelta(days=days))
    db.session.commit()
    return secret


def api_objects(world, o) -> None:
    """objs.api_token: the enterprise user's token (the access matrix fills token_id with it)."""
    issue(world.users.enterprise, name="矩阵令牌")
    o.api_token = db.session.scalar(select(ApiToken).where(ApiToken.name == "矩阵令牌"))


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def demand_body(world, **kw) -> dict:
    body = {"title": "通过接口发布的镀膜技术需求", "field_id": world.fields["materials"].id,
            "body": "现有镀膜工艺方阻偏高，希望与高校合作改进工艺。", "modes": ["development"], "amount": "500000.00",
            "contact_name": "张三", "contact_phone": "0552-1234567"}
    body.update(kw)
    return body


def contract_form(world, **over):
    """What /registration/submit's form posts, with the scan (a fresh file each call): a factory for a multipart
    body. The seller's region is the city node, which holds every organisation's region (each member submits for
    its own organisation); the buyer is in county A, the broker's region."""
    from tests.test_contracts import PDF

    def body() -> dict:
        data = {"buyer_name": "接口测试买方有限公司", "seller_name": "蚌埠测试大学",
                "title": "通过接口提交的铝合金热处理技术开发合同", "contract_type": "development",
                "subtype": "commissioned", "amount": "800000.00", "tech_amount": "700000.00",
                "signed_on": date.today().isoformat(), "buyer_region_id": str(world.regions["county_a"].id),
                "seller_region_id": str(world.regions["city"].id), "field_id": str(world.fields["materials"].id),
                "scan": (io.BytesIO(PDF), "合同扫描件.pdf")}
        data.update(over)
        return data

    return body


def city_reg_point(world) -> RegPoint:
    """The city's 登记点 with a 登记员 (without a 登记点 nothing can be submitted)."""
    point = RegPoint(name="蚌埠市技术合同登记中心", kind="agency", region_id=world.regions["city"].id,
                     division="340300", serial=1)
    db.session.add(point)
    db.session.flush()
    registrar = User(username="reg_city", name="登记员甲", role="registrar", reg_point_id=point.id)
    registrar.set_password(factories.PASSWORD)
    db.session.add(registrar)
    db.session.commit()
    return point


def send(client, url, body, headers, method="POST"):
    """A JSON body, or a multipart one when `body` is a factory (contract_form)."""
    if callable(body):
        return client.open(url, method=method, data=body(), headers=headers, content_type="multipart/form-data")
    return client.open(url, method=method, json=body, headers=headers)


@pytest.fixture
def objs(world):
    return objects(world)


# --- the matrix --------------------------------------------------------------------------------------------------

def _cases(world, objs):
    """(label, method, url, body, allowed token names) for every token endpoint."""
    d, a = objs.demand, objs.achievement
    body_d, body_a = demand_body(world), {**demand_body(world, modes=["transfer"]), "maturity": 5,
                                          "title": "通过接口发布的导电膜成果"}
    return [
        ("own demands", "GET", "/api/v1/my/demands", None, {"ent_read", "ent_all", "ent_b"}),  # B: its own only
        ("own demand", "GET", f"/api/v1/my/demands/{d.id}", None, {"ent_read", "ent_all"}),
        ("own demand suggestions", "GET", f"/api/v1/my/demands/{d.id}/suggestions", None, {"ent_read", "ent_all"}),
        ("create demand", "POST", "/api/v1/my/demands", body_d, {"ent_write", "ent_all", "ent_b"}),
        ("update demand", "PUT", f"/api/v1/my/demands/{d.id}", body_d, {"ent_write", "ent_all"}),
        ("own achievements", "GET", "/api/v1/my/achievements", None, {"inst_all"}),
        ("own achievement", "GET", f"/api/v1/my/achievements/{a.id}", None, {"inst_all"}),
        ("create achievement", "POST", "/api/v1/my/achievements", body_a, {"inst_all"}),
        ("update achievement", "PUT", f"/api/v1/my/achievements/{a.id}", body_a, {"inst_all"}),
        ("stats", "GET", "/api/v1/stats", None, {"official", "admin"}),
        # interests: enterprises in results, institutions answer needs (the pages' rule); a second interest of
        # the same organisation is a 409, not a refusal of the token
        ("interest in a result", "POST", f"/api/v1/achievements/{a.id}/interests",
         {"message": "我们希望合作开发该成果"}, {"ent_write", "ent_all", "ent_b"}),
        ("answer to a need", "POST", f"/api/v1/demands/{d.id}/interests",
         {"message": "我校团队可以解决该技术难题"}, {"inst_all"}),
        ("token", "GET", "/api/v1/token", None, {"ent_read", "ent_write", "ent_all", "ent_b", "inst_all", "official",
                                                 "admin", "broker"}),
        # 技术合同登记: the seller side (each member for its own organisation) and the broker of the region
        ("submit a contract", "POST", "/api/v1/contracts", contract_form(world),
         {"ent_all", "ent_b", "inst_all", "broker"}),
        ("own submissions", "GET", "/api/v1/my/contracts", None, {"ent_all", "ent_b", "inst_all", "broker"}),
    ]


def _tokens(world):
    u = world.users
    return {
        "ent_read": issue(u.enterprise, ["listings:read"]),
        "ent_write": issue(u.enterprise, ["listings:write"]),
        "ent_all": issue(u.enterprise),
        "ent_b": issue(u.enterprise_b),  # another organisation: never reaches objs.demand
        "inst_all": issue(u.institution),
        "official": issue(u.official),
        "admin": issue(u.admin),
        "broker": issue(u.broker),  # contracts:submit only
    }


def test_token_endpoint_matrix(app, world, objs):
    """Every token on every token endpoint: allowed cells answer 2xx, every other cell 401/403/404 and changes
    nothing; expired and revoked tokens and the cookie of a signed-in user are refused everywhere."""
    tokens = _tokens(world)
    city_reg_point(world)
    expired = issue(world.users.enterprise, name="将过期")
    revoked = issue(world.users.enterprise, name="将撤销")
    db.session.execute(db.update(ApiToken).where(ApiToken.name == "将过期")
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    api_services.token_revoke(token=db.session.scalar(select(ApiToken).where(ApiToken.name == "将撤销")),
                              user=world.users.enterprise)
    db.session.commit()
    client = app.test_client()
    cookie = client_for(app, world.users.enterprise)  # a browser session: the API never acts on it
    unexpected_allows, unexpected_refusals, cases = [], [], 0
    for label, method, url, body, allowed in _cases(world, objs):
        holders = {**tokens, "expired": expired, "revoked": revoked, "anonymous": None, "cookie": None}
        for name, secret in holders.items():
            before = snapshot() if (method != "GET" and name not in allowed) else None
            c = cookie if name == "cookie" else client
            headers = bearer(secret) if secret else {}
            resp = send(c, url, body, headers, method)
            cases += 1
            if name in allowed:
                if resp.status_code not in (200, 201, 409):
                    unexpected_refusals.append(f"{name} {method} {url} -> {resp.status_code} {resp.get_data(True)[:200]}")
                if method != "GET":
                    db.session.rollback()
            else:
                if resp.status_code not in (401, 403, 404):
                    unexpected_allows.append(f"{name} {method} {url} -> {resp.status_code}")
                assert resp.mimetype == PROBLEM, (name, url)
                if before is not None:
                    changed = diff(before, snapshot())
                    changed.pop("api_tokens", None)
                    assert not changed, (name, url, changed)
    print(f"\n{cases} token x endpoint cases, {len(unexpected_allows)} unexpected allows")
    assert not unexpected_allows, "\n".join(unexpected_allows)
    assert not unexpected_refusals, "\n".join(unexpected_refusals)


def test_expired_and_revoked_tokens_are_refused_with_401(app, world, objs):
    secret = issue(world.users.enterprise)
    c = app.test_client()
    assert c.get("/api/v1/my/demands", headers=bearer(secret)).status_code == 200
    token = db.session.scalar(select(ApiToken))
    db.session.execute(db.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    resp = c.get("/api/v1/my/demands", headers=bearer(secret))
    assert resp.status_code == 401 and resp.mimetype == PROBLEM
    assert "过期" in resp.json["detail"]
    db.session.execute(db.update(ApiToken).values(expires_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    assert c.get("/api/v1/my/demands", headers=bearer(secret)).status_code == 200
    api_services.token_revoke(token=token, user=world.users.enterprise)
    db.session.commit()
    assert c.get("/api/v1/my/demands", headers=bearer(secret)).status_code == 401
    # even on a public read a bad token is refused, never quietly anonymous
    assert c.get("/api/v1/demands", headers=bearer(secret)).status_code == 401
    assert c.get("/api/v1/demands", headers=bearer("kjdsc_forged")).status_code == 401


def test_a_token_of_an_unverified_organisation_stops_working(app, world, objs):
    secret = issue(world.users.enterprise)
    world.orgs.ent_a.status = "rejected"
    db.session.commit()
    resp = app.test_client().get("/api/v1/my/demands", headers=bearer(secret))
    assert resp.status_code == 403 and resp.mimetype == PROBLEM


def test_other_organisations_objects_are_out_of_reach(app, world, objs):
    """Organisation B's token, with every scope, on organisation A's listings: 404 on read, update and suggestions;
    unchanged rows; its own list never shows them."""
    secret = issue(world.users.enterprise_b)
    c = app.test_client()
    before = snapshot()
    for listing in (objs.demand, objs.draft_demand, objs.pending_demand):
        assert c.get(f"/api/v1/my/demands/{listing.id}", headers=bearer(secret)).status_code == 404
        assert c.get(f"/api/v1/my/demands/{listing.id}/suggestions", headers=bearer(secret)).status_code == 404
        assert c.put(f"/api/v1/my/demands/{listing.id}", json=demand_body(world, title="被越权修改的需求标题"),
                     headers=bearer(secret)).status_code == 404
    # a draft of A is not public either
    assert c.get(f"/api/v1/demands/{objs.draft_demand.id}", headers=bearer(secret)).status_code == 404
    assert c.get(f"/api/v1/demands/{objs.draft_demand.id}").status_code == 404
    listed = c.get("/api/v1/my/demands", headers=bearer(secret)).json["items"]
    assert listed == []
    after = snapshot()
    after.pop("api_tokens", None)
    before.pop("api_tokens", None)
    assert not diff(before, after)


def test_officials_read_only_their_regions_figures(app, world, objs):
    u, r = world.users, world.regions
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("123456.78"))
    db.session.commit()
    c = app.test_client()
    official = issue(u.official)  # county A
    resp = c.get("/api/v1/stats", headers=bearer(official))
    assert resp.status_code == 200, resp.get_data(True)
    assert resp.json["region"]["id"] == r["county_a"].id
    assert isinstance(resp.json["total"]["buyer"]["amount"], str)
    assert resp.json["total"]["buyer"]["amount"].count(".") == 1 and len(resp.json["total"]["buyer"]["amount"].split(".")[1]) == 2
    for other in (r["county_b"], r["city"]):
        resp = c.get(f"/api/v1/stats?region={other.id}", headers=bearer(official))
        assert resp.status_code == 403 and resp.mimetype == PROBLEM, other.name
        assert resp.json["errors"]["region"]
    city = issue(u.city_official)
    assert c.get(f"/api/v1/stats?region={r['county_b'].id}", headers=bearer(city)).status_code == 200
    admin = issue(u.admin)
    assert c.get(f"/api/v1/stats?region={r['county_b'].id}", headers=bearer(admin)).status_code == 200


def test_stats_amounts_are_yuan_strings(app, world, objs):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("123456.78"))
    db.session.commit()
    resp = app.test_client().get("/api/v1/stats", headers=bearer(issue(world.users.admin)))
    assert resp.status_code == 200
    amounts = [resp.json["total"]["buyer"]["amount"], resp.json["total"]["seller"]["amount"]]
    assert "123456.78" in amounts, resp.json["total"]


def test_token_scopes_are_limited_to_the_role(app, world):
    from market.errors import DomainError

    with pytest.raises(DomainError) as err:
        api_services.token_create(user=world.users.enterprise, name="越权", scopes=["stats:read"],
                                  expires_at=utcnow() + timedelta(days=1))
    assert "scopes" in err.value.fields
    with pytest.raises(DomainError) as err:
        api_services.token_create(user=world.users.official, name="太久", scopes=["stats:read"],
                                  expires_at=utcnow() + timedelta(days=400))
    assert "expires_at" in err.value.fields
    from market.errors import NotAllowed

    with pytest.raises(NotAllowed):
        api_services.token_create(user=world.users.unverified, name="未认证", scopes=["listings:read"],
                                  expires_at=utcnow() + timedelta(days=1))
    db.session.rollback()


def test_the_secret_is_stored_hashed_and_last_use_is_noted(app, world, objs):
    secret = issue(world.users.enterprise)
    token = db.session.scalar(select(ApiToken))
    assert secret.startswith("kjdsc_") and token.token_hash == hash_secret(secret) and secret not in token.token_hash
    assert token.last_used_at is None
    app.test_client().get("/api/v1/my/demands", headers=bearer(secret))
    db.session.expire_all()
    first = db.session.scalar(select(ApiToken)).last_used_at
    assert first is not None
    app.test_client().get("/api/v1/my/demands", headers=bearer(secret))
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).last_used_at == first  # at most once a minute


# --- the account page ------------------------------------------------------------------------------------------

def test_token_page_creates_shows_once_lists_and_revokes(app, world):
    from tests.helpers import Poster

    p = Poster(client_for(app, world.users.enterprise))
    page = p.get("/account/tokens")
    assert page.status_code == 200 and "API 令牌" in page.get_data(True)
    assert "读取管辖区域的统计数据" not in page.get_data(True)  # a scope the role does not have is not offered
    day = (utcnow() + timedelta(days=30)).date().isoformat()
    resp = p.post("/account/tokens", {"name": "ERP 同步", "scopes": ["listings:read"], "expires_on": day})
    assert resp.status_code == 200
    text = resp.get_data(True)
    token = db.session.scalar(select(ApiToken))
    secret = text.split('id="token-secret">')[1].split("<")[0]
    assert hash_secret(secret) == token.token_hash
    assert secret not in p.get("/account/tokens").get_data(True)  # shown once
    assert app.test_client().get("/api/v1/my/demands", headers=bearer(secret)).status_code == 200
    # a scope the role does not have, a date beyond a year: refused with a reason, nothing stored
    resp = p.post("/account/tokens", {"name": "越权", "scopes": ["stats:read"], "expires_on": day})
    assert resp.status_code == 400
    far = (utcnow() + timedelta(days=400)).date().isoformat()
    resp = p.post("/account/tokens", {"name": "太久", "scopes": ["listings:read"], "expires_on": far})
    assert resp.status_code == 400 and "最长一年" in resp.get_data(True)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1
    # revoke: another user cannot; the owner can, and the token stops working
    other = Poster(client_for(app, world.users.enterprise_b))
    assert other.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert p.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/my/demands", headers=bearer(secret)).status_code == 401
    assert "已撤销" in p.get("/account/tokens").get_data(True)


# --- idempotency -----------------------------------------------------------------------------------------------

def _demand_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Demand))


def test_the_jobs_sweep_forgets_stored_answers_after_a_week(app, world, objs):
    from datetime import timedelta

    from market.jobs import jobs_sweep
    from market.models import ApiIdempotencyKey
    from market.models.base import utcnow

    secret = issue(world.users.enterprise)
    c = app.test_client()
    for key in ("old", "new"):
        assert c.post("/api/v1/my/demands", json=demand_body(world, title=f"幂等键{key}的需求"),
                      headers={**bearer(secret), "Idempotency-Key": key}).status_code == 201
    db.session.execute(update(ApiIdempotencyKey).where(ApiIdempotencyKey.key == "old")
                       .values(created_at=utcnow() - timedelta(days=7, minutes=1)))
    db.session.commit()
    jobs_sweep()
    db.session.expire_all()
    assert list(db.session.scalars(select(ApiIdempotencyKey.key))) == ["new"]


def test_an_idempotent_create_retried_five_times_makes_one_record(app, world, objs):
    secret = issue(world.users.enterprise)
    c = app.test_client()
    before = _demand_count()
    headers = {**bearer(secret), "Idempotency-Key": "create-1"}
    answers = [c.post("/api/v1/my/demands", json=demand_body(world), headers=headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json["id"] for a in answers}) == 1
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert _demand_count() == before + 1
    created = db.session.get(Demand, answers[0].json["id"])
    assert created.status == "draft" and created.org_id == world.users.enterprise.org_id
    assert created.budget == Decimal("500000.00")
    # the same key with another body: refused, nothing created
    other = c.post("/api/v1/my/demands", json=demand_body(world, title="另一条内容不同的需求"), headers=headers)
    assert other.status_code == 422 and other.mimetype == PROBLEM and "Idempotency-Key" in other.json["errors"]
    assert _demand_count() == before + 1
    # without a key every POST creates
    c.post("/api/v1/my/demands", json=demand_body(world), headers=bearer(secret))
    assert _demand_count() == before + 2


def test_concurrent_creates_with_the_same_key_make_one_record(app, world, objs):
    secret = issue(world.users.enterprise)
    before = _demand_count()
    body = demand_body(world)
    db.session.commit()
    n = 5
    barrier = threading.Barrier(n)
    statuses, ids, errors = [], [], []

    def send():
        try:
            with app.app_context():
                c = app.test_client()
                barrier.wait(timeout=10)
                resp = c.post("/api/v1/my/demands", json=body,
                              headers={**bearer(secret), "Idempotency-Key": "race-1"})
                statuses.append(resp.status_code)
                if resp.status_code == 201:
                    ids.append(resp.json["id"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(statuses) == [201] * n, statuses
    assert len(set(ids)) == 1
    assert _demand_count() == before + 1


def test_create_goes_through_review_as_on_the_pages(app, world, objs):
    secret = issue(world.users.enterprise)
    c = app.test_client()
    resp = c.post("/api/v1/my/demands", json=demand_body(world, submit=True), headers=bearer(secret))
    assert resp.status_code == 201 and resp.json["status"] == "pending"
    # not public until reviewed
    assert c.get(f"/api/v1/demands/{resp.json['id']}").status_code == 404
    # bad input: 422 problem with Chinese field errors, nothing stored
    before = _demand_count()
    resp = c.post("/api/v1/my/demands", json=demand_body(world, field_id=world.fields["root_materials"].id, modes=[]),
                  headers=bearer(secret))
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert resp.json["errors"] and all(any("\u4e00" <= ch <= "\u9fff" for ch in v) for v in resp.json["errors"].values())
    resp = c.post("/api/v1/my/demands", json={**demand_body(world), "org_id": world.orgs.ent_b.id}, headers=bearer(secret))
    assert resp.status_code == 422 and "org_id" in resp.json["errors"]  # extra fields are refused
    assert _demand_count() == before


def test_interest_through_the_api_notifies_and_is_idempotent(app, world, objs):
    from market.models import Interest, Notification

    secret = issue(world.users.enterprise)
    c = app.test_client()
    headers = {**bearer(secret), "Idempotency-Key": "interest-1"}
    answers = [c.post(f"/api/v1/achievements/{objs.achievement.id}/interests", json={"message": "我们希望合作开发该成果"},
                      headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [201] * 5 and len({a.json["id"] for a in answers}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Interest)) == 1
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == world.users.institution.id)) >= 1
    # a draft is not public: no interest in it
    resp = c.post(f"/api/v1/achievements/{objs.draft_achievement.id}/interests", json={"message": "我们希望合作开发该成果"},
                  headers=bearer(secret))
    assert resp.status_code == 404 and resp.mimetype == PROBLEM


# --- conventions ---------------------------------------------------------------------------------------------------

def test_problem_json_shape_and_never_html(app, world, objs):
    c = app.test_client()
    for method, url, kw in (("GET", "/api/v1/nowhere", {}), ("DELETE", "/api/v1/demands", {}),
                            ("GET", "/api/v1/demands?limit=9999", {}), ("GET", "/api/v1/demands?cursor=%%%", {}),
                            ("POST", "/api/v1/my/demands", {"data": "{not json", "headers": {"Content-Type": "application/json"}}),
                            ("GET", "/api/v1/my/demands", {})):
        resp = c.open(url, method=method, **kw)
        assert resp.status_code >= 400 and resp.mimetype == PROBLEM, (method, url, resp.status_code)
        body = resp.json
        assert set(body) == {"type", "title", "status", "detail", "errors"} and body["status"] == resp.status_code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body


def test_etag_and_304(app, world, objs):
    c = app.test_client()
    first = c.get("/api/v1/demands")
    assert first.status_code == 200 and first.headers["ETag"]
    again = c.get("/api/v1/demands", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published", title="新发布的需求条目")
    db.session.commit()
    changed = c.get("/api/v1/demands", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_cursor_pagination_walks_every_item_once(app, world, objs):
    for i in range(12):
        factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                         title=f"分页测试需求第{i:02d}条")
    db.session.commit()
    expected = set(db.session.scalars(select(Demand.id).where(Demand.status.in_(("published", "done")))))
    c = app.test_client()
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/demands?limit=5" + (f"&cursor={cursor}" if cursor else "")
        body = c.get(url).json
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected and pages == (len(expected) + 4) // 5


def test_public_list_uses_the_pages_filters(app, world, objs):
    c = app.test_client()
    items = c.get(f"/api/v1/demands?field={world.fields['software'].code}").json["items"]
    assert items == []
    items = c.get(f"/api/v1/demands?field={world.fields['materials'].code}").json["items"]
    assert [i["id"] for i in items] == [objs.demand.id]
    assert items[0]["amount"] == "500000.00" and items[0]["contact"] is None  # contacts not public
    ids = [i["id"] for i in c.get("/api/v1/achievements").json["items"]]
    assert objs.achievement.id in ids and objs.draft_achievement.id not in ids


def test_public_campaigns_and_events(app, world, objs):
    from tests.test_agencies import agency_objects
    from tests.test_campaigns import campaign_objects
    from tests.test_happenings import event_objects

    agency_objects(world, objs)  # the panel's expert
    campaign_objects(world, objs)
    event_objects(world, objs)
    db.session.commit()
    c = app.test_client()
    campaigns = c.get("/api/v1/campaigns").json["items"]
    assert objs.campaign.id in [x["id"] for x in campaigns]
    task = next(t for x in campaigns for t in x["tasks"] if t["id"] == objs.campaign_task.id)
    assert isinstance(task["award"], str) and task["award"].endswith(f"{objs.campaign_task.award:.2f}"[-3:])
    events = c.get("/api/v1/events?limit=1").json
    assert len(events["items"]) == 1 and events["items"][0]["kind_label"]


def test_rate_limit_per_token_with_retry_after(app, world, objs):
    app.config["API_RATE_LIMIT"] = 3
    secret = issue(world.users.enterprise)
    other = issue(world.users.enterprise_b)
    c = app.test_client()
    codes = [c.get("/api/v1/my/demands", headers=bearer(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = c.get("/api/v1/my/demands", headers=bearer(secret))
    assert resp.status_code == 429 and resp.mimetype == PROBLEM and int(resp.headers["Retry-After"]) >= 1
    assert c.get("/api/v1/my/demands", headers=bearer(other)).status_code == 200  # per token


def test_api_ignores_the_session_cookie(app, world, objs):
    """A signed-in browser session is anonymous to the API: no write by cookie (no CSRF exposure)."""
    cookie = client_for(app, world.users.enterprise)
    before = _demand_count()
    resp = cookie.post("/api/v1/my/demands", json=demand_body(world))
    assert resp.status_code == 401 and resp.mimetype == PROBLEM
    assert _demand_count() == before


def test_scopes_constant_matches_the_page(app):
    assert set(API_SCOPES) == {s for scopes in ROLE_SCOPES.values() for s in scopes}
    json.dumps(API_SCOPES, ensure_ascii=False)


# --- 技术合同登记 through the API (the same service as /registration/submit) ----------------------------------------

def _contracts(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(Contract).where(*where))


def test_a_contract_submitted_with_its_scan_waits_for_the_registrar(app, world, objs):
    from market.registration import queries as reg_queries

    point = city_reg_point(world)
    secret = issue(world.users.enterprise, ["contracts:submit"])
    c = app.test_client()
    before = _contracts()
    resp = send(c, "/api/v1/contracts", contract_form(world), bearer(secret))
    assert resp.status_code == 201, resp.get_data(True)
    assert resp.json["status"] == "submitted" and resp.json["status_label"] == "待登记"
    assert resp.json["reg_point"] == {"id": point.id, "name": "蚌埠市技术合同登记中心"}
    assert resp.json["amount"] == "800000.00" and resp.json["registration_no"] is None
    assert resp.headers["Location"].endswith(f"/registration/{resp.json['id']}")
    assert _contracts() == before + 1
    contract = db.session.get(Contract, resp.json["id"])
    assert contract.seller_org_id == world.orgs.ent_a.id and contract.scan_path
    assert contract.submitted_by_id == world.users.enterprise.id and contract.tech_amount == Decimal("700000.00")
    registrar = db.session.scalar(select(User).where(User.username == "reg_city"))
    queue = db.session.scalars(reg_queries.queue(registrar)).all()
    assert [x.id for x in queue] == [contract.id]
    page = client_for(app, registrar).get("/registration/")
    assert page.status_code == 200 and "通过接口提交的铝合金热处理技术开发合同" in page.get_data(True)
    # and the submitter reads it back, amounts as 元 strings
    mine = c.get("/api/v1/my/contracts", headers=bearer(secret))
    assert mine.status_code == 200
    assert [(i["id"], i["amount"], i["tech_amount"], i["status_label"]) for i in mine.json["items"]] == [
        (contract.id, "800000.00", "700000.00", "待登记")]


def test_a_contract_submission_retried_five_times_makes_one(app, world, objs):
    city_reg_point(world)
    secret = issue(world.users.enterprise, ["contracts:submit"])
    c = app.test_client()
    before = _contracts()
    headers = {**bearer(secret), "Idempotency-Key": "contract-1"}
    # each retry is a new multipart body (another boundary), the same fields and scan
    answers = [send(c, "/api/v1/contracts", contract_form(world), headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [201] * 5, [a.get_data(True)[:200] for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers[1:]] == ["true"] * 4
    assert _contracts() == before + 1
    other = send(c, "/api/v1/contracts", contract_form(world, amount="900000.00"), headers)
    assert other.status_code == 422 and other.mimetype == PROBLEM and "Idempotency-Key" in other.json["errors"]
    assert _contracts() == before + 1


def test_a_token_without_the_scope_cannot_submit_a_contract(app, world, objs):
    city_reg_point(world)
    secret = issue(world.users.enterprise, ["listings:read", "listings:write"])
    before = snapshot()
    resp = send(app.test_client(), "/api/v1/contracts", contract_form(world), bearer(secret))
    assert resp.status_code == 403 and resp.mimetype == PROBLEM and "提交技术合同登记" in resp.json["detail"]
    after = snapshot()
    for rows in (before, after):
        rows.pop("api_tokens", None)
    assert not diff(before, after)
    assert app.test_client().get("/api/v1/my/contracts", headers=bearer(secret)).status_code == 403


def test_no_submission_for_a_seller_that_is_not_ones_own(app, world, objs):
    """The pages' rule (registration/services.submission_create): a member submits for its own organisation
    whatever seller is named; a broker only for contracts with a party in its region."""
    city_reg_point(world)
    c = app.test_client()
    other = issue(world.users.enterprise_b, ["contracts:submit"])
    resp = send(c, "/api/v1/contracts", contract_form(world, seller_name=world.orgs.ent_a.name), bearer(other))
    assert resp.status_code == 201, resp.get_data(True)
    assert db.session.get(Contract, resp.json["id"]).seller_org_id == world.orgs.ent_b.id
    assert _contracts(Contract.seller_org_id == world.orgs.ent_a.id) == 0
    # the broker of county A, for a contract of two parties in county B: refused with the reason at the field
    broker = issue(world.users.broker)
    before = _contracts()
    county_b = str(world.regions["county_b"].id)
    resp = send(c, "/api/v1/contracts", contract_form(world, buyer_region_id=county_b, seller_region_id=county_b,
                                                      seller_name="五河丙科技有限公司"), bearer(broker))
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert "负责区域" in resp.json["errors"]["seller_region_id"]
    assert _contracts() == before
    # another organisation's submissions are not in one's own list
    ent_a = issue(world.users.enterprise, ["contracts:submit"])
    assert c.get("/api/v1/my/contracts", headers=bearer(ent_a)).json["items"] == []


def test_a_bad_submission_is_a_400_problem_in_chinese(app, world, objs):
    city_reg_point(world)
    secret = issue(world.users.enterprise, ["contracts:submit"])
    c = app.test_client()
    before = _contracts()
    not_pdf = contract_form(world, scan=(io.BytesIO(b"MZ\x90\x00 not a pdf at all"), "合同.pdf"))
    resp = send(c, "/api/v1/contracts", not_pdf, bearer(secret))
    assert resp.status_code == 400 and resp.mimetype == PROBLEM, resp.get_data(True)
    assert resp.json["errors"]["scan"] == "扫描件须为PDF文件" and resp.json["detail"]
    no_scan = contract_form(world)
    resp = c.post("/api/v1/contracts", data={k: v for k, v in no_scan().items() if k != "scan"},
                  headers=bearer(secret), content_type="multipart/form-data")
    assert resp.status_code == 400 and resp.json["errors"]["scan"] == "请上传合同扫描件（PDF）"
    bad = send(c, "/api/v1/contracts", contract_form(world, amount="八十万", tech_amount="900000.00",
                                                     contract_type="loan", signed_on="2026-13-40"), bearer(secret))
    assert bad.status_code == 400 and bad.mimetype == PROBLEM
    assert set(bad.json["errors"]) >= {"amount", "contract_type", "signed_on"}, bad.json
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in bad.json["errors"].values()), bad.json
    json_body = c.post("/api/v1/contracts", json={"title": "x"}, headers=bearer(secret))
    assert json_body.status_code == 400 and json_body.mimetype == PROBLEM
    assert _contracts() == before


def test_contract_scan_size_limits_as_on_the_pages(app, world, objs):
    """A scan over 10MB is refused with the page's message (contracts/scans.read_scan); a body over the site's
    MAX_CONTENT_LENGTH is a 413 problem, as every upload of the site."""
    city_reg_point(world)
    secret = issue(world.users.enterprise, ["contracts:submit"])
    c = app.test_client()
    before = _contracts()
    from tests.test_contracts import PDF

    big = PDF + b"\n%" + b"0" * (10 * 1024 * 1024)
    resp = send(c, "/api/v1/contracts", contract_form(world, scan=(io.BytesIO(big), "大扫描件.pdf")), bearer(secret))
    assert resp.status_code == 400 and resp.mimetype == PROBLEM and resp.json["errors"]["scan"] == "扫描件不能超过10MB"
    kept = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    try:
        over = contract_form(world, scan=(io.BytesIO(PDF + b"\n%" + b"0" * 300_000), "合同.pdf"))
        resp = send(c, "/api/v1/contracts", over, bearer(secret))
    finally:
        app.config["MAX_CONTENT_LENGTH"] = kept
    assert resp.status_code == 413 and resp.mimetype == PROBLEM and resp.json["detail"]
    assert _contracts() == before


def test_concurrent_contract_submissions_with_the_same_key_make_one(app, world, objs):
    """Five threads post the same submission with one Idempotency-Key at once (real threads, real database)."""
    city_reg_point(world)
    secret = issue(world.users.enterprise, ["contracts:submit"])
    before = _contracts()
    n = 5
    bodies = [contract_form(world)() for _ in range(n)]  # built here: the world's rows are the test's session's
    db.session.commit()
    barrier = threading.Barrier(n)
    statuses, ids, errors = [], [], []

    def post_once(data):
        try:
            with app.app_context():
                c = app.test_client()
                barrier.wait(timeout=10)
                resp = c.post("/api/v1/contracts", data=data, content_type="multipart/form-data",
                              headers={**bearer(secret), "Idempotency-Key": "contract-race"})
                statuses.append(resp.status_code)
                if resp.status_code == 201:
                    ids.append(resp.json["id"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=post_once, args=(data,)) for data in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(statuses) == [201] * n, statuses
    assert len(set(ids)) == 1
    assert _contracts() == before + 1


def test_suggestions_carry_the_pages_degree_and_label(app, world, objs):
    """The stored score is already the 匹配度 (0-100): the API multiplied it by 100 again, so a weak pairing of 3.4
    read 100. Now it says what the need's page says: 98 强, 3 弱, own picks first."""
    strong = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                   title="大面积磁控溅射导电膜方阻均匀性控制技术")
    weak = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                 title="飞行器大角度机动镇定控制器设计方法")
    db.session.commit()  # published: the engine stores its own pairs after the commit; replaced here by two known ones
    from market.models import Suggestion

    db.session.execute(delete(Suggestion).where(Suggestion.demand_id == objs.demand.id))
    factories.suggestion(demand=objs.demand, achievement=weak, score=3.41)
    factories.suggestion(demand=objs.demand, achievement=strong, score=98.43).demand_pick = True
    db.session.commit()
    secret = issue(world.users.enterprise)
    resp = app.test_client().get(f"/api/v1/my/demands/{objs.demand.id}/suggestions", headers=bearer(secret))
    assert resp.status_code == 200
    items = [(i["listing"]["title"], i["score"], i["strength"], i["own"]) for i in resp.get_json()["items"]]
    assert items == [("大面积磁控溅射导电膜方阻均匀性控制技术", 98, "强", True),
                     ("飞行器大角度机动镇定控制器设计方法", 3, "弱", False)]
