"""Names have one normal form and nothing invisible, on every path (issue 12 item 7; SECURITY.md trap: uniqueness on
names without normalising lets U+200B, U+200D and bidi controls make identical-looking twins).

market.text.clean_name is the one rule: NFKC (full-width ＡＢＣ科技 is ABC科技), whitespace runs made one space, and
a format (Cf: zero-width spaces and joiners, bidi embeddings, overrides and isolates, BOM, soft hyphen), control,
surrogate, private-use, unassigned or other invisible character refused with a Chinese message naming the field.
It runs before uniqueness checks: in the forms (market.forms.NameField), the services (registration, admin
accounts, organisations, regions, fields, listings, contract parties) and the importers (contracts, listings,
regions). These tests attack each path the way a user or a file would.
"""
from __future__ import annotations

import io
import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from market.extensions import db
from market.forms import NameField
from market.models import Achievement, Contract, Demand, Field, Organization, Region, User
from market.text import InvalidName, clean_name, refused_char
from tests import factories
from tests.helpers import Poster, achievement_form, assert_refused, client_for, count, demand_form, form_token
from tests.test_fuzz_forms import product_form_classes

ZWSP, ZWJ, LRE, RLO = "\u200b", "\u200d", "\u202a", "\u202e"
# drawn as nothing, or reorder what follows: each makes a twin of an existing name
INVISIBLE = [ZWSP, "\u200c", ZWJ, "\u200e", "\u200f", LRE, "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067",
             "\u2068", "\u2069", "\u2060", "\u2063", "\ufeff", "\u00ad", "\u061c", "\u180e", "\u034f", "\u3164",
             "\uffa0", "\u115f", "\ufe0f", "\U000e0001", "\U000e0100", "\x00", "\x07", "\x1b", "\x7f", "\x85",
             "\u2028", "\u2029", "\ue000", "\ud800", "\U0010ffff",
             # found by the review of issue 12: blank symbols outside the invisible categories
             "\u2800", "\U0001d159", "\ufffc"]
INVISIBLE_MESSAGE = "不可见字符或控制字符"


# ------------------------------------------------------------------ the rule


@pytest.mark.parametrize("typed, stored", [
    ("ＡＢＣ科技", "ABC科技"), ("  蚌埠\u3000新材料  有限公司 ", "蚌埠 新材料 有限公司"), ("ｋｊｊ＿ｃｉｔｙ", "kjj_city"),
    ("蚌埠(测试)公司", "蚌埠（测试）公司"), ("蚌埠（测试）公司", "蚌埠（测试）公司"), ("ABC (China) Ltd.", "ABC (China) Ltd."),
    ("寻求光伏玻璃，减反射：镀膜技术？", "寻求光伏玻璃，减反射：镀膜技术？"), ("怀远县, 旧称", "怀远县, 旧称"),
    ("Ⅻ号", "XII号"), ("\u00a0蚌埠\u00a0", "蚌埠"), ("ＡＢＣ（中国）", "ABC（中国）"),
    ("", ""), (None, ""),
])
def test_one_normal_form(typed, stored):
    assert clean_name(typed, field_label="单位名称") == stored
    assert clean_name(stored, field_label="单位名称") == stored


@pytest.mark.parametrize("ch", INVISIBLE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_invisible_and_control_characters_are_refused_with_the_field_named(ch):
    with pytest.raises(InvalidName) as caught:
        clean_name(f"测试{ch}公司", field_label="单位名称")
    message = str(caught.value)
    assert message.startswith("单位名称") and ("不可见字符" in message or "换行" in message), message
    # and at either end too: stripping is for spaces only
    if not ch.isspace():
        with pytest.raises(InvalidName):
            clean_name(f"测试公司{ch}", field_label="单位名称")


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=30))
def test_any_text_is_refused_or_comes_back_visible_and_stable(text):
    try:
        name = clean_name(text, field_label="名称")
    except InvalidName as exc:
        assert str(exc).startswith("名称")
        return
    assert refused_char(name) is None
    assert name == name.strip() and "  " not in name
    assert clean_name(name, field_label="名称") == name
    if not set("！，：；？") & set(text):  # the Chinese punctuation kept as typed aside,
        # a compatibility twin (full-width letters and digits, other bracket and space forms) is the same name
        assert clean_name(unicodedata.normalize("NFKC", text), field_label="名称") == name


# ------------------------------------------------------------------ every form with a name, over HTTP


