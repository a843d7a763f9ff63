"""atheris: the date and cell parsing of the contract import (签订日期).

A row whose 签订日期 is the fuzzed text: either the row is accepted with the date the text names (the text is
exactly its YYYY-MM-DD, as the import template and the error message say), or it is refused with a reason
about the date. Spreadsheet cells of any Python type read as text without error (market.imports.cell_text).
"""
import sys
from datetime import date, datetime, timedelta

import atheris

import _common

with atheris.instrument_imports(include=["market"]):
    from market.contracts import importer
    from market.imports import cell_text

APP = _common.market_app()
LOOKUPS = importer._Lookups()
BASE = {"registration_no": "2025340300000001", "type": "技术开发", "buyer": "怀远甲企业", "seller": "蚌埠测试大学",
        "buyer_region": "340321", "seller_region": "340300", "amount": "100.00", "tech_amount": "100.00"}
SEEDS = ["2025-01-31", "2025-02-30", "2025-W01-1", "20250101", "2025/01/01", "２０２５-０１-０１", "0000-01-01",
         "9999-12-31", "2025-1-1", " 2025-01-01 ", "2025-01-01T00:00"]


def cell(fdp):
    kind = fdp.ConsumeIntInRange(0, 6)
    if kind == 0:
        return fdp.ConsumeFloat()
    if kind == 1:
        return fdp.ConsumeInt(8)
    if kind == 2:
        try:
            return datetime(1900, 1, 1) + timedelta(seconds=fdp.ConsumeIntInRange(0, 10**10))
        except OverflowError:
            return None
    if kind == 3:
        return date(1, 1, 1) + timedelta(days=fdp.ConsumeIntInRange(0, 3_000_000))
    if kind == 4:
        return fdp.ConsumeBool()
    if kind == 5:
        return None
    return _common.text(fdp, 40)


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    value = cell(fdp)
    text = cell_text(value)
    assert isinstance(text, str) and text == text.strip()
    if fdp.ConsumeBool():
        raw_date = fdp.PickValueInList(SEEDS) if fdp.ConsumeBool() else _common.text(fdp, 16)
    else:
        raw_date = value
    clean, reasons = importer._check_row({**BASE, "signed_on": raw_date}, LOOKUPS)
    typed = cell_text(raw_date)
    if clean is None:
        assert reasons and all(_common.is_chinese(r) for r in reasons), reasons
        assert any("签订日期" in r for r in reasons), (raw_date, reasons)
        return
    assert not reasons
    signed = clean["signed_on"]
    assert isinstance(signed, date) and signed <= date.today(), (raw_date, signed)
    assert signed.isoformat() == typed, f"签订日期 {typed!r} was read as {signed}"


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
