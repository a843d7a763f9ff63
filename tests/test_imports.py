"""market.imports: the one row reader behind every import, and the exit status of `flask import ... --skip-bad`."""
from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from market.admin.services import REGION_LAYOUT
from market.contracts.importer import LAYOUT as CONTRACT_LAYOUT
from market.extensions import db
from market.imports import ImportFileError, Layout, read_rows
from market.models import Region


def test_jsonl_keeps_exact_numbers_and_cleans_text(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"Amount": 12345678901234567.89, "n": 7, "big": 1e309, "x": NaN, "_line": 99, '
                    '"t": "a\\u0000b\\ud800c", "k": ["x\\u0007", 1]}\n', encoding="utf-8")
    [(line, row)] = read_rows(path)
    assert line == 1
    assert row == {"amount": Decimal("12345678901234567.89"), "n": 7, "big": Decimal("1E+309"), "x": "NaN",
                   "t": "abc", "k": ["x", 1]}
    assert all(not isinstance(v, float) for v in row.values())


def test_a_named_layout_maps_chinese_headers_and_drops_unknown_spreadsheet_columns():
    csv_text = ("登记编号,合同类型,买方单位,卖方单位,买方区域,卖方区域,合同成交额（元）,技术交易额（元）,签订日期,备注,登记编号\n"
                "2025-C-1,技术开发,甲,乙,340321,340300,100,50,2025-01-02,内部备注,ignored\n\n")
    [(line, row)] = read_rows(csv_text.encode(), name="c.csv", layout=CONTRACT_LAYOUT)
    assert line == 2 and row["registration_no"] == "2025-C-1" and row["amount"] == "100"
    assert "备注" not in row and set(row) <= {k for k in CONTRACT_LAYOUT.columns.values()}
    # JSON keys it does not know stay, so that the contract check reports them
    [(_, row)] = read_rows(b'{"Registration_No": "X-1", "typo": 1}', name="c.jsonl", layout=CONTRACT_LAYOUT)
    assert row == {"registration_no": "X-1", "typo": 1}


def test_xlsx_cells_become_the_text_a_person_typed():
    from datetime import date, datetime

    wb = Workbook()
    ws = wb.active
    ws.append(["External_ID", "price_wan", "signed", None])
    ws.append(["R-1", 12.0, datetime(2025, 5, 6), "dropped: no header"])
    ws.append([None, None, None, None])
    ws.append(["R-2", 0.1, date(2025, 5, 7), None])
    buf = io.BytesIO()
    wb.save(buf)
    assert read_rows(buf.getvalue(), name="r.xlsx") == [
        (2, {"external_id": "R-1", "price_wan": "12", "signed": "2025-05-06"}),
        (4, {"external_id": "R-2", "price_wan": "0.1", "signed": "2025-05-07"}),
    ]


def test_what_each_layout_refuses(tmp_path):
    gbk = "code,name,level\n340300,蚌埠市,city\n".encode("gb18030")
    assert read_rows(gbk, name="r.csv", layout=REGION_LAYOUT)[0][1]["name"] == "蚌埠市"
    with pytest.raises(ImportFileError, match="UTF-8"):
        read_rows(gbk, name="c.csv", layout=CONTRACT_LAYOUT)
    with pytest.raises(ImportFileError, match="仅支持 .csv 或 .jsonl 文件"):
        read_rows(b"", name="r.xlsx", layout=REGION_LAYOUT)
    with pytest.raises(ImportFileError, match="文件中没有数据行"):
        read_rows("登记编号,合同类型,买方单位,卖方单位,买方区域,卖方区域,合同成交额,技术交易额,签订日期\n".encode(),
                  name="c.csv", layout=CONTRACT_LAYOUT)
    with pytest.raises(ImportFileError, match="一次最多导入2行"):
        read_rows(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', name="x.jsonl", layout=Layout(max_rows=2))
    assert read_rows(b"[" * 5000 + b"\n{}\n", name="x.jsonl")[0] == (1, {"_error": "不是有效的 JSON"})


# --- exit status of --skip-bad -------------------------------------------------------------------

REGIONS = [
    {"code": "340300", "name": "蚌埠市", "parent_code": "", "level": "city"},
    {"code": "340321", "name": "怀远县", "parent_code": "340300", "level": "county"},
]
BAD_REGION = {"code": "34032", "name": "短码县", "parent_code": "340300", "level": "county"}


def _regions(runner, tmp_path, name, rows, *extra):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    db.session.commit()
    result = runner.invoke(args=["import", "regions", str(path), *extra])
    db.session.expire_all()
    return result, db.session.scalar(select(func.count()).select_from(Region))


def test_skip_bad_exits_0_only_when_nothing_was_skipped(app, runner, tmp_path):
    result, stored = _regions(runner, tmp_path, "all-bad.jsonl", [BAD_REGION], "--skip-bad")
    assert result.exit_code == 1 and stored == 0
    assert "第1行（34032）" in result.output and "没有正确的行，未导入任何数据" in result.output

    result, stored = _regions(runner, tmp_path, "mixed.jsonl", [REGIONS[0], BAD_REGION], "--skip-bad")
    assert result.exit_code == 3 and stored == 1
    assert "第2行（34032）" in result.output and "新增 1 个" in result.output and "跳过有误的 1 行" in result.output

    result, stored = _regions(runner, tmp_path, "good.jsonl", REGIONS, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert stored == 2 and "未变 1 个。" in result.output and "跳过" not in result.output


@pytest.mark.parametrize("what", ["regions", "achievements", "demands", "contracts"])
def test_help_says_what_the_exit_status_means(app, runner, what):
    result = runner.invoke(args=["import", what, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Exits 0 only when no row was skipped, 3 when good rows were stored and bad ones skipped." in text
