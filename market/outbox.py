"""What a flush writes or marks in the same transaction as the change (read after the commit by market/pipeline.py).

- Listings: a changed listing's `version` goes up, and every change that touches the public index (a public listing
  created, edited, leaving or entering the public states, deleted) adds a row to `index_changes`, the change log
  every process applies to its own index copy (market/search/indexing.py) and the suggestion refresh follows
  (market/matching/handlers.py). Private before and after (a draft edited, submitted for review): nothing.
- Dashboard summary: rows of `contract_month_stats` are kept by database triggers on contracts
  (market/models/stats.py); they are rolled up along the region and field trees, so a flush that moves either
  tree marks the summary stale and it is recomputed just before that transaction commits.
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .models.base import utcnow

_PENDING = "outbox.pending_index"
_DIRTY = "outbox.index_dirty"
_TOUCHED = "outbox.index_touched"
_STALE = "outbox.summary_stale"

_installed = False


# -- listings -> index_changes ------------------------------------------------------------------------------------

def _old_status(obj) -> str | None:
    hist = inspect(obj).attrs.status.history
    if hist.deleted:
        return hist.deleted[0]
    if hist.unchanged:
        return hist.unchanged[0]
    # set on an expired instance: the old value was never loaded, so assume it may have been public
    return "published"


def record_listing_changes(session: Session, flush_context, instances) -> None:
    """before_flush: bump versions and note the listings whose public document changes."""
    from .models.listing import PUBLIC_STATUSES, ListingMixin

    touched: list[tuple[object, str]] = []
    for obj in session.new:
        if isinstance(obj, ListingMixin) and obj.status in PUBLIC_STATUSES:
            touched.append((obj, "upsert"))
    for obj in session.dirty:
        if isinstance(obj, ListingMixin) and session.is_modified(obj, include_collections=False):
            obj.version = (obj.version or 1) + 1
            if obj.status in PUBLIC_STATUSES or _old_status(obj) in PUBLIC_STATUSES:
                touched.append((obj, "upsert"))
    for obj in session.deleted:
        if isinstance(obj, ListingMixin) and (obj.status in PUBLIC_STATUSES or _old_status(obj) in PUBLIC_STATUSES):
            touched.append((obj, "delete"))
    if touched:
        session.info.setdefault(_PENDING, []).extend(touched)


def write_index_changes(session: Session, flush_context) -> None:
    """after_flush: the noted changes become `index_changes` rows (ids are known now)."""
    from .models.listing import IndexChange

    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    rows = [{"kind": obj.KIND, "obj_id": obj.id, "op": op, "created_at": utcnow()} for obj, op in pending]
    session.connection().execute(IndexChange.__table__.insert(), rows)
    session.info[_DIRTY] = True
    session.info.setdefault(_TOUCHED, set()).update((obj.KIND, obj.id, obj.status) for obj, _ in pending)


def mark_index_dirty(session: Session) -> None:
    """For code that writes `index_changes` rows itself (bulk imports, reindex tools)."""
    session.info[_DIRTY] = True


def take_index_marks(session: Session) -> tuple[bool, set]:
    """After the commit: was the log written, and which (kind, id, status) were touched."""
    return bool(session.info.pop(_DIRTY, False)), session.info.pop(_TOUCHED, set())


# -- the dashboard summary ----------------------------------------------------------------------------------------

def _changed(obj, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def watch_trees(session: Session, flush_context) -> None:
    """after_flush: a region or field moved in its tree."""
    from .models import Field, Region

    for obj in session.dirty:
        if isinstance(obj, Region) and _changed(obj, "parent_id", "path"):
            session.info.setdefault(_STALE, set()).add("regions")
        elif isinstance(obj, Field) and _changed(obj, "parent_id"):
            session.info.setdefault(_STALE, set()).add("fields")


def watch_bulk_updates(state) -> None:
    """do_orm_execute: an UPDATE or DELETE statement on regions or fields."""
    if state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        if name in ("regions", "fields"):
            state.session.info.setdefault(_STALE, set()).add(name)


def refresh_stale_summary(session: Session) -> None:
    """before_commit: recompute the summary rows that depend on a tree this transaction moved."""
    stale = session.info.pop(_STALE, None)
    if not stale:
        return
    from .models.stats import rebuild_contract_stats

    connection = session.connection()
    if "regions" in stale:
        rebuild_contract_stats(connection)
    elif "fields" in stale:
        rebuild_contract_stats(connection, dims=("field",))


def forget_marks(session: Session) -> None:
    """The outermost transaction rolled back (pipeline.after_rollback)."""
    for key in (_PENDING, _DIRTY, _TOUCHED, _STALE):
        session.info.pop(key, None)


def install_outbox() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", record_listing_changes)
    event.listen(Session, "after_flush", write_index_changes)
    event.listen(Session, "after_flush", watch_trees)
    event.listen(Session, "do_orm_execute", watch_bulk_updates)
    event.listen(Session, "before_commit", refresh_stale_summary)
    _installed = True
