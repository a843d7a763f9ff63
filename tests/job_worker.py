"""A real job consumer for tests/test_jobs.py (run as `python -m tests.job_worker '<json>'`).

It builds the app on the test's database with the embedded queue (JOBS_BACKEND=sqlite, the queue file given),
registers the test job kinds below, and runs Huey's consumer as `flask jobs worker` does, until it is killed.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from market.jobs import job_kind


@job_kind("test.mark", label="测试：写标记", lease_seconds=30, max_attempts=3)
def mark(session, payload: dict) -> str:
    """Writes `<folder>/started-<n>` on its n-th start; the first start hangs when asked (the test kills it
    then); finishes by writing `<folder>/done-<pid>` (one file per run that finished)."""
    folder = Path(payload["folder"])
    starts = len(list(folder.glob("started-*"))) + 1
    (folder / f"started-{starts}").write_text(str(os.getpid()))
    if payload.get("hang_first") and starts == 1:
        time.sleep(120)
    time.sleep(float(payload.get("sleep", 0)))
    if payload.get("fail"):
        raise RuntimeError("测试任务按要求失败")
    (folder / f"done-{os.getpid()}-{starts}").write_text("ok")
    return f"第{starts}次运行完成"


def config(cfg: dict) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": cfg["db"],
        "SEARCH_INDEX_DIR": cfg["index"],
        "SECRET_KEY": "job-worker",
        "JOBS_BACKEND": "sqlite",
        "JOBS_SQLITE_PATH": cfg["queue"],
        "JOBS_MAX_LEASE_SECONDS": cfg.get("lease", 900),
        "PAGE_CACHE_SECONDS": 0,
    }


def main() -> int:
    cfg = json.loads(sys.argv[1])
    from market import create_app
    from market.jobs.cli import create_consumer
    from market.jobs.queue import job_queue

    app = create_app(config(cfg))
    with app.app_context():
        consumer = create_consumer(job_queue(app), workers=1)  # as `flask jobs worker` builds it
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
