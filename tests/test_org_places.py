"""An organisation's real place on its forms (issue 16 item 1): registration and the administrator's edit set a
county or town of the city, or — outside the city — a 6-digit 行政区划代码 from the national list or a 国别;
bad codes are refused with a Chinese message and nothing stored; the data check "仍登记在市本级的单位" follows."""
from __future__ import annotations

from sqlalchemy import select

from market.dashboard import queries as dash_queries
from market.divisions import OUTSIDE_REGION
from market.extensions import db
from market.models import Organization, User
from tests import factories
from tests.helpers import Poster, assert_refused, client_for, count, form_token
from tests.test_auth import reg


def _org(name: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.name == name))


def test_register_an_organisation_in_hefei_and_one_abroad(world, client):
    p = Poster(client)
    resp = p.post("/register", reg(world, org_name="合肥某某科技有限公司", region_id=OUTSIDE_REGION,
                                   division_code="340104", uscc=factories.uscc(515151, area="340104")))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    org = _org("合肥某某科技有限公司")
    assert (org.region_id, org.division_code, org.country) == (None, "340104", "CN")
    # the administrators hear of it: they verify organisations outside the city
    page = client.get("/register")
    assert page.status_code in (200, 302)

    other = Poster(factories_client := client.application.test_client())  # a second visitor
    resp = other.post("/register", reg(world, username="gmbh_user", org_name="Beispiel GmbH", region_id=OUTSIDE_REGION,
                                       country="DE", uscc=factories.uscc(525252)))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    org = _org("Beispiel GmbH")
    assert (org.region_id, org.division_code, org.country) == (None, None, "DE")
    del factories_client


def test_register_in_a_county_takes_the_nodes_code(world, client):
    resp = Poster(client).post("/register", reg(world, region_id=world.regions["county_b"].id))
    assert resp.status_code == 302
    org = _org("蚌埠新材料科技有限公司")
    assert (org.region_id, org.division_code, org.country) == (world.regions["county_b"].id, "340322", "CN")


def test_register_refuses_bad_places_and_stores_nothing(world, client):
    p = Poster(client)
    before = count(User), count(Organization)
    cases = [
        ({"region_id": OUTSIDE_REGION, "division_code": ""}, "请填写6位行政区划代码"),
        ({"region_id": OUTSIDE_REGION, "division_code": "999999"}, "行政区划代码“999999”无效"),
        ({"region_id": OUTSIDE_REGION, "division_code": "34A104"}, "无效"),
        ({"region_id": OUTSIDE_REGION, "division_code": "340302"}, "本市的单位请在“所在区域”选择所在区县"),
        ({"region_id": world.regions["town_a"].id, "division_code": "340104"}, "与所选区域（榴城镇）不一致"),
        ({"region_id": world.regions["town_a"].id, "country": "US"}, "境外单位请在“所在区域”选择“本市以外或境外”"),
        ({"region_id": OUTSIDE_REGION, "country": "ZZ"}, "国别“ZZ”无法识别"),
        ({"region_id": OUTSIDE_REGION, "country": "US", "division_code": "340104"}, "境外单位不填行政区划代码"),
    ]
    for over, reason in cases:
        resp = p.post("/register", reg(world, form_token=form_token(), **over))
        assert_refused(resp, reason, codes=(400,))
        assert (count(User), count(Organization)) == before, over


def test_admin_places_an_organisation_left_on_the_city_node(world, app):
    """蚌埠测试大学 sits on the city node with no code: the data check lists it until an administrator places it."""
    uni = world.orgs.uni
    listed = lambda: uni.id in [o.id for o in db.session.scalars(dash_queries.orgs_on_city_node(None))]  # noqa: E731
    assert listed()
    admin = client_for(app, world.users.admin)
    page = admin.get(f"/admin/orgs/{uni.id}/edit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'list="division-options"' in text and '<option value="340100">安徽省合肥市</option>' in text

    def save(**over):
        data = {"name": uni.name, "uscc": uni.uscc, "org_type": "university", "region_id": world.regions["city"].id,
                "division_code": "", "country": "CN", "contact_name": "张三", "contact_phone": "0552-1234567",
                "contact_email": "", "address": ""}
        data.update(over)
        return Poster(admin).post(f"/admin/orgs/{uni.id}/edit", data)

    # a code that is not on the list, or outside the city while on the city node: refused, nothing changes
    assert_refused(save(division_code="123456"), "无效", codes=(400,))
    assert_refused(save(division_code="340104"), "不在蚌埠市", codes=(400,))
    db.session.expire_all()
    assert listed()
    # the city node with a code in the city: placed (keeps its node)
    assert save(division_code="340302").status_code == 302
    db.session.expire_all()
    assert (uni.region_id, uni.division_code) == (world.regions["city"].id, "340302") and not listed()
    # really in Hefei: outside the city, by its code (no node)
    assert save(region_id=OUTSIDE_REGION, division_code="340104").status_code == 302
    db.session.expire_all()
    assert (uni.region_id, uni.division_code, uni.country) == (None, "340104", "CN") and not listed()
    # the edit page shows "本市以外或境外" chosen for it
    assert f'<option selected value="{OUTSIDE_REGION}">' in admin.get(f"/admin/orgs/{uni.id}/edit").get_data(as_text=True)
    # a county of the city: the node's own code
    assert save(region_id=world.regions["county_a"].id).status_code == 302
    db.session.expire_all()
    assert (uni.region_id, uni.division_code) == (world.regions["county_a"].id, "340321")
