"""Exact money: parsing user input, storing, and showing amounts.

Python side: `Decimal` yuan with two places. Storage: integer fen on SQLite (its NUMERIC is
REAL and silently rounds), NUMERIC(18, 2) on PostgreSQL.

Totals: SQLite adds integers as int64. Past 9.2×10^18 fen (9.2×10^16 元) SUM() raises "integer
overflow" and `a + b` silently turns REAL, so a plain SUM over integer fen is not exact whatever the
number of rows. Every total is therefore summed in two parts, the multiples of 10^7 元 (`money_high`)
and the rest (`money_low`, below 10^7 元 per amount), each far from overflowing, and joined in Python
(`join_sum`); the monthly summary stores the same two parts. PostgreSQL's NUMERIC is exact either way
and runs the same SQL.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import BigInteger, Numeric, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
WAN = Decimal(10000)
YI = Decimal(10**8)
MAX_YUAN = Decimal("1000000000000")  # 1万亿元: far above any single technology contract
DB_MAX_YUAN = Decimal("9999999999999999.99")  # what NUMERIC(18, 2) holds
DEFAULT_CONTRACT_MAX_YUAN = Decimal("10000000000.00")  # 100亿元: CONTRACT_MAX_AMOUNT_YUAN's default

# ASCII digits only: full-width digits, exponents, NaN and Infinity never match.
_AMOUNT_RE = re.compile(r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$")
_WAN_RE = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$")


class AmountError(ValueError):
    """A user-facing reason (Chinese) why an amount was refused."""


# Thousands separators: only well-formed groups of three before the point ("1,234,567.89"), as a spreadsheet
# or a bank statement writes them; "1,0,0", "1,0000" or "12,34" are refused, never read as 100, 10000, 1234.
_GROUPED_RE = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")


def _clean(text: object) -> str:
    if text is None:
        raise AmountError("请填写金额")
    value = str(text).strip()
    if not value:
        raise AmountError("请填写金额")
    if "," in value:
        if not _GROUPED_RE.match(value.removeprefix("-")):
            raise AmountError("千分位逗号位置不正确：逗号只能每三位一组（如 1,234,567.89），也可以不写逗号")
        value = value.replace(",", "")
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


def format_ceiling(amount: Decimal) -> str:
    """元 -> '100亿元' (or '5000万元', '12,345.67元'): a limit as a person says it."""
    for unit, name in ((YI, "亿元"), (WAN, "万元")):
        if amount >= unit and amount % unit == 0:
            return f"{format((amount / unit).normalize(), 'f')}{name}"
    return format_yuan(amount)


def contract_amount_ceiling() -> Decimal:
    """The most one contract (its 合同成交额, 技术交易额, or one payment against it) may be: the app's
    CONTRACT_MAX_AMOUNT_YUAN (元), default 100亿元."""
    from flask import current_app

    return parse_contract_ceiling(current_app.config.get("CONTRACT_MAX_AMOUNT_YUAN", DEFAULT_CONTRACT_MAX_YUAN))


def parse_contract_ceiling(value: object) -> Decimal:
    """CONTRACT_MAX_AMOUNT_YUAN as a Decimal; a value the database could not hold is a configuration error."""
    try:
        ceiling = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        ceiling = Decimal("NaN")
    if not ceiling.is_finite() or ceiling <= 0 or ceiling > DB_MAX_YUAN or ceiling != ceiling.quantize(CENT):
        raise ValueError(f"CONTRACT_MAX_AMOUNT_YUAN must be an amount in yuan, 0.01 to {DB_MAX_YUAN}: {value!r}")
    return ceiling.quantize(CENT)


def parse_amount_setting(name: str, value: object) -> Decimal:
    """A setting in yuan (a threshold) as a Decimal; anything else is a configuration error at start."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount > DB_MAX_YUAN:
        raise ValueError(f"{name} must be an amount in yuan, 0 to {DB_MAX_YUAN}: {value!r}")
    return amount.quantize(CENT)


