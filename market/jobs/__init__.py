"""Work that need not finish before the answer: a ledger row per job, carried by a Huey queue.

    job_enqueue(kind=..., payload=...)   inside the request's transaction: the row commits with the change
    after commit (market/pipeline.py)    dispatch(): the new rows' ids go to the queue
    a consumer (`flask jobs worker`)     job_run(id): take the lease, run the handler, record done or the error
    the sweep (every minute, at start)   sends again a row whose message was lost, whose consumer died (its
                                         lease ran out) or whose retry is due

A job kind is a handler registered with @job_kind; handlers are idempotent (running one twice, or again after a
crash, gives the same state), so a job sent twice or re-run after a kill costs time, never correctness.

The queue (market/jobs/queue.py): embedded by default (Huey's SQLite storage in the instance folder), Redis
when REDIS_URL is set (one queue for every node), or in-process (`JOBS_BACKEND=immediate`: a job runs at once
after the commit that queued it; tests and single-process scripts).
"""
from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from ..models import Job, User
from ..models.base import utcnow
from .queue import init_queue, job_queue

log = logging.getLogger(__name__)

#: a queued row with no message seen for this long is sent again by the sweep
LOST_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str  # Chinese, shown to administrators
    handler: Callable[[Session, dict], str | None]
    lease_seconds: int
    max_attempts: int
    retry_seconds: int


KINDS: dict[str, JobKind] = {}
#: called by every sweep: a feature that keeps its own durable backlog (a change-log cursor) queues a job for it
SWEEPS: list[Callable[[], None]] = []


def job_kind(name: str, *, label: str, lease_seconds: int = 600, max_attempts: int = 3, retry_seconds: int = 60):
    """Register `handler(session, payload) -> result text` for jobs of `name`. The handler commits its own work
    on `session` (a session of its own, never the request's)."""

    def decorator(handler):
        KINDS[name] = JobKind(name, label, handler, lease_seconds, max_attempts, retry_seconds)
        return handler

    return decorator


def on_sweep(hook: Callable[[], None]) -> Callable[[], None]:
    if hook not in SWEEPS:
        SWEEPS.append(hook)
    return hook


def kind_label(name: str) -> str:
    kind = KINDS.get(name)
    return kind.label if kind else name


