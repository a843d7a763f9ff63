"""CSRF: every POST rule of the app, without a token (or with a forged or foreign one), is refused and changes nothing,
even for a signed-in user who would otherwise be allowed.

For a route of your own, add a line to CASES (who posts, with what) to get a positive control too: the same
request with a valid token must then succeed, which proves the refusal came from the missing token.
"""
from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from werkzeug.routing.converters import AnyConverter

from tests import factories
from tests.helpers import Poster, client_for, diff, form_token, objects, snapshot

CSRF_MESSAGE = "页面已过期或表单校验失败（CSRF）"


def _demand(w):
    return {"title": "寻求光伏玻璃减反射镀膜技术", "field_id": w.fields["materials"].id, "modes": ["development"],
            "description": "我公司光伏玻璃透光率偏低，现有减反射膜耐候性差。", "budget": "12.5", "contact_name": "李四",
            "contact_phone": "0552-1234567", "deadline": (date.today() + timedelta(days=30)).isoformat(),
            "form_token": form_token()}


def _achievement(w):
    return {"title": "低方阻透明导电膜制备技术", "field_id": w.fields["materials"].id, "modes": ["transfer"],
            "summary": "采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□。", "maturity": "6", "price": "80",
            "team_lead": "王教授", "contact_name": "王五", "contact_phone": "0551-1234567", "ip_type": "", "ip_status": "",
            "form_token": form_token()}


# "endpoint" or "endpoint:<default>" -> (who posts: a world user or None for anonymous,
#                                        URL values from objs, form data from world). The values must make the
#                                        request succeed (a redirect) when a valid token is sent.
CASES = {
    "auth.login": (None, lambda o: {}, lambda w: {"username": "ent_a", "password": factories.PASSWORD}),
    "auth.register": (None, lambda o: {}, lambda w: {
        "role": "enterprise", "username": "csrf_newco", "name": "王经理", "phone": "13900001111",
        "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "org_name": "蚌埠跨站测试有限公司",
        "org_type": "enterprise", "uscc": factories.uscc(626262, area="340322"), "region_id": w.regions["county_a"].id,
        "agree": "y", "form_token": form_token()}),
    "auth.logout": ("enterprise", lambda o: {}, lambda w: {}),
    "auth.change_password": ("enterprise", lambda o: {}, lambda w: {
        "old_password": factories.PASSWORD, "new_password": "Another-pass-2027", "new_password2": "Another-pass-2027"}),
    "listings.create:demand": ("enterprise", lambda o: {}, _demand),
    "listings.create:achievement": ("institution", lambda o: {}, _achievement),
    "listings.edit:demand": ("enterprise", lambda o: {"listing_id": o.draft_demand.id}, _demand),
    "listings.edit:achievement": ("institution", lambda o: {"listing_id": o.draft_achievement.id}, _achievement),
    "listings.transition:demand": ("enterprise", lambda o: {"listing_id": o.draft_demand.id, "action": "submit"},
                                   lambda w: {}),
    "listings.transition:achievement": ("institution", lambda o: {"listing_id": o.draft_achievement.id, "action": "close"},
                                        lambda w: {}),
    "review.decide:demand": ("official", lambda o: {"listing_id": o.pending_demand.id}, lambda w: {"decision": "publish"}),
    "review.decide:achievement": ("admin", lambda o: {"listing_id": o.pending_achievement.id},
                                  lambda w: {"decision": "return", "reason": "请补充"}),
    "review.verify_org": ("official", lambda o: {"org_id": o.org.id}, lambda w: {"decision": "verify"}),
}
# routes without a CASES line: posted by a user likely to be allowed, ids of real objects where the name is known
DEFAULT_USER = {"admin": "admin", "deals": "broker", "contracts": "broker", "dashboard": "city_official",
                "notifications": "enterprise", "matching": "enterprise"}
KNOWN_IDS = {"listing_id": lambda o: o.demand.id, "org_id": lambda o: o.org.id, "region_id": lambda o: o.region.id,
             "field_id": lambda o: o.field.id, "user_id": lambda o: o.user.id}


def _key(rule) -> str:
    if rule.defaults:
        return rule.endpoint + ":" + ",".join(str(v) for v in rule.defaults.values())
    return rule.endpoint


