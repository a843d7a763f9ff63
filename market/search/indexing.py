"""Keeping this process's index copy in step with the database.

Listing changes are queued in `index_changes` in the same transaction as the change (see
market/models/listing.py). Every process applies that log, in sequence order, to the index
folder it serves from, before it answers a search and after its own commits. The log is the only
way in: several gunicorn workers sharing one folder, and several servers each with their own
folder on one PostgreSQL, all converge on the database.

Layout of SEARCH_INDEX_DIR:
    current -> gen-3      symlink, swapped atomically by a reindex
    gen-3/                the engine's files, plus applied.json {"seq": N, "gaps": {seq: first_seen}, "rebuild": R}
                          (R: the newest all-nodes rebuild request this generation satisfies, market/search/rebuild.py)
    .apply.lock           one applier at a time per folder (flock)

Crash safety: applied.json is written only after the engine committed; re-applying a change is
harmless (upsert by doc_id from the row's current state, delete of a missing id is a no-op), so
a crash at any point loses nothing and duplicates nothing.

Sequence gaps: on PostgreSQL a transaction may take seq 10 and commit after seq 11 is visible.
A seq missing below the highest seen is remembered as a gap and looked for again on every catch-up
until it appears or GAP_TIMEOUT passes (a rolled-back transaction leaves a permanent hole).

A failing folder (a full disk): the database commits regardless and the log keeps every change. The replica
remembers the failure as an episode: logged once at ERROR when it starts and once at INFO when a catch-up succeeds
again, retried at most every RETRY_SECONDS meanwhile, and shown to searchers (`failure`) so that a search page says
its results may be incomplete and is not kept by the page cache.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..extensions import db
from ..models import LISTING_MODELS, IndexChange, ListingMixin, Region, SearchRebuild
from ..models.listing import PUBLIC_STATUSES, price_band
from .backend import SearchBackend, fault_point
from .engines import get_backend
from .filelock import file_lock

log = logging.getLogger(__name__)

GAP_TIMEOUT = 120.0  # seconds a missing seq is waited for
BATCH = 500
REINDEX_LOCK_TIMEOUT = 6 * 3600.0  # a reindex waits this long for another one on the same folder
RETRY_SECONDS = 5.0  # while the folder fails, a search tries to catch up at most this often (per process)


def document_for(listing: ListingMixin, region_paths: dict[int, str] | None = None) -> dict:
    """The one document builder for both kinds: only public data goes into the index."""
    region_ids: list[str] = []
    if listing.region_id:
        path = (region_paths or {}).get(listing.region_id) or (listing.region.path if listing.region else "")
        region_ids = [part for part in path.strip("/").split("/") if part]
    fld = listing.field
    return {
        "doc_id": listing.doc_id,
        "kind": listing.KIND,
        "id": listing.id,
        "version": listing.version or 1,
        "title": listing.title,
        "body": listing.body,
        "keywords": listing.keyword_list,
        "org_name": listing.org.name if listing.org else "",
        "field": fld.code if fld else "",
        "field_root": fld.root_code if fld else "",
        "region_ids": region_ids,
        "maturity": getattr(listing, "maturity", None),
        "modes": listing.mode_list,
        "price_band": price_band(listing.amount),
        "published_at": listing.published_at,
    }


@dataclass
class ApplyReport:
    upserted: int = 0
    deleted: int = 0
    seq: int = 0
    gaps: list[int] = field(default_factory=list)


@dataclass
class IndexFailure:
    """An episode of failed catch-ups of one folder in this process: since when, the last error, how many tries."""
    since: float
    error: str
    attempts: int = 1


class IndexLagging(RuntimeError):
    """The folder failed recently and the next try is not due yet (RETRY_SECONDS)."""


class IndexReplica:
    """One index folder as seen by this process."""

    def __init__(self, root: str, engine: str):
        self.root = os.path.abspath(root)
        self.engine = engine
        self._backend: SearchBackend | None = None
        self._backend_gen: str | None = None
        self._mutex = threading.Lock()
        self._health = threading.Lock()
        self.failure: IndexFailure | None = None
        self._next_try = 0.0
        os.makedirs(self.root, exist_ok=True)

    # -- folders ----------------------------------------------------------------------------------
    @property
    def current_link(self) -> str:
        return os.path.join(self.root, "current")

    def _current_gen(self) -> str:
        if not os.path.islink(self.current_link):
            with file_lock(os.path.join(self.root, ".apply.lock")):
                if not os.path.islink(self.current_link):
                    gen = self._new_gen_folder()
                    _write_state(gen, {"seq": 0, "gaps": {}})
                    _swap_link(self.current_link, os.path.basename(gen))
        return os.path.join(self.root, os.readlink(self.current_link))

    def _new_gen_folder(self) -> str:
        existing = [int(n[4:]) for n in os.listdir(self.root) if n.startswith("gen-") and n[4:].isdigit()]
        number = max(existing, default=0) + 1
        while True:  # a first start in another process may take the same number at the same moment
            gen = os.path.join(self.root, f"gen-{number}")
            try:
                os.makedirs(gen)
                return gen
            except FileExistsError:
                number += 1

    def backend(self) -> SearchBackend:
        """The engine on the current generation, reopened when a reindex swapped it."""
        gen = self._current_gen()
        with self._mutex:
            if self._backend is None or self._backend_gen != gen:
                if self._backend is not None:
                    self._backend.close()
                self._backend = get_backend(self.engine, gen)
                self._backend_gen = gen
            return self._backend

    def close(self) -> None:
        with self._mutex:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    # -- applying the log -------------------------------------------------------------------------
    def catch_up(self, session: Session | None = None, *, force: bool = False) -> ApplyReport:
        """Apply every logged change newer than this folder's state; safe to call from any process.

        A failure starts (or continues) an episode (`failure`) and is raised; while one lasts, a call within
        RETRY_SECONDS of the last try raises IndexLagging without trying, unless `force` (the CLI)."""
        session = session or db.session
        if self.failure is not None and not force and time.monotonic() < self._next_try:
            raise IndexLagging(self.failure.error)
        try:
            self._current_gen()
            with file_lock(os.path.join(self.root, ".apply.lock")):
                gen = self._current_gen()
                state = _read_state(gen)
                report = self._apply(session, gen, state)
        except Exception as exc:
            self._failed(exc)
            raise
        if self.failure is not None:
            self._recovered(report)
        return report

    def _failed(self, exc: Exception) -> None:
        with self._health:
            self._next_try = time.monotonic() + RETRY_SECONDS
            error = f"{type(exc).__name__}: {exc}"
            if self.failure is None:
                self.failure = IndexFailure(since=time.time(), error=error)
                log.error("search index %s: applying the change log failed; searches may miss changes until it "
                          "recovers (retried every %.0f s, logged again when it does)", self.root, RETRY_SECONDS,
                          exc_info=exc)
            else:
                self.failure.attempts += 1
                self.failure.error = error
                log.debug("search index %s still failing: %s", self.root, error)

    def _recovered(self, report: ApplyReport) -> None:
        with self._health:
            failure, self.failure = self.failure, None
        if failure is not None:
            log.info("search index %s: caught up again (applied up to seq %d) after %d failed attempt(s) over %.0f s",
                     self.root, report.seq, failure.attempts, time.time() - failure.since)

    def applied(self) -> dict:
        """The serving generation's state: {"seq": applied change-log position, "gaps": ..., "rebuild": R}."""
        return _read_state(self._current_gen())

    def _apply(self, session: Session, gen: str, state: dict, backend: SearchBackend | None = None) -> ApplyReport:
        seq = int(state.get("seq", 0))
        gaps: dict[str, float] = dict(state.get("gaps", {}))
        gap_ids = [int(g) for g in gaps]
        cond = IndexChange.seq > seq
        if gap_ids:
            cond = or_(cond, IndexChange.seq.in_(gap_ids))
        rows = session.execute(
            select(IndexChange.seq, IndexChange.kind, IndexChange.obj_id).where(cond).order_by(IndexChange.seq)
        ).all()
        report = ApplyReport(seq=seq)
        if not rows:
            self._expire_gaps(gen, state, seq, gaps)
            report.gaps = sorted(int(g) for g in gaps)
            return report
        seen = {r.seq for r in rows}
        for g in list(gaps):
            if int(g) in seen:
                del gaps[g]
        top = max(seq, max(seen))
        now = time.time()
        for missing in range(seq + 1, top):
            if missing not in seen:
                gaps.setdefault(str(missing), now)
        touched: dict[str, set[int]] = {}
        for r in rows:
            touched.setdefault(r.kind, set()).add(r.obj_id)
        backend = backend or self.backend()
        crash_point("apply:before_index")
        for kind, ids in touched.items():
            up, gone = _documents(session, kind, sorted(ids))
            if up:
                backend.index_documents(up)
            if gone:
                backend.delete_documents(gone)
            report.upserted += len(up)
            report.deleted += len(gone)
        crash_point("apply:after_index")
        _write_state(gen, {**state, "seq": top, "gaps": gaps})
        self._expire_gaps(gen, state, top, gaps)
        report.seq = top
        report.gaps = sorted(int(g) for g in gaps)
        return report

    def _expire_gaps(self, gen: str, state: dict, seq: int, gaps: dict[str, float]) -> None:
        now = time.time()
        stale = [g for g, first in gaps.items() if now - first > GAP_TIMEOUT]
        if stale:
            for g in stale:
                del gaps[g]
            _write_state(gen, {**state, "seq": seq, "gaps": gaps})

    # -- rebuild and check -----------------------------------------------------------------------
    def reindex(self, session: Session | None = None, *, unless_request: int | None = None) -> int | None:
        """Build a complete new generation from the database, then swap it in atomically.

        One reindex at a time per folder (a second one waits for the first). Once the new generation serves,
        every other generation is removed: the one it replaced, and any left by a reindex that was killed before
        its swap or after it. The new generation records the newest all-nodes rebuild request recorded when it
        started (market/search/rebuild.py): a rebuild begun after a request satisfies it. With `unless_request`,
        nothing is done (None) when the serving generation already satisfies that request (another process of
        this node rebuilt it while this one waited for the lock).
        """
        session = session or db.session
        with file_lock(os.path.join(self.root, ".reindex.lock"), timeout=REINDEX_LOCK_TIMEOUT):
            if unless_request is not None and int(self.applied().get("rebuild") or 0) >= unless_request:
                return None
            gen, total = self._build(session)
            self._publish(session, gen)
        return total

    def _build(self, session: Session) -> tuple[str, int]:
        """A complete new generation from what `session` sees, not serving yet; removed if building fails."""
        start_seq = session.scalar(select(func.max(IndexChange.seq))) or 0
        request = session.scalar(select(func.max(SearchRebuild.id))) or 0
        gen = self._new_gen_folder()
        try:
            backend = get_backend(self.engine, gen)
            total = 0
            for kind in LISTING_MODELS:
                for docs in _all_public_documents(session, kind):
                    backend.index_documents(docs)
                    total += len(docs)
            backend.close()
            _write_state(gen, {"seq": start_seq, "gaps": {}, "rebuild": request})
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)
            raise
        return gen, total

    def _publish(self, session: Session, gen: str) -> None:
        """Swap a built generation in; changes committed while it was built are applied on top (idempotent)."""
        crash_point("reindex:before_swap")
        with file_lock(os.path.join(self.root, ".apply.lock")):
            _swap_link(self.current_link, os.path.basename(gen))
        crash_point("reindex:after_swap")
        self.catch_up(session, force=True)
        self._remove_other_generations(gen)

    @contextmanager
    def staged(self, session: Session) -> Iterator[StagedGeneration]:
        """A complete new generation built from `session`, its flushed and uncommitted rows included, for a
        transaction that needs the index before it commits (seed-demo matches the demo's listings). Nothing
        serves from it until `publish()`, called once that transaction has committed; leaving the block without
        publishing removes it, so a transaction rolled back leaves the serving index exactly as it was."""
        with file_lock(os.path.join(self.root, ".reindex.lock"), timeout=REINDEX_LOCK_TIMEOUT):
            gen, _ = self._build(session)
            stage = StagedGeneration(self, session, gen)
            try:
                yield stage
            finally:
                stage.backend.close()
                if not stage.published:
                    shutil.rmtree(gen, ignore_errors=True)

    def _remove_other_generations(self, keep: str) -> None:
        """Called by the reindex holding the folder's reindex lock, so no other generation is being built."""
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if name.startswith("gen-") and os.path.isdir(path) and os.path.realpath(path) != os.path.realpath(keep):
                shutil.rmtree(path, ignore_errors=True)

    def check(self, session: Session | None = None, *, catch_up: bool = True) -> dict[str, list[str]]:
        """Drift between the database's public listings and the index: missing, phantom, stale."""
        session = session or db.session
        if catch_up:
            self.catch_up(session, force=True)
        expected: dict[str, int] = {}
        for kind, model in LISTING_MODELS.items():
            public = select(model.id, model.version).where(model.status.in_(PUBLIC_STATUSES))
            for lid, version in session.execute(public):
                expected[f"{kind}:{lid}"] = version or 1
        actual = self.backend().versions()
        return {
            "missing": sorted(set(expected) - set(actual)),
            "phantom": sorted(set(actual) - set(expected)),
            "stale": sorted(d for d in set(expected) & set(actual) if expected[d] != actual[d]),
        }


