"""atheris: the spreadsheet-row readers and checkers of every import.

- market.imports.read_rows with each kind's layout (listings: any columns; regions: .csv/.jsonl with required
  columns; contracts: the template's headers, UTF-8 only, a row limit): (line, row) pairs, or ImportFileError.
- market.contracts.importer._check_row: (clean row, []) or (None, [Chinese reasons]); never raises.
- market.listings.importing._check: a checked row or _Problem with a Chinese reason; never anything else.
"""
import os
import sys
import tempfile
from pathlib import Path

import atheris

import _common

with atheris.instrument_imports(include=["market"]):
    from market import imports
    from market.admin.services import REGION_LAYOUT
    from market.contracts import importer
    from market.errors import DomainError
    from market.listings import importing as listings_importing

APP = _common.market_app()
LOOKUPS = importer._Lookups()
REFERENCE = listings_importing._Reference()
TMP = Path(tempfile.mkdtemp(prefix="market-fuzz-rows-"))
CONTRACT_KEYS = [k for k, _, _ in importer.COLUMNS] + [label for _, label, _ in importer.COLUMNS] + ["x", ""]
LISTING_KEYS = ["external_id", "title", "summary", "description", "keywords", "organization", "field", "region",
                "maturity", "price_wan", "budget_wan", "modes", "x"]
GOOD_CSV = ("登记编号,合同类型,买方单位,卖方单位,买方区域,卖方区域,合同成交额（元）,技术交易额（元）,签订日期\n"
            "2025340300000001,技术开发,怀远甲企业,蚌埠测试大学,340321,340300,100.00,50.00,2025-01-02\n")


# values a person or a spreadsheet really produces, which byte mutations rarely reach on their own
ODD = ["", " ", "²", "①", "１２", "9级", "10", "0", "-1", "NaN", "Infinity", "1e309", "12.5万元", "面议", "0.000001",
       "04.01", "新材料/金属材料", "蚌埠市/怀远县", "340321", "transfer", "技术转让", "2025-02-30", "\x00", "\ud800"]


def value(fdp):
    kind = fdp.ConsumeIntInRange(0, 8)
    if kind == 8:
        return fdp.PickValueInList(ODD)
    if kind == 0:
        return fdp.ConsumeInt(4)
    if kind == 1:
        return fdp.ConsumeFloat()
    if kind == 2:
        return fdp.ConsumeBool()
    if kind == 3:
        return None
    if kind == 4:
        return [_common.text(fdp, 10) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 5:
        return {"a": _common.text(fdp, 5)}
    return _common.text(fdp, 60)


def row(fdp, keys: list[str]) -> dict:
    return {fdp.PickValueInList(keys) if fdp.ConsumeBool() else _common.text(fdp, 12): value(fdp)
            for _ in range(fdp.ConsumeIntInRange(0, 14))}


def check_file_readers(fdp) -> None:
    choice = fdp.ConsumeIntInRange(0, 2)
    payload = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2000))
    if fdp.ConsumeBool():
        payload = GOOD_CSV.encode() + payload
    suffix = fdp.PickValueInList([".csv", ".jsonl", ".xlsx", ".txt"])
    layout = (imports.ANY, REGION_LAYOUT, importer.LAYOUT)[choice]
    try:
        if choice == 0:  # from a file, as the command line reads
            path = TMP / f"rows{os.getpid()}{suffix}"
            path.write_bytes(payload)
            rows = imports.read_rows(path, layout=layout)
        else:  # from bytes, as an upload
            rows = imports.read_rows(payload, name="rows" + suffix, layout=layout)
    except imports.ImportFileError as exc:
        _common.check_reason(exc)
        return
    assert rows
    for line, r in rows:
        assert isinstance(line, int) and line >= 1 and isinstance(r, dict), (line, r)
        assert all(isinstance(k, str) and not isinstance(v, float) for k, v in r.items()), r
        if "_error" in r:
            assert set(r) == {"_error"} and _common.is_chinese(r["_error"]), r
        elif choice == 2:
            check_contract_row(r)


def check_contract_row(raw: dict) -> None:
    clean, reasons = importer._check_row(raw, LOOKUPS)
    if clean is None:
        assert reasons and all(isinstance(r, str) and _common.is_chinese(r) for r in reasons), reasons
        return
    assert not reasons
    assert clean["amount"] is not None and clean["tech_amount"] <= clean["amount"]
    assert clean["buyer_region"] is not None and clean["seller_region"] is not None


def check_listing_row(fdp) -> None:
    kind = fdp.PickValueInList(["demand", "achievement"])
    raw = row(fdp, LISTING_KEYS)
    try:
        checked = listings_importing._check(kind, 2, raw, REFERENCE, {})
    except listings_importing._Problem as exc:
        _common.check_reason(exc)
        return
    values = checked.values
    assert 4 <= len(values["title"]) <= 120 and checked.external_id
    assert values.get("maturity") in (None, *range(1, 10)), values.get("maturity")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    what = fdp.ConsumeIntInRange(0, 2)
    try:
        if what == 0:
            check_file_readers(fdp)
        elif what == 1:
            check_contract_row(row(fdp, CONTRACT_KEYS))
        else:
            check_listing_row(fdp)
    except DomainError as exc:  # a refusal of the whole file is documented as a DomainError too
        _common.check_reason(exc)
    finally:
        from market.extensions import db

        db.session.rollback()


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