def _post_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: (r.endpoint, r.rule))


def _url(rule, objs) -> tuple[str, str | None, dict]:
    case = CASES.get(_key(rule)) or CASES.get(rule.endpoint)
    values = dict(rule.defaults or {})
    if case:
        values.update(case[1](objs))
    for name in sorted(rule.arguments - set(values)):
        converter = rule._converters.get(name)
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif name in KNOWN_IDS:
            values[name] = KNOWN_IDS[name](objs)
        else:
            values[name] = 1
    user = case[0] if case else DEFAULT_USER.get(rule.endpoint.split(".")[0], "admin")
    return rule.build(values, append_unknown=False)[1], user, case


@pytest.fixture
def objs(world):
    return objects(world)


TOKEN_ONLY = ("api.",)  # blueprints that authenticate by API token only (market/api, issue 21)


@pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                    reason="refused by Flask-WTF before any view or query: once, in the SQLite suite (100 s of PostgreSQL's)")
def test_every_post_without_a_valid_token_is_refused(app, world, objs):
    rules = _post_rules(app)
    assert {"auth.login", "auth.logout", "listings.transition", "review.decide"} <= {r.endpoint for r in rules}
    other = Poster(client_for(app, world.users.enterprise_b))  # a token valid for somebody else's session
    problems, cases = [], 0
    for rule in rules:
        url, user, case = _url(rule, objs)
        client = app.test_client() if user is None else client_for(app, getattr(world.users, user))
        data = case[2](world) if case else {}
        for label, token in (("no token", None), ("forged token", "forged-token"), ("another session's token", other.token),
                             ("empty token", "")):
            before = snapshot()
            body = dict(data)
            if token is not None:
                body["csrf_token"] = token
            resp = client.post(url, data=body)
            cases += 1
            if rule.endpoint.startswith(TOKEN_ONLY):
                # the open API is CSRF-exempt: it acts only on an Authorization: Bearer token, never on the session
                # cookie, so a cookie-borne POST is anonymous there and refused (tests/test_api_tokens.py)
                if resp.status_code != 401:
                    problems.append(f"{label}: POST {url} ({rule.endpoint}) as {user} -> {resp.status_code}")
            elif resp.status_code != 400 or CSRF_MESSAGE not in resp.get_data(as_text=True):
                problems.append(f"{label}: POST {url} ({rule.endpoint}) as {user} -> {resp.status_code}")
            changed = diff(before, snapshot())
            if changed:
                problems.append(f"{label}: POST {url} ({rule.endpoint}) as {user} changed {changed}")
    assert not problems, "\n".join(problems)
    print(f"\n{cases} POST requests without a valid CSRF token, all refused, nothing changed")


@pytest.mark.parametrize("key", sorted(CASES))
def test_the_same_request_with_a_token_succeeds(app, world, objs, key):
    """Positive control: the refusal above came from the token, not from the user or the data."""
    endpoint, _, default = key.partition(":")
    rule = next(r for r in _post_rules(app) if r.endpoint == endpoint and (not default or _key(r) == key))
    url, user, case = _url(rule, objs)
    client = app.test_client() if user is None else client_for(app, getattr(world.users, user))
    before = snapshot()
    resp = Poster(client).post(url, case[2](world))
    assert resp.status_code == 302, (key, resp.status_code, resp.get_data(as_text=True)[:1500])
    if key != "auth.login":  # a sign-in changes only the session tables
        assert diff(before, snapshot()), f"{key}: the allowed request changed nothing"


def test_csrf_header_is_accepted_like_the_form_field(app, world, objs):
    """Scripts may send the token as X-CSRFToken (from <meta name="csrf-token">); a wrong header is refused."""
    c = client_for(app, world.users.enterprise)
    p = Poster(c)
    url = f"/demands/{objs.draft_demand.id}/close"
    assert c.post(url, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert c.post(url, headers={"X-CSRFToken": p.token}).status_code == 302


def test_every_post_route_is_listed_once(app):
    """Sanity of this file: its keys name real rules."""
    keys = {_key(r) for r in _post_rules(app)} | {r.endpoint for r in _post_rules(app)}
    assert set(CASES) <= keys, set(CASES) - keys
