"""What users get while the database is stopped and while it is frozen, and how long the site takes to recover.

A PostgreSQL server of our own (tests/private_pg.py: initdb + pg_ctl on a free port, never the shared one) serves a
gunicorn node with 4 sync workers (as `make serve`). Client threads browse and write throughout: an anonymous
visitor (home page, list, a detail page), a signed-in user (their own list) and a writer (the new-need form, then
its post). The script runs: baseline, the server stopped (`pg_ctl stop -m immediate`), back, the server frozen
(SIGSTOP of the postmaster and every backend), back. It prints, per phase, the requests answered by kind and
status with their latency, how long after the server's return each kind of request was answered 200 again, and
checks that every write acknowledged (302) is stored and that no post answered "未保存" was stored.

    .venv/bin/python bench/faults.py [--clients 8] [--fault-seconds 15] [--calm-seconds 5]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from market.errors import DB_UNAVAILABLE_MAYBE_SAVED, DB_UNAVAILABLE_NOT_SAVED, DB_UNAVAILABLE_SAVED  # noqa: E402
from tests.live import Http, Node  # noqa: E402
from tests.private_pg import PrivatePostgres  # noqa: E402
from tests.test_faults_database import PASSWORD, demand_form, hidden_fields, seed  # noqa: E402

KINDS = ("anonymous home", "anonymous list", "anonymous detail", "signed-in page", "form post")


@dataclass
class Answer:
    kind: str
    started: float
    ended: float
    status: str  # "200", "302", "503", ... or "timeout" / "error: ..."
    title: str | None = None
    text: str = ""


class Load:
    def __init__(self, node: Node, world: dict, clients: int):
        self.node = node
        self.world = world
        self.clients = clients
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def _call(self, kind: str, fn, title: str | None = None):
        started = time.monotonic()
        try:
            resp = fn()
            status, text = str(resp.status), resp.text
        except TimeoutError:
            resp, status, text = None, "timeout", ""
        except OSError as exc:
            resp, status, text = None, f"error: {type(exc).__name__}", ""
        self._record(Answer(kind, started, time.monotonic(), status, title, text if status == "503" else ""))
        return resp

    def _client(self, n: int) -> None:
        detail = f"/demands/{self.world['published'][n % len(self.world['published'])]}"
        anon = Http(self.node.url)
        user = Http(self.node.url).login("fault_ent", PASSWORD)
        i = n
        while not self._stop.is_set():
            kind = KINDS[i % len(KINDS)]
            i += 1
            if kind == "anonymous home":
                self._call(kind, lambda: anon.get("/", timeout=60))
            elif kind == "anonymous list":
                self._call(kind, lambda: anon.get("/demands", timeout=60))
            elif kind == "anonymous detail":
                self._call(kind, lambda: anon.get(detail, timeout=60))
            elif kind == "signed-in page":
                self._call(kind, lambda: user.get("/my/demands", timeout=60))
            else:
                page = self._call("signed-in page", lambda: user.get("/demands/new", timeout=60))
                if page is None or page.status != 200:
                    continue
                title = f"压测故障需求{uuid.uuid4().hex[:10]}"
                form = {**hidden_fields(page.text), **demand_form(self.world["field_id"], title)}
                self._call(kind, lambda: user.post("/demands/new", form, timeout=60), title)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(self.clients)]
        for t in threads:
            t.start()
        return threads

    def stop(self, threads) -> None:
        self._stop.set()
        for t in threads:
            t.join(90)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def report(answers: list[Answer], marks: list[tuple[str, float]]) -> None:
    """One block per phase (a request belongs to the phase in which it started)."""
    bounds = marks + [("end", float("inf"))]
    for (name, start), (_, end) in zip(bounds, bounds[1:]):
        if name == "end":
            break
        inside = [a for a in answers if start <= a.started < end]
        span = min(end, max((a.ended for a in inside), default=start)) - start
        print(f"\n== {name}: {len(inside)} requests in {span:.1f}s")
        for kind in KINDS:
            of_kind = [a for a in inside if a.kind == kind]
            if not of_kind:
                continue
            by_status = Counter(a.status for a in of_kind)
            took = [a.ended - a.started for a in of_kind]
            statuses = ", ".join(f"{s}: {c}" for s, c in sorted(by_status.items()))
            print(f"  {kind:17} {statuses:34} p50 {_pct(took, .5):.2f}s  p95 {_pct(took, .95):.2f}s  "
                  f"max {max(took):.2f}s")
        bare = sum(1 for a in inside if a.status == "503" and "error-message" not in a.text)
        if any(a.status == "503" for a in inside):
            print(f"  503 pages without the Chinese message: {bare}")


def recovery(answers: list[Answer], back: float, until: float, label: str) -> None:
    """How long after the server's return each kind was answered 200 (302 for a post) again, and what the
    requests sent after the return and answered before `until` (the next fault) got."""
    calm = [a for a in answers if back <= a.started and a.ended < until]  # not those the next fault met
    parts = []
    for kind in KINDS:
        ok = "302" if kind == "form post" else "200"
        firsts = [a.ended for a in calm if a.kind == kind and a.status == ok]
        parts.append(f"{kind} {min(firsts) - back:.2f}s" if firsts else f"{kind} never")
    failed = [a for a in calm if a.status not in {"200", "302"}]
    detail = ", ".join(f"{a.kind} sent at +{a.started - back:.2f}s answered {a.status} after {a.ended - a.started:.2f}s"
                       for a in failed[:4])
    print(f"{label}: first success after the server was back: {'; '.join(parts)}; requests sent after its "
          f"return that failed: {len(failed)}{' (' + detail + ')' if detail else ''}")


def stored(url: str, titles) -> set[str]:
    from sqlalchemy import create_engine, select

    from market.models import Demand

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Demand.title).where(Demand.title.in_(list(titles)))))
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fault-seconds", type=float, default=15)
    parser.add_argument("--calm-seconds", type=float, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the node's folder (its gunicorn.log) afterwards")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="market-faults-"))
    pg = PrivatePostgres()
    node = None
    try:
        pg.start()
        import os

        os.environ["MARKET_INSTANCE_DIR"] = str(folder / "seed")
        world = seed(pg.url, folder)
        node = Node("faults", folder / "node", workers=args.workers, env={
            "DATABASE_URL": pg.url, "SECRET_KEY": "faults-" + uuid.uuid4().hex, "JOBS_BACKEND": "immediate"})
        node.start()
        load = Load(node, world, args.clients)
        threads = load.start()
        time.sleep(args.calm_seconds)  # sign-ins and first pages (jieba, templates) out of the baseline
        marks = [("baseline", time.monotonic())]
        time.sleep(args.calm_seconds)

        marks.append((f"stopped (pg_ctl stop -m immediate, {args.fault_seconds:g}s)", time.monotonic()))
        pg.stop("immediate")
        time.sleep(args.fault_seconds)
        pg.start()
        back_from_stop = time.monotonic()
        marks.append(("after restart", back_from_stop))
        time.sleep(args.calm_seconds)

        marks.append((f"frozen (SIGSTOP, {args.fault_seconds:g}s)", time.monotonic()))
        pg.freeze()
        time.sleep(args.fault_seconds)
        pg.thaw()
        back_from_freeze = time.monotonic()
        marks.append(("after thaw", back_from_freeze))
        time.sleep(args.calm_seconds)
        load.stop(threads)

        answers = load.answers
        print(f"gunicorn {args.workers} sync workers, {args.clients} clients, PostgreSQL {pg.bindir.parent.name} "
              f"(private, port {pg.port})")
        report(answers, marks)
        print()
        recovery(answers, back_from_stop, marks[3][1], "restart")
        recovery(answers, back_from_freeze, float("inf"), "thaw")

        posts = [a for a in answers if a.kind == "form post"]
        acknowledged = {a.title for a in posts if a.status == "302" or (a.status == "503"
                                                                         and DB_UNAVAILABLE_SAVED in a.text)}
        saved_then_failed = sum(1 for a in posts if a.status == "503" and DB_UNAVAILABLE_SAVED in a.text)
        refused = {a.title for a in posts if a.status == "503" and DB_UNAVAILABLE_NOT_SAVED in a.text}
        maybe = {a.title for a in posts if a.status == "503" and DB_UNAVAILABLE_MAYBE_SAVED in a.text}
        lost = acknowledged - stored(pg.url, acknowledged)
        phantom = stored(pg.url, refused) if refused else set()
        print(f"\nwrites: {len(acknowledged)} acknowledged (302, or 503 '已保存': {saved_then_failed}), "
              f"{len(lost)} of them lost; {len(refused)} answered "
              f"'未保存', {len(phantom)} of them stored anyway; {len(maybe)} answered '可能已经保存' "
              f"({len(stored(pg.url, maybe)) if maybe else 0} stored)")
        log = node.log()
        print(f"node log: {log.count('Traceback')} tracebacks, {log.count('WORKER TIMEOUT')} worker timeouts, "
              f"{len(re.findall(r'database unavailable', log))} 'database unavailable' lines")
        for block in log.split("Traceback (most recent call last):")[1:4]:
            raised = [line for line in block.splitlines() if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line)]
            print("  traceback:", " | ".join(raised)[:600])
        timeouts = sum(1 for a in answers if a.status == "timeout")
        return 1 if lost or phantom or timeouts else 0
    finally:
        if node is not None:
            node.stop()
        pg.cleanup()
        import shutil

        if args.keep:
            print(f"node folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
