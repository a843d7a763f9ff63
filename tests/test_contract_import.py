"""Importing contracts registered elsewhere: the CLI and the web upload, all-or-nothing or --skip-bad."""
from __future__ import annotations

import re

import io
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from market.contracts.importer import COLUMNS
from market.extensions import db
from market.models import Contract, ContractAudit, Organization
from tests import factories
from tests.helpers import post


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def row(n: int, **over) -> dict:
    data = {
        "registration_no": f"2025340300{n:06d}",
        "type": "技术开发",
        "subtype": "委托",
        "buyer": "怀远甲企业有限公司",
        "seller": "蚌埠测试大学",
        "buyer_region": "蚌埠市/怀远县/榴城镇",
        "seller_region": "340300",
        "amount": "500000.00",
        "tech_amount": "450000.00",
        "signed_on": "2025-03-15",
        "field": "04.01",
    }
    data.update(over)
    return data


def jsonl(rows: list[dict]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def numbers() -> set[str]:
    return set(db.session.scalars(select(Contract.registration_no)))


GOOD = [
    row(1),
    row(2, type="技术转让", subtype="专利权", buyer="五河新建材料有限公司", buyer_region="340322",
        seller="安徽光电研究院", seller_region="蚌埠市", amount="1200000", tech_amount="1200000", field=""),
    row(3, type="技术服务", subtype="", amount="12.5", tech_amount="12.5", field="新材料/金属材料"),
]


def test_cli_imports_a_good_jsonl_file(runner, world, tmp_path):
    path = write(tmp_path, "contracts.jsonl", jsonl(GOOD))
    result = runner.invoke(args=["import", "contracts", path])
    assert result.exit_code == 0, result.output
    assert "导入 3 份合同" in result.output
    assert "新建单位（待认证）：五河新建材料有限公司" in result.output
    assert numbers() == {r["registration_no"] for r in GOOD}
    c2 = db.session.scalar(select(Contract).where(Contract.registration_no == GOOD[1]["registration_no"]))
    assert (c2.contract_type, c2.subtype, c2.amount, c2.source) == ("transfer", "patent", Decimal("1200000.00"), "import")
    assert c2.buyer_region_id == world.regions["county_b"].id and c2.seller_region_id == world.regions["city"].id
    c1 = db.session.scalar(select(Contract).where(Contract.registration_no == GOOD[0]["registration_no"]))
    assert c1.buyer_org_id == world.orgs.ent_a.id and c1.buyer_region_id == world.regions["town_a"].id
    assert c1.subtype == "commissioned" and c1.field_id == world.fields["materials"].id
    c3 = db.session.scalar(select(Contract).where(Contract.registration_no == GOOD[2]["registration_no"]))
    assert c3.amount == Decimal("12.50") and c3.field_id == world.fields["materials"].id
    institute = db.session.scalar(select(Organization).where(Organization.name == "安徽光电研究院"))
    assert (institute.status, institute.org_type) == ("pending", "institute")
    assert count(ContractAudit, ContractAudit.action == "import") == 3
    assert c1.recorded_by_id == world.users.admin.id


def test_a_bad_row_stores_nothing(runner, world, tmp_path):
    rows = [row(1), row(2, amount="12.5万元"), row(3), row(4, seller_region="蚌埠市/不存在区"),
            row(5, buyer="新公司甲", tech_amount="600000.00")]
    path = write(tmp_path, "contracts.jsonl", jsonl(rows))
    result = runner.invoke(args=["import", "contracts", path])
    assert result.exit_code != 0
    assert "第2行（2025340300000002）：合同成交额：请只填写数字，单位已是元" in result.output
    assert "第4行" in result.output and "卖方区域“蚌埠市/不存在区”无法识别" in result.output
    assert "第5行" in result.output and "技术交易额不能超过合同成交额" in result.output
    assert "第1行" not in result.output and "第3行" not in result.output
    assert "未导入任何合同" in result.output
    assert count(Contract) == 0
    assert db.session.scalar(select(Organization).where(Organization.name == "新公司甲")) is None


def test_skip_bad_stores_exactly_the_good_rows(runner, world, tmp_path):
    rows = [row(1), row(2, signed_on="2025/03/15"), row(3, buyer="新公司乙"), row(4, type="技术买卖"),
            row(5, subtype="专利权"), row(6, amount="NaN"), row(7, amount="-1"), row(8, amount="1.005"),
            row(9, amount="１２３４"), row(10)]
    path = write(tmp_path, "contracts.jsonl", jsonl(rows))
    result = runner.invoke(args=["import", "contracts", path, "--skip-bad"])
    assert result.exit_code == 3, result.output  # good rows stored, bad ones skipped
    assert numbers() == {row(1)["registration_no"], row(3)["registration_no"], row(10)["registration_no"]}
    for line in (2, 4, 5, 6, 7, 8, 9):
        assert f"第{line}行" in result.output
    assert "新建单位（待认证）：新公司乙" in result.output
    assert "跳过有误的 7 行" in result.output


def test_duplicate_registration_numbers_are_bad_rows(runner, world, tmp_path):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, registration_no=row(1)["registration_no"])
    db.session.commit()
    path = write(tmp_path, "contracts.jsonl", jsonl([row(1), row(2), row(2, buyer="五河乙企业有限公司")]))
    result = runner.invoke(args=["import", "contracts", path, "--skip-bad"])
    assert result.exit_code == 3
    assert "第1行（2025340300000001）：登记编号已存在" in result.output
    assert "第3行（2025340300000002）：登记编号与第2行重复" in result.output
    assert numbers() == {row(1)["registration_no"], row(2)["registration_no"]}
    assert count(Contract) == 2


