"""The queue that carries job ids to consumers: Huey (a maintained task queue with SQLite and Redis storage).

Why Huey: it runs embedded on one SQLite file with no service to install (our default), moves to Redis with a
setting when several nodes share the work, ships its consumer (threads, periodic tasks, graceful shutdown) and has
an in-process mode for tests. RQ and Dramatiq need Redis (or RabbitMQ) even for a single machine.

Huey removes a message when a consumer takes it, so a consumer killed mid-job would lose it: the ledger
(market/jobs, table `jobs`) is what makes a job durable, and the sweep sends again whatever Huey lost.

On Redis a message is sent through a client with short timeouts behind the Redis breaker (market/redisconn.py): when
Redis is down or frozen, `send` gives up within REDIS_TIMEOUT_SECONDS (or at once while the breaker is open), the
breaker logs one WARNING per episode, and the job row stays queued for the sweep. The consumer's blocking reads keep
a longer read timeout of their own (BRPOP waits up to a second by design).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.storage import RedisStorage
from redis import ConnectionPool, Redis

from .. import redisconn

log = logging.getLogger(__name__)

#: how long a consumer's blocking read (BRPOP) waits for a message; its socket waits this much longer
READ_TIMEOUT = 1


class _RedisStorage(RedisStorage):
    """Huey's Redis storage, sending messages through `send_client` (short timeouts, no retry: a web request must
    not hang on a frozen Redis) while the consumer reads through the storage's own pool."""

    def __init__(self, *args, send_client: Redis, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.send_client = send_client

    def enqueue(self, data, priority=None):
        if priority:
            raise NotImplementedError("Task priorities are not supported by this storage.")
        self.send_client.lpush(self.queue_key, data)


@dataclass
class JobQueue:
    huey: object
    backend: str
    _run: object
    redis_url: str | None = None
    retry_seconds: float = 5.0

    def send(self, job_id: int) -> bool:
        """Put the job's message on the queue. On Redis, False when Redis is down (or its breaker open): the job row
        stays queued and the sweep sends it again; the breaker has logged the episode."""
        if not self.redis_url:
            self._run(job_id)
            return True
        breaker = redisconn.breaker(self.redis_url)
        if not breaker.allows():
            return False
        try:
            self._run(job_id)
        except redisconn.RedisError as exc:
            breaker.failed(exc, self.retry_seconds)
            return False
        breaker.succeeded()
        return True

    def pending(self) -> int:
        if self.redis_url:  # through the short-timeout client, behind the breaker: the jobs page never hangs
            breaker = redisconn.breaker(self.redis_url)
            if not breaker.allows():
                return -1
            storage = self.huey.storage
            try:
                count = int(storage.send_client.llen(storage.queue_key))
            except redisconn.RedisError as exc:
                breaker.failed(exc, self.retry_seconds)
                return -1
            breaker.succeeded()
            return count
        try:
            return int(self.huey.pending_count())
        except Exception:  # the store is unreachable: say so in `jobs status`, never fail the caller
            return -1


def backend_name(app: Flask) -> str:
    configured = (app.config.get("JOBS_BACKEND") or "").strip().lower()
    if configured:
        return configured
    return "redis" if app.config.get("REDIS_URL") else "sqlite"


def init_queue(app: Flask, *, run: Callable[[int], object], sweep: Callable[[], object]) -> None:
    """The app's queue: a message carries a job id to `run` (market.jobs.job_run); `sweep` (market.jobs.jobs_sweep)
    runs every minute and when a consumer starts."""
    backend = backend_name(app)
    name = app.config.get("JOBS_QUEUE_NAME") or "market"
    if backend == "immediate":
        huey = MemoryHuey(name, immediate=True, results=False)
    elif backend == "redis":
        url = app.config["REDIS_URL"]
        timeout, _ = redisconn.settings(app.config)
        pool = ConnectionPool.from_url(url, socket_connect_timeout=timeout, socket_timeout=READ_TIMEOUT + 5,
                                       retry=redisconn.no_retry())
        huey = RedisHuey(f"{app.config.get('REDIS_PREFIX', 'market:')}{name}", connection_pool=pool, results=False,
                         read_timeout=READ_TIMEOUT, storage_class=_RedisStorage,
                         send_client=redisconn.client(url, timeout))
    elif backend == "sqlite":
        path = app.config.get("JOBS_SQLITE_PATH") or os.path.join(app.config["INSTANCE_DIR"], "jobs.sqlite3")
        huey = SqliteHuey(name, filename=path, results=False)
    else:
        raise ValueError(f"JOBS_BACKEND must be sqlite, redis or immediate, not {backend!r}")

    @huey.task(name="market.run_job")
    def run_job(job_id: int) -> None:
        with app.app_context():
            run(int(job_id))

    @huey.periodic_task(crontab(minute="*"), name="market.sweep_jobs")
    def sweep_every_minute() -> None:
        with app.app_context():
            sweep()

    @huey.on_startup()
    def _sweep_at_start() -> None:
        with app.app_context():
            try:
                sweep()
            except Exception:
                log.exception("sweep at consumer start failed")

    app.extensions["market.jobs"] = JobQueue(
        huey=huey, backend=backend, _run=run_job, redis_url=app.config["REDIS_URL"] if backend == "redis" else None,
        retry_seconds=redisconn.settings(app.config)[1])


def job_queue(app: Flask | None = None) -> JobQueue:
    return (app or current_app).extensions["market.jobs"]
