"""统一社会信用代码 (GB 32100-2015): valid codes pass and are normalised, every malformed one gets a Chinese reason."""
import pytest

from market.uscc import USCCError, check_char, is_valid_uscc, normalize_uscc

# An independent implementation of the standard, so the check is not the code checking itself:
# 31 characters (no I, O, Z, S, V), weight of position i is 3^i mod 31, check = (31 - sum mod 31) mod 31.
_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def reference_check(first17: str) -> str:
    total = sum(_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return _CHARS[(31 - total % 31) % 31]


KNOWN_VALID = ["91350100M000100Y43", "911101080628135175", "91310000775785552L"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_valid_codes(code):
    assert reference_check(code[:17]) == code[17]
    assert check_char(code[:17]) == code[17]
    assert normalize_uscc(code) == code
    assert is_valid_uscc(code)


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_lower_case_full_width_and_spaces_are_normalised(code):
    assert normalize_uscc(code.lower()) == code
    assert normalize_uscc(" " + code[:6] + " " + code[6:] + " ") == code
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)  # ９１３５… as typed with a Chinese IME
    assert normalize_uscc(full_width) == code


def test_reference_agrees_on_many_bodies():
    import random

    rnd = random.Random(2026)
    for _ in range(2000):
        body = "91" + "".join(rnd.choice("0123456789") for _ in range(6)) + "".join(rnd.choice(_CHARS) for _ in range(9))
        assert check_char(body) == reference_check(body)
        assert is_valid_uscc(body + reference_check(body))
        wrong = next(ch for ch in _CHARS if ch != reference_check(body))
        assert not is_valid_uscc(body + wrong)


def _other_check(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


@pytest.mark.parametrize(
    "code, reason",
    [
        (_other_check("91350100M000100Y43"), "校验位不正确"),
        (_other_check("911101080628135175"), "校验位不正确"),
        ("91350100M000100Y4", "应为18位，当前为17位"),
        ("91350100M000100Y433", "应为18位，当前为19位"),
        ("", "请填写统一社会信用代码"),
        (None, "请填写统一社会信用代码"),
        ("   ", "请填写统一社会信用代码"),
        ("91350100I000100Y43", "无效字符：I"),
        ("91350100O000100Y43", "无效字符：O"),
        ("91350100Z000100Y43", "无效字符：Z"),
        ("91350100S000100Y43", "无效字符：S"),
        ("91350100V000100Y43", "无效字符：V"),
        ("91350100M00010-Y43", "无效字符：-"),
        ("9135010\x00M000100Y43", "无效字符"),
        ("9135A100M000100Y43", "第3-8位"),
        ("91统一社会信用M000100Y43", "无效字符"),
    ],
)
def test_invalid_codes_give_a_chinese_reason(code, reason):
    with pytest.raises(USCCError) as info:
        normalize_uscc(code)
    assert reason in str(info.value)
    assert not is_valid_uscc(code)
