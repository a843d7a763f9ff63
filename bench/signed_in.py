"""Signed-in pages under load: each role signs in, then wrk drives that role's main pages against gunicorn.

    .venv/bin/python bench/signed_in.py                         # demo market, SQLite, 4 workers, 5 s per page
    .venv/bin/python bench/signed_in.py --stacks sqlite,postgres --seconds 10
    .venv/bin/python bench/signed_in.py --profile-only          # SQL statements and in-process time, no load
    .venv/bin/python bench/signed_in.py --profile-only --cprofile /dashboard/   # where the time of one page goes
    .venv/bin/python bench/signed_in.py --database-url sqlite:////tmp/dash.db   # an existing market (bench/dashboard.py --keep)
    .venv/bin/python bench/signed_in.py --keep /tmp/signed_scale --scale 1000000,10000   # the demo grown to scale

--scale CONTRACTS,LISTINGS grows the freshly seeded demo market before measuring: that many registered contracts
between the demo's organisations (bulk paths of bench/dashboard.py: executemany on SQLite, COPY on PostgreSQL, the
summary triggers running for every row) and that many published listings, half needs and half results, spread over
the demo's organisations, regions and fields; then ANALYZE and a search reindex. With --keep (SQLite) or
--keep-pg (PostgreSQL: the database is kept, not dropped) a later run reuses the grown market.

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


# -- growing the demo market to scale ------------------------------------------------------------------

def grow(stack: Stack, contracts: int, listings: int, seed: int = 20261206) -> None:
    """Bulk-load `contracts` contracts and `listings` published listings into the seeded demo market."""
    import random
    from datetime import date, datetime, timedelta, timezone

    from dashboard import TYPES, _copy_postgres, _defaults, _executemany_sqlite, analyze
    from sqlalchemy import select

    rng = random.Random(seed)
    saved = dict(os.environ)
    os.environ.update({**stack.env, "DB_STATEMENT_TIMEOUT_MS": "0"})
    try:
        from market import create_app
        from market.extensions import db
        from market.models import Achievement, Demand, Field, Organization, User

        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    t0 = time.monotonic()
    with app.app_context():
        orgs = db.session.execute(select(Organization.id, Organization.region_id, Organization.org_type)
                                  .where(Organization.region_id.is_not(None))).all()
        owners = dict(db.session.execute(select(User.org_id, User.id).where(User.org_id.is_not(None))).all())
        admin_id = db.session.scalar(select(User.id).where(User.role == "admin").order_by(User.id).limit(1))
        subfields = db.session.scalars(select(Field.id).where(Field.parent_id.is_not(None))).all()
        enterprises = [(o.id, o.region_id) for o in orgs if o.org_type == "enterprise"]
        institutions = [(o.id, o.region_id) for o in orgs if o.org_type != "enterprise"] or enterprises
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        words = ("电池", "储能", "隔膜", "电机", "传感器", "新材料", "光伏", "智能制造", "检测", "生物医药")
        conn = db.session.connection()
        for model, side, n in ((Demand, enterprises, listings // 2), (Achievement, institutions, listings - listings // 2)):
            rows = []
            for i in range(n):
                org_id, region_id = rng.choice(side)
                word = rng.choice(words)
                rows.append({"title": f"{word}技术{'需求' if model is Demand else '成果'}{i:05d}", "keywords": word,
                             "modes": ",transfer,", "status": "published", "org_id": org_id,
                             "owner_id": owners.get(org_id, admin_id), "region_id": region_id,
                             "field_id": rng.choice(subfields), "published_at": now - timedelta(minutes=i),
                             "created_at": now, "updated_at": now,
                             ("description" if model is Demand else "summary"): f"关于{word}的规模测试条目 {i}"})
            conn.execute(model.__table__.insert(), rows)
        ach_ids = db.session.scalars(select(Achievement.id)).all()
        db.session.commit()
    print(f"  {listings:,} listings added ({time.monotonic() - t0:.0f} s)", flush=True)
    first = date(2022, 1, 1)
    days = (date.today() - first).days
    types, weights = [t for t, _ in TYPES], [w for _, w in TYPES]

    def rows():
        for i in range(contracts):
            buyer = rng.choice(enterprises)
            seller = rng.choice(institutions) if rng.random() < 0.4 else rng.choice(enterprises)
            fen = int(10 ** rng.uniform(6, 10.5))
            tech = fen if rng.random() < 0.5 else int(fen * rng.uniform(0.4, 1.0))
            yield (f"S{i:09d}", f"技术合同{i}", rng.choices(types, weights)[0], buyer[0], seller[0], buyer[1], seller[1],
                   fen, tech, first + timedelta(days=rng.randrange(days + 1)),
                   rng.choice(subfields) if rng.random() < 0.95 else None,
                   rng.choice(ach_ids) if rng.random() < 0.15 else None, rng.random() < 0.02, admin_id,
                   *tail)

    columns = ("registration_no", "title", "contract_type", "buyer_org_id", "seller_org_id", "buyer_region_id",
               "seller_region_id", "amount", "tech_amount", "signed_on", "field_id", "achievement_id", "voided",
               "recorded_by_id")
    tail = () if "subtype" in _defaults() else ("",)  # the loaders' fixed columns, with or without the subtype
    columns += () if not tail else ("subtype",)
    t0 = time.monotonic()
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:  # the row triggers cost minutes per 100,000 rows on a busy machine: the summary is computed after
            with db.engine.begin() as conn:
                drop_triggers(conn)
        raw = db.engine.raw_connection()
        try:
            (_executemany_sqlite if sqlite else _copy_postgres)(raw, columns, rows(), contracts)
        finally:
            raw.close()
        if sqlite:
            with db.engine.begin() as conn:
                rebuild_contract_stats(conn)
                install_triggers(conn)
        analyze(db.engine)
        db.engine.dispose()
    print(f"  {contracts:,} contracts added and ANALYZE done ({time.monotonic() - t0:.0f} s)", flush=True)
    stack.flask("search", "reindex")


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
                # warm up until every worker has rendered the page once (p99 under 100 ms, at most 10 runs): the
                # first search of a worker opens the index and the analyzer's dictionaries, and a page at 1,000,000
                # contracts takes a second to render; requests queued behind one cold worker are its p95
                for _ in range(10):
                    if wrk(server.url, script, warmup, connections, threads, workdir)["p99"] / 1000 < 100:
                        break
                r = wrk(server.url, script, seconds, connections, threads, workdir)
                r["user"] = username
                rows[path] = r
                print(f"  {username:<9} {path:<22} {r['rps']:8.1f} req/s  p50 {r['p50'] / 1000:6.1f}  "
                      f"p95 {r['p95'] / 1000:6.1f}  p99 {r['p99'] / 1000:6.1f} ms  errors {r['errors']}", flush=True)
    finally:
        server.stop()
    trivial()
    return rows, ceilings


def reuse_pg(name: str) -> bool:
    """True when the kept PostgreSQL database exists and holds a seeded market."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT count(*) FROM users WHERE username = 'kjj_city'")))
    except Exception:  # no such database or no schema yet
        return False
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", default="sqlite", help="sqlite, postgres or both, comma-separated (default sqlite)")
    parser.add_argument("--database-url", help="an existing market instead of the demo (one stack)")
    parser.add_argument("--keep", metavar="DIR", help="SQLite: seed the demo into DIR once and reuse it on later runs")
    parser.add_argument("--keep-pg", metavar="NAME", help="PostgreSQL: seed into the database NAME (market_bench_...) "
                        "once, keep it and reuse it on later runs")
    parser.add_argument("--scale", metavar="CONTRACTS,LISTINGS", help="grow the seeded demo: e.g. 1000000,10000")
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
            if name == "postgres" and args.keep_pg:
                folder = Path(tempfile.gettempdir()) / args.keep_pg  # its search index, kept with the database
            reuse = (folder / "market.db").exists()
            if name == "postgres" and args.keep_pg:
                reuse = reuse_pg(args.keep_pg)
            folder.mkdir(parents=True, exist_ok=True)
            if name == "given":
                kind = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
                stack = Stack(name, f"{kind} (given)", folder, {"DATABASE_URL": args.database_url,
                                                                "SEARCH_ENGINE": "whoosh"})
                stack.flask("search", "reindex")
            elif name == "sqlite":
                stack = Stack(name, "SQLite + Whoosh", folder, {"SEARCH_ENGINE": "whoosh"})
            elif name == "postgres":
                db_name = args.keep_pg or PG_DB
                if not db_name.startswith("market_bench_"):
                    raise SystemExit("--keep-pg: the name must start with market_bench_")
                if not reuse:
                    pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
                    pg_admin(f'CREATE DATABASE "{db_name}"')
                made_pg = not args.keep_pg
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db_name}"
                stack = Stack(name, "PostgreSQL + Whoosh", folder, {"SEARCH_ENGINE": "whoosh", "DATABASE_URL": url})
            else:
                print(f"unknown stack {name!r}, skipped")
                continue
            if name != "given" and not reuse:
                t0 = time.monotonic()
                stack.prepare()
                print(f"{stack.label}: demo market seeded and indexed in {time.monotonic() - t0:.0f} s", flush=True)
                if args.scale:
                    n_contracts, n_listings = (int(x) for x in args.scale.split(","))
                    grow(stack, n_contracts, n_listings)
            elif name == "postgres" and not (folder / "seeded").exists():
                stack.flask("search", "reindex")
            if name == "postgres" and args.keep_pg:
                (folder / "seeded").touch()
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
