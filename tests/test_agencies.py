"""服务机构, 技术经纪人 and 专家库 (issue 19 section 3; market/agencies): the public directory (verified agencies
only), an agency's services, the broker registry with its 证书编号 rule, opt-in public profiles, the yearly
performance sheets computed from the contract register (registered contracts only, exact money, .xlsx), and the
expert registry campaign panels draw from (available_experts)."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from market.agencies import queries, services
from market.errors import DomainError
from market.extensions import db
from market.models import AgencyService, BrokerProfile, Expert, Happening
from tests import factories
from tests.helpers import Poster, client_for, diff, messages, snapshot as _snapshot

YEAR = date.today().year


def snapshot() -> dict:
    """The rows of every table but the sessions the signed-in clients of a test make."""
    rows = _snapshot()
    rows.pop("user_sessions", None)
    return rows


def agency_objects(world, o) -> None:
    """For the inventory tests: the world's broker (county A, of the city agency) opted in to a public profile;
    the agency offers two services; the university user is an available expert of county A in materials, and
    an expert without an account is there for the form fuzz to edit (editing o.expert could unbind the account
    that later targets act through: a seed-dependent failure of tests/test_fuzz_forms.py).
    Sets o.expert, o.spare_expert, o.agency and o.agency_broker."""
    o.agency, o.agency_broker = world.orgs.agency, world.users.broker
    db.session.add(BrokerProfile(user_id=world.users.broker.id, public=True, intro="专注新材料成果转化"))
    db.session.add_all([AgencyService(org_id=world.orgs.agency.id, code="transfer"),
                        AgencyService(org_id=world.orgs.agency.id, code="ip")])
    o.expert = Expert(name="王教授", user_id=world.users.institution.id, org_id=world.orgs.uni.id,
                      region_id=world.regions["county_a"].id, title="教授", available=True)
    o.expert.fields = [world.fields["materials"]]
    o.spare_expert = Expert(name="赵研究员", user_id=None, org_id=world.orgs.uni.id,
                            region_id=world.regions["county_a"].id, title="研究员", available=True)
    o.spare_expert.fields = [world.fields["materials"]]
    db.session.add_all([o.expert, o.spare_expert])
    db.session.commit()


def _other_agency(world):
    """A second verified agency in county B with its own approved broker."""
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    broker_b = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="broker_b")
    broker_b.broker_cert_no = "JJR-2026-777"
    db.session.commit()
    return agency_b, broker_b


def _statuses(app, users: dict, url: str) -> dict[str, int]:
    out = {}
    for name, user in users.items():
        client = app.test_client() if user is None else client_for(app, user)
        out[name] = client.get(url).status_code
    return out


def _roles(world, broker_b) -> dict:
    u = world.users
    return {"anonymous": None, "enterprise": u.enterprise, "institution": u.institution, "other_broker": broker_b,
            "official_b": u.official_b, "admin": u.admin, "broker": u.broker, "official": u.official}


# --- 证书编号 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, stored", [("JJR-2026-001", "JJR-2026-001"), (" jjr-2026-001 ", "JJR-2026-001"),
                                         ("ＪＪＲ－２０２６－００１", "JJR-2026-001"), ("TB2023340300012", "TB2023340300012")])
def test_certificate_numbers_are_stored_in_one_form(raw, stored):
    assert services.normalize_cert_no(raw) == stored


@pytest.mark.parametrize("raw", ["", "JJR-1", "JJR--2026-001", "-JJR2026", "JJR-2026-", "JJR 2026 001", "经纪人2026001",
                                 "ABCDEFG-123", "1" * 33, "JJR_2026_001"])
def test_certificate_numbers_outside_the_rule_are_refused(raw):
    with pytest.raises(DomainError) as err:
        services.normalize_cert_no(raw)
    assert "证书编号" in err.value.message


# --- the directory and an agency's services -------------------------------------------------------------

def test_directory_lists_verified_agencies_only_and_filters_by_service(app, world):
    pending = factories.org(region=world.regions["county_a"], org_type="agency", status="pending", name="待认证服务机构")
    db.session.add(AgencyService(org_id=world.orgs.agency.id, code="ip"))
    db.session.commit()
    client = app.test_client()
    page = client.get("/agencies").get_data(as_text=True)
    assert world.orgs.agency.name in page and pending.name not in page
    assert world.orgs.ent_a.name not in page  # only agencies
    assert world.orgs.agency.name not in client.get("/agencies?service=financing").get_data(as_text=True)
    assert world.orgs.agency.name in client.get("/agencies?service=ip").get_data(as_text=True)
    bad = client.get("/agencies?service=nonsense")
    assert bad.status_code == 400 and "服务项目无效" in messages(bad)[0]
    assert client.get(f"/agencies/{pending.id}").status_code == 404
    assert client.get(f"/agencies/{world.orgs.ent_a.id}").status_code == 404  # not an agency


def test_agency_member_edits_services_others_cannot(app, world):
    agency_b, broker_b = _other_agency(world)
    p = Poster(client_for(app, world.users.broker))
    resp = p.post("/agencies/services", {"services": ["transfer", "evaluation"], "note": "提供成果评价和转化服务"})
    assert resp.status_code == 302
    codes = set(db.session.scalars(select(AgencyService.code).where(AgencyService.org_id == world.orgs.agency.id)))
    assert codes == {"transfer", "evaluation"}
    page = app.test_client().get(f"/agencies/{world.orgs.agency.id}").get_data(as_text=True)
    assert "技术评价评估" in page and "提供成果评价和转化服务" in page
    before = snapshot()
    bad = p.post("/agencies/services", {"services": ["transfer", "hacking"]})
    assert bad.status_code == 400 and "选项无效" in " ".join(messages(bad))
    long = p.post("/agencies/services", {"services": ["transfer"], "note": "长" * 501})
    assert long.status_code == 400 and "不超过500字" in " ".join(messages(long))
    for user in (world.users.enterprise, world.users.institution, world.users.official, world.users.admin):
        assert Poster(client_for(app, user)).post("/agencies/services", {"services": ["ip"]}).status_code == 403
    # a broker of another agency edits its own agency's list only (no org id is posted)
    assert Poster(client_for(app, broker_b)).post("/agencies/services", {"services": ["ip"], "org_id": str(world.orgs.agency.id)}).status_code == 302
    after = snapshot()
    assert diff(before, after) == {"agency_services": (2, 3), "agency_profiles": (1, 2)}
    assert set(db.session.scalars(select(AgencyService.code).where(AgencyService.org_id == world.orgs.agency.id))) == \
        {"transfer", "evaluation"}


# --- brokers: profiles, registry -------------------------------------------------------------------------

def test_broker_profile_is_private_until_the_broker_opts_in(app, world):
    agency_b, broker_b = _other_agency(world)
    admin_of_agency = factories.user(role="broker", org=world.orgs.agency, region=world.regions["city"],
                                     username="agency_admin")
    admin_of_agency.org_admin = True
    db.session.commit()
    url = f"/brokers/{world.users.broker.id}"
    got = _statuses(app, {**_roles(world, broker_b), "agency_admin": admin_of_agency}, url)
    assert got == {"anonymous": 404, "enterprise": 404, "institution": 404, "other_broker": 404, "official_b": 404,
                   "admin": 200, "broker": 200, "official": 200, "agency_admin": 200}
    agency_page = app.test_client().get(f"/agencies/{world.orgs.agency.id}").get_data(as_text=True)
    assert world.users.broker.name not in agency_page and "未公开个人主页" in agency_page
    p = Poster(client_for(app, world.users.broker))
    assert p.post("/brokers/me", {"public": "y", "intro": "十年技术转移经验"}).status_code == 302
    got = _statuses(app, _roles(world, broker_b), url)
    assert set(got.values()) == {200}
    public_page = app.test_client().get(url).get_data(as_text=True)
    assert "十年技术转移经验" in public_page and world.users.broker.broker_cert_no in public_page and "维护登记信息" not in public_page
    assert world.users.broker.name in app.test_client().get(f"/agencies/{world.orgs.agency.id}").get_data(as_text=True)
    # a broker whose account is disabled is not shown, even opted in
    world.users.broker.active = False
    db.session.commit()
    assert app.test_client().get(url).status_code == 404
    # not a broker: 404; the page and form of /brokers/me are the broker's own
    assert app.test_client().get(f"/brokers/{world.users.enterprise.id}").status_code == 404
    assert client_for(app, world.users.enterprise).get("/brokers/me").status_code == 403
    long = Poster(client_for(app, broker_b)).post("/brokers/me", {"intro": "长" * 501})
    assert long.status_code == 400 and "个人简介不超过500字" in " ".join(messages(long))


def test_registry_keeps_certificate_agency_and_region(app, world):
    agency_b, broker_b = _other_agency(world)
    broker = world.users.broker
    url = f"/brokers/{broker.id}/registry"
    form = {"cert_no": "jjr-2026-0099", "agency_id": str(world.orgs.agency.id), "region_id": str(world.regions["town_a"].id)}
    official = Poster(client_for(app, world.users.official))
    before = snapshot()
    for user in (world.users.official_b, broker_b, broker, world.users.enterprise):
        assert Poster(client_for(app, user)).post(url, form).status_code in (403, 404)
    cases = [({"cert_no": "12"}, "证书编号为6-32位"),
             ({"cert_no": "JJR-2026-777"}, "已登记在其他技术经纪人名下"),
             ({"agency_id": str(agency_b.id)}, "所属服务机构须为该经纪人所在的服务机构"),
             ({"agency_id": "99999999999999999999"}, "选择无效"),
             ({"region_id": str(world.regions["county_b"].id)}, "管辖范围内的区域")]
    for change, expected in cases:
        resp = official.post(url, {**form, **change})
        assert resp.status_code == 400, change
        assert any(expected in m for m in messages(resp)), (change, messages(resp))
    assert diff(before, snapshot()) == {}
    assert official.post(url, form).status_code == 302
    db.session.refresh(broker)
    assert (broker.broker_cert_no, broker.region_id) == ("JJR-2026-0099", world.regions["town_a"].id)
    # the registry list: officials see their region's brokers only
    listing = client_for(app, world.users.official).get("/brokers?q=JJR").get_data(as_text=True)
    assert broker.name in listing and broker_b.name not in listing
    assert client_for(app, world.users.admin).get("/brokers").get_data(as_text=True).count("broker-row") >= 2
    assert client_for(app, broker_b).get("/brokers").status_code == 403


# --- the performance sheets -------------------------------------------------------------------------------

def _chain(world, broker_b):
    """County A's broker: two deals (one signed), contracts of which two count; broker B: one counted contract."""
    u, o = world.users, world.orgs
    pair = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published")
    deal = factories.deal(buyer=o.ent_a, seller=o.uni, demand=pair, broker=u.broker, stage="signed",
                          agency_id=o.agency.id)
    factories.deal(buyer=o.ent_a, seller=o.uni, demand=pair,
                   achievement=factories.achievement(owner=u.institution, field=world.fields["materials"]),
                   broker=u.broker, stage="contacted")
    counted = [
        factories.contract(buyer=o.ent_a, seller=o.uni, deal_id=deal.id, amount=Decimal("12345678.91"),
                           tech_amount=Decimal("12000000.00")),
        # a hand-recorded contract naming the broker
        factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("0.09"),
                           tech_amount=Decimal("0.09")),
    ]
    # not counted: submitted (not registered), voided, signed last year
    factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("500.00"),
                       reg_status="submitted", registration_no="待登记-agency000001")
    factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("700.00"), voided=True)
    factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("900.00"),
                       signed_on=date(YEAR - 1, 6, 1))
    factories.contract(buyer=o.ent_b, seller=o.uni, broker_id=broker_b.id, amount=Decimal("3000.00"))
    db.session.commit()
    return counted