def test_jsonl_numbers_and_broken_lines(runner, world, tmp_path):
    text = "\n".join([
        '{"registration_no": "2025-N-1", "type": "技术咨询", "buyer": "怀远甲企业有限公司", "seller": "蚌埠测试大学",'
        ' "buyer_region": "340321101", "seller_region": "340300", "amount": 1234567.89, "tech_amount": 0.1, "signed_on": "2025-01-02"}',
        "",
        "{not json",
        '["a list"]',
        '{"registration_no": "2025-N-2", "type": "技术咨询", "buyer": "怀远甲企业有限公司", "seller": "蚌埠测试大学",'
        ' "buyer_region": "340321101", "seller_region": "340300", "amount": 1e309, "tech_amount": 0, "signed_on": "2025-01-02"}',
        '{"registration_no": "2025-N-3", "typo": "x"}',
    ])
    path = write(tmp_path, "c.jsonl", text)
    result = runner.invoke(args=["import", "contracts", path, "--skip-bad"])
    assert result.exit_code == 3, result.output
    contract = db.session.scalar(select(Contract))
    assert (contract.registration_no, contract.amount, contract.tech_amount) == ("2025-N-1", Decimal("1234567.89"), Decimal("0.10"))
    assert "第3行：不是有效的JSON" in result.output
    assert "第4行：每行须是一个JSON对象" in result.output
    assert "第5行（2025-N-2）：合同成交额" in result.output
    assert "第6行（2025-N-3）" in result.output and "无法识别的字段：typo" in result.output


@pytest.mark.parametrize("bom", [True, False])
def test_csv_with_or_without_bom(runner, world, tmp_path, bom):
    header = ",".join(label for _, label, _ in COLUMNS)
    lines = [header,
             '2025-C-1,技术许可,专利实施许可,怀远甲企业有限公司,蚌埠测试大学,340321,蚌埠市,"1,000.50",1000.50,2025-06-01,',
             '2025-C-2,技术开发,合作,"怀远甲企业有限公司",蚌埠测试大学,340321,蚌埠市,100,200,2025-06-01,',
             ""]
    content = ("\ufeff" if bom else "") + "\r\n".join(lines)
    path = write(tmp_path, "c.csv", content.encode("utf-8"))
    result = runner.invoke(args=["import", "contracts", path])
    assert result.exit_code != 0
    assert "第3行（2025-C-2）：技术交易额不能超过合同成交额" in result.output
    assert count(Contract) == 0
    result = runner.invoke(args=["import", "contracts", path, "--skip-bad"])
    assert result.exit_code == 3
    contract = db.session.scalar(select(Contract))
    assert (contract.registration_no, contract.contract_type, contract.subtype, contract.amount) == (
        "2025-C-1", "license", "patent_license", Decimal("1000.50"))


