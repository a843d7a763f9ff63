"""Sign-ins while Redis is killed, restarted empty and frozen (issue 14): what users get and how long it takes.

A redis-server of our own (a free port, a temporary folder, nothing kept on disk) serves the sign-in throttle of a
gunicorn node with 4 sync workers (as `make serve`) on a temporary SQLite database. Client threads sign in with the
right password (each a fresh browser: the page, then the post, which is what is timed) and one attacker thread
guesses another account's password, throughout. Phases: Redis up, killed (SIGKILL), restarted empty, frozen (SIGSTOP), thawed. It prints, per
phase, the correct sign-ins by status with their time (median, p95, slowest), the attacker's answers by status,
and the log's Redis warnings (one per worker per episode is the design: each worker's breaker finds out itself).

    .venv/bin/python bench/faults_redis.py [--clients 2] [--phase-seconds 8] [--workers 4]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import Http, Node  # noqa: E402
from tests.test_faults_redis import PrivateRedis  # noqa: E402

PHASES = ("up", "killed", "restarted", "frozen", "thawed")
OWNER, ATTACKER_TARGET = "bench_owner", "bench_target"


def seed(database_url: str, folder: Path) -> str:
    """The schema and two accounts; returns their password."""
    from market import create_app
    from market.extensions import db
    from tests import factories

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SEARCH_INDEX_DIR": str(folder / "index"),
                      "UPLOAD_DIR": str(folder / "uploads"), "SECRET_KEY": "bench-faults-redis",
                      "JOBS_BACKEND": "immediate"})
    with app.app_context():
        db.create_all()
        regions = factories.region_tree()
        company = factories.org(region=regions["town_a"], name="蚌埠故障演练企业有限公司")
        factories.user(role="enterprise", org=company, username=OWNER)
        factories.user(role="enterprise", org=company, username=ATTACKER_TARGET)
        db.session.commit()
        db.engine.dispose()
    return factories.PASSWORD


class Run:
    def __init__(self, url: str, password: str) -> None:
        self.url, self.password = url, password
        self.phase = "up"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.correct: dict[str, Counter] = defaultdict(Counter)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.guesses: dict[str, Counter] = defaultdict(Counter)

    def _attempt(self, username: str, password: str) -> tuple[str, float]:
        """A fresh browser opens the sign-in page, then posts it: the post's status and time."""
        started = time.monotonic()
        try:
            browser = Http(self.url)
            browser.fetch_token("/login")
            started = time.monotonic()
            status = str(browser.post("/login", {"username": username, "password": password}, timeout=30).status)
        except OSError as exc:
            status = f"error: {type(exc).__name__}"
        return status, time.monotonic() - started

    def owner(self) -> None:
        while not self.stop.is_set():
            phase = self.phase
            status, seconds = self._attempt(OWNER, self.password)
            with self.lock:
                self.correct[phase][status] += 1
                self.times[phase].append(seconds)

    def attacker(self) -> None:
        n = 0
        while not self.stop.is_set():
            phase = self.phase
            status, _ = self._attempt(ATTACKER_TARGET, f"guess-{n}")
            n += 1
            with self.lock:
                self.guesses[phase][status] += 1
            self.stop.wait(0.25)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2, help="threads signing in with the right password")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--phase-seconds", type=float, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="faults-redis-") as tmp:
        folder = Path(tmp)
        (folder / "redis").mkdir()
        redis_server = PrivateRedis(folder / "redis")
        redis_server.start()
        database_url = f"sqlite:///{folder / 'market.db'}"
        password = seed(database_url, folder / "seed")
        node = Node("site", folder / "node", workers=args.workers, env={
            "DATABASE_URL": database_url, "REDIS_URL": redis_server.url, "SECRET_KEY": "bench-faults-redis",
            "JOBS_BACKEND": "sqlite"})
        try:
            node.start()
            run = Run(node.url, password)
            threads = [threading.Thread(target=run.owner, daemon=True) for _ in range(args.clients)]
            threads.append(threading.Thread(target=run.attacker, daemon=True))
            for thread in threads:
                thread.start()
            actions = {"killed": redis_server.kill, "restarted": redis_server.start, "frozen": redis_server.freeze,
                       "thawed": redis_server.thaw}
            for phase in PHASES:
                if phase in actions:
                    actions[phase]()
                run.phase = phase
                time.sleep(args.phase_seconds)  # the phase's length: the load runs meanwhile
            run.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            node.stop()
            redis_server.stop()
        log = node.log()

    print(f"gunicorn {args.workers} workers on SQLite, {args.clients} clients signing in, 1 attacker guessing; "
          f"REDIS_TIMEOUT_SECONDS 0.3, REDIS_RETRY_SECONDS 5 (defaults); {args.phase_seconds:g} s per phase")
    print(f"{'phase':<10} {'correct sign-ins by status':<32} {'median':>8} {'p95':>8} {'slowest':>8}  attacker")
    for phase in PHASES:
        times = run.times[phase]
        print(f"{phase:<10} {dict(run.correct[phase])!s:<32} {_pct(times, 0.5):>7.3f}s {_pct(times, 0.95):>7.3f}s "
              f"{max(times, default=float('nan')):>7.3f}s  {dict(run.guesses[phase])}")
    down = log.count("did not answer")
    back = log.count("answers again")
    tracebacks = log.count("Traceback")
    print(f"log: {down} 'Redis did not answer' and {back} 'answers again' warnings (per worker per episode), "
          f"{tracebacks} tracebacks")
    failed = any(s.startswith("5") or s.startswith("error") for c in run.correct.values() for s in c)
    return 1 if failed or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