def test_broker_sheet_counts_registered_contracts_exactly(app, world):
    agency_b, broker_b = _other_agency(world)
    _chain(world, broker_b)
    f = queries.broker_figures([world.users.broker.id], YEAR)[world.users.broker.id]
    assert (f.deals, f.signed_deals, f.needs, f.contracts) == (2, 1, 1, 2)
    assert (f.amount, f.tech_amount) == (Decimal("12345679.00"), Decimal("12000000.09"))
    record = queries.broker_figures([world.users.broker.id])[world.users.broker.id]
    assert record.contracts == 3 and record.amount == Decimal("12346579.00")  # last year's counts in the record
    official = client_for(app, world.users.official)
    page = official.get(f"/brokers/{world.users.broker.id}/performance").get_data(as_text=True)
    assert "1,234.57万元" in page and "12,345,679.00元" in page
    xlsx = official.get(f"/brokers/{world.users.broker.id}/performance?format=xlsx&year={YEAR}")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    rows = [[c for c in row] for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True)]
    total = next(r for r in rows if isinstance(r[0], str) and r[0].startswith("合计"))
    assert total[0] == "合计（2 份）" and Decimal(str(total[6])) == Decimal("12345679.00")
    assert Decimal(str(total[5])) == Decimal("1234.57")  # 万元, rounded half up from the exact total
    for bad in ("year=20x6", "year=1999", "year=99999", f"year={YEAR + 2}", "format=pdf"):
        resp = official.get(f"/brokers/{world.users.broker.id}/performance?{bad}")
        assert resp.status_code == 400 and any("无效" in m for m in messages(resp)), bad
    got = _statuses(app, _roles(world, broker_b), f"/brokers/{world.users.broker.id}/performance")
    assert got == {"anonymous": 302, "enterprise": 404, "institution": 404, "other_broker": 404, "official_b": 404,
                   "admin": 200, "broker": 200, "official": 200}


