"""Reference data every install needs: the field taxonomy (技术领域) and the stock reasons for 退回."""
from __future__ import annotations

from sqlalchemy import func, select

from .extensions import db
from .models import Field, ReturnReason


def ensure_fields() -> int:
    """Insert the eight domains and their subfields when the fields table is empty.

    Returns how many rows were added (0 when the table already had any row, so it is safe to
    run again and never undoes an administrator's edits). Adds and flushes; the caller commits.
    """
    if db.session.scalar(select(func.count()).select_from(Field)):
        return 0
    from .data.fields import FIELDS

    added = 0
    for top_sort, (code, name, subfields) in enumerate(FIELDS, start=1):
        top = Field(code=code, name=name, sort=top_sort)
        db.session.add(top)
        db.session.flush()
        added += 1
        for sub_sort, (sub_code, sub_name) in enumerate(subfields, start=1):
            db.session.add(Field(code=sub_code, name=sub_name, parent_id=top.id, sort=sub_sort))
            added += 1
    db.session.flush()
    return added


def ensure_return_reasons() -> int:
    """Insert the stock 退回 reasons when the table is empty (the migration does the same for a new install).
    Returns how many were added; never touches a list an administrator has edited. Adds and flushes."""
    if db.session.scalar(select(func.count()).select_from(ReturnReason)):
        return 0
    from .models.review_reason import DEFAULT_RETURN_REASONS

    db.session.add_all(ReturnReason(text=text, sort=i) for i, text in enumerate(DEFAULT_RETURN_REASONS, start=1))
    db.session.flush()
    return len(DEFAULT_RETURN_REASONS)
