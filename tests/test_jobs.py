"""Background jobs (market/jobs): a ledger row per job, carried by Huey; real consumers in their own processes.

What must hold: a job is written in the transaction that asks for it and sent after the commit; a consumer runs
it; a consumer killed mid-job loses nothing (the lease runs out, the sweep sends it again, the job is idempotent);
a failure is kept with its error and an administrator can send it again; publishing does not wait for matching.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from market import create_app
from market.extensions import db
from market.jobs import job_enqueue, job_run, jobs_sweep
from market.models import Job, Suggestion
from market.models.base import utcnow
from tests import job_worker  # noqa: F401  (registers the test job kinds in this process too)
from tests.helpers import FreshContextClient, Poster, app_config, client_for, empty_tables, post

ROOT = Path(__file__).resolve().parent.parent


def _read(fn):
    """A look at the database in a read transaction that ends at once: the consumer (another process) must be
    able to write meanwhile (on SQLite a test session's default BEGIN IMMEDIATE would hold the write lock)."""
    from market.database import write_intent

    db.session.rollback()
    token = write_intent.set(False)
    try:
        value = fn()
        if isinstance(value, Job):
            db.session.expunge(value)
        return value
    finally:
        db.session.rollback()
        write_intent.reset(token)


def _wait(predicate, *, seconds: float = 60.0, what: str = ""):
    """Poll a condition on the database; the consumer is another process."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = _read(predicate)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _job(job_id: int) -> Job:
    return _read(lambda: db.session.get(Job, job_id))


@pytest.fixture
def queued_app(database_url, _schema, tmp_path):
    """The app as `make run` has it: the embedded (SQLite) queue; jobs wait for a consumer."""
    cfg = app_config(database_url, tmp_path)
    cfg.update(JOBS_BACKEND="sqlite", JOBS_SQLITE_PATH=str(tmp_path / "jobs.sqlite3"))
    app = create_app(cfg)
    app.test_client_class = FreshContextClient
    with app.app_context():
        empty_tables()
        yield app
        db.session.remove()


class Consumers:
    def __init__(self, app, tmp_path):
        self.app, self.tmp_path, self.procs = app, tmp_path, []

    def start(self, *, lease: int = 900) -> subprocess.Popen:
        cfg = {"db": self.app.config["SQLALCHEMY_DATABASE_URI"], "index": str(self.tmp_path / "worker-index"),
               "queue": self.app.config["JOBS_SQLITE_PATH"], "lease": lease}
        log = open(self.tmp_path / f"consumer-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "tests.job_worker", json.dumps(cfg)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def consumers(queued_app, tmp_path):
    c = Consumers(queued_app, tmp_path)
    yield c
    c.stop()


def _enqueue_mark(folder: Path, **payload) -> int:
    folder.mkdir(exist_ok=True)
    job = job_enqueue(kind="test.mark", payload={"folder": str(folder), **payload})
    db.session.commit()  # the pipeline sends it to the queue
    return job.id


def test_a_job_written_with_the_change_runs_on_a_consumer(queued_app, consumers, tmp_path):
    job_id = _enqueue_mark(tmp_path / "marks")
    assert _job(job_id).status == "queued"  # nobody consumes yet: the row waits, the message is in the queue file
    consumers.start()
    _wait(lambda: _job(job_id).status == "done", what="the job to finish")
    job = _job(job_id)
    assert (job.attempts, job.result) == (1, "第1次运行完成")
    assert len(list((tmp_path / "marks").glob("done-*"))) == 1


def test_a_rolled_back_transaction_queues_nothing(queued_app, tmp_path):
    from market.jobs.queue import job_queue

    job_enqueue(kind="test.mark", payload={"folder": str(tmp_path)})
    db.session.rollback()
    assert db.session.scalar(select(Job.id)) is None
    assert job_queue(queued_app).pending() == 0


def test_a_consumer_killed_mid_job_loses_nothing(queued_app, consumers, tmp_path):
    marks = tmp_path / "marks"
    job_id = _enqueue_mark(marks, hang_first=True)
    first = consumers.start(lease=3)
    _wait(lambda: (marks / "started-1").exists(), what="the first run to start")
    assert _job(job_id).status == "running"
    first.kill()  # SIGKILL: no shutdown, no chance to put anything back
    first.wait()
    lease_until = _job(job_id).lease_until
    assert _job(job_id).status == "running" and not list(marks.glob("done-*"))
    # a new consumer's start-up sweep sends again every job whose lease ran out
    time.sleep(max(0.0, (lease_until - utcnow()).total_seconds()) + 0.2)
    consumers.start(lease=3)
    _wait(lambda: _job(job_id).status == "done", what="the job to finish on the second consumer")
    job = _job(job_id)
    assert job.attempts == 2 and job.result == "第2次运行完成"
    assert len(list(marks.glob("done-*"))) == 1  # it finished once


def test_sigterm_lets_the_job_in_hand_finish(queued_app, consumers, tmp_path):
    """systemd stops the consumer with SIGTERM (market-jobs.service): the running job finishes, then it exits."""
    marks = tmp_path / "marks"
    job_id = _enqueue_mark(marks, sleep=2)
    proc = consumers.start()
    _wait(lambda: (marks / "started-1").exists(), what="the job to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    job = _job(job_id)
    assert (job.status, job.attempts) == ("done", 1)
    assert len(list(marks.glob("done-*"))) == 1


def test_the_sweep_sends_a_job_the_queue_lost(app, tmp_path):
    """A row committed but never sent (the process died right after the commit, or the queue was unreachable)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    job = Job(kind="test.mark", payload=json.dumps({"folder": str(marks)}), created_at=utcnow() - timedelta(minutes=5))
    db.session.add(job)
    db.session.commit()  # added directly: no message was sent
    job_id = job.id
    assert _job(job_id).status == "queued"
    assert jobs_sweep() == 1  # immediate queue in tests: it runs as it is sent
    assert _job(job_id).status == "done"
    assert jobs_sweep() == 0


def test_a_job_run_twice_does_its_work_once(app, tmp_path):
    job_id = _enqueue_mark(tmp_path / "marks")  # immediate: ran after the commit
    assert _job(job_id).status == "done"
    assert job_run(job_id) == "skipped"  # a duplicate message finds it done
    assert len(list((tmp_path / "marks").glob("done-*"))) == 1


def test_a_failed_job_keeps_its_error_and_an_admin_sends_it_again(app, world, tmp_path):
    marks = tmp_path / "marks"
    job_id = _enqueue_mark(marks, fail=True)
    job = _job(job_id)
    assert (job.status, job.attempts) == ("queued", 1) and "测试任务按要求失败" in job.error  # a retry is due later
    for _ in range(2):  # the retries (made due at once)
        db.session.execute(update(Job).where(Job.id == job_id).values(lease_until=None))
        db.session.commit()
        job_run(job_id)
    job = _job(job_id)
    assert (job.status, job.attempts) == ("failed", 3)

    admin = Poster(client_for(app, world.users.admin))
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert f"#{job_id}" in page and "测试任务按要求失败" in page and "重试" in page
    assert Poster(client_for(app, world.users.official)).post(f"/admin/jobs/{job_id}/retry").status_code == 403
    assert _job(job_id).status == "failed"
    db.session.execute(update(Job).where(Job.id == job_id).values(
        payload=json.dumps({"folder": str(marks)})))  # the cause was fixed
    db.session.commit()
    assert admin.post(f"/admin/jobs/{job_id}/retry").status_code == 302
    job = _job(job_id)
    assert (job.status, job.attempts) == ("done", 1)
    resp = admin.post(f"/admin/jobs/{job_id}/retry")  # only a failed job can be sent again
    assert resp.status_code == 400 and "只有失败的任务可以重试" in resp.get_data(as_text=True)


def test_jobs_status_shows_queued_running_and_failed(app, runner, tmp_path):
    db.session.add_all([
        Job(kind="test.mark", payload="{}", status="failed", attempts=3, error="Traceback\nRuntimeError: 磁盘已满"),
        Job(kind="test.mark", payload="{}", status="running", attempts=1, lease_until=utcnow() + timedelta(minutes=5)),
        Job(kind="matching.catch_up", payload="{}", status="queued"),
    ])
    db.session.commit()
    out = runner.invoke(args=["jobs", "status"])
    assert out.exit_code == 0, out.output
    assert "queued=1 running=1 done=0 failed=1" in out.output
    assert "RuntimeError: 磁盘已满" in out.output and "测试：写标记" in out.output


def test_publishing_does_not_wait_for_matching(queued_app, consumers, tmp_path):
    """With the embedded queue and no consumer, the publish answers and commits; the suggestions come from the
    consumer, and the job that made them is in the ledger."""
    from tests.factories import achievement, demand, fields, org, region_tree, user

    regions, flds = region_tree(), fields()
    owner = user(role="enterprise", org=org(region=regions["town_a"], name="怀远甲企业有限公司"))
    prof = user(role="institution", org=org(region=regions["city"], org_type="university", name="蚌埠测试大学"))
    official = user(role="official", region=regions["county_a"])
    achievement(owner=prof, field=flds["materials"], status="published", keywords="导电膜,磁控溅射,镀膜玻璃",
                summary="本成果采用磁控溅射工艺在玻璃基板上制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。")
    need = demand(owner=owner, field=flds["materials"], status="pending", keywords="导电膜,镀膜,磁控溅射",
                  description="我公司导电膜玻璃方阻偏高、透光率不足，希望引进磁控溅射镀膜技术，降低导电膜方阻。")
    need.set_modes(["transfer"])
    db.session.commit()
    need_id = need.id
    resp = post(client_for(queued_app, official), f"/review/demands/{need_id}", {"decision": "publish"})
    assert resp.status_code == 302
    assert db.session.scalar(select(Suggestion.id).where(Suggestion.demand_id == need_id)) is None
    waiting = db.session.scalars(select(Job).where(Job.kind == "matching.catch_up", Job.status == "queued")).all()
    assert waiting, "the publish queued the suggestion refresh"
    consumers.start()
    _wait(lambda: db.session.scalar(select(Suggestion.id).where(Suggestion.demand_id == need_id)),
          what="the consumer to store the suggestion")
    _wait(lambda: not db.session.scalar(select(Job.id).where(Job.status != "done")), what="every job done")
