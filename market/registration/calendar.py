"""Working days for the 登记 deadline (15 working days): Monday to Friday, less public holidays, plus 调休 workdays.

The State Council (国务院办公厅) publishes each year's 部分节假日安排 — which weekdays are off and which weekend
days are worked instead (调休) — usually in November for the next year. The days that differ from a plain
Monday-to-Friday week are kept in the table work_calendar (models.registration.WorkCalendarDay), which an
administrator or a city official edits at 合同登记 → 节假日安排 when the notice comes out. SEED holds the 2026
schedule (国办发明电〔2025〕7号), written by the migration and by `flask --app app init-reference`. A year with no
row in the table counts Monday to Friday only, and the page says so.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import g, has_request_context
from sqlalchemy import select

from ..extensions import db
from ..models import WorkCalendarDay


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


# (first day, last day, workday?, name): the 2026 notice
_SEED_2026 = (
    (date(2026, 1, 1), date(2026, 1, 3), False, "元旦"),
    (date(2026, 1, 4), date(2026, 1, 4), True, "元旦调休上班"),
    (date(2026, 2, 14), date(2026, 2, 14), True, "春节调休上班"),
    (date(2026, 2, 15), date(2026, 2, 23), False, "春节"),
    (date(2026, 2, 28), date(2026, 2, 28), True, "春节调休上班"),
    (date(2026, 4, 4), date(2026, 4, 6), False, "清明节"),
    (date(2026, 5, 1), date(2026, 5, 5), False, "劳动节"),
    (date(2026, 5, 9), date(2026, 5, 9), True, "劳动节调休上班"),
    (date(2026, 6, 19), date(2026, 6, 21), False, "端午节"),
    (date(2026, 9, 20), date(2026, 9, 20), True, "国庆节调休上班"),
    (date(2026, 9, 25), date(2026, 9, 27), False, "中秋节"),
    (date(2026, 10, 1), date(2026, 10, 7), False, "国庆节"),
    (date(2026, 10, 10), date(2026, 10, 10), True, "国庆节调休上班"),
)


def seed_rows() -> list[dict]:
    """The seeded days that differ from Monday to Friday (holidays on weekdays, worked weekend days)."""
    rows = []
    for first, last, workday, name in _SEED_2026:
        for day in _days(first, last):
            if workday != (day.weekday() < 5):  # a holiday on a Saturday needs no row
                rows.append({"day": day, "workday": workday, "name": name})
    return rows


def ensure_seed() -> int:
    """Write the seeded days that are missing (administrators' edits are kept); returns how many were added."""
    have = set(db.session.scalars(select(WorkCalendarDay.day)))
    added = 0
    for row in seed_rows():
        if row["day"] not in have:
            db.session.add(WorkCalendarDay(**row))
            added += 1
    db.session.flush()
    return added


def exceptions(start: date, end: date) -> dict[date, bool]:
    """{day: workday} for the calendar rows in [start, end]."""
    rows = db.session.execute(select(WorkCalendarDay.day, WorkCalendarDay.workday)
                              .where(WorkCalendarDay.day >= start, WorkCalendarDay.day <= end))
    return {day: bool(workday) for day, workday in rows}


def request_table() -> dict[date, bool] | None:
    """Every calendar row (a few dozen a year), read once per request: a page or the 登记员's workbench that counts
    the wait of many submissions runs one statement, not one per row (the attacker's review of issue 16). None
    outside a request (commands, jobs), where each count reads its own range."""
    if not has_request_context():
        return None
    table = g.get("_work_calendar")
    if table is None:
        table = g._work_calendar = {day: bool(workday) for day, workday in
                                    db.session.execute(select(WorkCalendarDay.day, WorkCalendarDay.workday))}
    return table


def forget_request_table() -> None:
    if has_request_context():
        g.pop("_work_calendar", None)


def count_working_days(start: date, end: date, table: dict[date, bool] | None = None) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return 0
    if table is None:
        table = request_table()
    if table is None:
        table = exceptions(start + timedelta(days=1), end)
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    for k in range(1, rest + 1):
        if (start + timedelta(days=full_weeks * 7 + k)).weekday() < 5:
            count += 1
    for day, workday in table.items():
        if start < day <= end:
            plain = day.weekday() < 5
            count += (1 if workday else 0) - (1 if plain else 0)
    return count


def known_years() -> set[int]:
    return {d.year for d in db.session.scalars(select(WorkCalendarDay.day))}


def days_of_year(year: int) -> list[WorkCalendarDay]:
    return list(db.session.scalars(select(WorkCalendarDay).where(
        WorkCalendarDay.day >= date(year, 1, 1), WorkCalendarDay.day <= date(year, 12, 31))
        .order_by(WorkCalendarDay.day)))


__all__ = ["count_working_days", "days_of_year", "ensure_seed", "exceptions", "known_years", "seed_rows"]