def job_enqueue(*, kind: str, payload: dict | None = None, user: User | None = None,
                session: Session | None = None) -> Job:
    """A job row in the caller's transaction; its message goes to the queue once that transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    session = session or db.session
    job = Job(kind=kind, payload=json.dumps(payload or {}, ensure_ascii=False, sort_keys=True),
              max_attempts=KINDS[kind].max_attempts, created_by_id=user.id if user is not None else None,
              created_at=utcnow())
    session.add(job)
    session.flush()
    _send_after_commit(session, job.id)
    return job


def job_enqueue_now(*, kind: str, payload: dict | None = None, user_id: int | None = None) -> int:
    """For after-commit handlers (the request's transaction is over): a job in a transaction of its own, sent to
    the queue as that transaction commits."""
    with Session(db.engine, expire_on_commit=False) as session:
        token = write_intent.set(True)
        try:
            job = job_enqueue(kind=kind, payload=payload, session=session)
            if user_id is not None:
                job.created_by_id = user_id
            session.commit()
        finally:
            write_intent.reset(token)
        return job.id


def job_retry(*, job: Job) -> Job:
    """An administrator sends a failed job again (with a fresh count of attempts)."""
    from ..errors import DomainError

    if job.status != "failed":
        raise DomainError("只有失败的任务可以重试")
    job.status = "queued"
    job.attempts = 0
    job.lease_until = None
    job.finished_at = None
    job.created_at = utcnow()
    db.session.flush()
    _send_after_commit(db.session, job.id)
    return job


# -- after commit ---------------------------------------------------------------------------------------------

def _send_after_commit(session: Session, job_id: int) -> None:
    """The pipeline (market/pipeline.py) sends the job once this session's transaction commits."""
    session.info.setdefault("jobs_to_send", []).append(job_id)


def take_committed(session: Session) -> list[int]:
    return session.info.pop("jobs_to_send", [])


def forget_uncommitted(session: Session) -> None:
    session.info.pop("jobs_to_send", None)


def dispatch(app, job_ids: list[int]) -> None:
    """Send committed jobs to the queue; a send that fails is logged and left to the sweep."""
    for job_id in job_ids:
        try:
            job_queue(app).send(job_id)
        except Exception:
            log.exception("job %s could not be queued; the sweep will send it again", job_id)


# -- running --------------------------------------------------------------------------------------------------

def _lease(kind: JobKind) -> timedelta:
    cap = current_app.config.get("JOBS_MAX_LEASE_SECONDS")
    return timedelta(seconds=min(kind.lease_seconds, cap) if cap else kind.lease_seconds)


def job_run(job_id: int) -> str:
    """Run one job: claim it (queued, or running with an expired lease), call its handler, record the outcome.

    Returns "done", "failed", "retry" or "skipped" (not found, done already, or claimed by another consumer).
    """
    with Session(db.engine, expire_on_commit=False) as session:
        token = write_intent.set(True)
        try:
            job = session.get(Job, job_id)
            kind = KINDS.get(job.kind) if job is not None else None
            if job is None or kind is None:
                session.rollback()
                return "skipped"
            now = utcnow()
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, or_(
                    and_(Job.status == "queued", or_(Job.lease_until.is_(None), Job.lease_until <= now)),
                    and_(Job.status == "running", Job.lease_until < now)))
                .values(status="running", attempts=Job.attempts + 1, started_at=now, lease_until=now + _lease(kind))
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
        finally:
            write_intent.reset(token)
        if claimed != 1:
            return "skipped"
        job = session.get(Job, job_id)
        token = write_intent.set(False)
        try:  # read the claimed row and end that read: no transaction is held while the handler runs
            session.refresh(job)
            session.commit()
        finally:
            write_intent.reset(token)
        try:
            result = kind.handler(session, json.loads(job.payload or "{}"))
        except Exception:
            session.rollback()
            error = traceback.format_exc()[-4000:]
            log.exception("job %s (%s) failed", job_id, job.kind)
            return _record_failure(session, job, kind, error)
        _finish(session, job_id, status="done", result=(result or "")[:500])
        return "done"


def _finish(session: Session, job_id: int, **values) -> None:
    token = write_intent.set(True)
    try:
        session.execute(update(Job).where(Job.id == job_id).values(
            finished_at=utcnow() if values.get("status") in ("done", "failed") else None, **values)
            .execution_options(synchronize_session=False))
        session.commit()
    finally:
        write_intent.reset(token)


def _record_failure(session: Session, job: Job, kind: JobKind, error: str) -> str:
    if job.attempts >= job.max_attempts:
        _finish(session, job.id, status="failed", error=error, lease_until=None)
        return "failed"
    # queued again; the sweep sends it once the retry is due (lease_until doubles as "not before")
    _finish(session, job.id, status="queued", error=error,
            lease_until=utcnow() + timedelta(seconds=kind.retry_seconds * job.attempts))
    return "retry"


def jobs_sweep() -> int:
    """Send again every job the queue lost, whose consumer died (lease over) or whose retry is due."""
    now = utcnow()
    token = write_intent.set(False)
    try:
        with Session(db.engine) as session:
            ids = list(session.scalars(select(Job.id).where(or_(
                and_(Job.status == "queued", Job.lease_until.is_(None), Job.created_at < now - LOST_AFTER),
                and_(Job.status == "queued", Job.lease_until <= now),
                and_(Job.status == "running", Job.lease_until < now),
            )).order_by(Job.id).limit(1000)))
    finally:
        write_intent.reset(token)
    for hook in SWEEPS:
        try:
            hook()
        except Exception:
            log.exception("sweep hook failed")
    if ids:
        dispatch(current_app._get_current_object(), ids)
    return len(ids)


def jobs_summary(session: Session | None = None) -> dict[str, int]:
    session = session or db.session
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    return {status: int(counts.get(status, 0)) for status in ("queued", "running", "done", "failed")}


def init_jobs(app) -> None:
    """The app's queue (market/jobs/queue.py), carrying job ids to job_run, with the sweep every minute."""
    init_queue(app, run=job_run, sweep=jobs_sweep)