def test_csv_with_english_keys_and_problems_with_the_file(runner, world, tmp_path):
    keys = [k for k, _, _ in COLUMNS]
    good = ",".join(keys) + "\n" + ",".join(str(row(1).get(k, "")) for k in keys) + "\n"
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "en.csv", good)])
    assert result.exit_code == 0, result.output and count(Contract) == 1
    missing = "登记编号,合同类型\n2025-X,技术开发\n"
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "m.csv", missing)])
    assert result.exit_code != 0 and "缺少必填列" in result.output
    gbk = ("登记编号,合同类型\n").encode("gbk")
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "g.csv", gbk)])
    assert result.exit_code != 0 and "UTF-8" in result.output
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "c.txt", "x")])
    assert result.exit_code != 0 and "文件类型不支持" in result.output
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "bad.xlsx", b"not a zip")])
    assert result.exit_code != 0 and "无法读取该Excel文件" in result.output
    assert count(Contract) == 1


def xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append([label for _, label, _ in COLUMNS])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_cells_of_every_kind(runner, world, tmp_path):
    payload = xlsx([
        ["2025-X-1", "技术开发", "委托开发", "怀远甲企业有限公司", "蚌埠测试大学", "蚌埠市/怀远县", "340300", 250000.5, 2000, datetime(2025, 5, 6), "04.01"],
        [None] * 11,
        ["2025-X-2", "技术服务", None, "怀远甲企业有限公司", "蚌埠测试大学", "340321", "340300", "99.99", "99.99", date(2025, 5, 7), None],
        ["2025-X-3", "技术服务", None, "怀远甲企业有限公司", "蚌埠测试大学", "340321", "340300", 1.005, 1, "2025-05-07", None],
    ])
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "c.xlsx", payload), "--skip-bad"])
    assert result.exit_code == 3, result.output
    stored = {c.registration_no: (c.amount, c.tech_amount, c.signed_on) for c in db.session.scalars(select(Contract))}
    assert stored == {
        "2025-X-1": (Decimal("250000.50"), Decimal("2000.00"), date(2025, 5, 6)),
        "2025-X-2": (Decimal("99.99"), Decimal("99.99"), date(2025, 5, 7)),
    }
    assert "第5行（2025-X-3）" in result.output and "最多保留2位小数" in result.output


# --- the web upload ------------------------------------------------------------------------------

def test_template_has_chinese_headers(world, login_as):
    resp = login_as("official").get("/contracts/import/template.xlsx")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    wb = load_workbook(io.BytesIO(resp.data))
    headers = [cell.value for cell in next(wb.worksheets[0].iter_rows(max_row=1))]
    assert headers == ["登记编号", "合同类型", "合同子类", "买方单位", "卖方单位", "买方区域", "卖方区域",
                       "合同成交额（元）", "技术交易额（元）", "签订日期", "技术领域",
                       "买方行政区划代码", "卖方行政区划代码", "买方国别", "卖方国别"]
    assert login_as("enterprise").get("/contracts/import/template.xlsx").status_code == 403


def test_the_template_itself_imports(runner, world, tmp_path, login_as):
    payload = login_as("admin").get("/contracts/import/template.xlsx").data
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "t.xlsx", payload)])
    assert result.exit_code == 0, result.output
    assert numbers() == {"2026340300000001"}


def test_web_upload_is_all_or_nothing_and_scoped(world, login_as):
    payload = xlsx([
        ["2025-W-1", "技术开发", "委托", "怀远甲企业有限公司", "蚌埠测试大学", "340321101", "340300", "100.00", "100.00", "2025-05-06", ""],
        ["2025-W-2", "技术开发", "委托", "五河乙企业有限公司", "蚌埠测试大学", "340322", "340300", "100.00", "100.00", "2025-05-06", ""],
    ])
    c = login_as("official")
    assert c.get("/contracts/import").status_code == 200
    resp = post(c, "/contracts/import", {"file": (io.BytesIO(payload), "合同.xlsx")})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "未导入任何合同" in page and "买方和卖方都不在您负责的区域内" in page and re.search(r"<td[^>]*>3</td>", page)  # the bad row's line (a card label may sit on the cell)
    assert count(Contract) == 0
    resp = post(c, "/contracts/import", {"file": (io.BytesIO(payload), "合同.xlsx"), "skip_bad": "y"})
    assert resp.status_code == 200
    assert 'id="stored-count">1<' in resp.get_data(as_text=True)
    assert numbers() == {"2025-W-1"}
    # the city official sees both counties
    resp = post(login_as("city_official"), "/contracts/import", {"file": (io.BytesIO(payload), "合同.xlsx")})
    assert resp.status_code == 400 and "登记编号已存在" in resp.get_data(as_text=True)