class StagedGeneration:
    """See IndexReplica.staged."""

    def __init__(self, replica: IndexReplica, session: Session, gen: str):
        self.replica = replica
        self.session = session
        self.gen = gen
        self.backend: SearchBackend = get_backend(replica.engine, gen)
        self.published = False

    def catch_up(self) -> ApplyReport:
        """Apply what the session logged since the build (flushed, not yet committed, changes included)."""
        return self.replica._apply(self.session, self.gen, _read_state(self.gen), backend=self.backend)

    def publish(self) -> None:
        """Serve this generation: call only after the transaction it was built from has committed. What others
        committed meanwhile is applied in a read-only session of its own (no SQLite write lock left held)."""
        from ..database import write_intent

        self.backend.close()
        with file_lock(os.path.join(self.replica.root, ".apply.lock")):
            _swap_link(self.replica.current_link, os.path.basename(self.gen))
        self.published = True
        token = write_intent.set(False)
        try:
            with Session(db.engine) as own:
                self.replica.catch_up(own, force=True)
        finally:
            write_intent.reset(token)
        self.replica._remove_other_generations(self.gen)


def _documents(session: Session, kind: str, ids: list[int]) -> tuple[list[dict], list[str]]:
    model = LISTING_MODELS[kind]
    listings = session.scalars(
        select(model)
        .where(model.id.in_(ids))
        .options(selectinload(model.org), selectinload(model.field), selectinload(model.region))
        .execution_options(populate_existing=True)
    ).all()
    found = {x.id: x for x in listings}
    up = [document_for(x) for x in listings if x.status in PUBLIC_STATUSES]
    gone = [f"{kind}:{i}" for i in ids if i not in found or found[i].status not in PUBLIC_STATUSES]
    return up, gone


