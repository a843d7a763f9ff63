"""Rebuilding the search index on every node.

Each node keeps its own index copy (SEARCH_INDEX_DIR), so a rebuild for all of them is a request recorded in the
shared database, which each node applies to its own copy:

    `flask search reindex --all-nodes`, or the button on the 后台任务 page
        └─► a row in search_rebuilds: generation N, who asked, when
    each node's job consumer, on its sweep (every minute, and when it starts)
        └─► N newer than the request its copy records (applied.json "rebuild")?  rebuild the copy in a background
            thread: IndexReplica.reindex builds a new generation and swaps it in, searches carry on meanwhile;
            the new generation records N

A consumer stopped mid-rebuild leaves the old generation serving and the request unapplied: the next sweep starts
again (and the next reindex removes the unfinished folder). `flask search reindex` without --all-nodes rebuilds this
node's copy at once, as before; a rebuild started after a request satisfies it too.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from ..jobs import on_sweep
from ..models import IndexChange, SearchRebuild, User
from ..models.base import utcnow
from .indexing import IndexFailure, replica

log = logging.getLogger(__name__)

#: a second request within this time of the last one is the same click (or a double submission): not recorded
SAME_REQUEST_WITHIN = timedelta(seconds=60)

_running: dict[str, threading.Thread] = {}  # index folder -> this process's rebuild thread
_running_lock = threading.Lock()


def rebuild_request(*, user: User | None = None, source: str = "admin",
                    session: Session | None = None) -> tuple[SearchRebuild, bool]:
    """Record that every node should rebuild its copy (the caller commits). Returns (request, created): a request
    made within SAME_REQUEST_WITHIN of the previous one returns that one instead."""
    session = session or db.session
    last = latest_request(session)
    if last is not None and last.requested_at > utcnow() - SAME_REQUEST_WITHIN:
        return last, False
    row = SearchRebuild(requested_by_id=user.id if user is not None else None, requested_at=utcnow(), source=source)
    session.add(row)
    session.flush()
    return row, True


def latest_request(session: Session | None = None) -> SearchRebuild | None:
    session = session or db.session
    return session.scalar(select(SearchRebuild).order_by(SearchRebuild.id.desc()).limit(1))


@dataclass
class NodeStatus:
    """What the 后台任务 page and `flask search check` show about this node's copy."""
    request: SearchRebuild | None  # the newest all-nodes request
    rebuilt: int  # the newest request this node's copy satisfies
    applied_seq: int  # how far this copy has applied the change log
    log_seq: int  # the newest change in the log
    failure: IndexFailure | None  # this process's current episode of failed catch-ups, if any
    running: bool  # a rebuild runs in this process

    @property
    def done(self) -> bool:
        return self.request is None or self.rebuilt >= self.request.id


def node_status(session: Session | None = None) -> NodeStatus:
    session = session or db.session
    index = replica()
    state = index.applied()
    with _running_lock:
        thread = _running.get(index.root)
    return NodeStatus(request=latest_request(session), rebuilt=int(state.get("rebuild") or 0),
                      applied_seq=int(state.get("seq") or 0),
                      log_seq=session.scalar(select(func.max(IndexChange.seq))) or 0,
                      failure=index.failure, running=thread is not None and thread.is_alive())


def rebuild_sweep() -> threading.Thread | None:
    """The sweep hook: start rebuilding this node's copy in the background when a newer request is recorded.
    Returns the thread it started (tests wait for it), or None."""
    app = current_app._get_current_object()
    token = write_intent.set(False)
    try:
        with Session(db.engine) as session:
            wanted = session.scalar(select(func.max(SearchRebuild.id))) or 0
    finally:
        write_intent.reset(token)
    index = replica(app)
    if not wanted or int(index.applied().get("rebuild") or 0) >= wanted:
        return None
    with _running_lock:
        running = _running.get(index.root)
        if running is not None and running.is_alive():
            return None
        thread = threading.Thread(target=_rebuild, args=(app, wanted), name="search-rebuild", daemon=True)
        _running[index.root] = thread
    thread.start()
    return thread


def _rebuild(app: Flask, wanted: int) -> None:
    with app.app_context():
        token = write_intent.set(False)  # a long read: never the SQLite write lock
        try:
            with Session(db.engine) as session:
                log.info("search index: rebuilding this node's copy for request #%d", wanted)
                total = replica(app).reindex(session, unless_request=wanted)
                if total is not None:
                    log.info("search index: request #%d applied on this node (%d public listings)", wanted, total)
        except Exception:
            log.exception("search index: rebuild for request #%d failed on this node; the next sweep tries again",
                          wanted)
        finally:
            write_intent.reset(token)


def init_app(app: Flask) -> None:
    on_sweep(rebuild_sweep)
