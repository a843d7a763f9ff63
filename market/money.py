"""Exact money: parsing user input, storing, and showing amounts.

Python side: `Decimal` yuan with two places. Storage: integer fen on SQLite (its NUMERIC is
REAL and silently rounds), NUMERIC(18, 2) on PostgreSQL. SUM() over the column comes back
through the same type, so totals stay exact on both.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
WAN = Decimal(10000)
MAX_YUAN = Decimal("1000000000000")  # 1万亿元: far above any single technology contract

# ASCII digits only: full-width digits, exponents, NaN and Infinity never match.
_AMOUNT_RE = re.compile(r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$")
_WAN_RE = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$")


class AmountError(ValueError):
    """A user-facing reason (Chinese) why an amount was refused."""


def _clean(text: object) -> str:
    if text is None:
        raise AmountError("请填写金额")
    value = str(text).strip().replace(",", "")
    if not value:
        raise AmountError("请填写金额")
    return value


def _explain(value: str, unit: str, places: int) -> AmountError:
    if any("\uff10" <= ch <= "\uff19" for ch in value):
        return AmountError("金额请使用半角数字（0-9），不要使用全角数字")
    if value.startswith("-"):
        return AmountError("金额不能为负数")
    if "万" in value or "元" in value:
        return AmountError(f"请只填写数字，单位已是{unit}")
    if re.fullmatch(r"[0-9]+\.[0-9]+", value) and len(value.split(".")[1]) > places:
        return AmountError(f"金额最多保留{places}位小数（{unit}）")
    return AmountError(f"金额格式不正确，请填写以{unit}为单位的数字，例如 12.50")


def parse_yuan(text: object) -> Decimal:
    """Parse an amount in 元 with at most two decimals; never rounds."""
    value = _clean(text)
    if not _AMOUNT_RE.match(value):
        raise _explain(value, "元", 2)
    amount = Decimal(value)
    if amount > MAX_YUAN:
        raise AmountError("金额超出允许范围")
    return amount.quantize(CENT)


def parse_wan(text: object) -> Decimal:
    """Parse an amount in 万元 (at most six decimals, i.e. exact to the fen) and return 元."""
    value = _clean(text)
    if not _WAN_RE.match(value):
        raise _explain(value, "万元", 6)
    amount = Decimal(value) * WAN
    if amount > MAX_YUAN:
        raise AmountError("金额超出允许范围")
    return amount.quantize(CENT)


def to_fen(amount: Decimal) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AmountError("金额无效")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise AmountError("金额最多保留2位小数")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(CENT)


def format_wan(amount: Decimal | None, empty: str = "面议") -> str:
    """元 -> '12.5万元' for display; exact, trailing zeros trimmed."""
    if amount is None:
        return empty
    wan = (Decimal(amount) / WAN).quantize(Decimal("0.000001"))
    text = format(wan.normalize(), "f")
    return f"{text}万元"


def format_wan_about(amount: Decimal | None, empty: str = "—") -> str:
    """元 -> '13890.41万元', rounded to 100元: for estimates (a target's pace), never for sums of records."""
    if amount is None:
        return empty
    wan = (Decimal(amount) / WAN).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{format(wan.normalize(), 'f')}万元"


def format_yuan(amount: Decimal | None) -> str:
    if amount is None:
        return "—"
    return f"{Decimal(amount).quantize(CENT):,}元"


class Money(TypeDecorator):
    """Decimal yuan; integer fen on SQLite, NUMERIC(18, 2) elsewhere."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            if isinstance(value, float):
                raise TypeError("money must be Decimal, never float")
            value = Decimal(value)
        fen = to_fen(value)
        return fen if dialect.name == "sqlite" else from_fen(fen)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_fen(int(value))
        return Decimal(value).quantize(CENT)