def contract_amount_problem(amount: Decimal, label: str) -> str | None:
    """The one rule for every path that stores an amount of a contract (form, edit, deal, imports, payments):
    the reason `amount` is refused, or None."""
    ceiling = contract_amount_ceiling()
    if amount > ceiling:
        return f"{label}超过单份合同上限（{format_ceiling(ceiling)}），请核对金额和单位（元）"
    return None


def parse_contract_yuan(text: object, *, label: str) -> Decimal:
    """parse_yuan for an amount of one contract or payment: the configured ceiling, named in the refusal,
    takes the place of parse_yuan's general MAX_YUAN."""
    value = _clean(text)
    if not _AMOUNT_RE.match(value):
        raise _explain(value, "元", 2)
    amount = Decimal(value).quantize(CENT)
    problem = contract_amount_problem(amount, label)
    if problem:
        raise AmountError(problem)
    return amount


def wan_figure(amount: Decimal) -> str:
    """元 -> the number of 万元 as people read it: two decimals, thousands separators ('1,234.57')."""
    wan = (Decimal(amount) / WAN).quantize(CENT, rounding=ROUND_HALF_UP)
    return format(wan, ",.2f")


def format_wan(amount: Decimal | None, empty: str = "面议") -> str:
    """元 -> '1,234.57万元': the one way a person reads an amount (cards, lists, charts, mails); the exact yuan
    goes beside it (format_yuan) in a detail view and in the tooltip the `wan` filter adds."""
    if amount is None:
        return empty
    return f"{wan_figure(amount)}万元"


def format_wan_about(amount: Decimal | None, empty: str = "—") -> str:
    """An estimate (a target's pace) in 万元: the same two decimals as any figure; no exact yuan beside it."""
    return format_wan(amount, empty=empty)


def format_count(value) -> str:
    """A count as people read it: a whole number with thousands separators (an estimate is rounded)."""
    if value is None:
        return "—"
    return format(int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP)), ",")


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


# --- exact totals ----------------------------------------------------------------------------------------

SPLIT_FEN = 10**9  # amounts are summed as whole multiples of this many fen, plus the rest
SPLIT_YUAN = Decimal(SPLIT_FEN) / 100  # 10^7 元


def high_part_sql(dialect_name: str, amount_sql: str) -> str:
    """SQL for the whole multiples of 10^7 元 in a Money value (an integer); for triggers and queries."""
    if dialect_name == "sqlite":  # integer fen: integer division
        return f"({amount_sql} / {SPLIT_FEN})"
    return f"CAST(div({amount_sql}, {SPLIT_YUAN:f}) AS BIGINT)"


def low_part_sql(dialect_name: str, amount_sql: str) -> str:
    """SQL for the rest (below 10^7 元, a Money value: fen on SQLite, 元 elsewhere)."""
    if dialect_name == "sqlite":
        return f"({amount_sql} % {SPLIT_FEN})"
    return f"mod({amount_sql}, {SPLIT_YUAN:f})"


class money_high(FunctionElement):
    """money_high(amount): the whole multiples of 10^7 元 in a Money column or expression."""

    type = BigInteger()
    inherit_cache = True


class money_low(FunctionElement):
    """money_low(amount): the rest, below 10^7 元, typed Money."""

    type = Money()
    inherit_cache = True


@compiles(money_high)
def _money_high(element, compiler, **kw):
    return high_part_sql(compiler.dialect.name, compiler.process(element.clauses, **kw))


@compiles(money_low)
def _money_low(element, compiler, **kw):
    return low_part_sql(compiler.dialect.name, compiler.process(element.clauses, **kw))


def exact_sum(amount, name: str) -> list:
    """Two labelled SQL sums whose join_sum is SUM(amount) exactly: f"{name}_hi" and `name`."""
    return [func.sum(money_high(amount)).label(f"{name}_hi"), func.sum(money_low(amount)).label(name)]


def join_sum(high, low) -> Decimal:
    """The exact total from the two parts of exact_sum (or of the summary's columns); NULLs are zero."""
    total = Decimal(int(high or 0)) * SPLIT_YUAN + (low if low is not None else Decimal(0))
    return total.quantize(CENT)