def test_agency_sheet_lines_add_up_to_its_total(app, world):
    agency_b, broker_b = _other_agency(world)
    _chain(world, broker_b)
    colleague = factories.user(role="broker", org=world.orgs.agency, region=world.regions["city"], username="colleague")
    colleague.org_admin = True
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, broker_id=colleague.id, amount=Decimal("0.01"))
    db.session.add(_event(world, colleague))
    db.session.commit()
    sheet = queries.agency_sheet(world.orgs.agency, YEAR)
    names = [user.username for user, _ in sheet.lines]
    assert set(names) == {"broker", "colleague"} and "broker_b" not in names
    # only the contract of the deal that recorded the agency (the hand-recorded ones are no agency's, as on
    # /dashboard/sources); the deals are those that recorded the agency
    assert sheet.total.contracts == sum(f.contracts for _, f in sheet.lines) == 1
    assert sheet.total.amount == sum((f.amount for _, f in sheet.lines), Decimal(0)) == Decimal("12345678.91")
    assert (sheet.total.deals, sheet.total.signed_deals, sheet.total.events) == (1, 1, 1)
    url = f"/agencies/{world.orgs.agency.id}/performance"
    xlsx = client_for(app, colleague).get(url + "?format=xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    total = next(r for r in rows if r[0] == "合计")
    # the agency's administrator counts the contracts of the deals the agency recorded (not the hand-recorded ones)
    assert Decimal(str(total[7])) == Decimal("12345678.91") and total[5] == 1  # 成交额 in exact 元
    city = factories.user(role="official", region=world.regions["city"], username="city_off2")
    db.session.commit()
    got = _statuses(app, {**_roles(world, broker_b), "agency_admin": colleague, "city_official": city}, url)
    # the broker is a member but not the agency's administrator; county A's official is below the agency's city
    assert got == {"anonymous": 302, "enterprise": 404, "institution": 404, "other_broker": 404, "official_b": 404,
                   "admin": 200, "broker": 404, "official": 404, "agency_admin": 200, "city_official": 200}


def _event(world, organiser):
    from datetime import timedelta

    from market.models.base import utcnow

    now = utcnow()
    return Happening(kind="roadshow", title="机构路演", place="蚌埠", region_id=world.regions["city"].id,
                     organiser_id=organiser.id, starts_at=now, ends_at=now + timedelta(hours=2),
                     signup_deadline=now - timedelta(hours=1), capacity=5)


# --- 专家库 -------------------------------------------------------------------------------------------------

def _expert_form(world, **over) -> dict:
    return {"name": "李研究员", "title": "研究员", "username": "", "org_name": world.orgs.uni.name,
            "region_id": str(world.regions["county_a"].id), "field_ids": [str(world.fields["materials"].id)],
            "available": "y", **over}


def test_officials_keep_the_expert_registry_of_their_region(app, world):
    official = Poster(client_for(app, world.users.official))
    assert official.post("/experts/new", _expert_form(world)).status_code == 302
    expert = db.session.scalar(select(Expert).where(Expert.name == "李研究员"))
    assert expert.org_id == world.orgs.uni.id and [f.code for f in expert.fields] == ["04.01"] and expert.available
    pending = factories.user(role="institution", username="pending_prof",
                             org=factories.org(region=world.regions["county_a"], org_type="university",
                                               status="pending", name="待认证学院"))
    db.session.commit()
    before = snapshot()
    cases = [({"org_name": "不存在的单位"}, "未找到该单位"), ({"field_ids": []}, "请选择至少一个技术领域"),
             ({"region_id": str(world.regions["county_b"].id)}, "管辖范围内的区域"), ({"name": ""}, "请填写姓名"),
             ({"username": "nobody_here"}, "未找到该账号"),
             ({"username": world.users.enterprise.username}, "与该账号的单位"),
             # scoring is a power: never a government or registry account, never one of an unverified organisation
             ({"username": world.users.official_b.username}, "专家账号须为已认证单位"),
             ({"username": world.users.admin.username}, "专家账号须为已认证单位"),
             ({"username": pending.username}, "专家账号须为已认证单位"),
             ({"field_ids": ["99999"]}, "请选择至少一个技术领域")]
    for change, expected in cases:
        resp = official.post("/experts/new", _expert_form(world, **change))
        assert resp.status_code == 400, change
        assert any(expected in m for m in messages(resp)), (change, messages(resp))
    assert diff(before, snapshot()) == {}
    # the account links: the org defaults to the account's; the same account twice is refused
    linked = _expert_form(world, name="赵工", username=world.users.enterprise.username, org_name="")
    assert official.post("/experts/new", linked).status_code == 302
    again = official.post("/experts/new", {**linked, "name": "赵工二"})
    assert again.status_code == 400 and any("已在专家库中" in m for m in messages(again))
    # list, search, field filter; another region's official sees none of them and cannot edit
    page = client_for(app, world.users.official).get("/experts?q=李&field=04").get_data(as_text=True)
    assert "李研究员" in page and "赵工" not in page
    assert "李研究员" not in client_for(app, world.users.official).get("/experts?field=01").get_data(as_text=True)
    assert client_for(app, world.users.official).get("/experts?field=zz").status_code == 400
    assert client_for(app, world.users.official).get("/experts?available=2").status_code == 400
    assert "no-experts" in client_for(app, world.users.official_b).get("/experts").get_data(as_text=True)
    edit = f"/experts/{expert.id}/edit"
    assert client_for(app, world.users.official_b).get(edit).status_code == 404
    assert Poster(client_for(app, world.users.official_b)).post(edit, _expert_form(world, name="被改")).status_code == 404
    assert official.post(edit, _expert_form(world, title="正高级工程师")).status_code == 302
    db.session.refresh(expert)
    assert expert.title == "正高级工程师"
    for user in (world.users.enterprise, world.users.broker, world.users.institution):
        assert client_for(app, user).get("/experts").status_code == 403
        assert Poster(client_for(app, user)).post("/experts/new", _expert_form(world, name="越权")).status_code == 403


def test_experts_list_pages(app, world):
    for n in range(23):
        e = Expert(name=f"专家{n:02d}", org_id=world.orgs.uni.id, region_id=world.regions["county_a"].id)
        e.fields = [world.fields["materials"]]
        db.session.add(e)
    db.session.commit()
    client = client_for(app, world.users.official)
    first, last = client.get("/experts").get_data(as_text=True), client.get("/experts?page=2").get_data(as_text=True)
    assert "共 23 条" in first
    assert first.count("expert-row") + last.count("expert-row") == 23 and last.count("expert-row") >= 1


def test_an_expert_switches_own_availability(app, world):
    agency_b, broker_b = _other_agency(world)
    o = type("O", (), {})()
    agency_objects(world, o)
    url = f"/experts/{o.expert.id}/availability"
    before = snapshot()
    for user in (world.users.enterprise, broker_b, world.users.official_b):
        assert Poster(client_for(app, user)).post(url, {"available": "0"}).status_code == 404
    assert app.test_client().post(url, data={"available": "0"}).status_code in (302, 400)  # login or CSRF first
    me = Poster(client_for(app, world.users.institution))
    for bad in ("2", "", "yes"):
        resp = me.post(url, {"available": bad})
        assert resp.status_code == 400 and "可用状态无效" in messages(resp)[0]
    assert diff(before, snapshot()) == {}
    assert "可参加评审" in me.client.get("/experts/me").get_data(as_text=True)
    assert me.post(url, {"available": "0"}).status_code == 302
    db.session.refresh(o.expert)
    assert o.expert.available is False
    assert queries.available_experts(["04"]) == [o.spare_expert]  # only the other, account-less entry is left
    assert "不在专家库中" in client_for(app, world.users.enterprise).get("/experts/me").get_data(as_text=True)


def test_available_experts_for_a_panel(app, world):
    """The panel's query: fields by hierarchy, available only, conflicts of interest refused, disabled accounts
    out."""
    u, o = world.users, world.orgs

    def expert(name, org, field, available=True, user=None):
        e = Expert(name=name, org_id=org.id, region_id=world.regions["city"].id, available=available,
                   user_id=user.id if user else None)
        e.fields = [field]
        db.session.add(e)
        return e

    uni_expert = expert("高校专家", o.uni, world.fields["materials"], user=u.institution)
    ent_expert = expert("企业专家", o.ent_b, world.fields["root_materials"])
    expert("软件专家", o.ent_b, world.fields["software"])
    expert("休假专家", o.ent_b, world.fields["materials"], available=False)
    disabled = factories.user(role="enterprise", org=o.ent_b, username="gone", active=False)
    expert("停用账号专家", o.ent_b, world.fields["materials"], user=disabled)
    db.session.commit()
    names = lambda found: [e.name for e in found]  # noqa: E731
    assert names(queries.available_experts(["04"])) == ["企业专家", "高校专家"]  # root takes its subfield
    assert names(queries.available_experts(["04.01"])) == ["企业专家", "高校专家"]  # subfield takes its root's
    assert names(queries.available_experts(["04.01"], exclude_org_ids=[o.uni.id])) == ["企业专家"]
    assert names(queries.available_experts(["04", "01"], exclude_org_ids={o.ent_b.id})) == ["高校专家"]
    assert names(queries.available_experts([])) == []
    assert queries.expert_conflicts(uni_expert, [o.uni.id]) and not queries.expert_conflicts(ent_expert, [o.uni.id])
    # an account that moved to the solver's organisation conflicts too, whatever the entry says
    u.institution.org_id = o.ent_a.id
    db.session.commit()
    assert names(queries.available_experts(["04"], exclude_org_ids=[o.ent_a.id])) == ["企业专家"]


def test_queries_reject_overlong_or_broken_text(app, world):
    client = client_for(app, world.users.official)
    for url in ("/agencies?q=" + "长" * 51, "/brokers?q=" + "经" * 51, "/experts?q=" + "x" * 51):
        resp = (app.test_client() if url.startswith("/agencies") else client).get(url)
        assert resp.status_code == 400 and "查询条件无效" in messages(resp)[0], url



def test_the_pages_are_reachable_from_the_menu(app, world):
    assert "/agencies" in app.test_client().get("/").get_data(as_text=True)
    official = client_for(app, world.users.official).get("/").get_data(as_text=True)
    assert 'href="/experts"' in official and 'href="/brokers"' in official
    assert 'href="/brokers/me"' in client_for(app, world.users.broker).get("/").get_data(as_text=True)
    assert 'href="/experts"' not in client_for(app, world.users.enterprise).get("/").get_data(as_text=True)


def _deal_has_agency() -> bool:
    from market.models import Deal

    return hasattr(Deal, "agency_id")


@pytest.mark.skipif(not _deal_has_agency(), reason="deals.agency_id (revision a19401c0ffee) not in this tree")
def test_the_agency_a_deal_recorded_keeps_its_contracts(app, world):
    """A broker who moved on leaves the contracts of the deals taken for the old agency on its sheet; a deal the
    agency recorded with no broker gets a line of its own, so the lines still add up to the total."""
    agency_b, broker_b = _other_agency(world)
    o = world.orgs
    moved = factories.deal(buyer=o.ent_a, seller=o.uni, demand=factories.demand(owner=world.users.enterprise,
                           field=world.fields["materials"], status="published"), broker=broker_b, stage="signed",
                           agency_id=o.agency.id)
    orphan = factories.deal(buyer=o.ent_b, seller=o.uni, demand=factories.demand(owner=world.users.enterprise,
                            field=world.fields["materials"], status="published"), stage="signed", agency_id=o.agency.id)
    factories.contract(buyer=o.ent_a, seller=o.uni, deal_id=moved.id, amount=Decimal("100.00"))
    factories.contract(buyer=o.ent_b, seller=o.uni, deal_id=orphan.id, amount=Decimal("0.50"))
    db.session.commit()
    sheet = queries.agency_sheet(o.agency, YEAR)
    lines = {user.name: f for user, f in sheet.lines}
    assert lines[broker_b.name].amount == Decimal("100.00") and lines["（未指定经纪人）"].amount == Decimal("0.50")
    assert sheet.total.amount == sum((f.amount for f in lines.values()), Decimal(0)) == Decimal("100.50")
    assert queries.agency_sheet(agency_b, YEAR).total.amount == Decimal("0.00")
    page = client_for(app, world.users.admin).get(f"/agencies/{o.agency.id}/performance").get_data(as_text=True)
    assert "（未指定经纪人）" in page


def _need(world):
    return factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")


def _xlsx_text(resp) -> str:
    assert resp.status_code == 200
    rows = load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True)
    return "\n".join(" ".join(str(c) for c in row if c is not None) for row in rows)


