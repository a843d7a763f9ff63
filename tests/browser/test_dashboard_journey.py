"""A city official sets a town's target, a broker records a contract in that town, the town's progress moves by
exactly that amount; the dashboard's charts render (ECharts, CSP-clean) and drill down from city to town."""
from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Region
from tests import factories

from .helpers import nav, sign_in

pytestmark = pytest.mark.browser

TOWN = "蚌埠市 / 怀远县 / 榴城镇"


def test_target_contract_progress_and_drill_down(live_server, seeded, new_page):
    base = live_server.base_url
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")
        factories.user(role="official", region=regions["city"], username="shikejiju")
        factories.org(region=regions["town_a"], name="怀远县榴城新材料有限公司")
        factories.org(region=regions["city"], org_type="university", name="蚌埠理工学院")
    town_id = seeded.region_ids["town_a"]

    # the city official sets 榴城镇's target for this year: 8000万元
    city = new_page()
    sign_in(city, base, "shikejiju")
    nav(city, "数据看板")
    expect(city.locator("#dash-title")).to_have_text("数据看板 · 蚌埠市")
    city.locator("#dash-tabs").get_by_role("link", name="目标任务与排名").click()
    city.locator("#table-ranking").get_by_role("link", name="怀远县").click()
    expect(city.locator("#dash-title")).to_have_text("数据看板 · 怀远县")
    city.locator(f"#set-target-{town_id}").click()
    city.get_by_label("合同成交额目标（万元）").fill("8000")
    city.locator("#target-save").click()
    expect(city.locator(".alert-success")).to_contain_text("已保存榴城镇")
    row = city.locator(f'#table-ranking tr[data-region="{town_id}"]')
    expect(row).to_contain_text("0.00万元 / 8,000.00万元")

    # a broker of the county records a contract signed in that town
    broker = new_page()
    sign_in(broker, base, "jingjiren")
    broker.goto(base + "/contracts/new")
    broker.get_by_label("买方单位（委托方/受让方/被许可方）").fill("怀远县榴城新材料有限公司")
    broker.get_by_label("卖方单位（受托方/让与方/许可方）").fill("蚌埠理工学院")
    broker.get_by_label("登记编号").fill("2026340321000777")
    broker.get_by_label("合同名称").fill("高透光导电膜镀膜工艺技术开发")
    broker.get_by_label("合同类型").select_option(label="技术开发")
    broker.get_by_label("合同成交额（元）").fill("1234567.89")
    broker.get_by_label("技术交易额（元）").fill("1000000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.get_by_label("买方所在区域").select_option(label=TOWN)
    broker.get_by_label("卖方所在区域").select_option(label="蚌埠市")
    broker.locator("#save-contract").click()
    expect(broker.locator(".alert-success")).to_contain_text("已登记")

    # the town's progress moved by exactly 1234567.89元 (= 123.46万元, the exact yuan in the tooltip), and its bar shows 1.5%
    city.reload()
    expect(row).to_contain_text("123.46万元 / 8,000.00万元")
    bar = row.locator(".progress-bar").first
    assert bar.evaluate("el => el.style.width") == "1.5%"

    # the overview: the figures, a chart beside each table, and drill-down by clicking the town
    city.locator("#dash-tabs").get_by_role("link", name="总览").click()
    expect(city.locator("#kpi-buyer")).to_contain_text("123.46万元")
    expect(city.locator("#kpi-buyer .wan").first).to_have_attribute("title", "1,234,567.89元")
    for chart in ("region", "month", "type", "field"):
        expect(city.locator(f'[data-chart="chart-{chart}"] canvas')).to_have_count(1)
        expect(city.locator(f"#table-{chart}")).to_be_visible()
    city.locator("#table-region").get_by_role("link", name="榴城镇").click()
    expect(city.locator("#dash-title")).to_have_text("数据看板 · 榴城镇")
    expect(city.locator("#kpi-buyer")).to_contain_text("123.46万元")
    expect(city.locator("#kpi-seller")).to_contain_text("0份")
