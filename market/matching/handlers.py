"""Matching listens to listing changes and keeps the stored suggestions in step, as background jobs.

The suggestion refresh follows the listing change log (`index_changes`, written in the transaction of every
change) with a cursor of its own (`log_cursors.name = 'matching'`): a job reads the changes after the cursor,
refreshes those listings and moves the cursor. Nothing is lost when a job is: the next job, or the sweep every
minute, finds the same changes after the cursor. Refreshing a listing twice gives the same suggestions.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import events
from ..database import write_intent
from ..extensions import db
from ..jobs import job_enqueue, job_enqueue_now, job_kind, on_sweep
from ..models import IndexChange, Job, LogCursor
from ..models.base import utcnow

log = logging.getLogger(__name__)

CURSOR = "matching"
BATCH = 500  # changes per round of a catch-up job
GAP_WAIT = timedelta(seconds=120)  # a missing seq younger than this may still commit (PostgreSQL): wait for it


def _cursor(session: Session) -> int:
    row = session.get(LogCursor, CURSOR)
    return row.seq if row is not None else 0


def _advance(session: Session, old: int, new: int) -> bool:
    """Compare-and-set: False when another job moved the cursor meanwhile (it did the same work)."""
    if session.get(LogCursor, CURSOR) is None:
        session.add(LogCursor(name=CURSOR, seq=0, updated_at=utcnow()))
        session.flush()
    moved = session.execute(update(LogCursor).where(LogCursor.name == CURSOR, LogCursor.seq == old)
                            .values(seq=new, updated_at=utcnow())
                            .execution_options(synchronize_session=False)).rowcount
    return moved == 1


def _next_round(session: Session, start: int) -> tuple[list[tuple[str, int]], int, bool]:
    """The listings changed after `start`, the seq the cursor may move to, and whether more are waiting."""
    rows = session.execute(
        select(IndexChange.seq, IndexChange.kind, IndexChange.obj_id, IndexChange.created_at)
        .where(IndexChange.seq > start).order_by(IndexChange.seq).limit(BATCH + 1)).all()
    more = len(rows) > BATCH
    rows = rows[:BATCH]
    now = utcnow()
    upto, expected, gap = start, start + 1, False
    for seq, _kind, _id, created_at in rows:
        if seq != expected and not gap and created_at > now - GAP_WAIT:
            gap = True  # an older seq may still commit: keep the cursor before it, redo the rest next time
        if not gap:
            upto = seq
        expected = seq + 1
    keys = sorted({(kind, obj_id) for _seq, kind, obj_id, _at in rows})
    return keys, upto, more or gap


@job_kind("matching.catch_up", label="更新推荐匹配（跟随条目变更）", lease_seconds=900)
def matching_catch_up(session: Session, payload: dict) -> str:
    from .services import refresh_listings

    app = current_app._get_current_object()
    refreshed = failed = 0
    for _ in range(100):  # at most 50,000 changes per job; a longer backlog continues in the next job
        token = write_intent.set(False)
        try:
            start = _cursor(session)
            keys, upto, more = _next_round(session, start)
            session.commit()
        finally:
            write_intent.reset(token)
        if not keys:
            break
        report = refresh_listings(app, keys, catch_up=True)
        refreshed += report.listings
        token = write_intent.set(True)
        try:
            if report.failed_keys:  # kept as a job of its own: retried, and shown to the administrator if it fails
                failed += len(report.failed_keys)
                job_enqueue(kind="matching.refresh", payload={"keys": report.failed_keys}, session=session)
            _advance(session, start, upto)
            if report.stored:  # notifications tells owners about new strong pairs
                events.record(events.suggestions_refreshed, session=session)
            session.commit()
        finally:
            write_intent.reset(token)
        if not more or upto == start:
            break
    return f"更新 {refreshed} 条" + (f"，{failed} 条失败已另行排队" if failed else "")


@job_kind("matching.refresh", label="更新推荐匹配（指定条目）", lease_seconds=900)
def matching_refresh(session: Session, payload: dict) -> str:
    from .services import refresh_listings

    keys = [(str(kind), int(listing_id)) for kind, listing_id in payload.get("keys", [])]
    report = refresh_listings(current_app._get_current_object(), keys, catch_up=True)
    if report.failed:
        raise RuntimeError(f"{report.failed} 条更新失败：{report.failed_keys[:20]}")
    if report.stored:  # sent when the job's outcome commits (market/jobs.job_run)
        events.record(events.suggestions_refreshed, session=session)
    return f"更新 {report.listings} 条，保存 {report.stored} 对，移除 {report.removed} 对"


def _catch_up_waiting(session: Session) -> bool:
    return session.scalar(select(Job.id).where(Job.kind == "matching.catch_up", Job.status == "queued",
                                               Job.started_at.is_(None)).limit(1)) is not None


def on_listings_changed(app, *, keys) -> None:
    """A commit changed listings: one catch-up job (none when one is already waiting to start)."""
    with Session(db.engine) as session:
        token = write_intent.set(False)
        try:
            waiting = _catch_up_waiting(session)
        finally:
            write_intent.reset(token)
    if not waiting:
        job_enqueue_now(kind="matching.catch_up")


def sweep_backlog() -> None:
    """Every sweep: changes after the cursor and no catch-up waiting -> queue one (a lost job, a crash)."""
    with Session(db.engine) as session:
        token = write_intent.set(False)
        try:
            behind = (session.scalar(select(func.max(IndexChange.seq))) or 0) > _cursor(session)
            waiting = _catch_up_waiting(session)
        finally:
            write_intent.reset(token)
    if behind and not waiting:
        job_enqueue_now(kind="matching.catch_up")


def catch_up_now() -> str:
    """Run the catch-up in this process (seed-demo, scripts): the suggestions exist when it returns."""
    with Session(db.engine, expire_on_commit=False) as session:
        return matching_catch_up(session, {})


def on_interest_answered(app, *, interest, user, decision, **_kw) -> None:
    """An interest declined as 技术不对口: refresh its listings, which demotes that pairing and similar ones
    (feedback.py reads the decline from `interests` at every refresh)."""
    from .feedback import DECLINE_CODE, decline_refresh_keys

    if decision != "decline" or interest.reason_code != DECLINE_CODE:
        return
    keys = decline_refresh_keys(interest)
    if keys:
        job_enqueue_now(kind="matching.refresh", payload={"keys": keys}, user_id=getattr(user, "id", None))


def init_app(app) -> None:
    from ..registries import registries
    from .routes import listing_panel

    events.listings_changed.connect(on_listings_changed)
    events.interest_answered.connect(on_interest_answered)
    on_sweep(sweep_backlog)
    registries(app).listing_panels.append(listing_panel)