def test_a_sheet_shows_an_official_only_the_contracts_of_their_region(app, world):
    """County A's official never sees on the broker's sheet (rows, figures, .xlsx) a contract between parties
    outside county A, which /contracts and /deals refuse them; the broker and the administrator see it."""
    u, o = world.users, world.orgs
    inside = factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("10.00"),
                                registration_no=f"{YEAR}340300000701")
    outside = factories.contract(buyer=o.ent_b, seller=o.uni, broker_id=u.broker.id, amount=Decimal("9000.00"),
                                 registration_no=f"{YEAR}340300000702")
    db.session.commit()
    url = f"/brokers/{u.broker.id}/performance"
    official = client_for(app, u.official)
    page = official.get(url).get_data(as_text=True)
    assert inside.registration_no in page and outside.registration_no not in page
    assert "10.00元" in page and "9,010.00元" not in page
    sheet = _xlsx_text(official.get(url + "?format=xlsx"))
    assert inside.registration_no in sheet and outside.registration_no not in sheet and "合计（1 份）" in sheet
    for user in (u.broker, u.admin):
        page = client_for(app, user).get(url).get_data(as_text=True)
        assert outside.registration_no in page and "9,010.00元" in page
    # the agency's sheet for the city's official counts both, county A's official is not over the agency's city
    city = factories.user(role="official", region=world.regions["city"], username="city_off3")
    agency_deal = factories.deal(buyer=o.ent_b, seller=o.uni, demand=_need(world), broker=u.broker, stage="signed",
                                 agency_id=o.agency.id)
    factories.contract(buyer=o.ent_b, seller=o.uni, deal_id=agency_deal.id, amount=Decimal("5.00"))
    db.session.commit()
    assert queries.agency_sheet(o.agency, YEAR, city).total.amount == Decimal("5.00")
    assert queries.agency_sheet(o.agency, YEAR, u.official_b).total.amount == Decimal("5.00")
    assert queries.agency_sheet(o.agency, YEAR, u.official).total.amount == Decimal("0.00")  # a county-B contract


