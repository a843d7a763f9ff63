"""Redis is optional in fact (issue 14): a private redis-server, started here, killed, frozen and restarted.

With Redis killed (SIGKILL) or frozen (SIGSTOP) sign-in and registration fall back to the database throttle: the
owner signs in, wrong passwords are still throttled (the database keeps every failure, Redis is only the fast path),
nothing answers 500, a frozen Redis costs a sign-in at most REDIS_TIMEOUT_SECONDS once per back-off, and the log has
one WARNING per episode. After a restart without persistence (an empty Redis) the counts are still enforced: Redis is
rebuilt from the database. A request whose job message cannot be sent answers as usual and the sweep sends the job
once Redis is back.

Runs once, on SQLite: the subject is the Redis path and the fallback to the database throttle, whose PostgreSQL
form (advisory locks) tests/test_throttle_redis.py runs on both databases.
"""
from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from market import create_app, redisconn
from market.extensions import db
from market.jobs import job_queue, jobs_sweep
from market.models import Job, LoginFailure
from market.models.base import utcnow
from tests import factories
from tests.helpers import CSRF_RE, app_config, csrf_token, login, post
from tests.live import free_port

pytestmark = [
    pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                       reason="the Redis fault path does not depend on the database kind: run once, on SQLite"),
]

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = "登录失败次数过多"
WRONG = "用户名或密码不正确"
TIMEOUT = 0.3  # REDIS_TIMEOUT_SECONDS in these tests (the default)
RETRY = 0.5  # REDIS_RETRY_SECONDS: short, so that the tests wait little for the breaker's next try
ANSWER_WITHIN = 1.0  # a sign-in while Redis is frozen (the issue asks for about 1 s)
SLOW_MACHINE = 2.0  # a request that must not wait for a frozen Redis, with room for a loaded machine
DEADLINE = 15.0

WALL_SLACK = 3  # seconds of real time a slow machine may add between two attempts (see test_auth)


