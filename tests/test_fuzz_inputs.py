"""Hypothesis over every query parameter of every GET route (SECURITY.md item 7: "any query parameter, however
odd, gives a page, never a 500").

Routes come from `app.url_map`; URL parts are filled with real objects. The parameter names are those the views
actually read: each route is first requested once while `request.args` records every name looked up, and the
names in the source (`request.args.get("x")`, `_int_arg("x")`, ...) are added, so a name read only on one branch
(`?quarter=` once `?period=quarter`) is thrown at too. Values: CJK, full-width and other Unicode digits, emoji,
NUL, lone surrogates and broken UTF-8, 10,000 characters, negative and huge numbers, dates that do not exist,
real ids of other regions and objects. Forms are fuzzed by tests/test_bad_input.py.

Reproducible: the examples are drawn from MARKET_FUZZ_SEED (tests/helpers.py), which a failure message names.
"""
from __future__ import annotations

import itertools
import logging
import re
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing.converters import AnyConverter

from tests import factories
from tests.helpers import FUZZ_SEED, client_for, fuzz_seed_hint, objects

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_PER_ROUTE = 10  # Hypothesis draws per route, after the fixed table of NEEDLES; about 1,100 requests in all
# tried in this order: the first role that gets a 200 is the one fuzzed (official: county A, so other regions' ids
# take the refusal paths)
ROLES = ["anonymous", "enterprise", "institution", "broker", "official", "admin"]
SKIP = {"static"}  # files: no query parameter is read
# the open JSON API (issue 21) is fuzzed from its OpenAPI document by schemathesis (tests/test_api_schema.py),
# its tokens x endpoints in tests/test_api_tokens.py; it never acts on a session cookie
SKIP |= {"api.demands_list", "api.demands_detail", "api.achievements_list", "api.achievements_detail", "api.search",
         "api.my_demands_list", "api.my_demands_detail", "api.my_demands_suggestions", "api.my_achievements_list",
         "api.my_achievements_detail", "api.my_achievements_suggestions", "api.stats", "api.token_info",
         "api.campaigns_list", "api.events_list", "api-docs.openapi_json", "api.my_contracts_list"}
# arguments a route needs before it answers 200 (the generated ones are added to these, or replace them)
BASE_ARGS = {"dashboard.export": [("table", "summary"), ("format", "csv")]}
ARG_CALL = re.compile(r"(?:args\.get|_int_arg|_text_arg|_date_arg|get_page|_arg)\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")

STATS = {"inputs": 0, "server_errors": 0, "routes": 0}
FAILURES: list[str] = []  # every 5xx, with the exception behind it, reported together at the end
STATE: dict = {"errors": []}  # exceptions logged by the 500 handler during the current request


class _Report:
    def __init__(self):
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter):
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def report(request):
    plugin = _Report()
    request.config.pluginmanager.register(plugin, "fuzz-inputs-report")
    return plugin


def source_arg_names() -> set[str]:
    names = set()
    for path in (ROOT / "market").rglob("*.py"):
        names.update(ARG_CALL.findall(path.read_text(encoding="utf-8")))
    return names


class _RecordingArgs(ImmutableMultiDict):
    """request.args that remembers which names a view looked up ("*" when it read them all)."""

    read: set[str] = set()

    def get(self, key, default=None, type=None):
        self.read.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def getlist(self, key, type=None):
        self.read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)

    def to_dict(self, flat=True):
        self.read.add("*")
        return super().to_dict(flat)

    def items(self, multi=False):
        self.read.add("*")
        return super().items(multi)


def _recording(app) -> None:
    base = app.request_class

    class RecordingRequest(base):
        @property
        def args(self):
            if "_recorded_args" not in self.__dict__:
                self.__dict__["_recorded_args"] = _RecordingArgs(base.args.fget(self))
            return self.__dict__["_recorded_args"]

    app.request_class = RecordingRequest


@pytest.fixture
def objs(world):
    return get_objects(world)


