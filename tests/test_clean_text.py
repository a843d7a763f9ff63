"""market/forms.py clean_text and reject_invalid_chars, which every posted text goes through, against their
character-by-character definitions (Unicode category Cc; lone surrogates), on generated and fixed text."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.forms import clean_text, reject_invalid_chars


def reference_clean(value: str) -> str:
    kept = (ch for ch in value
            if not "\ud800" <= ch <= "\udfff" and not (unicodedata.category(ch) == "Cc" and ch not in "\n\t"))
    return "".join(kept).strip()


def reference_invalid(value: str) -> bool:
    return any(ch in "\x00\ufffd" or "\ud800" <= ch <= "\udfff" for ch in value)


EVERY_CONTROL = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc")


@pytest.mark.parametrize("value", [
    "", " 技术 ", "a\r\nb", "\t缩进\n第二行\n", EVERY_CONTROL, "前" + EVERY_CONTROL + "后", "\ud800半\udfff",
    "\ufffd替换", "\u200b零宽\u202e", "\x85下一行\xa0", "技" * 20_000 + "\x00",
])
def test_fixed_texts_agree_with_the_definition(value):
    assert clean_text(value) == reference_clean(value)
    assert (reference_invalid(value)) == _refused(value)


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200))
def test_generated_texts_agree_with_the_definition(value):
    assert clean_text(value) == reference_clean(value)
    assert reference_invalid(value) == _refused(value)


def _refused(value: str) -> bool:
    try:
        reject_invalid_chars(value)
    except ValueError:
        return True
    return False


def test_what_is_not_text_is_left_alone():
    assert clean_text(None) is None and clean_text(5) == 5
    assert reject_invalid_chars(None) is None