def test_an_agency_admin_sees_only_the_contracts_of_its_own_deals(app, world):
    """A broker who moved to agency B: B's administrator sees on the broker's sheet the contracts of deals taken
    for B, never those of the deals the broker worked for the old agency."""
    agency_b, broker_b = _other_agency(world)
    o = world.orgs
    admin_b = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="admin_b")
    admin_b.org_admin = True
    old = factories.deal(buyer=o.ent_a, seller=o.uni, demand=_need(world), broker=broker_b, stage="signed",
                         agency_id=o.agency.id)
    new = factories.deal(buyer=o.ent_b, seller=o.uni, demand=_need(world), broker=broker_b, stage="signed",
                         agency_id=agency_b.id)
    old_c = factories.contract(buyer=o.ent_a, seller=o.uni, deal_id=old.id, amount=Decimal("700.00"),
                               registration_no=f"{YEAR}340300000801")
    new_c = factories.contract(buyer=o.ent_b, seller=o.uni, deal_id=new.id, amount=Decimal("30.00"),
                               registration_no=f"{YEAR}340300000802")
    db.session.commit()
    url = f"/brokers/{broker_b.id}/performance"
    client = client_for(app, admin_b)
    page = client.get(url).get_data(as_text=True)
    assert new_c.registration_no in page and old_c.registration_no not in page and "730.00元" not in page
    sheet = _xlsx_text(client.get(url + "?format=xlsx"))
    assert new_c.registration_no in sheet and old_c.registration_no not in sheet and "合计（1 份）" in sheet
    f = queries.broker_figures([broker_b.id], YEAR, admin_b)[broker_b.id]
    assert (f.deals, f.contracts, f.amount) == (1, 1, Decimal("30.00"))
    own = client_for(app, broker_b).get(url).get_data(as_text=True)
    assert old_c.registration_no in own and new_c.registration_no in own