def _all_public_documents(session: Session, kind: str):
    model = LISTING_MODELS[kind]
    paths = dict(session.execute(select(Region.id, Region.path)).all())
    last = 0
    while True:
        batch = session.scalars(
            select(model)
            .where(model.status.in_(PUBLIC_STATUSES), model.id > last)
            .order_by(model.id)
            .limit(BATCH)
            .options(selectinload(model.org), selectinload(model.field))
        ).all()
        if not batch:
            return
        last = batch[-1].id
        yield [document_for(x, paths) for x in batch]


def crash_point(name: str) -> None:
    """Crash-safety tests: MARKET_CRASH_AT=<name> ends the process here, as a kill or power cut would."""
    if os.environ.get("MARKET_CRASH_AT") == name:
        os._exit(75)


def _read_state(gen: str) -> dict:
    try:
        with open(os.path.join(gen, "applied.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"seq": 0, "gaps": {}}


def _write_state(gen: str, state: dict) -> None:
    fault_point("index:write")
    tmp = os.path.join(gen, f"applied.json.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(gen, "applied.json"))


def _swap_link(link: str, target: str) -> None:
    tmp = f"{link}.{os.getpid()}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


# -- per-process registry and the after-commit hook --------------------------------------------------

_replicas: dict[tuple[str, str], IndexReplica] = {}
_replicas_lock = threading.Lock()


def replica(app: Flask | None = None) -> IndexReplica:
    app = app or current_app
    key = (app.config["SEARCH_INDEX_DIR"], app.config["SEARCH_ENGINE"])
    with _replicas_lock:
        if key not in _replicas:
            _replicas[key] = IndexReplica(*key)
        return _replicas[key]


def catch_up_after_commit(app: Flask) -> None:
    """Step 3 of the after-commit pipeline (market/pipeline.py): a commit queued index changes, so this process
    applies the log at once, in a session of its own (the committed one cannot emit SQL there). A failure is
    logged by the replica (once per episode), never raised: the next search, or the next start, catches up from
    the log."""
    from ..database import write_intent

    token = write_intent.set(False)
    try:
        with Session(db.engine) as own:
            replica(app).catch_up(own)
    except Exception:  # the replica logged it, once per episode (a full disk fails every commit)
        pass
    finally:
        write_intent.reset(token)
