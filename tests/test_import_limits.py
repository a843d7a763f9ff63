"""Issue 12, item 3: a small spreadsheet must not take the site down.

Each hostile file of the issue, in its real shape (smaller where the shape allows), is refused with a Chinese
message naming the limit: through market.imports.read_rows, over HTTP at /contracts/import (400), and from
`flask import ...` (non-zero exit), with nothing stored. The reader's own work is counted (calls profiled, memory
traced), so that a guard removed makes its test fail rather than merely run slower. And the largest import
allowed (20,000 contracts) is stored exactly, its totals and the dashboard's summary included.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import random
import re
import tracemalloc
import zipfile
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from market.admin.services import REGION_LAYOUT
from market.contracts import importer
from market.extensions import db
from market.imports import ImportFileError, Layout, read_rows
from market.listings.importing import LAYOUT as LISTING_LAYOUT
from market.models import Contract, ContractAudit, Organization
from tests import hostile_files
from tests.helpers import diff, messages, post, snapshot

CONTRACTS = importer.LAYOUT


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


def build(builder, **kw) -> bytes:
    return builder(io.BytesIO(), **kw).getvalue()


def profiled(payload: bytes, name: str, layout: Layout = CONTRACTS) -> tuple[ImportFileError | list, Counter]:
    """read_rows under cProfile: what it returned or raised, and how often each function ran ('file.py:name')."""
    profile = cProfile.Profile()
    try:
        result = profile.runcall(read_rows, payload, name=name, layout=layout)
    except ImportFileError as exc:
        result = exc
    calls: Counter = Counter()
    for (filename, _, function), (_, ncalls, *_) in pstats.Stats(profile).stats.items():
        calls[f"{Path(filename).parent.name}/{Path(filename).name}:{function}"] += ncalls
    return result, calls


def peak_memory(payload: bytes, name: str, layout: Layout = CONTRACTS) -> tuple[ImportFileError | list, int]:
    """read_rows with tracemalloc: what it returned or raised, and the most memory it held at once (bytes)."""
    tracemalloc.start()
    try:
        result = read_rows(payload, name=name, layout=layout)
    except ImportFileError as exc:
        result = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, peak


ROWS_PARSED = "worksheet/_reader.py:parse_row"  # openpyxl turning one <row> element into cells
STRINGS_READ = "market/imports.py:read_strings"  # the shared-string table parsed
PARTS_READ = "market/imports.py:readinto"  # any part of the zip inflated
JSON_LINES = "json/__init__.py:loads"


# --- each hostile shape, through the one reader ------------------------------------------------------------

def test_a_declared_dimension_over_the_limits_is_refused_before_any_row_is_parsed():
    payload = build(hostile_files.dimension_lie)
    assert len(payload) < 2048  # the 1.7 KB file: A1:XFD1048576, one cell in XFD1048576
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert "A1:XFD1048576" in result.message and "最多20000行数据" in result.message and "50列" in result.message
    assert calls[ROWS_PARSED] == 0 and calls[STRINGS_READ] == 0


def test_a_small_declared_dimension_does_not_cut_the_rows_read(app):
    app.config["IMPORT_MAX_ROWS"] = 50
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>2025-D-%d</t></is></c></row>' % (r, r, r)
                    for r in range(2, 40))
    payload = hostile_files.xlsx(io.BytesIO(), sheet=hostile_files._sheet("A1:B2", [rows])).getvalue()
    found = read_rows(payload, name="c.xlsx", layout=CONTRACTS)
    assert [line for line, _ in found] == list(range(2, 40))  # openpyxl alone stops at the declared row 2


def test_a_shared_strings_bomb_is_refused_from_the_zip_directory_alone():
    payload = build(hostile_files.shared_strings_bomb, inflated=48 * 1024 * 1024)
    assert len(payload) < 100_000  # 1,000 to 1: the 1.6 MB file inflated to 1.6 GB
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert result.message.startswith("Excel 文件解压后超过32MB")
    assert calls[PARTS_READ] == 0 and calls[STRINGS_READ] == 0


def test_a_part_compressed_like_a_bomb_is_refused_even_under_the_size_limit():
    payload = build(hostile_files.shared_strings_bomb, inflated=8 * 1024 * 1024)  # 8 MB, 1,000 to 1
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert "“xl/sharedStrings.xml”压缩比超过100倍" in result.message
    assert calls[PARTS_READ] == 0


def test_a_bomb_whose_zip_headers_understate_it_is_read_no_further_than_they_say():
    bomb = hostile_files.shared_strings_bomb(io.BytesIO(), inflated=48 * 1024 * 1024)
    payload = hostile_files.understate_part_size(bomb, "xl/sharedStrings.xml", 4096).getvalue()
    result, peak = peak_memory(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError) and result.message.startswith("无法读取该Excel文件")
    assert peak < 8 * 1024 * 1024  # 48 MB of text never inflated


def test_a_million_blank_rows_under_a_small_dimension_stop_at_the_row_limit():
    payload = build(hostile_files.blank_rows, rows=1_000_000)  # declares A1:K2
    assert len(payload) < 4 * 1024 * 1024
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert result.message == "一次最多导入20000行（空行也计入），请拆分文件"
    assert calls[ROWS_PARSED] <= 20_000 + 2


def test_a_row_of_too_many_cells_is_refused_before_openpyxl_builds_it():
    cells = b"".join(b'<c r="%s1"/>' % code.encode() for code in _columns(5_000))
    payload = hostile_files.xlsx(io.BytesIO(), sheet=[
        b'<worksheet xmlns="%s"><sheetData>' % hostile_files.MAIN_NS.encode(), hostile_files.header_row(),
        b'<row r="2">' + cells + b"</row></sheetData></worksheet>"]).getvalue()
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError) and "超过50个单元格" in result.message
    assert calls[ROWS_PARSED] <= 1


def _columns(n: int) -> list[str]:
    from openpyxl.utils import get_column_letter

    return [get_column_letter(i % 16384 + 1) for i in range(n)]


@pytest.mark.parametrize("layout", [CONTRACTS, LISTING_LAYOUT], ids=["contracts", "listings"])
def test_one_very_long_csv_line_is_refused_after_reading_the_limit(layout):
    payload = build(hostile_files.long_line_csv, length=6 * 1024 * 1024)
    result, peak = peak_memory(payload, "合同.csv", layout)
    assert isinstance(result, ImportFileError) and result.message == "第2行超过128KB（每行的上限），请检查文件"
    assert peak < 2 * 1024 * 1024  # never the whole line, never the whole file as text


def test_a_quoted_csv_field_running_over_many_lines_counts_as_one_record():
    payload = ",".join(hostile_files.HEADERS).encode() + b'\n"' + b"x\n" * 100_000 + b'"\n'
    with pytest.raises(ImportFileError, match=r"^第\d+行超过128KB"):
        read_rows(payload, name="c.csv", layout=CONTRACTS)


@pytest.mark.parametrize("layout", [CONTRACTS, LISTING_LAYOUT, REGION_LAYOUT], ids=["contracts", "listings", "regions"])
def test_a_jsonl_file_of_many_lines_stops_at_the_row_limit(layout):
    payload = build(hostile_files.many_lines_jsonl, lines=200_000)
    result, calls = profiled(payload, "rows.jsonl", layout)
    assert isinstance(result, ImportFileError) and result.message.startswith("一次最多导入20000行")
    assert calls[JSON_LINES] <= 20_001
    result, peak = peak_memory(payload, "rows.jsonl", layout)
    assert peak < 16 * 1024 * 1024  # the old reader decoded and split the 6.6 MB file whole


def test_blank_lines_count_towards_the_row_limit(app):
    app.config["IMPORT_MAX_ROWS"] = 10
    with pytest.raises(ImportFileError, match="一次最多导入10行（空行也计入）"):
        read_rows(b'{"a": 1}\n' + b"\n" * 20, name="x.jsonl")
    header = ",".join(hostile_files.HEADERS).encode()
    with pytest.raises(ImportFileError, match="一次最多导入10行"):
        read_rows(header + b"\n" + b",,,,,,,,,,\n" * 11, name="c.csv", layout=CONTRACTS)
    assert len(read_rows(b'{"a": 1}\n' + b"\n" * 9, name="x.jsonl")) == 1


def test_the_limits_come_from_the_configuration(app):
    app.config.update(IMPORT_MAX_FILE_BYTES=1000, IMPORT_MAX_LINE_BYTES=100, IMPORT_MAX_COLUMNS=5)
    with pytest.raises(ImportFileError, match=r"文件过大（超过1000字节）"):
        read_rows(b"{}\n" * 400, name="x.jsonl")
    with pytest.raises(ImportFileError, match="第1行超过100字节"):
        read_rows(b'{"a": "' + b"x" * 200 + b'"}\n', name="x.jsonl")
    app.config["IMPORT_MAX_LINE_BYTES"] = 1000
    with pytest.raises(ImportFileError, match=f"表头有{len(hostile_files.HEADERS)}列，超过上限5列"):
        read_rows(",".join(hostile_files.HEADERS).encode() + b"\n", name="c.csv", layout=CONTRACTS)


def test_lines_end_as_universal_newlines_split_them():
    rows = read_rows(b'{"a": 1}\r\n{"a": 2}\r{"a": 3}\n\n{"a": 4}', name="x.jsonl")
    assert rows == [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3}), (5, {"a": 4})]


# --- found in review after the first fix: shared strings, DTDs, zip entries and sheets, styles ------------------

def named(calls: Counter, suffix: str) -> int:
    """Calls of the functions whose 'file.py:name' ends with `suffix` (the standard library's folder varies)."""
    return sum(n for key, n in calls.items() if key.endswith(suffix))


def test_one_huge_shared_string_in_every_row_is_refused_at_the_bytes_of_one_item():
    # the review's 5 MB file: one 30,000,000-character string (deflate 6 to 1), rows of 400 bytes referring to it
    # in C-K; each cell then scanned 30,000,000 characters (48 s, 4.6 GB for 5 rows)
    payload = build(hostile_files.shared_string_rows, chars=2_000_000, rows=5)
    result, peak = peak_memory(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert result.message == "Excel 文件的第1条共享文本超过128KB（每条文本的上限），请检查文件"
    assert peak < 2 * 1024 * 1024  # the string never parsed whole


@pytest.mark.parametrize(("chars", "columns", "rows", "said"), [
    (40_000, "D", 1, "Excel 文件的第1条共享文本超过32,767个字符（Excel 每个单元格的上限）"),
    (30_000, "CDEFGHIJK", 1, "工作表第2行的文本共超过131,072个字符（每行的上限）"),
    (30_000, "CDEF", 300, "工作表的文本共超过33,554,432个字符（整个工作表的上限）"),
], ids=["one-string", "one-row", "the-sheet"])
def test_the_text_shared_strings_put_in_cells_is_bounded_as_if_written_out(chars, columns, rows, said):
    payload = build(hostile_files.shared_string_rows, chars=chars, rows=rows, columns=columns)
    assert len(payload) < 200_000
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError) and result.message.startswith(said)
    assert calls[ROWS_PARSED] <= min(rows, 280) + 1  # refused at the row that goes over, not after the sheet


def test_an_inline_cell_over_excels_limit_is_refused():
    row = b'<row r="2"><c r="D2" t="inlineStr"><is><t>' + b"x" * 40_000 + b"</t></is></c></row>"
    payload = hostile_files.xlsx(io.BytesIO(), sheet=hostile_files._sheet("A1:K2", [row])).getvalue()
    with pytest.raises(ImportFileError, match="^工作表第2行有单元格超过32,767个字符"):
        read_rows(payload, name="c.xlsx", layout=CONTRACTS)


@pytest.mark.parametrize("part", ["sharedStrings", "worksheet"])
def test_an_entity_expansion_is_refused_before_the_xml_parser_reads_it(part):
    # the review's 3.2 MB file (6 levels, 20 MB of padding) made a 1e9-character cell: 13.5 s, 2.1 GB
    payload = build(hostile_files.entity_expansion, levels=4, padding=120_000, part=part)  # 10,000,000 x's, 83 times the bytes
    result, peak = peak_memory(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    where = "xl/sharedStrings.xml" if part == "sharedStrings" else "xl/worksheets/sheet1.xml"
    assert result.message == f"Excel 文件中的“{where}”含有 DTD 声明（<!DOCTYPE>、<!ENTITY> 等，Excel 不会写入），疑为恶意文件，已拒绝"
    assert peak < 2 * 1024 * 1024


def with_part(payload: bytes, name: str, data: bytes) -> bytes:
    """The .xlsx with part `name` replaced by `data`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, data if info.filename == name else source.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize(("part", "change", "said"), [
    ("xl/workbook.xml", lambda x: x.replace(b"?>\n", b'?>\n<!DOCTYPE workbook SYSTEM "http://example.invalid/x.dtd">', 1),
     "“xl/workbook.xml”含有 DTD 声明"),
    ("[Content_Types].xml", lambda x: x.replace(b"?>\n", b"?>\n<!DOCTYPE Types [<!ELEMENT Types ANY>]>", 1),
     "“[Content_Types].xml”含有 DTD 声明"),
    ("xl/worksheets/sheet1.xml", lambda x: x.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16"),
     "“xl/worksheets/sheet1.xml”不是 UTF-8 编码的 XML"),
    ("xl/workbook.xml", lambda x: x.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
     "“xl/workbook.xml”不是 UTF-8 编码的 XML"),
], ids=["external-dtd", "internal-dtd", "utf-16", "latin-1"])
def test_only_utf8_xml_without_a_dtd_is_parsed(part, change, said):
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>R1</t></is></c></row>'
    payload = hostile_files.xlsx(io.BytesIO(), sheet=hostile_files._sheet("A1:K2", [row])).getvalue()
    assert read_rows(payload, name="c.xlsx", layout=CONTRACTS)[0][1]["registration_no"] == "R1"
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        changed = with_part(payload, part, change(archive.read(part)))
    with pytest.raises(ImportFileError, match=re.escape(said)):
        read_rows(changed, name="c.xlsx", layout=CONTRACTS)


def test_a_zip_of_many_entries_is_refused_from_its_end_record():
    # the review's 10.6 MB file: 120,000 empty entries (and 80,000 sheets): 63.6 s before the refusal
    payload = build(hostile_files.many_sheets, sheets=1, empty_entries=5_000)
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError)
    assert result.message == "Excel 文件中的部件超过1,000个（部件数的上限），请删除多余的工作表、图片或另存为新文件"
    assert named(calls, "zipfile.py:_RealGetContents") == 0  # the central directory never parsed


@pytest.mark.parametrize(("sheets", "said"), [
    (20_000, "Excel 文件中的“xl/workbook.xml”超过4,096个 XML 标记"),
    (300, "Excel 文件有300个工作表，超过上限256个"),
])
def test_a_workbook_of_many_sheets_is_refused_before_any_sheet_is_looked_up(sheets, said):
    payload = build(hostile_files.many_sheets, sheets=sheets, empty_entries=0)
    result, calls = profiled(payload, "合同.xlsx")
    assert isinstance(result, ImportFileError) and result.message.startswith(said)
    assert calls["reader/workbook.py:find_sheets"] == 0
    if sheets > 4096:
        assert calls["descriptors/serialisable.py:from_tree"] < 100  # the workbook never turned into objects


def test_bloated_styles_are_read_for_their_date_formats_alone():
    # the review's 247 KB file: 4 MB of random <xf>, which openpyxl's stylesheet took 1.6 s and 90 MB to build
    payload = build(hostile_files.bloated_styles)
    result, calls = profiled(payload, "合同.xlsx")
    assert [(line, row["registration_no"], row["amount"], row["signed_on"]) for line, row in result] == [
        (2, "R1", "12.5", "2025-03-15")]  # the last of 100,000 styles still makes 45731 a date
    assert calls["styles/stylesheet.py:apply_stylesheet"] == 0
    assert calls["descriptors/serialisable.py:from_tree"] < 100
    _, peak = peak_memory(payload, "合同.xlsx")
    assert peak < 8 * 1024 * 1024
    result, _ = profiled(build(hostile_files.bloated_styles, tiny=True), "合同.xlsx")  # 350,000 tiny <xf>
    assert isinstance(result, ImportFileError)
    assert result.message.startswith("Excel 文件中的“xl/styles.xml”超过131,072个 XML 标记")


# --- over HTTP and from the command line: a 4xx or a non-zero exit, nothing stored ------------------------

def hostile_uploads() -> list[tuple[str, bytes, str]]:
    """(file name, content, what the refusal says) for each hostile shape that fits in an upload."""
    return [
        ("合同.xlsx", build(hostile_files.dimension_lie), "A1:XFD1048576"),
        ("合同.xlsx", build(hostile_files.shared_strings_bomb, inflated=48 * 1024 * 1024), "解压后超过32MB"),
        ("合同.xlsx", build(hostile_files.shared_strings_bomb, inflated=8 * 1024 * 1024), "压缩比超过100倍"),
        ("合同.xlsx", build(hostile_files.blank_rows, rows=1_000_000), "一次最多导入20000行"),
        ("合同.csv", build(hostile_files.long_line_csv, length=2 * 1024 * 1024), "第2行超过128KB"),
        ("合同.jsonl", build(hostile_files.many_lines_jsonl, lines=100_000), "一次最多导入20000行"),
        ("合同.xlsx", build(hostile_files.shared_string_rows, chars=2_000_000), "第1条共享文本超过128KB"),
        ("合同.xlsx", build(hostile_files.entity_expansion, levels=4, padding=200_000), "含有 DTD 声明"),
        ("合同.xlsx", build(hostile_files.many_sheets, sheets=1, empty_entries=5_000), "部件超过1,000个"),
    ]


@pytest.mark.parametrize("who", ["official", "admin"])
def test_every_hostile_upload_is_refused_with_a_400_and_stores_nothing(world, login_as, who):
    client = login_as(who)
    before = snapshot()
    for name, payload, said in hostile_uploads():
        resp = post(client, "/contracts/import", {"file": (io.BytesIO(payload), name)})
        assert resp.status_code == 400, (name, said)
        assert any(said in m for m in messages(resp)), (said, messages(resp))
    assert not diff(before, snapshot())


def test_every_hostile_file_fails_the_import_commands_and_stores_nothing(world, runner, tmp_path):
    before = snapshot()
    for n, (name, payload, said) in enumerate(hostile_uploads()):
        path = tmp_path / f"{n}-{name}"
        path.write_bytes(payload)
        commands = [["import", "contracts", str(path)]]
        if path.suffix != ".csv":
            commands.append(["import", "achievements", str(path), "--skip-bad"])
        for args in commands:
            result = runner.invoke(args=args)
            assert result.exit_code != 0 and said in result.output, (args, result.output)
    lines = tmp_path / "regions.jsonl"
    lines.write_bytes(build(hostile_files.many_lines_jsonl, lines=30_000))
    result = runner.invoke(args=["import", "regions", str(lines)])
    assert result.exit_code != 0 and "一次最多导入20000行" in result.output
    assert not diff(before, snapshot())


def test_a_file_over_the_size_limit_is_refused_by_its_size(app, world, runner, tmp_path):
    app.config["IMPORT_MAX_FILE_BYTES"] = 1024 * 1024
    path = tmp_path / "big.csv"
    with path.open("wb") as out:
        hostile_files.long_line_csv(out, length=3 * 1024 * 1024)
    result = runner.invoke(args=["import", "contracts", str(path)])
    assert result.exit_code != 0 and "文件过大（超过1MB）" in result.output
    assert db.session.scalar(select(func.count()).select_from(Contract)) == 0


# --- the largest import allowed ---------------------------------------------------------------------------

def contract_rows(n: int, seed: int = 12) -> tuple[bytes, Decimal, Decimal]:
    """A CSV of n valid contracts over the world's regions and fields, and its two exact totals."""
    rng = random.Random(seed)
    regions = ["340300", "340321", "340322", "340321101", "340322101", "蚌埠市/怀远县", "蚌埠市/五河县/城关镇"]
    lines = [",".join(hostile_files.HEADERS)]
    total = tech_total = Decimal(0)
    today = date.today()
    for i in range(n):
        fen = rng.randint(100, 2_000_000_000)
        tech = rng.randint(0, fen)
        amount, tech_amount = Decimal(fen) / 100, Decimal(tech) / 100
        total += amount
        tech_total += tech_amount
        buyer = "怀远甲企业有限公司" if i % 7 == 0 else f"导入测试企业{rng.randrange(1500):04d}有限公司"
        seller = "蚌埠测试大学" if i % 3 else f"导入测试研究院{rng.randrange(40):02d}"
        lines.append(",".join([
            f"2025-M-{i:06d}", rng.choice(["技术开发", "技术转让", "技术咨询", "技术服务"]), "", buyer, seller,
            rng.choice(regions), rng.choice(regions), f"{amount:.2f}", f"{tech_amount:.2f}",
            (today - timedelta(days=rng.randrange(700))).isoformat(), rng.choice(["04.01", "01.01", "", "软件"]),
        ]))
    return ("\n".join(lines) + "\n").encode(), total, tech_total


def test_the_largest_import_allowed_is_stored_exactly_by_its_job(world, login_as, runner):
    """20,000 rows through the web form: over IMPORT_SYNC_ROWS, so the upload is answered at once and a job (run
    in-process in tests, right after the commit) stores them; the result page says how many."""
    payload, total, tech_total = contract_rows(20_000)
    orgs_before = db.session.scalar(select(func.count()).select_from(Organization))
    admin = login_as("admin")
    resp = post(admin, "/contracts/import", {"file": (io.BytesIO(payload), "合同.csv")})
    assert resp.status_code == 303, messages(resp)[:3]
    resp = admin.get(resp.headers["Location"])
    assert resp.status_code == 200 and "已完成" in resp.get_data(as_text=True)
    assert 'id="stored-count">20000<' in resp.get_data(as_text=True)
    live = select(func.count(), func.sum(Contract.amount), func.sum(Contract.tech_amount))
    assert tuple(db.session.execute(live).one()) == (20_000, total, tech_total)
    assert db.session.scalar(select(func.count()).select_from(ContractAudit).where(ContractAudit.action == "import")) == 20_000
    created = db.session.scalar(select(func.count()).select_from(Organization)) - orgs_before
    assert created == db.session.scalar(select(func.count()).select_from(Organization).where(
        Organization.review_note == "导入技术合同时创建，待认证")) > 1000
    assert set(db.session.scalars(select(Organization.status).where(Organization.review_note.like("导入技术合同%")))) == {"pending"}
    # the dashboard's monthly summary, kept by triggers, equals a recomputation from the contracts
    result = runner.invoke(args=["stats", "check"])
    assert result.exit_code == 0, result.output


def test_a_registration_number_taken_after_the_check_is_a_bad_row_not_an_error(world):
    rows = read_rows(contract_rows(3)[0], name="c.csv", layout=CONTRACTS)
    lookups = importer._Lookups()
    good = [(line, importer._check_row(raw, lookups)[0]) for line, raw in rows]
    assert all(clean is not None for _, clean in good)
    report = importer.ContractImportReport(total=3)
    org_ids = importer._org_ids(good, report)
    taken = good[1][1]["registration_no"]
    db.session.add(Contract(registration_no=taken, contract_type="service", buyer_org_id=world.orgs.ent_a.id,
                            seller_org_id=world.orgs.uni.id, buyer_region_id=world.regions["city"].id,
                            seller_region_id=world.regions["city"].id, amount=Decimal("1.00"),
                            tech_amount=Decimal("1.00"), signed_on=date.today(), recorded_by_id=world.users.admin.id))
    db.session.flush()
    assert importer._insert_contracts(good, user=world.users.admin, org_ids=org_ids, report=report) == {taken}
    assert [number for _, number in report.contracts] == [good[0][1]["registration_no"], good[2][1]["registration_no"]]
    db.session.rollback()
