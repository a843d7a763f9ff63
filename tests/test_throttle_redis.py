"""The sign-in throttle is shared by every worker and node: through Redis when REDIS_URL is set, else the database.

Failed sign-ins are made in a separate process (tests/throttle_worker.py, its own app instance) and in
this process through a second app instance; the limit counts both.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from market import create_app
from market.extensions import db
from market.models import LoginFailure
from tests import factories
from tests.conftest import _test_config, post

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


def _second_app(database_url: str, folder: Path, store):
    redis_url, prefix = store
    return create_app({**_test_config(database_url, folder), "REDIS_URL": redis_url, "REDIS_PREFIX": prefix})


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
    limit = app.config["LOGIN_MAX_FAILURES_ACCOUNT"]
    assert limit == 5
    username, other_user = world.users.enterprise.username, world.users.institution.username
    db.session.commit()  # this process holds no transaction while the others sign in

    statuses = _other_process(database_url, tmp_path / "proc", store,
                              [(username, "wrong-password", f"10.1.0.{i}") for i in range(3)])
    assert statuses == [400, 400, 400]

    second = _second_app(database_url, tmp_path / "second", store)
    assert _attempt(second, username, "wrong-password", "10.2.0.1") == 400
    assert _attempt(second, username, "wrong-password", "10.2.0.2") == 400  # the fifth failure
    client = second.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.2.0.3"
    resp = post(client, "/login", {"username": username, "password": factories.PASSWORD})
    assert resp.status_code == 429
    assert BLOCKED in resp.get_data(as_text=True)
    # another account from the same addresses is not affected
    assert _attempt(second, other_user, factories.PASSWORD, "10.2.0.3") == 302

    if store[0]:
        assert _failures_in_db() == 0  # kept in Redis, not in the database
        assert any(key.endswith(f"login:acct:{username}".encode()) for key in _redis_keys(store))
    else:
        assert _failures_in_db() == 2 * limit  # one row per account key and one per address key, both processes


def test_address_failures_in_two_processes_add_up(app, world, database_url, tmp_path, store):
    limit = app.config["LOGIN_MAX_FAILURES_ADDRESS"]
    assert limit == 20
    ip = "10.3.0.9"
    username = world.users.enterprise.username
    db.session.commit()

    statuses = _other_process(database_url, tmp_path / "proc", store,
                              [(f"nobody{i}", "wrong-password", ip) for i in range(12)])
    assert statuses == [400] * 12

    second = _second_app(database_url, tmp_path / "second", store)
    assert [_attempt(second, f"stranger{i}", "wrong-password", ip) for i in range(limit - 12)] == [400] * (limit - 12)
    # every account is refused from that address, with the right password too; other addresses are not
    assert _attempt(second, username, factories.PASSWORD, ip) == 429
    assert _attempt(second, username, factories.PASSWORD, "10.3.0.10") == 302

    if store[0]:
        assert _failures_in_db() == 0
        assert any(key.endswith(f"login:ip:{ip}".encode()) for key in _redis_keys(store))
    else:
        assert _failures_in_db() == 2 * limit  # one row per account key and one per address key


def test_redis_prefix_keeps_two_markets_apart(app, world, database_url, tmp_path, redis_store):
    """Two markets sharing one Redis with different REDIS_PREFIX do not throttle each other."""
    store = redis_store
    username = world.users.enterprise.username
    db.session.commit()
    first = _second_app(database_url, tmp_path / "first", store)
    for i in range(5):
        assert _attempt(first, username, "wrong-password", f"10.4.0.{i}") == 400
    assert _attempt(first, username, factories.PASSWORD, "10.4.0.9") == 429
    other_store = (store[0], store[1] + "other:")  # still under this test's prefix, so cleaned up after
    other = _second_app(database_url, tmp_path / "other", other_store)
    assert _attempt(other, username, factories.PASSWORD, "10.4.0.9") == 302
