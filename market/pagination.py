"""Pagination that tolerates any page argument."""
from __future__ import annotations

from flask import current_app, request

from .extensions import db

MAX_PAGE = 10000


def get_page(name: str = "page") -> int:
    value = request.args.get(name, "1")
    if not (value.isascii() and value.isdigit()) or len(value) > 6:  # '²'.isdigit() but int('²') fails
        return 1
    return max(1, min(int(value), MAX_PAGE))


def paginate(stmt, *, page: int, per_page: int | None = None, total: int | None = None):
    """One page of `stmt`; pass `total` when the caller already knows how many rows it has (no count query)."""
    pagination = db.paginate(stmt, page=page, per_page=per_page or current_app.config["PAGE_SIZE"], error_out=False,
                             count=total is None)
    if total is not None:
        pagination.total = total
    return pagination
