"""Large contract imports run as a background job, with progress and a result page.

    the upload (request)   the file is read and its limits checked at once (market.imports.read_rows); a file of
                           at most IMPORT_SYNC_ROWS rows is stored in the request as before; a larger one becomes an
                           ImportRun row with its rows and a job, in one transaction, and the user is sent to
                           /contracts/imports/<id>
    the job                checks every row (progress written every PROGRESS_EVERY rows), then stores the good
                           rows and the run's report in ONE transaction: a run is stored wholly or not at all

Idempotent: a run that is finished is not run again; a run whose consumer died before its commit stored nothing
and is simply run again (the ledger's lease, market/jobs). The uploader is checked again when the job runs: an
account that lost its rights meanwhile stores nothing.
"""
from __future__ import annotations

import json
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from ..jobs import job_enqueue, job_kind
from ..models import ImportRun, User
from ..models.base import utcnow
from ..notifications.services import notify, path_for
from ..permissions import is_verified_actor
from . import importer

log = logging.getLogger(__name__)

JOB_KIND = "contracts.import"
PROGRESS_EVERY = 500
#: bad rows kept in a run's report (the count is always exact); a file with more is refused as a whole anyway
REPORT_MAX_BAD = 2000
IMPORT_ROLES = ("broker", "official", "admin")


def import_run_create(*, user: User, rows: list[tuple[int, dict]], filename: str, skip_bad: bool) -> ImportRun:
    """The run and its job, in the caller's transaction; the job is sent once it commits."""
    run = ImportRun(kind="contracts", user_id=user.id, filename=filename[:200], skip_bad=skip_bad,
                    scoped=user.role != "admin", total=len(rows),
                    rows=json.dumps(rows, ensure_ascii=False, default=str), created_at=utcnow())
    db.session.add(run)
    db.session.flush()
    job_enqueue(kind=JOB_KIND, payload={"run": run.id}, user=user)
    return run


def get_run(run_id: int, user: User) -> ImportRun | None:
    """The uploader's own run, or any run for an administrator; None otherwise (answered 404)."""
    run = db.session.get(ImportRun, run_id)
    if run is None or (run.user_id != user.id and user.role != "admin"):
        return None
    return run


def _progress(run_id: int, **values) -> None:
    """Progress in a transaction of its own, so the page shows it while the run's own transaction is open."""
    token = write_intent.set(True)
    try:
        with Session(db.engine) as own:
            own.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values)
                        .execution_options(synchronize_session=False))
            own.commit()
    finally:
        write_intent.reset(token)


@job_kind(JOB_KIND, label="批量导入技术合同", lease_seconds=1800, max_attempts=3)
def run_import(_session: Session, payload: dict) -> str:
    run_id = int(payload["run"])
    session = db.session  # the importer works on the app's session (this job's own app context)
    run = session.get(ImportRun, run_id)
    if run is None or run.finished:
        session.rollback()
        return f"run {run_id}: nothing to do"
    user = session.get(User, run.user_id)
    if user is None or user.role not in IMPORT_ROLES or not is_verified_actor(user):
        session.rollback()
        _finish_refused_actor(run_id)
        return f"run {run_id}: the uploader may no longer import"
    user_id = user.id
    rows = [(int(line), raw) for line, raw in json.loads(run.rows or "[]")]
    skip_bad, scoped, total, filename = run.skip_bad, run.scoped, run.total, run.filename
    session.commit()  # ends the read of the run; the check below reads without holding the write lock (SQLite)

    def progress(phase: str, done: int) -> None:
        if phase == "storing":
            # the rows are checked: end the read transaction, so that storing begins a write transaction of its
            # own (SQLite: a read snapshot older than our progress writes could not be upgraded to a write)
            session.commit()
            write_intent.set(True)
        _progress(run_id, status=phase, processed=min(done, total))

    write_intent.set(False)
    _progress(run_id, status="checking", processed=0, error="")
    try:
        report = importer.import_contracts(rows=rows, user=user, skip_bad=skip_bad, scoped=scoped,
                                           progress=progress)
    except Exception as exc:
        session.rollback()
        # nothing of this attempt is stored; the ledger runs the job again (or shows it failed to administrators)
        _progress(run_id, status="queued", processed=0, error=f"导入过程中出错（{type(exc).__name__}），未写入任何合同，系统将自动重试")
        raise
    finally:
        write_intent.set(True)
    if not report.stored:
        session.rollback()
        _progress(run_id, status="refused", processed=total, bad_count=len(report.bad),
                  report=_report_json(report), rows=None, finished_at=utcnow())
        _tell(run_id, user_id, f"批量导入未完成：{filename} 共{total}行，{len(report.bad)}行有误，未导入任何合同")
        return f"run {run_id}: refused, {len(report.bad)} bad rows"
    run = session.get(ImportRun, run_id)
    run.status = "done"
    run.processed = total
    run.stored = len(report.contracts)
    run.bad_count = len(report.bad)
    run.report = _report_json(report)
    run.rows = None
    run.finished_at = utcnow()
    text = f"批量导入完成：{filename} 已导入{run.stored}份合同" + (f"，跳过有误的{run.bad_count}行" if run.bad_count else "")
    notify(users=[user_id], kind="import", text=text, url=path_for("contracts.import_result", run_id=run_id))
    outcome = f"run {run_id}: {run.stored} stored, {run.bad_count} skipped"
    session.commit()  # the contracts, the run's report and the notice: one transaction
    return outcome  # (read before the commit: reading an expired attribute would open a new transaction)


def _report_json(report: importer.ContractImportReport) -> str:
    return json.dumps({
        "bad": [[b.line, b.ref, b.reason] for b in report.bad[:REPORT_MAX_BAD]],
        "created_orgs": list(report.created_orgs),
    }, ensure_ascii=False)


def _finish_refused_actor(run_id: int) -> None:
    _progress(run_id, status="failed", error="上传者已无导入权限（账户或单位未通过认证，或角色已变更），未导入任何合同",
              rows=None, finished_at=utcnow())


def _tell(run_id: int, user_id: int, text: str) -> None:
    """A notice on its own (the run's transaction was rolled back: nothing else is pending in the session)."""
    token = write_intent.set(True)
    try:
        notify(users=[user_id], kind="import", text=text, url=path_for("contracts.import_result", run_id=run_id))
        db.session.commit()
    finally:
        write_intent.reset(token)


def recent_runs(user: User, limit: int = 10) -> list[ImportRun]:
    return list(db.session.scalars(
        select(ImportRun).where(ImportRun.user_id == user.id).order_by(ImportRun.id.desc()).limit(limit)))
