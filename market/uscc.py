"""统一社会信用代码 (GB 32100-2015) validation."""
from __future__ import annotations

import unicodedata

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# first character: registration authority; second: organisation type within it
AUTHORITIES = {"1", "5", "9", "Y"} | set("2345678ABN")


class USCCError(ValueError):
    pass


def check_char(first17: str) -> str:
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def normalize_uscc(text: str | None) -> str:
    """Uppercase, half-width, spaces removed; raises USCCError with a Chinese reason."""
    value = unicodedata.normalize("NFKC", text or "").replace(" ", "").upper()
    if not value:
        raise USCCError("请填写统一社会信用代码")
    if len(value) != 18:
        raise USCCError(f"统一社会信用代码应为18位，当前为{len(value)}位")
    bad = sorted({ch for ch in value if ch not in CHARSET})
    if bad:
        raise USCCError("统一社会信用代码含有无效字符：" + "、".join(bad) + "（不使用 I、O、Z、S、V）")
    if not value[2:8].isdigit():
        raise USCCError("统一社会信用代码第3-8位应为登记管理机关行政区划码（数字）")
    if check_char(value[:17]) != value[17]:
        raise USCCError("统一社会信用代码校验位不正确，请核对后重新输入")
    return value


def is_valid_uscc(text: str | None) -> bool:
    try:
        normalize_uscc(text)
    except USCCError:
        return False
    return True
