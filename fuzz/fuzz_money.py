"""atheris: market.money.parse_yuan / parse_wan return the exact amount or raise AmountError, nothing else.

Valid means: a Decimal with exactly two places, 0 <= amount <= MAX_YUAN, equal to the typed number (yuan) or to
the typed number times 10,000 (wan) with no rounding at all; commas only as thousands separators in groups of three
("1,0,0" was read as 100).
"""
import re
import sys
from decimal import Decimal

import atheris

import _common  # noqa: F401  (puts the project on sys.path)

with atheris.instrument_imports(include=["market"]):
    from market.money import CENT, MAX_YUAN, WAN, AmountError, parse_wan, parse_yuan

SEEDS = ["12.50", "0", "0.01", "1,234.56", "1,0,0", "1,0000", "12,34", "1,234,567.8", "1.000,50", "NaN", "Infinity",
         "1e309", "0.005", "-1", "１２３４", "12.5万元", " 7 ",
         "999999999999.99", "1000000000000.01", "0.000001", "12.345678"]


GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


def check(raw: str, parse, unit: Decimal) -> None:
    try:
        value = parse(raw)
    except AmountError as exc:
        _common.check_reason(exc)
        return
    assert isinstance(value, Decimal) and value.is_finite(), (raw, value)
    assert value.as_tuple().exponent == -2, (raw, value)
    assert Decimal(0) <= value <= MAX_YUAN, (raw, value)
    typed_text = str(raw).strip()
    if "," in typed_text:
        assert GROUPED.match(typed_text), f"{raw!r} accepted with misplaced commas"
    typed = Decimal(str(raw).strip().replace(",", ""))
    assert typed * unit == value, f"{raw!r} became {value} (rounded)"
    assert value == value.quantize(CENT)


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        raw = fdp.PickValueInList(SEEDS) + _common.text(fdp, 8)
    else:
        raw = _common.text(fdp, 64)
    check(raw, parse_yuan, Decimal(1))
    check(raw, parse_wan, WAN)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