def test_an_agency_sheet_equals_its_row_on_the_sources_page(app, world):
    """The agency's sheet and its row on /dashboard/sources (by_agency, the city, the year) count the same
    contracts: those of deals that recorded the agency; a hand-recorded contract, or one of a deal its broker
    worked without the agency on record, is under 无对接记录 / 无服务机构 there and not on the sheet."""
    from market.dashboard import sources
    from market.dashboard.stats import Period

    agency_b, broker_b = _other_agency(world)
    _chain(world, broker_b)
    o = world.orgs
    unrecorded = factories.deal(buyer=o.ent_a, seller=o.uni, demand=_need(world), broker=world.users.broker,
                                stage="signed")
    factories.contract(buyer=o.ent_a, seller=o.uni, deal_id=unrecorded.id, amount=Decimal("77.00"))
    moved = factories.deal(buyer=o.ent_b, seller=o.uni, demand=_need(world), broker=broker_b, stage="signed",
                           agency_id=o.agency.id)
    factories.contract(buyer=o.ent_b, seller=o.uni, deal_id=moved.id, amount=Decimal("0.33"))
    city = factories.user(role="official", region=world.regions["city"], username="city_off4")
    db.session.commit()
    rows = sources.grouped(scope=world.regions["city"], period=Period.year(YEAR), side="e")
    row = next(r for r in sources.by_agency(rows, top=None).rows if r.key == o.agency.id)
    sheet = queries.agency_sheet(o.agency, YEAR, city)
    assert (sheet.total.contracts, sheet.total.amount, sheet.total.tech_amount) == (row.n, row.amount,
                                                                                   row.tech_amount)
    assert (row.n, row.amount) == (2, Decimal("12345679.24"))
    assert sheet.total.deals == 2  # the deals that recorded the agency, not the broker's unrecorded one


