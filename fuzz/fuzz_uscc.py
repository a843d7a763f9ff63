"""atheris: market.uscc.normalize_uscc returns a valid 统一社会信用代码 or raises USCCError, nothing else.

Valid means: 18 characters of the GB 32100 set, digits in places 3-8, the right check character, and
normalising it again gives the same code.
"""
import sys

import atheris

import _common  # noqa: F401

with atheris.instrument_imports(include=["market"]):
    from market.uscc import CHARSET, USCCError, check_char, is_valid_uscc, normalize_uscc

VALID = "91340300MA0000001" + check_char("91340300MA0000001")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:  # a valid code with some characters changed
        chars = list(VALID)
        for _ in range(fdp.ConsumeIntInRange(0, 3)):
            chars[fdp.ConsumeIntInRange(0, 17)] = _common.text(fdp, 1) or " "
        raw = "".join(chars)
    elif mode == 1:  # full-width, spaced, lower-case variants of any text
        raw = _common.text(fdp, 40).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHJKLMNPQRTUWXY"})
    else:
        raw = _common.text(fdp, 40)
    try:
        code = normalize_uscc(raw)
    except USCCError as exc:
        _common.check_reason(exc)
        assert not is_valid_uscc(raw)
        return
    assert isinstance(code, str) and len(code) == 18, (raw, code)
    assert all(ch in CHARSET for ch in code), (raw, code)
    assert code[2:8].isascii() and code[2:8].isdigit(), (raw, code)
    assert check_char(code[:17]) == code[17], (raw, code)
    assert normalize_uscc(code) == code and is_valid_uscc(raw)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
