"""Shared set-up for the atheris harnesses: input decoding, a small in-memory market for the row checkers.

Each harness is run as `python fuzz/fuzz_<name>.py [libFuzzer flags]` (bench/fuzz.sh runs them all for a
bounded time). A harness asserts that its parser returns a valid value or raises the documented error; any
other exception, or an invalid value, is a finding: libFuzzer stops and writes the input to a crash-* file.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def check_reason(exc: BaseException) -> None:
    """A documented refusal carries a Chinese reason for the user."""
    message = str(getattr(exc, "message", None) or exc)
    assert is_chinese(message), f"a refusal without a Chinese reason: {message!r}"


def text(fdp, max_len: int = 200) -> str:
    """Unicode from the fuzzer's bytes; may hold lone surrogates, as a broken client could send."""
    return fdp.ConsumeUnicodeNoSurrogates(max_len) if fdp.ConsumeBool() else fdp.ConsumeUnicode(max_len)


def market_app():
    """An app on a private SQLite file with a small reference set: 蚌埠市 / 怀远县 / 榴城镇, two fields."""
    folder = Path(tempfile.mkdtemp(prefix="market-fuzz-"))
    os.environ.setdefault("MARKET_INSTANCE_DIR", str(folder))
    from market import create_app
    from market.extensions import db
    from market.models import Field, Organization, Region

    app = create_app({
        "TESTING": True, "SECRET_KEY": "fuzz", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'fuzz.db'}",
        "SEARCH_INDEX_DIR": str(folder / "index"), "UPLOAD_DIR": str(folder / "uploads"),
    })
    ctx = app.app_context()
    ctx.push()
    db.create_all()
    city = Region(code="340300", name="蚌埠市", level="city", path="/")
    db.session.add(city)
    db.session.flush()
    city.path = f"/{city.id}/"
    county = Region(code="340321", name="怀远县", level="county", parent_id=city.id)
    db.session.add(county)
    db.session.flush()
    county.path = f"{city.path}{county.id}/"
    town = Region(code="340321101", name="榴城镇", level="town", parent_id=county.id)
    db.session.add(town)
    db.session.flush()
    town.path = f"{county.path}{town.id}/"
    root = Field(code="04", name="新材料")
    db.session.add(root)
    db.session.flush()
    db.session.add(Field(code="04.01", name="金属材料", parent_id=root.id))
    from market.uscc import check_char

    body = "91340300" + "MA0000001"
    db.session.add(Organization(name="蚌埠测试大学", uscc=body + check_char(body), org_type="university",
                                region_id=city.id, contact_name="张三", contact_phone="0552-1234567", status="verified"))
    db.session.commit()
    return app
