"""Signed-in pages under load: each role signs in, then wrk drives that role's main pages against gunicorn.

    .venv/bin/python bench/signed_in.py                         # demo market, SQLite, 4 workers, 5 s per page
    .venv/bin/python bench/signed_in.py --stacks sqlite,postgres --seconds 10
    .venv/bin/python bench/signed_in.py --profile-only          # SQL statements and in-process time, no load
    .venv/bin/python bench/signed_in.py --profile-only --cprofile /dashboard/   # where the time of one page goes
    .venv/bin/python bench/signed_in.py --database-url sqlite:////tmp/dash.db   # an existing market (bench/dashboard.py --keep)

For each stack: the demo market (`flask seed-demo`) in a temporary instance folder (PostgreSQL: the database
market_bench_signed_in on 127.0.0.1:5432, created and dropped here), or an existing database given by
--database-url (its users need the demo password, as bench/dashboard.py gives them). Then:

  1. a profiling run through Flask's test client in this process: each role signs in, every page is fetched
     --profile-rounds times after one warm-up; it counts the SQL statements of each page (a SQLAlchemy
     `before_cursor_execute` listener) and the in-process time per request (median);
  2. a load run: gunicorn with --workers sync workers (as `make serve`), one wrk run of --seconds per page
     with the role's session cookie, and a trivial Flask page (bench/load.py's ceiling) in the same run,
     before and after the pages; each page's share is its requests/s over the mean of the two trivial runs.

Targets (issue 18): every page at >= 20 % of the trivial page's requests/s, p95 <= 30 ms, <= 8 SQL statements;
the dashboard <= 100 ms p95 at 1,000,000 contracts. The machine is shared: read the shares and the load
average printed with them.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import CSRF_RE, DEMO_PASSWORD, PG_ADMIN, Http, Server, Stack, lua_script, pg_admin, wrk  # noqa: E402

PG_DB = "market_bench_signed_in"
# (role account, its main pages): the pages of issue 18
PAGES = (
    ("ent01", ("/", "/my/demands", "/matching", "/demands", "/search?q=电池")),
    ("broker01", ("/deals/", "/deals/queue")),
    ("kjj_city", ("/dashboard/", "/review/", "/contracts/")),
)
SQL_BUDGET = 8
SHARE_TARGET = 0.20
P95_TARGET_MS = 30


# -- profiling through the test client -------------------------------------------------------------

class StatementCounter:
    def __init__(self):
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        self.statements.append(statement)


def sign_in(client, username: str) -> None:
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    if resp.status_code != 302:
        raise RuntimeError(f"sign-in of {username} failed: {resp.status_code}")


def profile(env: dict, rounds: int, cprofile_path: str | None, show_sql: str | None) -> dict[str, dict]:
    """SQL statements and in-process milliseconds per page, through the test client of an app on `env`: each page
    rendered (the signed-in page cache off) and served from that cache (on, after one request filled it)."""
    rendered = _profile({**env, "USER_PAGE_CACHE_SECONDS": "0"}, rounds, cprofile_path, show_sql)
    cached = _profile({**env, "USER_PAGE_CACHE_SECONDS": "60"}, rounds, None, None)
    for path, p in rendered.items():
        if path in cached:
            p["cached_sql"], p["cached_ms"] = cached[path]["sql"], cached[path]["ms"]
    return rendered


def _profile(env: dict, rounds: int, cprofile_path: str | None, show_sql: str | None) -> dict[str, dict]:
    from sqlalchemy import event

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from market import create_app
        from market.extensions import db

        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    counter = StatementCounter()
    results: dict[str, dict] = {}
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", counter)
    for username, paths in PAGES:
        client = app.test_client()
        sign_in(client, username)
        for path in paths:
            client.get(path)  # warm-up: templates compiled, the CSRF token made (the session changes once)
            resp = client.get(path)  # and the signed-in cache filled
            if resp.status_code != 200:
                print(f"  {username} {path} answered {resp.status_code}: left out", flush=True)
                continue
            times, counts = [], []
            for _ in range(rounds):
                counter.count, counter.statements = 0, []
                t0 = time.perf_counter()
                resp = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                counts.append(counter.count)
            results[path] = {"user": username, "sql": max(counts), "ms": statistics.median(times),
                             "statements": list(counter.statements)}
            if show_sql and (path == show_sql or show_sql == "all"):
                print(f"-- {username} {path}: {counter.count} statements")
                for s in counter.statements:
                    print("   ", " ".join(s.split())[:240])
            if cprofile_path and path == cprofile_path:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(rounds):
                    client.get(path)
                prof.disable()
                print(f"-- cProfile of {username} {path}, {rounds} requests, by cumulative time")
                pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", counter)
        db.engine.dispose()
    return results


# -- the load run ------------------------------------------------------------------------------------

def wrk_cookie(url: str, cookie: str) -> str:
    """The session cookie as wrk will present it. Flask-Login keeps a hash of the address and User-Agent in the
    session and marks the session again whenever they differ; wrk sends no User-Agent, urllib does. One request
    without one (http.client adds none) gives the cookie a browser would hold from then on."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", "/", headers={"Cookie": cookie, "Host": "127.0.0.1"})
        resp = conn.getresponse()
        resp.read()
        fresh = [h.split(";", 1)[0] for k, h in resp.getheaders() if k.lower() == "set-cookie" and h.startswith("session=")]
    finally:
        conn.close()
    return fresh[0] if fresh else cookie