class PrivateRedis:
    """redis-server on a free port in a folder of the test's, keeping nothing on disk (like the machine's)."""

    def __init__(self, folder) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + DEADLINE
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=DEADLINE)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if os.environ.get("MARKET_REQUIRE_REDIS"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _app(database_url, folder, server: PrivateRedis, **over):
    return create_app({**app_config(database_url, folder), "REDIS_URL": server.url,
                       "REDIS_PREFIX": f"faults-{uuid.uuid4().hex}:", "REDIS_TIMEOUT_SECONDS": TIMEOUT,
                       "REDIS_RETRY_SECONDS": RETRY, **over})


class Tally:
    """Every answer of a phase by status, and the slowest."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.slowest = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.slowest = max(self.slowest, seconds)


def _sign_in(app, tally: Tally, username: str, password: str, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    started = time.monotonic()
    resp = post(client, "/login", {"username": username, "password": password})
    tally.add(resp.status_code, time.monotonic() - started)
    return resp


def _wait_for_next_try(app) -> None:
    """Until the breaker lets the next caller try Redis again (its back-off is RETRY seconds)."""
    breaker = redisconn.breaker(app.config["REDIS_URL"])
    deadline = time.monotonic() + DEADLINE
    while not breaker.allows():
        assert time.monotonic() < deadline, "the breaker never let Redis be tried again"
        time.sleep(0.02)


def _episodes(caplog) -> tuple[int, int]:
    """(WARNINGs that Redis did not answer, WARNINGs that it answers again) logged so far."""
    records = [r for r in caplog.records if r.name == "market.redisconn" and r.levelno == logging.WARNING]
    return (sum("did not answer" in r.getMessage() for r in records),
            sum("answers again" in r.getMessage() for r in records))


def _other_process(database_url: str, folder, redis_url: str, prefix: str, attempts) -> list[int]:
    """Sign-in attempts made by another process (tests/throttle_worker.py, an app of its own): its statuses."""
    cfg = {"db": database_url, "folder": str(folder), "redis_url": redis_url, "redis_prefix": prefix,
           "attempts": attempts}
    result = subprocess.run([sys.executable, "-m", "tests.throttle_worker", json.dumps(cfg)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _register(app, region_id: int, n: int, ip: str):
    """A valid registration form from `ip`, as a browser posts it (the page's CSRF and, where the form carries
    one, its one-time submission token)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    page = client.get("/register").get_data(as_text=True)
    data = {
        "csrf_token": CSRF_RE.search(page).group(1), "role": "enterprise", "username": f"fault_user{n}",
        "name": "王经理", "phone": "13900001111", "email": "", "password": "Strong-pass-2026",
        "password2": "Strong-pass-2026", "org_name": f"蚌埠故障测试{n}号科技有限公司", "org_type": "enterprise",
        "uscc": factories.uscc(515000 + n, area="340322"), "region_id": region_id,
        "contact_name": "", "contact_phone": "", "address": "", "broker_cert_no": "", "agree": "y",
    }
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="form_token"', page)
    if token:
        data["form_token"] = html.unescape(token.group(1) or token.group(2))
    return client.post("/register", data=data)


def test_sign_in_through_redis_killed_restarted_and_frozen(app, world, database_url, tmp_path, private_redis,
                                                           caplog):
    caplog.set_level(logging.WARNING, logger="market.redisconn")
    owner, owner_ip, attacker_ip = world.users.enterprise.username, "10.9.0.1", "10.9.9.9"
    town = world.regions["town_a"].id
    db.session.commit()  # this session holds no transaction (on SQLite, no write lock) while the site answers
    # a first delay of a minute: no wait asserted below can run out while a slow machine answers
    site = _app(database_url, tmp_path / "site", private_redis, LOGIN_FIRST_DELAY_SECONDS=60)
    free = site.config["LOGIN_FREE_FAILURES"]

    # Redis up: five failures, then the attacker waits; they are in Redis and in the database
    up = Tally()
    assert _sign_in(site, up, owner, factories.PASSWORD, owner_ip).status_code == 302
    for i in range(free):
        assert WRONG in _sign_in(site, up, owner, f"guess-{i}", attacker_ip).get_data(as_text=True)
    resp = _sign_in(site, up, owner, "guess-x", attacker_ip)
    assert resp.status_code == 429 and BLOCKED in resp.get_data(as_text=True)
    redis_keys = {k.decode() for k in private_redis.client().scan_iter(match=site.config["REDIS_PREFIX"] + "*")}
    assert f"{site.config['REDIS_PREFIX']}throttle:acct:{owner}" in redis_keys
    with site.app_context():
        assert db.session.scalar(select(func.count()).where(LoginFailure.key == f"acct:{owner}")) == free
    assert _episodes(caplog) == (0, 0)

    # killed: the owner signs in, the attacker is still throttled by the database's count, nobody gets a 500
    private_redis.kill()
    killed = Tally()
    for _ in range(3):
        assert _sign_in(site, killed, owner, factories.PASSWORD, owner_ip).status_code == 302
    # the failures made while Redis was up count: the attacker waits at once, then each slot it waited for doubles
    # the next wait (the clock is moved by what each 429 asks, never slept)
    waits = []
    for i in range(3):
        resp = _sign_in(site, killed, owner, f"guess-y{i}", attacker_ip)
        assert resp.status_code == 429 and BLOCKED in resp.get_data(as_text=True)
        waits.append(int(resp.headers["Retry-After"]))
        site.config["THROTTLE_CLOCK_OFFSET"] += waits[-1]
        assert _sign_in(site, killed, owner, f"guess-y{i}", attacker_ip).status_code == 400
    resp = _sign_in(site, killed, owner, "guess-z", attacker_ip)
    # the throttle's clock is real time plus the offset: each wait may come out up to WALL_SLACK seconds short on a
    # loaded machine (seen: 119 for 120), never longer
    assert resp.status_code == 429 and 480 - WALL_SLACK <= int(resp.headers["Retry-After"]) <= 480, resp.headers
    assert 50 - WALL_SLACK <= waits[0] <= 60, waits
    assert all(expected - WALL_SLACK <= got <= expected for got, expected in zip(waits[1:], (120, 240))), waits
    _wait_for_next_try(site)  # the breaker tries Redis again, still in vain
    assert _sign_in(site, killed, owner, factories.PASSWORD, owner_ip).status_code == 302
    # registration falls back to the database too
    assert _register(site, town, 1, "10.9.5.5").status_code == 302
    assert 500 not in killed.statuses
    assert _episodes(caplog) == (1, 0)  # one WARNING for the whole episode

    # restarted empty (no persistence): the counts still hold. First another process that never saw the outage
    # (a worker or node that had no sign-in meanwhile): Redis's marker is gone, so it rebuilds Redis from the database
    private_redis.start()
    assert _other_process(database_url, tmp_path / "proc", private_redis.url, site.config["REDIS_PREFIX"],
                          [(owner, "guess-w", attacker_ip)]) == [429]
    assert private_redis.client().zcard(f"{site.config['REDIS_PREFIX']}throttle:acct:{owner}") == free + 3
    _wait_for_next_try(site)
    restarted = Tally()
    resp = _sign_in(site, restarted, owner, "guess-v", attacker_ip)
    assert resp.status_code == 429 and BLOCKED in resp.get_data(as_text=True)
    assert _sign_in(site, restarted, owner, factories.PASSWORD, owner_ip).status_code == 302
    assert private_redis.client().zcard(f"{site.config['REDIS_PREFIX']}throttle:acct:{owner}") == free + 3
    assert _episodes(caplog) == (1, 1)
    assert 500 not in restarted.statuses

    # frozen: every sign-in answers within about a second, at most one per back-off waits for the timeout
    private_redis.freeze()
    try:
        frozen = Tally()
        for _ in range(3):
            assert _sign_in(site, frozen, owner, factories.PASSWORD, owner_ip).status_code == 302
        resp = _sign_in(site, frozen, owner, "guess-u", attacker_ip)
        assert resp.status_code == 429 and BLOCKED in resp.get_data(as_text=True)
        _wait_for_next_try(site)
        assert _sign_in(site, frozen, owner, factories.PASSWORD, owner_ip).status_code == 302
        assert _register(site, town, 2, "10.9.6.6").status_code == 302
        assert 500 not in frozen.statuses
        # about a second; on a loaded machine no less than the slowest sign-in with Redis up plus one timeout
        assert frozen.slowest < max(ANSWER_WITHIN, up.slowest + TIMEOUT), (frozen.slowest, up.slowest)
        assert _episodes(caplog) == (2, 1)
    finally:
        private_redis.thaw()
    _wait_for_next_try(site)
    assert _sign_in(site, frozen, owner, "guess-t", attacker_ip).status_code == 429
    assert _sign_in(site, frozen, owner, factories.PASSWORD, owner_ip).status_code == 302
    assert _episodes(caplog) == (2, 2)
    print(f"\nRedis faults, sign-ins by status: up {up.statuses}, killed {killed.statuses}, restarted "
          f"{restarted.statuses}, frozen {frozen.statuses}; slowest: up {up.slowest:.3f} s, killed "
          f"{killed.slowest:.3f} s, frozen {frozen.slowest:.3f} s")


def test_a_job_whose_message_cannot_be_sent_is_left_to_the_sweep(app, world, database_url, tmp_path,
                                                                 private_redis):
    """An administrator retries a failed job while Redis is killed, then frozen: the request answers (quickly), the
    job stays queued in the ledger, and once Redis is back the sweep sends its message."""
    admin_name = world.users.admin.username
    db.session.commit()
    site = _app(database_url, tmp_path / "site", private_redis, JOBS_BACKEND="redis")
    with site.app_context():
        failed = [Job(kind="matching.refresh", payload="{}", status="failed", attempts=3, max_attempts=3,
                      created_at=utcnow()) for _ in range(2)]
        db.session.add_all(failed)
        db.session.commit()
        ids = [job.id for job in failed]
    admin = site.test_client()
    login(admin, admin_name)

    private_redis.kill()
    resp = post(admin, f"/admin/jobs/{ids[0]}/retry")
    assert resp.status_code == 302
    private_redis.start()
    _wait_for_next_try(site)
    private_redis.freeze()
    try:
        # within the send timeout (the queue's blocking reads wait 6 s, and Huey's own client never gave up)
        token = csrf_token(admin)
        started = time.monotonic()
        resp = admin.post(f"/admin/jobs/{ids[1]}/retry", data={"csrf_token": token})
        assert resp.status_code == 302 and time.monotonic() - started < SLOW_MACHINE
        # the jobs page says the queue cannot be reached, at once (the breaker is open)
        started = time.monotonic()
        resp = admin.get("/admin/jobs/")
        assert resp.status_code == 200 and time.monotonic() - started < SLOW_MACHINE
        assert "队列存储暂时无法连接" in resp.get_data(as_text=True)
    finally:
        private_redis.thaw()

    _wait_for_next_try(site)
    with site.app_context():
        assert set(db.session.scalars(select(Job.status).where(Job.id.in_(ids)))) == {"queued"}
        assert job_queue().pending() == 0  # no message reached Redis
        # a minute later (LOST_AFTER) the sweep sends both again
        db.session.execute(update(Job).where(Job.id.in_(ids)).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
        assert jobs_sweep() == 2
        assert job_queue().pending() >= 2  # theirs (and whatever the sweep's hooks queued)
