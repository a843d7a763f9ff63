"""The sign-in throttle is shared by every worker and node: through Redis when REDIS_URL is set, else the database
(which keeps every failure in both cases; tests/test_faults_redis.py kills and freezes Redis).

Failed sign-ins are made in a separate process (tests/throttle_worker.py, its own app instance) and in
this process through a second app instance; the throttle counts both, and concurrent requests in threads
cannot pass one slot together.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from market import create_app
from market.extensions import db
from market.models import LoginFailure
from tests import factories
from tests.helpers import app_config, csrf_token, post

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("MARKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BLOCKED = "登录失败次数过多"


@pytest.fixture(params=["redis", "database"])
def store(request):
    """(REDIS_URL or None, key prefix)."""
    if request.param == "database":
        return None, "market:"
    return request.getfixturevalue("redis_store")


@pytest.fixture
def redis_store():
    """(REDIS_URL, a key prefix unique to this test); the test's own Redis keys are removed after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("MARKET_REQUIRE_REDIS"):
            raise
        pytest.skip(f"Redis not available at {REDIS_URL}: {exc}")
    prefix = f"market-test:{uuid.uuid4().hex}:"
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def _other_process(database_url: str, folder: Path, store, attempts: list[tuple[str, str, str]]) -> list[int]:
    redis_url, prefix = store
    cfg = {"db": database_url, "folder": str(folder), "redis_url": redis_url, "redis_prefix": prefix,
           "attempts": attempts}
    result = subprocess.run([sys.executable, "-m", "tests.throttle_worker", json.dumps(cfg)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _second_app(database_url: str, folder: Path, store, **config):
    redis_url, prefix = store
    return create_app({**app_config(database_url, folder), "REDIS_URL": redis_url, "REDIS_PREFIX": prefix,
                       **config})


def _attempt(app, username: str, password: str, ip: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return post(client, "/login", {"username": username, "password": password}).status_code


def _failures_in_db() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(LoginFailure))


def _redis_keys(store) -> list[bytes]:
    import redis

    redis_url, prefix = store
    client = redis.Redis.from_url(redis_url)
    try:
        return sorted(client.scan_iter(match=prefix + "*"))
    finally:
        client.close()


def test_account_failures_in_two_processes_add_up(app, world, database_url, tmp_path, store):
    free = app.config["LOGIN_FREE_FAILURES"]
    assert free == 5
    username, other_user = world.users.enterprise.username, world.users.institution.username
    db.session.commit()  # this process holds no transaction while the others sign in

    statuses = _other_process(database_url, tmp_path / "proc", store,
                              [(username, "wrong-password", f"10.1.0.{i}") for i in range(3)])
    assert statuses == [400, 400, 400]

    second = _second_app(database_url, tmp_path / "second", store)
    assert _attempt(second, username, "wrong-password", "10.2.0.1") == 400
    assert _attempt(second, username, "wrong-password", "10.2.0.2") == 400  # the fifth failure on the account
    # from any address that failed on it, the next attempt waits (the right password too) ...
    client = second.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.1.0.0"  # failed in the other process
    resp = post(client, "/login", {"username": username, "password": factories.PASSWORD})
    # the fifth failure's wait is 2 s from that failure; the seconds left are rounded up, so 1 when the machine took
    # more than a second between the two requests (it did, under CI's load)
    assert resp.status_code == 429 and resp.headers["Retry-After"] in ("1", "2")
    assert BLOCKED in resp.get_data(as_text=True)
    # ... while the owner at an address that has not been failing signs in at once
    assert _attempt(second, username, factories.PASSWORD, "10.2.0.3") == 302
    # and another account from the failing addresses is not affected
    assert _attempt(second, other_user, factories.PASSWORD, "10.2.0.2") == 302

    # each address's first failure on the account: under acct, pair, src and ip (sign-ins took theirs back); with
    # Redis too, where the database keeps every failure (Redis is the fast path, rebuilt from it after a restart)
    assert _failures_in_db() == 4 * free
    if store[0]:
        assert any(key.endswith(f"throttle:acct:{username}".encode()) for key in _redis_keys(store))


def test_spraying_from_one_address_in_two_processes_adds_up(app, world, database_url, tmp_path, store):
    free = app.config["LOGIN_FREE_ACCOUNTS"]
    assert free == 20
    ip = "10.3.0.9"
    username, colleague = world.users.enterprise.username, world.users.institution.username
    db.session.commit()
    second = _second_app(database_url, tmp_path / "second", store)
    assert _attempt(second, colleague, factories.PASSWORD, ip) == 302  # signed in from that address before

    statuses = _other_process(database_url, tmp_path / "proc", store,
                              [(f"nobody{i}", "wrong-password", ip) for i in range(12)])
    assert statuses == [400] * 12

    assert [_attempt(second, f"stranger{i}", "wrong-password", ip) for i in range(free - 12)] == [400] * (free - 12)
    # a further account from that address waits, with the right password too; from elsewhere it does not
    assert _attempt(second, username, factories.PASSWORD, ip) == 429
    assert _attempt(second, username, factories.PASSWORD, "10.3.0.10") == 302
    # a colleague whose account signed in from that address before does not wait there
    assert _attempt(second, colleague, factories.PASSWORD, ip) == 302

    assert _failures_in_db() == 4 * free
    if store[0]:
        assert any(key.endswith(f"throttle:ip:{ip}".encode()) for key in _redis_keys(store))


def test_growing_delays_never_lock_the_owner_out(app, world, database_url, tmp_path, store):
    """Issue 12 item 6 on each store: an address failing on `admin` waits longer and longer (never sleeping: the
    clock is moved by what each 429 asks), while the owner elsewhere and a colleague at that address sign in."""
    db.session.commit()
    second = _second_app(database_url, tmp_path / "second", store)
    failures, waits = 0, []
    while failures < 20:
        client = second.test_client()
        client.environ_base["REMOTE_ADDR"] = "203.0.113.66"
        resp = post(client, "/login", {"username": "admin", "password": f"guess-{failures}"})
        if resp.status_code == 429:
            waits.append(int(resp.headers["Retry-After"]))
            second.config["THROTTLE_CLOCK_OFFSET"] += waits[-1]
        else:
            assert resp.status_code == 400
            failures += 1
    expected = [min(2 * 2 ** k, 900) for k in range(15)]
    assert all(e - 1 <= w <= e for w, e in zip(waits, expected)) and len(waits) == 15, waits
    assert _attempt(second, "admin", factories.PASSWORD, "198.51.100.7") == 302
    assert _attempt(second, "ent_a", factories.PASSWORD, "203.0.113.66") == 302
    assert _attempt(second, "admin", factories.PASSWORD, "203.0.113.66") == 429


def test_concurrent_attempts_cannot_share_one_slot(app, world, database_url, tmp_path, store):
    """Once the delays run, one slot lets one guess through, however many requests arrive at that moment."""
    username, ip = world.users.enterprise.username, "10.5.0.5"
    db.session.commit()
    second = _second_app(database_url, tmp_path / "second", store)
    for _ in range(app.config["LOGIN_FREE_FAILURES"]):
        assert _attempt(second, username, "wrong-password", ip) == 400
    second.config["THROTTLE_CLOCK_OFFSET"] += 2  # the first delay has passed: one attempt may go ahead
    clients = []
    for _ in range(8):
        client = second.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        clients.append((client, csrf_token(client)))
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def attempt(client, token) -> None:
        barrier.wait()
        data = {"username": username, "password": "wrong-password", "csrf_token": token}
        statuses.append(client.post("/login", data=data).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [400] + [429] * 7


def test_redis_prefix_keeps_two_markets_apart(app, world, database_url, tmp_path, redis_store):
    """Two markets sharing one Redis with different REDIS_PREFIX do not throttle each other."""
    store = redis_store
    username = world.users.enterprise.username
    db.session.commit()
    # a first wait of ten minutes: building the second app took more than the default 2 s under CI's load, and the
    # first market's wait had run out by its last attempt (302, not 429)
    first = _second_app(database_url, tmp_path / "first", store, LOGIN_FIRST_DELAY_SECONDS=600)
    for _ in range(5):
        assert _attempt(first, username, "wrong-password", "10.4.0.9") == 400
    assert _attempt(first, username, factories.PASSWORD, "10.4.0.9") == 429
    other_store = (store[0], store[1] + "other:")  # still under this test's prefix, so cleaned up after
    # the other market has a database of its own, which holds none of these failures (Redis is rebuilt from a
    # market's database): here both share the test's database, so its record of them is removed
    db.session.execute(delete(LoginFailure))
    db.session.commit()
    other = _second_app(database_url, tmp_path / "other", other_store)
    assert _attempt(other, username, factories.PASSWORD, "10.4.0.9") == 302
    assert _attempt(first, username, factories.PASSWORD, "10.4.0.9") == 429  # the first market's keys are intact