def test_the_broker_sheet_pages_its_contracts_and_caps_the_file(app, world, monkeypatch):
    """The contracts under a broker's sheet come a page at a time; the .xlsx lists every one or none: past
    SHEET_MAX_ROWS it is refused with a message (its 合计 never covers part of its rows)."""
    from market.agencies import routes as agency_routes

    u, o = world.users, world.orgs
    made = [factories.contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, amount=Decimal("1.00"),
                               signed_on=date(YEAR, 1, 1 + i), registration_no=f"{YEAR}34030000090{i}")
            for i in range(3)]
    db.session.commit()
    app.config["PAGE_SIZE"] = 2
    url = f"/brokers/{u.broker.id}/performance"
    client = client_for(app, u.official)
    first, second = client.get(url).get_data(as_text=True), client.get(url + "?page=2").get_data(as_text=True)
    assert made[0].registration_no in first and made[1].registration_no in first
    assert made[2].registration_no not in first and made[2].registration_no in second
    assert "共 3 条" in first and "3.00元" in second  # the figures stay the year's on every page
    monkeypatch.setattr(agency_routes, "SHEET_MAX_ROWS", 2)
    before = snapshot()
    refused = client.get(url + "?format=xlsx")
    assert refused.status_code == 400 and "超过 2 份" in " ".join(messages(refused))
    assert diff(before, snapshot()) == {}
    monkeypatch.setattr(agency_routes, "SHEET_MAX_ROWS", 3)
    sheet = _xlsx_text(client.get(url + "?format=xlsx"))
    assert all(c.registration_no in sheet for c in made) and "合计（3 份）" in sheet
