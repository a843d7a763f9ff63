"""Pagination that tolerates any page argument."""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import func, select

from .extensions import db

MAX_PAGE = 10000


def get_page(name: str = "page") -> int:
    value = request.args.get(name, "1")
    if not (value.isascii() and value.isdigit()) or len(value) > 6:  # '²'.isdigit() but int('²') fails
        return 1
    return max(1, min(int(value), MAX_PAGE))


def paginate(stmt, *, page: int, per_page: int | None = None, total: int | None = None,
             count_limit: int | None = None):
    """One page of `stmt`; pass `total` when the caller already knows how many rows it has (no count query).

    With `count_limit`, rows are counted only up to that many (a LIMIT inside the count): past it the total is
    `count_limit` and `total_capped` is set, so the pager says 超过 N 条 and links that far. An exact count of a
    list of a million contracts reads every row on each view, for a page number nobody clicks."""
    capped = False
    if total is None and count_limit is not None:
        found = db.session.scalar(select(func.count()).select_from(
            stmt.order_by(None).limit(count_limit + 1).subquery())) or 0
        capped, total = found > count_limit, min(found, count_limit)
    pagination = db.paginate(stmt, page=page, per_page=per_page or current_app.config["PAGE_SIZE"], error_out=False,
                             count=total is None)
    if total is not None:
        pagination.total = total
    pagination.total_capped = capped
    return pagination
