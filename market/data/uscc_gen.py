"""Deterministic generator of valid 统一社会信用代码 (GB 32100-2015) for demo data.

Layout (18 chars): registration authority (1) + organisation type (1) + area code (6, GB/T 2260)
+ organisation code (9 = 8-char body + GB 11714 check char) + GB 32100 check char.
"""
from __future__ import annotations

import hashlib

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 chars: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_value(ch: str) -> int:
    # GB 11714: digits are their value, letters A=10 ... Z=35
    return int(ch) if ch.isdigit() else ord(ch) - 55


def org_code_check(body: str) -> str:
    """GB 11714 check char for an 8-char organisation-code body."""
    if len(body) != 8:
        raise ValueError("organisation code body must be 8 characters")
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body, ORG_WEIGHTS)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check(first17: str) -> str:
    """GB 32100 check char for the first 17 characters."""
    if len(first17) != 17:
        raise ValueError("need exactly 17 characters")
    c = 31 - sum(USCC_CHARSET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS)) % 31
    return USCC_CHARSET[0 if c == 31 else c]


def is_valid_uscc(code: str) -> bool:
    """Charset, GB 11714 check of the organisation code and GB 32100 check of the whole code."""
    if len(code) != 18 or any(ch not in USCC_CHARSET for ch in code):
        return False
    return org_code_check(code[8:16]) == code[16] and uscc_check(code[:17]) == code[17]


def _stream(seed: int, salt: str):
    counter = 0
    while True:
        yield from hashlib.sha256(f"{salt}:{seed}:{counter}".encode()).digest()
        counter += 1


def make_uscc(seed: int, area_code: str = "340300", authority: str = "9", org_type: str = "1") -> str:
    """A valid, deterministic 统一社会信用代码.

    Defaults give a company (工商 '9', 企业 '1'); public institutions use authority '1', type '2'.
    Even seeds of companies give a post-2015 "MA2…" style organisation code, odd seeds an older all-digit one.
    """
    if len(area_code) != 6 or not area_code.isdigit():
        raise ValueError("area_code must be 6 digits")
    if authority not in USCC_CHARSET or org_type not in USCC_CHARSET:
        raise ValueError("authority/org_type must be USCC characters")
    rnd = _stream(seed, f"{authority}{org_type}{area_code}")
    digits = "0123456789"
    if authority == "9" and seed % 2 == 0:
        letters = "MNPRTUWXY"
        tail = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        body = "MA2" + letters[next(rnd) % len(letters)] + "".join(tail[next(rnd) % len(tail)] for _ in range(4))
    else:
        first = "4567" if authority == "1" else "05678"
        body = first[next(rnd) % len(first)] + "".join(digits[next(rnd) % 10] for _ in range(7))
    org = body + org_code_check(body)
    first17 = authority + org_type + area_code + org
    return first17 + uscc_check(first17)
