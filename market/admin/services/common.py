"""What the administrator's services share: text and id arguments as the forms send them, and the check that keeps
a row something still points at from being deleted."""
from __future__ import annotations

import unicodedata

from sqlalchemy import func, or_, select

from ...errors import Conflict
from ...extensions import db
from ...models import Region


def clean_value(value) -> str:
    """A free-text argument stripped (anything but a string: empty)."""
    return (value or "").strip() if isinstance(value, str) else ""


def region_or_none(region_id) -> Region | None:
    """The region of a form's region choice (0 or nothing chosen: None)."""
    return db.session.get(Region, region_id) if isinstance(region_id, int) and region_id > 0 else None


def normalize_code(value) -> str:
    """Half-width, no spaces: '３４０３００ ' -> '340300'."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return unicodedata.normalize("NFKC", value).replace(" ", "").strip()


# a row is deleted only when nothing points at it; what does is named in the refusal
REFERENCE_LABELS = {
    "regions": "下级区划",
    "fields": "下级领域",
    "users": "用户",
    "organizations": "单位",
    "demands": "技术需求",
    "achievements": "科技成果",
    "contracts": "技术合同",
    "targets": "目标任务",
    "deals": "对接",
}


def references(table_name: str, row_id: int) -> list[tuple[str, int]]:
    """Rows of every table that point at `table_name.id == row_id` through a foreign key.

    Read from the metadata, so a table added by a later feature is counted without changes here.
    """
    counts: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if any(fk.target_fullname == f"{table_name}.id" for fk in c.foreign_keys)]
        if not columns:
            continue
        n = db.session.scalar(select(func.count()).select_from(table).where(or_(*(c == row_id for c in columns))))
        if n:
            label = REFERENCE_LABELS.get(table.name, "其他记录")
            counts[label] = counts.get(label, 0) + n
    return list(counts.items())


def refuse_if_referenced(table_name: str, row_id: int, what: str) -> None:
    refs = references(table_name, row_id)
    if refs:
        listed = "、".join(f"{label} {n} 条" for label, n in refs)
        raise Conflict(f"该{what}仍被使用（{listed}），不能删除")
