"""Dashboard figures at scale: load N contracts across ~200 regions, then time every dashboard query and page.

    .venv/bin/python bench/dashboard.py                                   # 1,000,000 contracts, SQLite in a temp folder
    .venv/bin/python bench/dashboard.py --n 100000 --keep /tmp/dash.db    # keep the SQLite file for --reuse
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/market_bench_dashboard
    .venv/bin/python bench/dashboard.py --reuse --database-url ...        # time again without reloading

The PostgreSQL database named in --database-url (its name must start with market_bench_) is dropped and
created again before loading; no other database is touched. Loading uses the bulk paths (executemany on
SQLite, COPY on PostgreSQL); the summary triggers run for every row, as they would in production.
Timings: each query runs --rounds times after one warm-up run; the median and the slowest are printed, in ms.
Pages are rendered through Flask's test client, signed in as an official of the city (and of one county).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from market import create_app  # noqa: E402
from market.extensions import db  # noqa: E402
from market.models import CONTRACT_TYPES, Contract, Field, Organization, Region, User  # noqa: E402

PASSWORD = "Bench-pass-2026"
COUNTIES = 12
TOWNS_PER_COUNTY = 16  # 1 + 12 + 192 = 205 regions
ENTERPRISES = 20_000
INSTITUTIONS = 300
ACHIEVEMENTS = 5_000
FIRST_DAY = date(2022, 1, 1)
TYPES = (("development", 0.35), ("transfer", 0.10), ("license", 0.05), ("consulting", 0.10), ("service", 0.40))
BATCH = 20_000


def log(message: str) -> None:
    print(message, flush=True)


# --- database ----------------------------------------------------------------------------------------------

def prepare_database(url: str | None, keep: str | None, reuse: bool) -> str:
    if url is None:
        path = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench_dashboard_")) / "bench.db"
        if not reuse and path.exists():
            path.unlink()
        return f"sqlite:///{path}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and not reuse:
        if not (parsed.database or "").startswith("market_bench_"):
            raise SystemExit("refusing to recreate a database whose name does not start with market_bench_")
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    return url


def make_app(url: str, folder: Path):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SEARCH_INDEX_DIR": str(folder / "index"),
        "UPLOAD_DIR": str(folder / "uploads"),
        "SECRET_KEY": "bench-secret",
        "TESTING": False,
        "DB_STATEMENT_TIMEOUT_MS": 0,  # one COPY of a million contracts (and its trigger) outlasts the web's limit
    })


# --- data ------------------------------------------------------------------------------------------------

def load(app, n: int, seed: int, bulk_summary: bool = False) -> dict:
    rng = random.Random(seed)
    from market.reference import ensure_fields

    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_fields()
        city = Region(code="340300", name="蚌埠市", level="city", path="")
        db.session.add(city)
        db.session.flush()
        city.path = f"/{city.id}/"
        counties, towns = [], []
        for c in range(1, COUNTIES + 1):
            county = Region(code=f"3403{c:02d}", name=f"第{c}县区", level="county", parent_id=city.id, sort=c)
            db.session.add(county)
            db.session.flush()
            county.path = f"{city.path}{county.id}/"
            counties.append(county)
            for t in range(1, TOWNS_PER_COUNTY + 1):
                town = Region(code=f"3403{c:02d}{t:03d}", name=f"第{c}县区第{t}镇", level="town",
                              parent_id=county.id, sort=t)
                db.session.add(town)
                db.session.flush()
                town.path = f"{county.path}{town.id}/"
                towns.append(town)
        db.session.flush()
        admin = User(username="bench_admin", name="管理员", role="admin")
        admin.set_password(PASSWORD)
        city_official = User(username="bench_city", name="市科技局", role="official", region_id=city.id)
        city_official.set_password(PASSWORD)
        county_official = User(username="bench_county", name="县科技局", role="official", region_id=counties[0].id)
        county_official.set_password(PASSWORD)
        db.session.add_all([admin, city_official, county_official])
        db.session.flush()
        region_ids = {"city": city.id, "counties": [c.id for c in counties], "towns": [t.id for t in towns]}
        admin_id = admin.id
        subfields = db.session.scalars(select(Field.id).where(Field.parent_id.is_not(None))).all()
        from market.contracts.regcodes import ensure_reg_codes
        from market.models.reg_code import RegCode
        from market.registration.calendar import ensure_seed

        ensure_reg_codes()
        ensure_seed()
        code_rows = db.session.execute(select(RegCode.kind, RegCode.code, RegCode.parent_code)).all()
        parents = {(k, p) for k, _c, p in code_rows if p}
        reg_codes = {}  # kind -> the leaf codes (what a contract carries)
        for kind, code, _parent in code_rows:
            if (kind, code) not in parents:
                reg_codes.setdefault(kind, []).append(code)
        db.session.commit()

    with app.app_context():
        conn = db.session.connection()
        t0 = time.perf_counter()
        # organisations: enterprises mostly in towns, institutions in the city and the counties
        orgs = []
        for i in range(ENTERPRISES):
            region = rng.choice(region_ids["towns"]) if rng.random() < 0.85 else rng.choice(region_ids["counties"])
            orgs.append({"name": f"企业{i:05d}有限公司", "uscc": None, "org_type": "enterprise", "region_id": region,
                         "status": "verified"})
        for i in range(INSTITUTIONS):
            region = region_ids["city"] if rng.random() < 0.5 else rng.choice(region_ids["counties"])
            orgs.append({"name": f"高校院所{i:03d}", "uscc": None, "org_type": "university" if i % 3 else "institute",
                         "region_id": region, "status": "verified"})
        conn.execute(Organization.__table__.insert(), orgs)
        org_rows = conn.execute(select(Organization.id, Organization.region_id, Organization.org_type)).all()
        enterprises = [(r.id, r.region_id) for r in org_rows if r.org_type == "enterprise"]
        institutions = [(r.id, r.region_id) for r in org_rows if r.org_type != "enterprise"]
        from market.models import Achievement

        inst_owner = institutions[0][0]
        conn.execute(Achievement.__table__.insert(), [
            {"title": f"成果{i}", "org_id": rng.choice(institutions)[0], "owner_id": admin_id, "status": "published",
             "keywords": "", "modes": ",transfer,", "summary": "", "version": 1, "ip_type": "", "ip_numbers": "",
             "ip_status": "", "team_lead": "", "team_members": "", "contact_name": "", "contact_phone": "",
             "contact_email": "", "contact_public": False, "return_reason": ""}
            for i in range(ACHIEVEMENTS)
        ])
        ach_ids = conn.execute(select(Achievement.id)).scalars().all()
        db.session.commit()
        log(f"  reference rows: {len(org_rows)} organisations, {len(ach_ids)} achievements, "
            f"{1 + len(region_ids['counties']) + len(region_ids['towns'])} regions ({time.perf_counter() - t0:.1f} s)")
        del inst_owner

    days = (date.today() - FIRST_DAY).days
    weights = [w for _, w in TYPES]
    types = [t for t, _ in TYPES]
    subtypes = {t: list(CONTRACT_TYPES[t][1]) for t in types}

    def code(kind: str):  # 10 % of contracts without a code (未填报)
        return rng.choice(reg_codes[kind]) if rng.random() < 0.9 else None

    def rows():
        for i in range(n):
            buyer = rng.choice(enterprises)
            seller = rng.choice(institutions) if rng.random() < 0.4 else rng.choice(enterprises)
            fen = int(10 ** rng.uniform(6, 10.5))  # 1万元 .. 3亿元, in fen
            tech = fen if rng.random() < 0.5 else int(fen * rng.uniform(0.4, 1.0))
            contract_type = rng.choices(types, weights)[0]
            yield (
                f"B{i:09d}", f"技术合同{i}", contract_type, buyer[0], seller[0], buyer[1], seller[1],
                fen, tech, FIRST_DAY + timedelta(days=rng.randrange(days + 1)),
                rng.choice(subfields) if rng.random() < 0.95 else None,
                rng.choice(ach_ids) if rng.random() < 0.15 else None,
                rng.random() < 0.02, admin_id,
                # the 登记表 codes (issue 16): what the report tables T2-T7 group by
                rng.choice(subtypes[contract_type]) if subtypes[contract_type] and rng.random() < 0.9 else "",
                code("reg_field"), code("ip_type"), code("plan_source"), code("socio_goal"), code("legal_form"),
                code("legal_form"),
            )

    columns = ("registration_no", "title", "contract_type", "buyer_org_id", "seller_org_id", "buyer_region_id",
               "seller_region_id", "amount", "tech_amount", "signed_on", "field_id", "achievement_id", "voided",
               "recorded_by_id", "subtype", "reg_field", "ip_type", "plan_source", "socio_goal", "seller_legal_form",
               "buyer_legal_form")
    t0 = time.perf_counter()
    if bulk_summary:  # load without the triggers, then compute the summary set-based (as a migration does)
        from market.models.stats import drop_triggers

        with app.app_context(), db.engine.begin() as conn:
            drop_triggers(conn)
    with app.app_context():
        engine = db.engine
        raw = engine.raw_connection()
        try:
            if engine.dialect.name == "postgresql":
                _copy_postgres(raw, columns, rows(), n)
            else:
                _executemany_sqlite(raw, columns, rows(), n)
        finally:
            raw.close()
    elapsed = time.perf_counter() - t0
    if bulk_summary:
        from market.models.stats import install_triggers, rebuild_contract_stats

        log(f"  loaded {n:,} contracts in {elapsed:.1f} s without the triggers; computing the summary")
        t1 = time.perf_counter()
        with app.app_context(), db.engine.begin() as conn:
            rebuild_contract_stats(conn)
            install_triggers(conn)
        log(f"  summary computed in {time.perf_counter() - t1:.1f} s, triggers installed")
    else:
        log(f"  loaded {n:,} contracts in {elapsed:.1f} s ({n / elapsed:,.0f} rows/s, summary triggers included)")
    with app.app_context():
        t0 = time.perf_counter()
        analyze(db.engine)
        log(f"  ANALYZE: {time.perf_counter() - t0:.1f} s")
    return region_ids


def analyze(engine) -> None:
    """Planner statistics, as a maintenance job would keep them (VACUUM also sets PostgreSQL's visibility map)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def _defaults() -> dict:
    return {"source": "import", "scan_path": "", "scan_name": "", "void_reason": "", "version": 1}


def _copy_postgres(raw, columns, rows, n) -> None:
    extra = _defaults()
    cols = columns + tuple(extra) + ("created_at",)
    now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    cur = raw.cursor()
    done = 0
    with cur.copy(f"COPY contracts ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            row = list(row)
            row[7] = Decimal(row[7]) / 100
            row[8] = Decimal(row[8]) / 100
            copy.write_row(row + list(extra.values()) + [now])
            done += 1
            if done % 100_000 == 0:
                log(f"    {done:,} / {n:,}")
    raw.commit()


def _executemany_sqlite(raw, columns, rows, n) -> None:
    extra = _defaults()
    cols = columns + tuple(extra) + ("created_at",)
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    sql = f"INSERT INTO contracts ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    cur = raw.cursor()
    cur.execute("PRAGMA cache_size = -262144")  # 256 MB for this loading connection: the indexes stay in memory
    batch, done = [], 0
    tail = tuple(extra.values()) + (now,)
    cur.execute("BEGIN")
    for row in rows:
        row = list(row)
        row[9] = row[9].isoformat()
        row[12] = int(row[12])
        batch.append(tuple(row) + tail)
        if len(batch) >= BATCH:
            cur.executemany(sql, batch)
            done += len(batch)
            batch = []
            if done % 100_000 == 0:
                log(f"    {done:,} / {n:,}")
    if batch:
        cur.executemany(sql, batch)
    cur.execute("COMMIT")


# --- timings ---------------------------------------------------------------------------------------------

def timed(fn, rounds: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def report(label: str, fn, rounds: int) -> float:
    median, worst = timed(fn, rounds)
    log(f"  {label:<58} median {median:8.1f} ms   max {worst:8.1f} ms")
    return median


def time_queries(app, rounds: int) -> None:
    from market.dashboard import queries, stats
    from market.database import write_intent

    write_intent.set(False)  # read like a GET request: a deferred BEGIN, no write lock
    with app.app_context():
        stats.plan_each_query()  # as the dashboard's before_request does (one transaction for all timings)
        city = db.session.scalar(select(Region).where(Region.level == "city"))
        county = db.session.scalar(select(Region).where(Region.level == "county").order_by(Region.id))
        year = date.today().year
        this_year = stats.Period.year(year)
        last_year = this_year.last_year()
        q2 = stats.Period.quarter(year - 1, 2)
        custom = stats.Period.between(date(year - 1, 3, 15), date(year, 2, 10))
        total = db.session.scalar(select(func.count()).select_from(Contract))
        in_year = db.session.scalar(select(func.count()).select_from(Contract).where(
            Contract.signed_on >= this_year.start, Contract.signed_on <= this_year.end))
        log(f"  {total:,} contracts, {in_year:,} signed in {year}")
        for scope_label, scope in (("city", city), ("county", county)):
            log(f"  -- scope: {scope_label} ({scope.name}), period {this_year.label}")
            report("totals (this year)", lambda: stats.totals(scope=scope, period=this_year), rounds)
            report("totals (same period last year)", lambda: stats.totals(scope=scope, period=last_year), rounds)
            for by in ("type", "field", "month", "region"):
                report(f"by {by}", lambda by=by: stats.breakdown(by, scope=scope, period=this_year), rounds)
            report("conversions", lambda: stats.conversions(scope=scope, period=this_year), rounds)
            report("conversions by sub-region", lambda: stats.conversions_by_region(scope=scope, period=this_year),
                   rounds)
            report("targets and ranking (镇办竞赛)", lambda: queries.target_board(scope=scope, year=year), rounds)
            report("quarter totals (Q2 last year)", lambda: stats.totals(scope=scope, period=q2), rounds)
            report(f"custom range {custom.label}: totals", lambda: stats.totals(scope=scope, period=custom), rounds)
            report("custom range: by region", lambda: stats.breakdown("region", scope=scope, period=custom), rounds)
            report("funnel", lambda: queries.funnel(scope=scope, period=this_year), rounds)
            report("产学研 coverage (share)", lambda: queries.coverage_summary(scope=scope, period=this_year), rounds)
            report("data checks (counts)", lambda: queries.check_counts(scope=scope, period=this_year), rounds)
            if scope_label == "city":
                log("  -- the same figures straight from the contracts table (composite indexes only, no summary)")
                report("totals (this year), no summary",
                       lambda: stats.totals(scope=scope, period=this_year, use_summary=False), rounds)
                report("by region, no summary",
                       lambda: stats.breakdown("region", scope=scope, period=this_year, use_summary=False), rounds)
                report("by month, no summary",
                       lambda: stats.breakdown("month", scope=scope, period=this_year, use_summary=False), rounds)


def time_pages(app, rounds: int, only: str | None = None) -> None:
    year = date.today().year
    pages = [
        ("/dashboard/", "bench_city"),
        (f"/dashboard/?period=quarter&year={year - 1}&quarter=2", "bench_city"),
        (f"/dashboard/?period=range&start={year - 1}-03-15&end={year}-02-10", "bench_city"),
        ("/dashboard/targets", "bench_city"),
        ("/dashboard/conversions", "bench_city"),
        ("/dashboard/coverage", "bench_city"),
        ("/dashboard/checks", "bench_city"),
        ("/dashboard/sources", "bench_city"),  # 成交来源 (issue 19): by source, agency and broker
        ("/dashboard/export?table=region&format=xlsx", "bench_city"),
        ("/dashboard/", "bench_county"),
        # 报表 (issue 16): each table for the city, the 登记表 ones from the summary's 登记表 dims (a18e01c0ffee)
        *((f"/dashboard/reports?table=T{n}", "bench_city") for n in range(1, 11)),
        ("/dashboard/export?table=T3&format=xlsx", "bench_city"),
        ("/dashboard/reports?table=T4", "bench_county"),
    ]
    clients = {}
    for path, username in pages:
        if only and only not in path:
            continue
        if username not in clients:
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert resp.status_code == 302, resp.status_code
            clients[username] = client
        client = clients[username]

        def get(path=path, client=client):
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:300])

        report(f"GET {path} ({username})", get, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="contracts to load")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--keep", help="SQLite file to create (kept afterwards)")
    parser.add_argument("--reuse", action="store_true", help="time an already loaded database")
    parser.add_argument("--load-only", action="store_true", help="load, then stop")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--pages-only", action="store_true", help="skip the query timings")
    parser.add_argument("--bulk-summary", action="store_true",
                        help="load without the summary triggers and compute the summary afterwards (same rows)")
    parser.add_argument("--only", help="time only the pages whose path contains this text (e.g. reports)")
    args = parser.parse_args()

    url = prepare_database(args.database_url, args.keep, args.reuse)
    folder = Path(tempfile.mkdtemp(prefix="bench_dashboard_inst_"))
    os.environ.setdefault("MARKET_INSTANCE_DIR", str(folder))
    app = make_app(url, folder)
    log(f"database: {make_url(url).render_as_string(hide_password=True)}")
    if not args.reuse:
        log(f"loading {args.n:,} contracts")
        load(app, args.n, args.seed, args.bulk_summary)
    if args.load_only:
        return
    if not args.pages_only:
        log("query timings")
        time_queries(app, args.rounds)
    log("page timings (test client, signed in)")
    time_pages(app, args.rounds, args.only)


if __name__ == "__main__":
    main()
