"""Names people type: organisations, accounts, listing titles, contract parties, regions, fields.

Two names that look the same must be the same string, or a uniqueness check lets an identical-looking twin
through (`测试公司` and `测试公司` + U+200B). So every name is brought to one normal form (NFKC: full-width
`ＡＢＣ科技` is `ABC科技`; ideographic and no-break spaces are spaces; runs of spaces are one) and a name holding
a character that draws as nothing or reorders the text around it is refused, never silently repaired: the
person sees what was wrong with what they typed or imported. Chinese typography is kept: full-width sentence
punctuation stays as typed, and brackets in a Chinese name are always full-width.
"""
from __future__ import annotations

import re
import unicodedata

# control, format (zero-width spaces and joiners, bidirectional embeddings, overrides and isolates, the BOM,
# soft hyphen), surrogate, private use, unassigned, line and paragraph separators
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Default_Ignorable_Code_Point characters outside those categories: drawn as nothing too (combining grapheme
# joiner, Hangul fillers, Khmer inherent vowels, Mongolian and other variation selectors)
_INVISIBLE = (
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0}
    # blank symbols outside that property that draw as nothing as well: Braille pattern blank, the musical
    # null notehead, the object replacement character
    | {0x2800, 0x1D159, 0xFFFC}
    | set(range(0x180B, 0x1810)) | set(range(0xFE00, 0xFE10)) | set(range(0xE0100, 0xE01F0))
)
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# Chinese sentence punctuation NFKC would fold to ASCII (寻求光伏玻璃，减反射 would read 寻求光伏玻璃,减反射): kept
# as typed; it is visible, so it makes no invisible twin
_KEPT = set("！，：；？")
# brackets in a Chinese name are full-width (五河乙企业（集团）有限公司), whichever were typed: one stored name
_WIDE_BRACKETS = str.maketrans("()", "（）")


class InvalidName(ValueError):
    """A name that cannot be stored; str() is the Chinese message that names the field."""


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def refused_char(text: str) -> str | None:
    """The first character of text a name may not hold, or None.

    Besides the invisible ones: a combining mark that starts the name or follows a Chinese character, a space
    (Chinese takes none, and there it draws as a stray accent or nothing at all)."""
    previous = ""
    for ch in text:
        if ord(ch) in _INVISIBLE or unicodedata.category(ch) in REFUSED_CATEGORIES:
            return ch
        if unicodedata.category(ch) in ("Mn", "Me") and (
                not previous or previous.isspace() or _CJK.match(previous)):
            return ch
        if unicodedata.category(ch) not in ("Mn", "Me"):
            previous = ch
    return None


def clean_name(value: str | None, *, field_label: str) -> str:
    """A name in its one stored form, or InvalidName (a ValueError) with a Chinese message.

    NFKC (full-width ！，：；？ kept; brackets full-width in a name with Chinese characters), surrounding
    whitespace removed and inner runs of whitespace made one space; refused when it holds a
    control or format character (U+200B, U+200D, U+202A-U+202E, U+2066-U+2069, U+FEFF, ...), another invisible
    one, a lone surrogate or an unassigned code point. Empty stays empty: whether a name is required, and how
    long it may be, is for the caller. Idempotent: clean_name(clean_name(x)) == clean_name(x).
    """
    if value is None:
        return ""
    text = _nfkc(str(value)).strip()
    bad = refused_char(text)
    if bad is not None:
        if bad in "\n\r\t\x0b\x0c\x85\u2028\u2029":
            raise InvalidName(f"{field_label}不能换行或含有制表符，请写在一行内")
        raise InvalidName(f"{field_label}含有不可见字符或控制字符（{_describe(bad)}，如零宽空格、文字方向控制符），"
                          f"请删除后重新填写")
    text = _SPACES.sub(" ", text)
    return text.translate(_WIDE_BRACKETS) if _CJK.search(text) else text


def _nfkc(text: str) -> str:
    """NFKC, leaving the characters of _KEPT as they are."""
    if not _KEPT.intersection(text):
        return unicodedata.normalize("NFKC", text)
    parts = re.split(f"([{''.join(_KEPT)}])", text)
    return "".join(part if part in _KEPT else unicodedata.normalize("NFKC", part) for part in parts)


def clean_name_into(errors: dict[str, str], key: str, value: str | None, *, field_label: str) -> str:
    """clean_name for a service that gathers per-field reasons: a refusal goes to errors[key].

    The value then comes back stripped but otherwise as given, so later checks (length, uniqueness) still run
    on something sensible; the caller raises because errors is not empty.
    """
    try:
        return clean_name(value, field_label=field_label)
    except InvalidName as exc:
        errors.setdefault(key, str(exc))
        return (value or "").strip() if isinstance(value, str) else ""
