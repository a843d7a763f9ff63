"""The 登记编号 of a registered technology contract.

Structure (18 ASCII digits): the 4-digit year, the 6-digit 行政区划代码 (GB/T 2260) of the 登记点, the 登记点's
2-digit serial within that division, and a 6-digit sequence drawn from the 登记点's counter, e.g.
2026 340321 01 000123. The national system's older 16-digit numbers (year + 行政区划代码 + 6-digit sequence) are
read too. Other numbers (letters, dashes) are what older contracts were given; they are kept as they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..divisions import division

REGNO_LENGTH = 18
LEGACY_LENGTH = 16
FIRST_YEAR, LAST_YEAR = 1985, 2099  # 技术合同登记 began in 1985
_DIGITS = re.compile(r"^[0-9]+$")

STRUCTURE_HINT = "登记编号为18位数字：年份4位 + 登记点行政区划代码6位 + 登记点序号2位 + 流水号6位，例如 202634032101000123"


class RegNoError(ValueError):
    """A user-facing reason (Chinese) why a 登记编号 was refused."""


@dataclass(frozen=True)
class RegNo:
    year: int
    division: str
    point: int  # the 登记点's serial within its division; 0 for a 16-digit number, which has none
    seq: int

    def __str__(self) -> str:
        if self.point == 0:
            return f"{self.year:04d}{self.division}{self.seq:06d}"
        return format_regno(year=self.year, division=self.division, point=self.point, seq=self.seq)


def format_regno(*, year: int, division: str, point: int, seq: int) -> str:
    """The 18-digit number; ValueError when a part does not fit its width."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} out of range")
    if not (isinstance(division, str) and len(division) == 6 and _DIGITS.match(division)):
        raise ValueError(f"division {division!r} is not 6 digits")
    if not 1 <= point <= 99:
        raise ValueError(f"point serial {point} out of 1..99")
    if not 1 <= seq <= 999_999:
        raise ValueError(f"sequence {seq} out of 1..999999")
    return f"{year:04d}{division}{point:02d}{seq:06d}"


def is_numeric(text: str | None) -> bool:
    """A number made of digits only claims the national structure and is checked against it."""
    return bool(_DIGITS.match((text or "").strip())) and (text or "").strip().isascii()


def parse_regno(text: str | None) -> RegNo:
    """Read an 18-digit (or the older 16-digit) 登记编号; RegNoError with the reason otherwise."""
    value = (text or "").strip()
    if not value.isascii() or not _DIGITS.match(value):
        raise RegNoError(STRUCTURE_HINT)
    if len(value) not in (REGNO_LENGTH, LEGACY_LENGTH):
        raise RegNoError(f"登记编号应为18位数字（现为{len(value)}位）。{STRUCTURE_HINT}")
    year, code = int(value[:4]), value[4:10]
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RegNoError(f"登记编号的前4位应为登记年份（{FIRST_YEAR}-{LAST_YEAR}），现为 {value[:4]}")
    if division(code) is None:
        raise RegNoError(f"登记编号第5-10位应为登记点的行政区划代码，{code} 不是有效的行政区划代码")
    if len(value) == LEGACY_LENGTH:
        seq, point = int(value[10:]), 0
    else:
        point, seq = int(value[10:12]), int(value[12:])
        if point == 0:
            raise RegNoError("登记编号第11-12位为登记点序号，应为 01-99")
    if seq == 0:
        raise RegNoError("登记编号的流水号不能为 000000")
    return RegNo(year=year, division=code, point=point, seq=seq)


def regno_problem(text: str | None) -> str | None:
    """The reason a typed number is refused, or None. Numbers of digits only must follow the structure; others
    (an older contract's 'HT-2025-0001') are left to the general pattern of the form."""
    if not is_numeric(text):
        return None
    try:
        parse_regno(text)
    except RegNoError as err:
        return str(err)
    return None