def test_web_upload_by_a_broker_and_refusals(world, login_as):
    payload = jsonl([row(1)]).encode("utf-8")
    c = login_as("broker")
    resp = post(c, "/contracts/import", {"file": (io.BytesIO(payload), "c.jsonl")})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    contract = db.session.scalar(select(Contract))
    assert contract.broker_id == world.users.broker.id and contract.recorded_by_id == world.users.broker.id
    assert post(c, "/contracts/import", {}).status_code == 400
    resp = post(c, "/contracts/import", {"file": (io.BytesIO(b"x"), "c.exe")})
    assert resp.status_code == 400 and "文件类型不支持" in resp.get_data(as_text=True)
    for name in ("enterprise", "institution"):
        assert login_as(name).get("/contracts/import").status_code == 403
        assert post(login_as(name), "/contracts/import", {"file": (io.BytesIO(payload), "c.jsonl")}).status_code == 403
    assert count(Contract) == 1


@pytest.mark.parametrize("seller", ["蚌埠测试大学", "蚌埠测试大學", "Bengbu Test University", "安徽光电研究院"])
def test_a_brokers_file_carries_no_institutions_transfer(world, login_as, seller):
    """A 高校/科研院所's 转让 or 许可 is registered only after its 协议定价 公示, checked one contract at a time: a
    broker's file carrying one is refused whole, whether the seller is known or only named (in traditional
    characters or English too); the same row from an official (a 登记点's register) and a broker's 技术开发 pass."""
    payload = jsonl([row(1, type="技术转让", subtype="专利权", seller=seller)]).encode("utf-8")
    resp = post(login_as("broker"), "/contracts/import", {"file": (io.BytesIO(payload), "c.jsonl")})
    assert resp.status_code == 400 and "须先完成协议定价公示" in resp.get_data(as_text=True)
    assert count(Contract) == 0
    development = jsonl([row(2, seller=seller)]).encode("utf-8")
    assert post(login_as("broker"), "/contracts/import", {"file": (io.BytesIO(development), "c.jsonl")}).status_code == 200
    resp = post(login_as("city_official"), "/contracts/import", {"file": (io.BytesIO(payload), "c.jsonl")})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert count(Contract) == 2


def test_parties_outside_the_city_by_code_or_country(runner, world, tmp_path):
    """Issue 16: a party elsewhere in China by its 行政区划代码, one abroad by its 国别; one party stays in the city."""
    header = "登记编号,合同类型,买方单位,卖方单位,买方区域,卖方区域,合同成交额（元）,技术交易额（元）,签订日期,卖方行政区划代码,卖方国别,买方行政区划代码"
    lines = [header,
             "2025-P-1,技术开发,怀远甲企业有限公司,合肥导入大学,340321,,1000.00,1000.00,2025-06-01,340104,,",
             "2025-P-2,技术许可,怀远甲企业有限公司,Import GmbH,340321,,2000.00,2000.00,2025-06-02,,DE,",
             "2025-P-3,技术开发,上海导入企业,合肥导入大学,,,10.00,10.00,2025-06-03,340104,,310104",
             "2025-P-4,技术开发,怀远甲企业有限公司,乙大学,340321,,10.00,10.00,2025-06-03,999999,,",
             ""]
    result = runner.invoke(args=["import", "contracts", write(tmp_path, "p.csv", "\r\n".join(lines))])
    assert result.exit_code != 0
    assert "第4行（2025-P-3）：买方和卖方至少一方须在本市" in result.output
    assert "第5行（2025-P-4）：卖方：行政区划代码“999999”无效" in result.output and count(Contract) == 0
    result = runner.invoke(args=["import", "contracts", "--skip-bad", write(tmp_path, "p.csv", "\r\n".join(lines))])
    assert "导入 2 份合同" in result.output, result.output  # exit 3: rows were skipped
    hefei, foreign = db.session.scalars(select(Contract).order_by(Contract.registration_no)).all()
    assert (hefei.seller_region_id, hefei.seller_division, hefei.seller_place) == (None, "340104", "安徽省合肥市蜀山区")
    assert hefei.buyer_division == "340321" and foreign.seller_country == "DE" and foreign.is_foreign
    assert db.session.scalar(select(Organization).where(Organization.name == "合肥导入大学")).division_code == "340104"