def _state() -> tuple:
    """Every stored name, title and contract: what a refusal must leave as it was."""
    db.session.expire_all()
    out = tuple(sorted(db.session.scalars(select(col))) for col in (
        Organization.name, User.username, User.name, Region.name, Field.name, Demand.title, Achievement.title))
    return out + (count(Contract),)


def _register(o, w):
    return {"role": "enterprise", "username": "newco_wang", "name": "王经理", "phone": "13900001111", "email": "",
            "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "org_name": "蚌埠新材料科技有限公司",
            "org_type": "enterprise", "uscc": factories.uscc(424242, area="340322"),
            "region_id": str(w.regions["town_a"].id), "contact_name": "", "contact_phone": "", "address": "",
            "broker_cert_no": "", "agree": "y", "form_token": form_token()}


def _new_user(o, w):
    return {"role": "official", "username": "kjj_new", "name": "新工作人员", "phone": "0552-1234567", "email": "",
            "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "region_id": str(w.regions["county_a"].id),
            "org_id": "0", "broker_cert_no": "", "form_token": form_token()}


def _user_edit(o, w):
    return {"name": "王科长", "phone": "", "email": "", "region_id": str(w.regions["county_a"].id), "broker_cert_no": ""}


def _org_edit(o, w):
    org = w.orgs.ent_b
    return {"name": "五河乙企业（集团）有限公司", "uscc": org.uscc, "org_type": org.org_type, "region_id": str(org.region_id),
            "contact_name": "赵六", "contact_phone": "0552-5555555", "contact_email": "", "address": ""}


def _region(o, w):
    return {"code": "340321102", "name": "新设镇", "level": "town", "parent_id": str(w.regions["county_a"].id), "sort": "0",
            "form_token": form_token()}


def _region_edit(o, w):
    r = w.regions["town_b"]
    return {"code": r.code, "name": "城关街道", "level": "town", "parent_id": str(w.regions["county_b"].id), "sort": "0"}


def _contract(o, w):
    from datetime import date

    return {"registration_no": "2026340300000888", "title": "透明导电膜制备技术开发合同", "contract_type": "development",
            "subtype": "commissioned", "amount": "500000.00", "tech_amount": "450000.00",
            "signed_on": date.today().isoformat(), "buyer_region_id": str(w.regions["town_a"].id),
            "seller_region_id": str(w.regions["city"].id), "field_id": str(w.fields["materials"].id),
            "form_token": form_token("n"), "buyer_name": "怀远甲企业有限公司", "seller_name": "蚌埠新设研究院"}


# (form class, role, url, valid values, name fields of that form)
NAME_FORMS = [
    ("RegisterForm", "anonymous", lambda o, w: "/register", _register, ["username", "name", "org_name"]),
    ("UserCreateForm", "admin", lambda o, w: "/admin/users/new", _new_user, ["username", "name"]),
    ("UserEditForm", "admin", lambda o, w: f"/admin/users/{w.users.official.id}/edit", _user_edit, ["name"]),
    ("OrgForm", "admin", lambda o, w: f"/admin/orgs/{w.orgs.ent_b.id}/edit", _org_edit, ["name"]),
    ("RegionForm", "admin", lambda o, w: "/admin/regions/new", _region, ["name"]),
    ("RegionForm", "admin", lambda o, w: f"/admin/regions/{w.regions['town_b'].id}/edit", _region_edit, ["name"]),
    ("FieldCreateForm", "admin", lambda o, w: "/admin/fields/new",
     lambda o, w: {"name": "新型储能", "parent_id": "0", "code": "", "form_token": form_token()}, ["name"]),
    ("FieldForm", "admin", lambda o, w: f"/admin/fields/{w.fields['software'].id}/edit",
     lambda o, w: {"name": "工业软件"}, ["name"]),
    ("DemandForm", "enterprise", lambda o, w: "/demands/new", lambda o, w: demand_form(w), ["title"]),
    ("AchievementForm", "institution", lambda o, w: f"/achievements/{o.draft_achievement.id}/edit",
     lambda o, w: achievement_form(w), ["title"]),
    ("ContractForm", "broker", lambda o, w: "/contracts/new", _contract, ["buyer_name", "seller_name"]),
    ("SubmissionForm", "broker", lambda o, w: "/registration/submit",
     lambda o, w: _submission(o, w), ["buyer_name", "seller_name"]),
    ("PointForm", "admin", lambda o, w: "/registration/points",
     lambda o, w: {"name": "五河县技术合同登记点", "kind": "bureau", "region_id": str(w.regions["county_b"].id),
                   "division": "340322", "serial": "1"}, ["name"]),
    ("RegistrarForm", "admin", lambda o, w: f"/registration/points/{o.reg_point.id}",
     lambda o, w: {"username": "registrar_names", "name": "登记员王五", "password": "Strong-pass-2026"}, ["name"]),
    ("HappeningForm", "official", lambda o, w: "/events/new", lambda o, w: _event_form(), ["title"]),
    ("CampaignForm", "official", lambda o, w: "/campaigns/new",
     lambda o, w: {"title": "新材料揭榜挂帅榜单", "form_token": form_token()}, ["title"]),
    ("TaskForm", "official", lambda o, w: f"/campaigns/{_campaign(w).campaign.id}/tasks/new",
     lambda o, w: _campaign_task_form(w), ["title"]),
    ("MilestoneForm", "official", lambda o, w: f"/campaigns/tasks/{_campaign(w).campaign_done_task.id}/milestones",
     lambda o, w: {"title": "小试样品", "due_on": "2027-06-30", "amount": "1.00"}, ["title"]),
    ("ExpertForm", "official", lambda o, w: "/experts/new",
     lambda o, w: {"name": "李研究员", "org_name": w.orgs.uni.name, "region_id": str(w.regions["county_a"].id),
                   "field_ids": [str(w.fields["materials"].id)], "available": "y"}, ["name"]),
    ("DisclosureForm", "institution", lambda o, w: f"/achievements/{_transfer_result(w).id}/disclosures/new",
     lambda o, w: _disclosure_form(w), ["buyer_name", "contact_name"]),  # 协议定价 公示 (issue 20)
    ("AuctionSessionForm", "official", lambda o, w: "/auctions/new",
     lambda o, w: {"title": "怀远县科技成果竞价专场", "description": "", "form_token": form_token()}, ["title"]),  # 竞价 (issue 20)
    ("JoinForm", "anonymous", lambda o, w: f"/join/{_invitation_token(o.invitation)}",
     lambda o, w: {"username": "joiner_names", "name": "受邀同事", "phone": "13900002222", "email": "",
                   "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "agree": "y",
                   "form_token": form_token()}, ["username", "name"]),
]


