"""A broker submits a contract for 登记 with its scan; the 登记员 of the competent 登记点 核定 a lower 技术交易额 and
registers it; the 登记证明 downloads as a PDF; the city's dashboard moves by exactly the registered amounts, and
not before (issue 16 item 4)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from market.dashboard import stats
from market.extensions import db
from market.models import Region, RegPoint, User
from tests import factories
from tests.test_contracts import PDF

from .helpers import sign_in

pytestmark = pytest.mark.browser


def _city_figures(live_server):
    with live_server.seed():
        city = db.session.scalar(db.select(Region).where(Region.parent_id.is_(None)))
        row = stats.totals(scope=city, period=stats.Period.year(date.today().year))
        return row["e"].n, row["e"].amount, row["e"].tech_amount


def test_broker_submits_registrar_registers_certificate_and_dashboard(live_server, seeded, new_page, tmp_path):
    base = live_server.base_url
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")
        factories.user(role="official", region=regions["city"], username="shikejiju")
        factories.org(region=regions["town_a"], name="怀远县榴城新材料有限公司")
        factories.org(region=regions["city"], org_type="university", name="蚌埠理工学院")
        point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=regions["county_a"].id,
                         division="340321", serial=1)
        db.session.add(point)
        db.session.flush()
        registrar = User(username="dengjiyuan", name="怀远登记员", role="registrar", reg_point_id=point.id)
        registrar.set_password(factories.PASSWORD)
        db.session.add(registrar)
    before = _city_figures(live_server)
    scan = tmp_path / "合同扫描件.pdf"
    scan.write_bytes(PDF)

    # the broker submits: the seller is on the city node, so the buyer's county's 登记点 is competent
    broker = new_page()
    sign_in(broker, base, "jingjiren")
    broker.goto(base + "/registration/submit")
    broker.get_by_label("买方单位（委托方/受让方/被许可方）").fill("怀远县榴城新材料有限公司")
    broker.get_by_label("卖方单位（受托方/让与方/许可方）").fill("蚌埠理工学院")
    broker.get_by_label("合同名称").fill("高透光导电膜镀膜工艺技术开发")
    broker.get_by_label("合同类型").select_option(label="技术开发")
    broker.get_by_label("合同成交额（元）").fill("800000.00")
    broker.get_by_label("技术交易额（元）").fill("700000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.get_by_label("买方所在区域").select_option(label="蚌埠市 / 怀远县 / 榴城镇")
    broker.get_by_label("卖方所在区域").select_option(label="蚌埠市")
    broker.locator("#scan").set_input_files(str(scan))
    broker.locator("#submit-registration").click()
    expect(broker.locator(".alert-success")).to_contain_text("怀远县技术合同登记点")
    expect(broker.locator("#reg-status")).to_have_text("待登记")
    expect(broker.locator("#reg-waiting")).to_contain_text("已等待 0 个工作日（期限 15 个工作日）")
    assert _city_figures(live_server) == before  # a submission counts nowhere

    # the 登记员 finds it in the queue, 核定 a lower 技术交易额 and registers it
    registrar_page = new_page()
    sign_in(registrar_page, base, "dengjiyuan")
    registrar_page.goto(base + "/registration/")
    registrar_page.locator("#reg-list").get_by_role("link", name="高透光导电膜镀膜工艺技术开发").click()
    registrar_page.get_by_label("办理结果").select_option(label="核定登记")
    registrar_page.get_by_label("核定技术交易额（元）").fill("654321.09")
    registrar_page.locator("#decide").click()
    expect(registrar_page.locator(".alert-success")).to_contain_text("已登记，登记编号 " + str(date.today().year) + "34032101000001")

    # the broker downloads the 登记证明
    broker.reload()
    expect(broker.locator("#reg-status")).to_have_text("已登记")
    with broker.expect_download() as info:
        broker.locator("#download-certificate").click()
    path = info.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # the city's figures moved by exactly the registered amounts, and its dashboard shows them
    n, amount, tech = _city_figures(live_server)
    assert (n - before[0], amount - before[1], tech - before[2]) == (1, Decimal("800000.00"), Decimal("654321.09"))
    city = new_page()
    sign_in(city, base, "shikejiju")
    city.goto(base + "/dashboard/")
    expect(city.locator("#dash-both-sides")).to_contain_text("共 1 份，成交额 80")
    expect(city.locator("#dash-both-sides")).to_contain_text("技术交易额 65.43")