def page_script(path: str, cookie: str) -> str:
    path = urllib.parse.quote(path, safe="/?&=%")  # wrk sends the path as written: 电池 percent-encoded
    return lua_script({"page": (1, [{"method": "GET", "path": path, "cookie": cookie}])})


def load_run(stack: Stack, workers: int, seconds: float, warmup: float, connections: int, threads: int,
             workdir: Path) -> tuple[dict[str, dict], list[dict]]:
    rows: dict[str, dict] = {}
    ceilings: list[dict] = []

    def trivial() -> None:
        folder = stack.folder / "ceiling"
        folder.mkdir(exist_ok=True)
        server = Server("load:ceiling_app()", workers, dict(os.environ), folder / "gunicorn.log", chdir=ROOT / "bench")
        try:
            script = lua_script({"page": (1, [{"method": "GET", "path": "/"}])})
            wrk(server.url, script, warmup, connections, threads, workdir)
            ceilings.append(wrk(server.url, script, seconds, connections, threads, workdir))
            r = ceilings[-1]
            print(f"  trivial Flask page                {r['rps']:8.1f} req/s  p50 {r['p50'] / 1000:6.1f}  "
                  f"p95 {r['p95'] / 1000:6.1f}  p99 {r['p99'] / 1000:6.1f} ms  errors {r['errors']}", flush=True)
        finally:
            server.stop()

    trivial()
    server = Server("app:app", workers, stack.env, stack.folder / f"gunicorn-{workers}.log")
    try:
        for username, paths in PAGES:
            session = Http(server.url).login(username)
            cookie = wrk_cookie(server.url, session.cookie)
            for path in paths:
                status = session.get(path).status
                if status != 200:
                    print(f"  {username} {path} answered {status} under gunicorn: left out", flush=True)
                    continue
                script = page_script(path, cookie)
                wrk(server.url, script, warmup, connections, threads, workdir)
                r = wrk(server.url, script, seconds, connections, threads, workdir)
                r["user"] = username
                rows[path] = r
                print(f"  {username:<9} {path:<22} {r['rps']:8.1f} req/s  p50 {r['p50'] / 1000:6.1f}  "
                      f"p95 {r['p95'] / 1000:6.1f}  p99 {r['p99'] / 1000:6.1f} ms  errors {r['errors']}", flush=True)
    finally:
        server.stop()
    trivial()
    return rows, ceilings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", default="sqlite", help="sqlite, postgres or both, comma-separated (default sqlite)")
    parser.add_argument("--database-url", help="an existing market instead of the demo (one stack)")
    parser.add_argument("--keep", metavar="DIR", help="SQLite: seed the demo into DIR once and reuse it on later runs")
    parser.add_argument("--no-user-cache", action="store_true", help="the load run with the signed-in page cache off")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--seconds", type=float, default=5, help="wrk seconds per page (default 5)")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each page (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--profile-rounds", type=int, default=20, help="test-client requests per page (default 20)")
    parser.add_argument("--profile-only", action="store_true", help="the profiling run only, no load")
    parser.add_argument("--cprofile", metavar="PATH", help="print a cProfile of this page's profiling requests")
    parser.add_argument("--show-sql", metavar="PATH", help="print the SQL statements of this page")
    args = parser.parse_args()

    if not args.profile_only and shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian)", file=sys.stderr)
        return 2
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    base = Path(tempfile.mkdtemp(prefix="market-signed-in-"))
    workdir = ROOT / "bench" / ".signed_in"
    workdir.mkdir(exist_ok=True)
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    if args.database_url:
        stacks = ["given"]
    report: list[tuple[str, dict, dict, list[dict]]] = []
    made_pg = False
    try:
        for name in stacks:
            folder = Path(args.keep) if args.keep and name == "sqlite" else base / name
            reuse = (folder / "market.db").exists()
            folder.mkdir(parents=True, exist_ok=True)
            if name == "given":
                kind = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
                stack = Stack(name, f"{kind} (given)", folder, {"DATABASE_URL": args.database_url,
                                                                "SEARCH_ENGINE": "whoosh"})
                stack.flask("search", "reindex")
            elif name == "sqlite":
                stack = Stack(name, "SQLite + Whoosh", folder, {"SEARCH_ENGINE": "whoosh"})
            elif name == "postgres":
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                pg_admin(f'CREATE DATABASE "{PG_DB}"')
                made_pg = True
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
                stack = Stack(name, "PostgreSQL + Whoosh", folder, {"SEARCH_ENGINE": "whoosh", "DATABASE_URL": url})
            else:
                print(f"unknown stack {name!r}, skipped")
                continue
            if name != "given" and not reuse:
                t0 = time.monotonic()
                stack.prepare()
                print(f"{stack.label}: demo market seeded and indexed in {time.monotonic() - t0:.0f} s", flush=True)
            prof = profile(stack.env, args.profile_rounds, args.cprofile, args.show_sql)
            for path, p in prof.items():
                print(f"  {p['user']:<9} {path:<22} rendered: {p['sql']:3d} SQL statements, {p['ms']:6.1f} ms in process; "
                      f"from the signed-in cache: {p.get('cached_sql', '—')} statements, "
                      f"{p.get('cached_ms', float('nan')):.1f} ms", flush=True)
            rows, ceilings = ({}, [])
            if args.no_user_cache:
                stack.env["USER_PAGE_CACHE_SECONDS"] = "0"
            if not args.profile_only:
                rows, ceilings = load_run(stack, args.workers, args.seconds, args.warmup, args.connections,
                                          args.threads, workdir)
            report.append((stack.label, prof, rows, ceilings))
    finally:
        if made_pg:
            try:
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            except Exception as exc:  # pragma: no cover
                print(f"could not drop {PG_DB}: {exc}")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nwrk -t{args.threads} -c{args.connections}, {args.seconds:.0f} s per page, gunicorn {args.workers} sync "
          f"workers on 127.0.0.1; load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    ok = True
    for label, prof, rows, ceilings in report:
        ceiling = statistics.mean(c["rps"] for c in ceilings) if ceilings else None
        if ceiling:
            print(f"{label}: trivial Flask page {ceiling:.0f} requests/s (mean of "
                  f"{', '.join(str(round(c['rps'])) for c in ceilings)})")
        print(f"\n| stack | who | page | SQL rendered | ms rendered | SQL cached | ms cached | requests/s | "
              f"share of trivial | p50 ms | p95 ms | p99 ms | errors |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for path, p in prof.items():
            r = rows.get(path)
            cells = ["—"] * 6
            if r is not None and ceiling:
                share = r["rps"] / ceiling
                cells = [f"{r['rps']:.0f}", f"{share:.0%}", f"{r['p50'] / 1000:.1f}", f"{r['p95'] / 1000:.1f}",
                         f"{r['p99'] / 1000:.1f}", str(r["errors"])]
                ok &= share >= SHARE_TARGET and r["p95"] / 1000 <= P95_TARGET_MS and r["errors"] == 0
            ok &= p["sql"] <= SQL_BUDGET
            print(f"| {label} | {p['user']} | `{path}` | {p['sql']} | {p['ms']:.1f} | {p.get('cached_sql', '—')} | "
                  f"{p.get('cached_ms', float('nan')):.1f} | " + " | ".join(cells) + " |")
    print(f"\ntargets: <= {SQL_BUDGET} SQL statements, >= {SHARE_TARGET:.0%} of the trivial page, p95 <= {P95_TARGET_MS} ms, "
          f"0 errors: {'met' if ok else 'NOT met'} on every page")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