def _campaign(w):
    from tests.test_campaigns import forms_setup

    return forms_setup(w)


def _transfer_result(w):
    from tests.test_transfers import names_result

    return names_result(w)


def _disclosure_form(w):
    from tests.test_transfers import disclosure_form

    return disclosure_form(w)


def _campaign_task_form(w):
    from tests.test_campaigns import valid_task_form

    return valid_task_form(w, _campaign(w))


def _event_form():
    from tests.test_happenings import valid_event_form

    return valid_event_form()


def _submission(o, w):
    """The seller's online submission for registration (county A's 登记点 handles it), with its scan: a fresh
    file each call, as a post reads it."""
    from datetime import date

    from tests.test_contracts import PDF

    return {"buyer_name": w.orgs.ent_a.name, "seller_name": w.orgs.uni.name, "title": "名称清洗登记测试合同",
            "contract_type": "development", "subtype": "commissioned", "amount": "100000.00",
            "tech_amount": "80000.00", "signed_on": date.today().isoformat(),
            "buyer_region_id": str(w.orgs.ent_a.region_id), "seller_region_id": str(w.orgs.uni.region_id),
            "form_token": form_token(), "scan": (io.BytesIO(PDF), "合同扫描件.pdf")}


def _invitation_token(invitation) -> str:
    from market.members.services import invitation_token

    return invitation_token(invitation)
CASES = [(form, role, url, valid, name) for form, role, url, valid, names in NAME_FORMS for name in names]


def test_every_name_field_cleans_names():
    forms = {c.__name__: c for c in product_form_classes()}
    for form, _, _, _, names in NAME_FORMS:
        for name in names:
            assert issubclass(getattr(forms[form], name).field_class, NameField), f"{form}.{name} is not a NameField"
    # and every NameField of the product is attacked here (a base form's through a form that inherits it)
    listed = {(form, name) for form, _, _, _, names in NAME_FORMS for name in names}
    found = {(c.__name__, n) for c in forms.values() for n in dir(c)
             if getattr(getattr(c, n, None), "field_class", None) is NameField}
    missing = {(f, n) for f, n in found if not any(m == n and issubclass(forms[g], forms[f]) for g, m in listed)}
    assert not missing, f"NameFields no test posts an invisible character to: {sorted(missing)}"


