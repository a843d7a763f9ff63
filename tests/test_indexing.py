"""The search index stays equal to the database: through every change, crashes at each point, two
processes writing at once, and a reindex while changes arrive. Both engines, SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from market.config import PROJECT_ROOT
from market.database import write_intent
from market.extensions import db
from market.models import Achievement, Demand, IndexChange
from market.search.indexing import IndexReplica, replica
from tests import factories
from tests.helpers import FUZZ_SEED, form_token, fuzz_seed_hint, post

NO_DRIFT = {"missing": [], "phantom": [], "stale": []}
SURVIVED: list[str] = []  # crash points after which the index equalled the database (printed at the end)


class _Report:
    def pytest_terminal_summary(self, terminalreporter):
        if SURVIVED:
            terminalreporter.write_line(f"{len(SURVIVED)} crash points, 0 lost or phantom records "
                                        f"({', '.join(sorted(set(SURVIVED)))})")


@pytest.fixture(scope="session")
def crash_report(request):
    if not request.config.pluginmanager.has_plugin("indexing-crash-report"):
        request.config.pluginmanager.register(_Report(), "indexing-crash-report")
    return SURVIVED


@pytest.fixture
def survived(crash_report, engine):
    """survived(point): the index equals the database after a crash at `point` (call after asserting it)."""
    return lambda point: crash_report.append(f"{engine}:{point}")


@pytest.fixture(params=["whoosh", "tantivy"])
def engine(request, app):
    app.config["SEARCH_ENGINE"] = request.param
    return request.param


def public_doc_ids() -> set[str]:
    out = set()
    for kind, model in (("demand", Demand), ("achievement", Achievement)):
        out |= {f"{kind}:{i}" for i in db.session.scalars(select(model.id).where(model.status.in_(("published", "done"))))}
    return out


def assert_in_step(index=None) -> None:
    """No drift, and the index holds each public listing exactly once."""
    index = index or replica()
    assert index.check(db.session) == NO_DRIFT
    backend = index.backend()
    versions = backend.versions()
    assert set(versions) == public_doc_ids()
    assert backend.doc_count() == len(versions)  # no duplicate documents


def demand_form(world, **over) -> dict:
    data = {
        "title": "寻求石墨烯导电膜低温制备技术",
        "field_id": world.fields["materials"].id,
        "description": "现有导电膜方阻偏高，希望与高校合作开发石墨烯低温制备工艺。",
        "indicators": "方阻≤8Ω/□",
        "budget": "30",
        "modes": ["development"],
        "keywords": "石墨烯、导电膜",
        "contact_name": "李四",
        "contact_phone": "0552-1234567",
        "form_token": form_token(),
    }
    data.update(over)
    return data


def test_index_follows_every_change_made_on_the_site(engine, world, login_as):
    ent, official = login_as("enterprise"), login_as("official")
    assert_in_step()

    # create a draft, then submit: nothing public yet
    resp = post(ent, "/demands/new", demand_form(world))
    assert resp.status_code == 302
    demand = db.session.scalar(select(Demand))
    assert demand.status == "draft"
    assert_in_step()
    post(ent, f"/demands/{demand.id}/submit")
    assert_in_step()
    assert f"demand:{demand.id}" not in replica().backend().versions()

    # published by the county official: in the index with its version
    assert post(official, f"/review/demands/{demand.id}", {"decision": "publish"}).status_code == 302
    db.session.refresh(demand)
    assert demand.status == "published"
    assert_in_step()
    assert replica().backend().versions()[f"demand:{demand.id}"] == demand.version

    # edited after publication: the published version stays public and indexed until the change is approved
    # (issue 17 item 5); approved, the index holds the new version
    assert post(ent, f"/demands/{demand.id}/edit", demand_form(world, title="寻求石墨烯导电膜卷对卷制备技术")).status_code == 302
    db.session.refresh(demand)
    assert demand.status == "published"
    assert_in_step()
    assert replica().backend().search("卷对卷").hits == []
    from market.models import ListingRevision

    rev = db.session.scalar(select(ListingRevision).where(ListingRevision.kind == "demand",
                                                          ListingRevision.listing_id == demand.id,
                                                          ListingRevision.status == "pending"))
    assert post(official, f"/review/revisions/{rev.id}", {"decision": "publish"}).status_code == 302
    assert_in_step()
    hits = replica().backend().search("卷对卷").hits
    assert [h.doc_id for h in hits] == [f"demand:{demand.id}"]

    # withdrawn (unpublished) by its owner, republished, then closed
    post(ent, f"/demands/{demand.id}/withdraw")
    db.session.refresh(demand)
    assert demand.status == "draft"
    assert_in_step()
    post(ent, f"/demands/{demand.id}/submit")
    post(official, f"/review/demands/{demand.id}", {"decision": "publish"})
    assert_in_step()
    post(ent, f"/demands/{demand.id}/close")
    db.session.refresh(demand)
    assert demand.status == "closed"
    assert_in_step()
    assert replica().backend().doc_count() == 0

    # a result marked 已转化 stays public; a deleted listing leaves the index
    ach = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    gone = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                 title="待删除的成果：磁控溅射靶材")
    db.session.commit()
    assert_in_step()
    inst = login_as("institution")
    post(inst, f"/achievements/{ach.id}/done")
    assert db.session.get(Achievement, ach.id).status == "done"
    db.session.delete(db.session.get(Achievement, gone.id))
    db.session.commit()
    assert_in_step()
    assert set(replica().backend().versions()) == {f"achievement:{ach.id}"}


def _published(world, n: int, *, prefix: str = "石墨烯") -> list[int]:
    ids = []
    for i in range(n):
        d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                             title=f"{prefix}需求{i}：导电膜改性")
        ids.append(d.id)
    return ids


def test_a_crash_between_commit_and_indexing_loses_nothing(engine, app, world):
    """The commit happened, the process died before it applied the log: the next one catches up."""
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    ids = _published(world, 5)
    db.session.commit()
    assert replica().backend().doc_count() == 0  # nobody applied the log
    assert db.session.scalar(select(IndexChange.seq).order_by(IndexChange.seq.desc()).limit(1))

    fresh = IndexReplica(app.config["SEARCH_INDEX_DIR"], engine)  # the next process start
    report = fresh.catch_up(db.session)
    assert report.upserted == 5
    assert_in_step(fresh)
    assert set(fresh.backend().versions()) == {f"demand:{i}" for i in ids}
    fresh.close()


# -- other processes ---------------------------------------------------------------------------------

def _worker_cfg(app, world, **over) -> dict:
    cfg = {
        "db": app.config["SQLALCHEMY_DATABASE_URI"],
        "index": app.config["SEARCH_INDEX_DIR"],
        "engine": app.config["SEARCH_ENGINE"],
        "org_id": world.orgs.ent_a.id,
        "owner_id": world.users.enterprise.id,
        "field_id": world.fields["materials"].id,
        "region_id": world.orgs.ent_a.region_id,
    }
    cfg.update(over)
    return cfg


# How long a test waits for a worker's event or end before it fails: generous, for a loaded machine. Nothing is
# measured with it; a worker that is on time is never waited for longer than it takes.
WORKER_TIMEOUT = 180.0


class Worker:
    """tests/index_worker.py in a process of its own. Its stdout lines are read as they come, so the test can wait
    for an event (`event: ...`) instead of sleeping; closing its stdin tells a churning worker to stop."""

    def __init__(self, cfg: dict, tmp_path, **env):
        # the test's own transaction must not hold SQLite's write lock while the worker writes
        db.session.commit()
        environ = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), MARKET_INSTANCE_DIR=str(tmp_path / "worker-instance"))
        for name in ("MARKET_CRASH_AT", "MARKET_CRASH_IN_WRITER", "MARKET_CRASH_AFTER_DOCS", "MARKET_PAUSE_AFTER_DOCS"):
            environ.pop(name, None)
        environ.update(env)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.index_worker", json.dumps(cfg)],
                                     cwd=str(PROJECT_ROOT), env=environ, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out, self.lines), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.err, None), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, keep: list[str], lines: queue.Queue | None) -> None:
        for line in stream:
            keep.append(line)
            if lines is not None:
                lines.put(line.rstrip("\n"))
        if lines is not None:
            lines.put(None)  # the worker closed its stdout: it ended

    def wait_for(self, event: str, timeout: float = WORKER_TIMEOUT) -> None:
        """Until the worker prints `event: <event>`; fails if it ends first or says nothing of it within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the worker never reached {event!r} (waited {timeout:.0f} s): {''.join(self.err)[-2000:]}")
            if line is None:
                pytest.fail(f"the worker ended before {event!r}: {''.join(self.err)[-2000:]}")
            if line == f"event: {event}":
                return

    def events(self, prefix: str) -> int:
        """How many `event: <prefix>...` lines the worker has printed so far (read without waiting)."""
        n = 0
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return n
            n += line is not None and line.startswith(f"event: {prefix}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def finish(self, timeout: float = WORKER_TIMEOUT) -> tuple[int, str, str]:
        """Closes the worker's stdin (a churn stops), waits for its end: (exit code, stdout, stderr)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:  # it is gone already
            pass
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        return self.proc.returncode, "".join(self.out), "".join(self.err)


CRASH_POINTS = [
    ("apply:before_index", 75),  # after the DB commit, before anything reached the engine
    ("apply:after_index", 75),  # the engine committed, applied.json not written yet
    ("engine-writer", 76),  # inside the engine's writer (Whoosh or tantivy), documents added, commit not done
]


@pytest.mark.parametrize("point,code", CRASH_POINTS, ids=[p for p, _ in CRASH_POINTS])
def test_a_process_killed_while_indexing_loses_nothing(engine, app, world, tmp_path, point, code, survived):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    ids = _published(world, 6)
    env = {"MARKET_CRASH_IN_WRITER": "1"} if point == "engine-writer" else {"MARKET_CRASH_AT": point}
    rc, out, err = Worker(_worker_cfg(app, world, action="catchup"), tmp_path, **env).finish()
    assert rc == code, err[-2000:]

    fresh = IndexReplica(app.config["SEARCH_INDEX_DIR"], engine)
    if point == "engine-writer":  # the library never committed: nothing of the batch is visible
        assert fresh.backend().doc_count() == 0
    fresh.catch_up(db.session)
    assert_in_step(fresh)
    assert set(fresh.backend().versions()) == {f"demand:{i}" for i in ids}
    fresh.close()
    survived(point)


def test_a_worker_dying_right_after_its_commit_loses_nothing(engine, app, world, tmp_path, survived):
    """A real worker commits a publication and dies before its after-commit catch-up touched the index."""
    rc, _, err = Worker(_worker_cfg(app, world, action="publish", count=3), tmp_path,
                        MARKET_CRASH_AT="apply:before_index").finish()
    assert rc == 75, err[-2000:]
    assert db.session.scalar(select(db.func.count()).select_from(Demand)) == 1  # the first commit, then death
    assert_in_step(IndexReplica(app.config["SEARCH_INDEX_DIR"], engine))
    survived("worker-after-db-commit")


def test_sigkill_at_a_random_moment_of_a_catch_up_loses_nothing(engine, app, world, tmp_path, survived):
    """SIGKILL while the catch-up hands its documents to the engine's writer: right after the n-th of 120, n drawn
    from MARKET_FUZZ_SEED (a rerun with the seed kills at the same document). The worker says when it is there."""
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    _published(world, 120)
    n = random.Random(FUZZ_SEED).randint(1, 120)
    worker = Worker(_worker_cfg(app, world, action="catchup"), tmp_path, MARKET_PAUSE_AFTER_DOCS=str(n))
    worker.wait_for(f"paused after document {n}")
    worker.kill()
    rc, _, err = worker.finish()
    moment = f"killed after document {n} of 120; {fuzz_seed_hint()}"
    assert rc == -signal.SIGKILL, (moment, err[-2000:])
    fresh = IndexReplica(app.config["SEARCH_INDEX_DIR"], engine)
    assert fresh.backend().doc_count() == 0, moment  # the writer never committed: nothing of the batch is visible
    fresh.close()
    assert_in_step(IndexReplica(app.config["SEARCH_INDEX_DIR"], engine))  # the next process catches up
    survived("sigkill-during-catch-up")


def test_two_processes_publishing_at_once(engine, app, world, tmp_path):
    cfgs = [_worker_cfg(app, world, action="publish", count=12, prefix=p) for p in ("甲", "乙")]
    workers = [Worker(cfg, tmp_path) for cfg in cfgs]
    for worker in workers:
        rc, _, err = worker.finish()
        assert rc == 0, err[-3000:]
        assert "LockError" not in err and "Traceback" not in err, err[-3000:]
    assert db.session.scalar(select(db.func.count()).select_from(Demand)) == 24
    # both processes caught up after every commit: the folder is complete without our help
    assert len(IndexReplica(app.config["SEARCH_INDEX_DIR"], engine).backend().versions()) == 24
    assert_in_step()


def test_reindex_while_changes_arrive(engine, app, world, tmp_path):
    _published(world, 10)
    db.session.commit()
    worker = Worker(_worker_cfg(app, world, action="churn"), tmp_path)
    worker.wait_for("changed 1")  # the worker is writing: its first change is committed, more are coming
    before = 1 + worker.events("changed")
    token = write_intent.set(False)  # as `flask search reindex` does: a reader, never holding the write lock
    try:
        total = replica().reindex()
        db.session.commit()
        replica().reindex()
        db.session.commit()
    finally:
        write_intent.reset(token)
    assert total >= 10
    worker.wait_for(f"changed {before + 1}")  # it went on changing listings while, or after, we rebuilt
    rc, out, err = worker.finish()  # stops after the change in hand
    assert rc == 0, err[-3000:]
    assert int(out.splitlines()[-1]) > before
    assert_in_step()
    generations = [n for n in os.listdir(app.config["SEARCH_INDEX_DIR"]) if n.startswith("gen-")]
    assert len(generations) == 1  # the old ones were removed after the swap


def test_a_reindex_killed_before_its_swap_leaves_the_index_serving(engine, app, world, tmp_path, survived):
    _published(world, 4)
    db.session.commit()
    assert_in_step()
    rc, _, err = Worker(_worker_cfg(app, world, action="reindex"), tmp_path,
                        MARKET_CRASH_AT="reindex:before_swap").finish()
    assert rc == 75, err[-2000:]
    _published(world, 2, prefix="后来")
    db.session.commit()
    assert_in_step(IndexReplica(app.config["SEARCH_INDEX_DIR"], engine))
    survived("reindex-before-swap")


def test_a_reindex_killed_while_filling_the_new_generation_leaves_the_index_serving(engine, app, world, tmp_path,
                                                                                     runner, survived):
    """The reindex process dies inside the engine's writer of the new generation, half its documents added."""
    _published(world, 30)
    db.session.commit()
    assert_in_step()
    current = os.path.realpath(os.path.join(app.config["SEARCH_INDEX_DIR"], "current"))
    rc, _, err = Worker(_worker_cfg(app, world, action="reindex"), tmp_path, MARKET_CRASH_AFTER_DOCS="15").finish()
    assert rc == 76, err[-2000:]
    root = app.config["SEARCH_INDEX_DIR"]
    assert os.path.realpath(os.path.join(root, "current")) == current  # never swapped in
    assert len([n for n in os.listdir(root) if n.startswith("gen-")]) == 2  # the half-built generation is left

    # the next process: serves the old generation, catches up what was committed since
    _published(world, 2, prefix="后来")
    db.session.commit()
    restarted = IndexReplica(root, engine)
    restarted.catch_up(db.session)
    assert_in_step(restarted)
    app.config["SEARCH_ENGINE"] = engine
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "index matches the database" in result.output, result.output
    assert "missing from the index: 0" in result.output and "in the index but not public: 0" in result.output
    # and a reindex afterwards completes
    token = write_intent.set(False)
    try:
        assert restarted.reindex(db.session) == 32
    finally:
        write_intent.reset(token)
    assert_in_step(IndexReplica(root, engine))
    # which removed the half-built generation along with the one it replaced
    assert [n for n in os.listdir(root) if n.startswith("gen-")] == [os.readlink(os.path.join(root, "current"))]
    survived("reindex-while-adding-documents")


def test_a_reindex_killed_right_after_its_swap_loses_nothing(engine, app, world, tmp_path, runner, survived):
    """The new generation serves, the changes made during the build were not yet applied to it, and the old
    generation was not yet removed: the next process catches up, the next reindex clears the old folder."""
    _published(world, 6)
    db.session.commit()
    assert_in_step()
    root = app.config["SEARCH_INDEX_DIR"]
    before = os.path.realpath(os.path.join(root, "current"))
    rc, _, err = Worker(_worker_cfg(app, world, action="reindex"), tmp_path,
                        MARKET_CRASH_AT="reindex:after_swap").finish()
    assert rc == 75, err[-2000:]
    assert os.path.realpath(os.path.join(root, "current")) != before  # swapped in
    assert len([n for n in os.listdir(root) if n.startswith("gen-")]) == 2  # the old one is still there

    _published(world, 2, prefix="后来")
    db.session.commit()
    restarted = IndexReplica(root, engine)
    restarted.catch_up(db.session)
    assert_in_step(restarted)
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "index matches the database" in result.output, result.output
    token = write_intent.set(False)
    try:
        assert restarted.reindex(db.session) == 8
    finally:
        write_intent.reset(token)
    assert [n for n in os.listdir(root) if n.startswith("gen-")] == [os.readlink(os.path.join(root, "current"))]
    assert_in_step(IndexReplica(root, engine))
    survived("reindex-after-swap")


def test_a_released_savepoint_is_not_the_commit(engine, app, world):
    """SQLAlchemy sends after_commit for a savepoint too: the catch-up must wait for the real commit, or it reads
    the database before the change is committed, finds nothing, and the change reaches the index only later."""
    backend = replica().backend()
    before = set(backend.versions())
    [demand_id] = _published(world, 1)
    db.session.flush()
    with db.session.begin_nested():  # e.g. a form token or a contract number claimed in the same request
        pass
    assert set(replica().backend().versions()) == before
    db.session.commit()
    assert f"demand:{demand_id}" in replica().backend().versions()  # applied by the commit itself


def test_a_savepoint_rolled_back_keeps_what_was_flushed_before_it(engine, app, world):
    [demand_id] = _published(world, 1)
    db.session.flush()
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            raise RuntimeError("a duplicate registration number, say")
    db.session.commit()
    assert f"demand:{demand_id}" in replica().backend().versions()
    assert_in_step()