def get_objects(world):
    """An object for every id a GET route takes (tests/test_security_headers.py uses them too)."""
    o = objects(world)
    factories.deal_objects(world, o)
    o.import_run = factories.import_run(world.users.official)
    o.reason = factories.return_reason()
    from market.extensions import db
    from market.models import RegPoint

    o.reg_point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=world.regions["county_a"].id,
                           division="340321", serial=1)
    db.session.add(o.reg_point)
    db.session.flush()
    o.contract.reg_point_id, o.contract.reg_verify_code = o.reg_point.id, "TESTCODE2345"  # its 登记证明 opens
    # a change to the published need waiting for review (its diff page is a GET route)
    import json

    from market.listings.revisions import snapshot
    from market.models import ListingRevision

    o.revision = ListingRevision(kind="demand", listing_id=o.demand.id, submitted_by_id=world.users.enterprise.id,
                                 data=json.dumps({**snapshot(o.demand), "title": "待审核的修改后标题"}))
    db.session.add(o.revision)
    # 单位成员: ent_a's first account administers it, with a colleague and an open invitation
    from datetime import timedelta

    from market.models import OrgInvitation
    from market.models.base import utcnow

    world.users.enterprise.org_admin = True
    o.colleague = factories.user(role="enterprise", org=world.orgs.ent_a, username="fuzz_colleague")
    o.invitation = OrgInvitation(org_id=world.orgs.ent_a.id, nonce="g" * 43, created_by_id=world.users.enterprise.id,
                                 expires_at=utcnow() + timedelta(days=7))
    db.session.add(o.invitation)
    db.session.commit()
    from tests.test_happenings import event_objects

    event_objects(world, o)  # an event (路演) with a checked-in attendee
    from tests.test_agencies import agency_objects

    agency_objects(world, o)  # an expert (the university user), the broker's public profile
    from tests.test_campaigns import campaign_objects

    campaign_objects(world, o)  # a campaign with an open 榜 and a proposal with an attachment
    from tests.test_auctions import auction_objects

    auction_objects(world, o)  # 竞价: a published session with a running and an upcoming lot
    from tests.test_transfers import transfer_objects

    transfer_objects(world, o)  # an open 公示 with objections and an open 挂牌 of the university's result
    return o


def _fill(o, world):
    return {
        "listing_id": lambda kind: (o.demand if kind == "demand" else o.achievement).id,
        "org_id": lambda kind: o.org.id,
        "user_id": lambda kind: world.users.enterprise.id,
        "region_id": lambda kind: world.regions["county_a"].id,
        "field_id": lambda kind: o.demand.field_id,
        "deal_id": lambda kind: o.deal.id,
        "contract_id": lambda kind: o.contract.id,
        "interest_id": lambda kind: o.interest.id,
        "suggestion_id": lambda kind: o.suggestion.id,
        "notification_id": lambda kind: o.notification.id,
        "run_id": lambda kind: o.import_run.id,
        "reason_id": lambda kind: o.reason.id,
        "point_id": lambda kind: o.reg_point.id,
        "code_id": lambda kind: _a_reg_code_id(),
        "revision_id": lambda kind: o.revision.id,
        "token": lambda kind: _unsubscribe_token(world.users.enterprise.id),
        "invitation_token": lambda kind: _invitation_token(o.invitation),
        "happening_id": lambda kind: o.happening.id,
        "agency_id": lambda kind: world.orgs.agency.id,
        "broker_id": lambda kind: world.users.broker.id,
        "expert_id": lambda kind: o.expert.id,
        "campaign_id": lambda kind: o.campaign.id,
        "task_id": lambda kind: o.campaign_task.id,
        "proposal_id": lambda kind: o.scored_proposal.id,  # in review: its score page opens
        "file_id": lambda kind: o.campaign_file.id,
        "session_id": lambda kind: o.auction_session.id,
        "lot_id": lambda kind: o.auction_lot.id,
        "deposit_id": lambda kind: o.auction_deposit.id,
        "achievement_id": lambda kind: o.achievement.id,
        "disclosure_id": lambda kind: o.disclosure.id,
        "price_listing_id": lambda kind: o.price_listing.id,
    }


def _a_reg_code_id() -> int:
    from sqlalchemy import select

    from market.extensions import db
    from market.models import RegCode

    return db.session.scalar(select(RegCode.id).order_by(RegCode.id).limit(1))


def _invitation_token(invitation) -> str:
    from market.members.services import invitation_token

    return invitation_token(invitation)


def _unsubscribe_token(user_id: int) -> str:
    from market.notifications.mail import unsubscribe_token

    return unsubscribe_token(user_id, "deal")