@pytest.fixture
def objs(world):
    from types import SimpleNamespace

    from datetime import timedelta

    from market.models import OrgInvitation, RegPoint
    from market.models.base import utcnow

    o = SimpleNamespace(draft_achievement=factories.achievement(owner=world.users.institution, field=world.fields["materials"]))
    o.reg_point = RegPoint(name="蚌埠市技术合同登记中心", kind="agency", region_id=world.regions["city"].id,
                           division="340300", serial=1)
    world.users.enterprise.org_admin = True
    o.invitation = OrgInvitation(org_id=world.orgs.ent_a.id, nonce="n" * 43, created_by_id=world.users.enterprise.id,
                                 expires_at=utcnow() + timedelta(days=7))
    db.session.add_all([o.reg_point, o.invitation])
    db.session.commit()
    return o


def _client(app, world, role):
    return app.test_client() if role == "anonymous" else client_for(app, getattr(world.users, role))


@pytest.mark.parametrize("form, role, url, valid, name", CASES, ids=[f"{c[0]}.{c[4]}:{c[2].__name__}" for c in CASES])
def test_a_bidi_override_or_zero_width_space_in_a_name_is_refused(app, world, objs, form, role, url, valid, name):
    p = Poster(_client(app, world, role))
    target = url(objs, world)
    before = _state()
    good = valid(objs, world)
    for ch in (RLO, ZWSP, ZWJ, LRE, "\ufeff", "\x07"):
        value = good[name][:1] + ch + good[name][1:]
        resp = p.post(target, valid(objs, world) | {name: value})  # fresh values each post (a file is read once)
        found = assert_refused(resp, codes=(400,))
        assert any(INVISIBLE_MESSAGE in m or "不能换行" in m for m in found), (target, name, found)
        assert _state() == before, (target, name, f"U+{ord(ch):04X}")
    resp = p.post(target, valid(objs, world))  # the same post without the character goes through
    assert resp.status_code == 302, (target, resp.status_code, resp.get_data(as_text=True)[:600])


# ------------------------------------------------------------------ twins


def test_registering_a_zero_width_twin_of_an_organisation_is_refused(app, world):
    factories.org(region=world.regions["town_a"], name="测试公司")
    db.session.commit()
    p = Poster(app.test_client())
    before = _state()
    for twin in ("测试公司" + ZWSP, ZWJ + "测试公司", "测试" + "\u2060" + "公司", RLO + "测试公司",
                 "测试公司" + "\u2800", "\u2800" + "测试公司", "测试公司" + "\u0301", "\u0301" + "测试公司"):
        resp = p.post("/register", _register(None, world) | {"org_name": twin})
        assert_refused(resp, INVISIBLE_MESSAGE, codes=(400,))
    resp = p.post("/register", _register(None, world) | {"org_name": " 测试公司\u3000"})
    assert_refused(resp, "该单位已注册", codes=(400,))
    assert _state() == before
    assert count(Organization, Organization.name.like("%测试公司%")) == 1


