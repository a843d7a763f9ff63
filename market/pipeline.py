"""Everything a database commit sets off, in one place and in this order.

    request / CLI / job ──► services change rows, record events (market/events.py), queue jobs (market/jobs)
          │  flush:  market/outbox.py writes, in the same transaction, the index change log (index_changes)
          │          and marks the dashboard summary stale when the region or field tree moved
          ▼
       COMMIT ─────► 1. uploads   keep the files this transaction wrote (contract scans)
                     2. page cache every clock of this process forgets the change-log version
                     3. index     this process's index copy catches up from the log (SEARCH_SYNC_AFTER_COMMIT)
                     4. events    the recorded events go to their handlers (each feature's handlers.py)
                     5. jobs      the job rows this transaction wrote go to the queue
       ROLLBACK ───► the files are removed; events, jobs and index marks are forgotten

Only the outermost transaction counts: SQLAlchemy also sends after_commit / after_rollback for a SAVEPOINT, and a
released savepoint commits nothing yet (`_outermost`). Every step is guarded: a failure is logged and the later
steps still run; nothing here raises into the code that committed (the change is already durable, and each step
can be caught up later: the index from the log, jobs by the sweep).
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_installed = False


def _outermost(session: Session) -> bool:
    return not session.in_nested_transaction()


def after_commit(session: Session) -> None:
    if not _outermost(session):
        return  # a released savepoint: the outer commit decides
    from . import events, jobs
    from .contracts import scans
    from .outbox import take_index_marks

    scans.keep_committed(session)
    _step("page cache", _forget_page_versions)
    dirty, touched = take_index_marks(session)
    recorded = events.take_committed(session)
    job_ids = jobs.take_committed(session)
    if not has_app_context():
        return
    app = current_app._get_current_object()
    # SEARCH_SYNC_AFTER_COMMIT=False (bulk loads, tests of the log itself) leaves the index and what follows it,
    # the suggestion refresh, to the next search, the sweep or `flask match refresh`
    if dirty and app.config.get("SEARCH_SYNC_AFTER_COMMIT", True) is not False:
        from .search.indexing import catch_up_after_commit

        _step("index catch-up", catch_up_after_commit, app)
        if touched:
            recorded.append((events.listings_changed, {"keys": {(kind, obj_id) for kind, obj_id, *_ in touched}}))
    if recorded:
        _step("events", events.send, app, recorded)
    if job_ids:
        _step("jobs", jobs.dispatch, app, job_ids)


def after_rollback(session: Session) -> None:
    if not _outermost(session):
        return  # a savepoint rolled back: what was flushed before it is still to be committed
    from . import events, jobs
    from .outbox import forget_marks

    forget_marks(session)
    events.forget_uncommitted(session)
    jobs.forget_uncommitted(session)


def after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    from .contracts import scans

    scans.remove_uncommitted(session)  # after a commit, step 1 already kept them: nothing left to remove


def _forget_page_versions() -> None:
    from .pagecache import forget_versions

    forget_versions()


def _step(name: str, fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("after-commit step %r failed", name)


def init_pipeline(app) -> None:
    """Listen once per process (the listeners are on the Session class, shared by every app)."""
    global _installed
    from .outbox import install_outbox

    install_outbox()
    if _installed:
        return
    event.listen(Session, "after_commit", after_commit)
    event.listen(Session, "after_rollback", after_rollback)
    event.listen(Session, "after_transaction_end", after_transaction_end)
    _installed = True