def get_urls(app, objs, world) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET rule, one per option of an any() part and per default."""
    fill = _fill(objs, world)
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIP:
            continue
        params = sorted(rule.arguments - set(rule.defaults or {}))
        options = [[(n, v) for v in sorted(rule._converters[n].items)] for n in params
                   if isinstance(rule._converters.get(n), AnyConverter)]
        combos = [dict(pairs) for pairs in itertools.product(*options)]
        for combo in combos:
            values = {**(rule.defaults or {}), **combo}
            for name in params:
                if name not in values:
                    key = "invitation_token" if (rule.endpoint, name) == ("members.join", "token") else name
                    assert key in fill, f"tests/test_fuzz_inputs.py cannot fill <{name}> of {rule.rule}: add it to _fill"
                    values[name] = fill[key](values.get("kind", "demand"))
            out.append((rule.endpoint, rule.build(values, append_unknown=False)[1]))
    return out


# ------------------------------------------------------------------ generated values

ODD = [
    "", " ", "0", "00", "-0", "-1", "-99999999999", "1", "2", "7", "13", "99", "999999", "1000000000",
    "99999999999999999999999999", "1e309", "1E5", "NaN", "nan", "Infinity", "-Infinity", "0.5", "1.005", "0x1f",
    "+3", " 3", "3 ", "3\x00", "²", "①", "٣", "१२", "１２３", "一", "十二", "Ⅻ", "true", "null", "[]", "{}",
    "2025-02-30", "2025-13-01", "0000-00-00", "9999-12-31", "1999-12-31", "2100-01-01", "2025-1-1", "２０２５-０１-０１",
    "'; DROP TABLE users; --", "\" OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "%", "%00", "%zz",
    "\x00", "\ud800", "\udfff", "\ud83d", "😀😀😀", "\u202e", "\u200b", "\r\n", "\t", "\\", "/", "//evil.example",
    "javascript:alert(1)", "status:draft", "title:* OR status:draft", "*", "?", "region:1", "field:04", "AND", "NOT",
    "year", "quarter", "month", "range", "amount", "count", "large", "xlsx", "csv", "contracts", "demand",
    "achievement", "all", "sent", "received", "pending", "published", "draft", "verified", "admin", "official",
    "a" * 10000, "技" * 10000, "9" * 10000,
]
# the values most likely to break a parser, sent once per route in every name the route reads at the same time
NEEDLES = ["²", "①", "٣", "１２", "-1", "99999999999999999999", "1e309", "NaN", "\x00", "\ud800", "2025-02-30",
           "技" * 10000]
RAW = ["%ED%A0%80", "%E4%B8", "%FF%FE", "%C0%AF", "%2e%2e%2f", "%00%00", "%E2%80%AE", "+", "%2B", "a%3Db%26c"]


def value_strategy(real: list[str]):
    return st.one_of(
        st.sampled_from(ODD),
        st.sampled_from(real),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(alphabet=st.characters(exclude_categories=()), max_size=30),  # every category, lone surrogates too
        st.text(alphabet=st.sampled_from("技术需求成果蚌埠怀远ＡＢＣ１２３０９²①٣😀\x00\ud800 -:/*?%.,"), max_size=20),
        st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(1000, 10000)),
    )


def encode(pairs: list[tuple[str, str, bool]]) -> str:
    """A query string as a broken client could send it: surrogates as their UTF-8 bytes, raw fragments kept."""
    parts = []
    for key, value, raw in pairs:
        v = value if raw else quote(value, safe="", encoding="utf-8", errors="surrogatepass")
        parts.append(quote(key, safe="") + "=" + v)
    return "&".join(parts)


def pairs_strategy(read: list[str], names: list[str], real: list[str]):
    value = value_strategy(real)
    one = st.one_of(
        st.tuples(st.sampled_from(read or names), value, st.just(False)),  # mostly the names this route reads
        st.tuples(st.sampled_from(read or names), value, st.just(False)),
        st.tuples(st.sampled_from(names), value, st.just(False)),
        st.tuples(st.sampled_from(names), st.sampled_from(RAW), st.just(True)),
        st.tuples(st.text(min_size=1, max_size=8), value, st.just(False)),  # a name nobody reads
    )
    return st.lists(one, min_size=1, max_size=6)


# ------------------------------------------------------------------ the test


def test_every_query_parameter_of_every_get_route(app, world, objs, report):
    _recording(app)
    errors: list[BaseException] = []

    class _Remember(logging.Handler):  # the 500 handler logs the exception it caught
        def emit(self, record):
            if record.exc_info:
                errors.append(record.exc_info[1])

    remember = _Remember(logging.ERROR)
    app.logger.addHandler(remember)
    STATS.update(inputs=0, server_errors=0, routes=0)
    FAILURES.clear()
    STATE["errors"] = errors
    clients = {"anonymous": app.test_client()}
    for role in ROLES[1:]:
        clients[role] = client_for(app, getattr(world.users, role))
    regions = world.regions
    real = [str(v) for v in (
        regions["county_a"].id, regions["county_b"].id, regions["town_b"].id, regions["city"].id,
        objs.demand.id, objs.draft_demand.id, objs.achievement.id, objs.contract.id, objs.deal.id,
        world.users.enterprise_b.id, world.orgs.ent_b.id)] + ["04", "04.01", "01", "transfer", "development", "1-10", "2025"]
    static_names = source_arg_names()
    assert {"page", "region", "q", "period", "year", "status"} <= static_names, static_names

    unreached = []
    for endpoint, path in get_urls(app, objs, world):
        base = BASE_ARGS.get(endpoint, [])
        role, read = None, set()
        for candidate in ROLES:
            _RecordingArgs.read = set()
            if clients[candidate].get(path, query_string=encode([(k, v, False) for k, v in base])).status_code == 200:
                role, read = candidate, set(_RecordingArgs.read)
                break
        if role is None:
            unreached.append(path)
            continue
        read.discard("*")
        names = sorted(read | static_names | {"next", "page"})
        STATS["routes"] += 1
        _fuzz_route(clients[role], path, role, base, sorted(read), names, real)

    app.logger.removeHandler(remember)
    assert not FAILURES, f"{len(FAILURES)} server errors with {fuzz_seed_hint()}:\n" + "\n".join(FAILURES[:80])
    assert not unreached, f"GET routes no role could open (fill their objects in objs, or BASE_ARGS): {unreached}"
    line = (f"query-parameter fuzz: {STATS['inputs']} generated inputs over {STATS['routes']} GET routes, "
            f"{STATS['server_errors']} server errors (MARKET_FUZZ_SEED={FUZZ_SEED})")
    report.lines.append(line)
    print(f"\n{STATS['inputs']} generated inputs, {STATS['server_errors']} server errors")
    assert STATS["server_errors"] == 0


def _send(client, path: str, role: str, base: list[tuple[str, str]], pairs: list[tuple[str, str, bool]]) -> None:
    given_names = {k for k, _, _ in pairs}
    query = encode([(k, v, False) for k, v in base if k not in given_names] + pairs)
    STATE["errors"].clear()
    resp = client.get(path, query_string=query)
    STATS["inputs"] += 1
    if resp.status_code >= 500:
        STATS["server_errors"] += 1
        cause = "no exception logged"
        if STATE["errors"]:
            frame = traceback.extract_tb(STATE["errors"][-1].__traceback__)[-1]
            cause = f"{STATE['errors'][-1]!r:.150} at {Path(frame.filename).name}:{frame.lineno}"
        FAILURES.append(f"{role} GET {path}?{query[:200]} -> {resp.status_code}: {cause}")
        return
    if resp.status_code in (301, 302, 303, 307, 308):
        location = resp.headers.get("Location", "")
        assert location.startswith("/") or location.startswith("http://localhost/"), (path, query[:200], location)


def _fuzz_route(client, path: str, role: str, base, read: list[str], names: list[str], real: list[str]) -> None:
    for needle in NEEDLES:
        # every name at once; a very long value only in the names this route reads (40 of them would make a
        # 1 MB URL that no front server passes on)
        targets = read or names if len(needle) > 100 else names
        _send(client, path, role, base, [(name, needle, False) for name in targets])
    _send(client, path, role, base, [(name, raw, True) for name, raw in zip(names, RAW * len(names))])

    @seed(FUZZ_SEED)
    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(pairs=pairs_strategy(read, names, real))
    def fuzz(pairs):
        _send(client, path, role, base, pairs)

    fuzz()


@pytest.mark.parametrize("url", ["/demands?field=%00%00", "/search?q=%00%E6%8A%80%E6%9C%AF&field=%00",
                                 "/demands?%00=1&page=%00"])
def test_nul_in_a_query_argument_is_dropped_before_any_view(app, world, url):
    """PostgreSQL refuses NUL in text: it is removed from every argument (market.security.MarketRequest)."""
    resp = app.test_client().get(url)
    assert resp.status_code == 200
    with app.test_request_context(url):
        from flask import request

        assert all("\x00" not in k + v for k, v in request.args.items(multi=True))


def test_contract_search_with_nul_is_a_page(app, world):
    resp = client_for(app, world.users.broker).get("/contracts/?q=%E5%90%88%00%E5%90%8C")
    assert resp.status_code == 200