def test_full_width_is_the_same_name_as_half_width(app, world):
    factories.org(region=world.regions["town_a"], name="ABC科技")
    db.session.commit()
    p = Poster(app.test_client())
    resp = p.post("/register", _register(None, world) | {"org_name": "ＡＢＣ科技"})
    assert_refused(resp, "该单位已注册", codes=(400,))
    resp = p.post("/register", _register(None, world) | {"org_name": "ＸＹＺ科技", "username": "ｘｙｚ＿ｗａｎｇ"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:600]
    user = db.session.scalar(select(User).where(User.username == "xyz_wang"))
    assert user is not None and user.org.name == "XYZ科技"
    # the administrator cannot rename another organisation into a twin either
    admin = Poster(client_for(app, world.users.admin))
    resp = admin.post(f"/admin/orgs/{world.orgs.ent_b.id}/edit", _org_edit(None, world) | {"name": "ＡＢＣ科技"})
    assert_refused(resp, "已有同名单位", codes=(400,))


def test_a_direct_contract_names_an_existing_party_in_full_width(app, world, objs):
    """A party typed in full-width is the organisation already on the platform, not a new twin."""
    world.orgs.uni.name = "蚌埠ABC大学"
    db.session.commit()
    p = Poster(client_for(app, world.users.broker))
    orgs = count(Organization)
    resp = p.post("/contracts/new", _contract(None, world) | {"seller_name": "蚌埠ＡＢＣ大学"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:600]
    contract = db.session.scalar(select(Contract))
    assert contract.seller_org_id == world.orgs.uni.id and count(Organization) == orgs


# ------------------------------------------------------------------ imports


def _contract_row(n: int, **over) -> dict:
    return {"registration_no": f"2025340300{n:06d}", "type": "技术开发", "subtype": "委托", "buyer": "怀远甲企业有限公司",
            "seller": "蚌埠测试大学", "buyer_region": "蚌埠市/怀远县/榴城镇", "seller_region": "340300",
            "amount": "500000.00", "tech_amount": "450000.00", "signed_on": "2025-03-15", "field": "04.01"} | over


def _jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


def test_a_contract_import_row_with_a_zero_width_party_is_refused(app, world):
    """Over HTTP, as a broker uploads: the file is refused whole, the row named with its reason; with skip_bad the
    other rows are stored and no twin organisation is created."""
    p = Poster(client_for(app, world.users.broker))
    rows = [_contract_row(1), _contract_row(2, buyer="怀远甲企业有限公司" + ZWSP), _contract_row(3, seller=RLO + "蚌埠测试大学"),
            _contract_row(4, buyer="ＡＢＣ新材料有限公司")]
    orgs = count(Organization)
    resp = p.post("/contracts/import", {"file": (io.BytesIO(_jsonl(rows)), "合同.jsonl")}, content_type="multipart/form-data")
    assert resp.status_code == 400, resp.status_code
    page = resp.get_data(as_text=True)
    assert "买方单位含有不可见字符" in page and "卖方单位含有不可见字符" in page, page[:2000]
    assert count(Contract) == 0 and count(Organization) == orgs
    resp = p.post("/contracts/import", {"file": (io.BytesIO(_jsonl(rows)), "合同.jsonl"), "skip_bad": "y"},
                  content_type="multipart/form-data")
    assert resp.status_code == 200, resp.status_code  # the report of stored and skipped rows
    assert count(Contract) == 2
    names = set(db.session.scalars(select(Organization.name)))
    assert "ABC新材料有限公司" in names and not any(refused_char(n) for n in names)


def test_a_contract_import_from_the_command_line_refuses_a_bidi_party(app, world, runner, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(_jsonl([_contract_row(1, buyer="怀远" + LRE + "甲企业有限公司")]))
    out = runner.invoke(args=["import", "contracts", str(path), "--user", "broker"])
    assert out.exit_code != 0 and "买方单位含有不可见字符" in out.output, out.output
    assert count(Contract) == 0


def test_a_listing_import_refuses_an_invisible_character_in_a_title_or_organisation(app, world, runner, tmp_path):
    good = {"external_id": "R-001", "title": "磁控溅射低方阻透明导电膜制备技术", "summary": "采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□。",
            "organization": "蚌埠测试大学", "field": "04.01", "maturity": 6, "price_wan": 80}
    rows = [good | {"organization": "蚌埠测试大学" + ZWSP}, good | {"external_id": "R-002", "title": "磁控溅射" + RLO + "导电膜技术"}]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = runner.invoke(args=["import", "achievements", str(path)])
    assert out.exit_code != 0, out.output
    assert "单位名称含有不可见字符" in out.output and "标题含有不可见字符" in out.output, out.output
    assert count(Achievement) == 0 and count(Organization, Organization.name.like("蚌埠测试大学%")) == 1
    path.write_text(json.dumps(good | {"organization": "ＸＹ理工学院"}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = runner.invoke(args=["import", "achievements", str(path)])
    assert out.exit_code == 0, out.output
    assert db.session.scalar(select(Achievement)).org.name == "XY理工学院"


def test_a_region_import_refuses_a_zero_width_name(app, world, runner, tmp_path):
    path = tmp_path / "regions.jsonl"
    rows = [{"code": "340321103", "name": "新" + ZWJ + "设镇", "parent_code": "340321", "level": "town"},
            {"code": "340321104", "name": "ＡＢ镇", "parent_code": "340321", "level": "town"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    regions = count(Region)
    out = runner.invoke(args=["import", "regions", str(path)])
    assert out.exit_code != 0 and "区划名称含有不可见字符" in out.output, out.output
    assert count(Region) == regions
    out = runner.invoke(args=["import", "regions", str(path), "--skip-bad"])
    assert db.session.scalar(select(Region.name).where(Region.code == "340321104")) == "AB镇", out.output


def test_create_admin_refuses_an_invisible_username(app, world, runner):
    out = runner.invoke(args=["create-admin", "--username", "admin" + ZWSP, "--name", "管理员",
                              "--password", "Strong-pass-2026"])
    assert out.exit_code != 0 and "用户名" in out.output, out.output
    out = runner.invoke(args=["create-admin", "--username", "ａｄｍｉｎ２", "--name", "管理员", "--password", "Strong-pass-2026"])
    assert out.exit_code == 0, out.output
    assert count(User, User.username == "admin2") == 1
