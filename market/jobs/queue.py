"""The queue that carries job ids to consumers: Huey (a maintained task queue with SQLite and Redis storage).

Why Huey: it runs embedded on one SQLite file with no service to install (our default), moves to Redis with a
setting when several nodes share the work, ships its consumer (threads, periodic tasks, graceful shutdown) and has
an in-process mode for tests. RQ and Dramatiq need Redis (or RabbitMQ) even for a single machine.

Huey removes a message when a consumer takes it, so a consumer killed mid-job would lose it: the ledger
(market/jobs, table `jobs`) is what makes a job durable, and the sweep sends again whatever Huey lost.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)


@dataclass
class JobQueue:
    huey: object
    backend: str
    _run: object

    def send(self, job_id: int) -> None:
        self._run(job_id)

    def pending(self) -> int:
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
        huey = RedisHuey(f"{app.config.get('REDIS_PREFIX', 'market:')}{name}", url=app.config["REDIS_URL"],
                         results=False)
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

    app.extensions["market.jobs"] = JobQueue(huey=huey, backend=backend, _run=run_job)


def job_queue(app: Flask | None = None) -> JobQueue:
    return (app or current_app).extensions["market.jobs"]
