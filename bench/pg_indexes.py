"""Does the partial index on public listings pay? PostgreSQL timings with and without it.

    .venv/bin/python bench/pg_indexes.py                 # 200,000 needs, about a minute
    .venv/bin/python bench/pg_indexes.py --n 50000

Creates the database market_bench_idx_<random> on 127.0.0.1:5432 (user postgres), fills `demands` with
N rows (60 % public, the rest drafts, pending, returned and closed), runs the statements the public
list and the home page run (the app's own select() from market/listings/queries.py, its page count,
page 1 and a deep page), with ix_demands_public_published and without it, and drops the database.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("MARKET_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FILL = """
INSERT INTO demands (title, keywords, modes, status, return_reason, contact_name, contact_phone, contact_email,
                     contact_public, version, created_at, updated_at, published_at, org_id, owner_id, region_id,
                     field_id, description, indicators, budget)
SELECT '需求' || g, '', ',development,', s.status, '', '王工', '0552-0000000', '', false, 1, now(), now(),
       CASE WHEN s.status IN ('published', 'done', 'closed')
            THEN now() - (random() * interval '730 days') END,
       :org, :owner, :region, :field, '描述', '', NULL
FROM generate_series(1, :n) AS g
CROSS JOIN LATERAL (SELECT CASE
    WHEN g % 10 < 5 THEN 'published' WHEN g % 10 = 5 THEN 'done' WHEN g % 10 IN (6, 7) THEN 'draft'
    WHEN g % 10 = 8 THEN 'pending' ELSE (CASE WHEN g % 20 = 9 THEN 'returned' ELSE 'closed' END) END AS status
    WHERE g > 0) AS s
"""


def timed(conn, stmt, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        conn.execute(stmt).all()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def plan_head(conn, stmt) -> str:
    from sqlalchemy import text

    compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
    rows = conn.execute(text(f"EXPLAIN {compiled}")).scalars().all()
    nodes = [r.strip().removeprefix("->").strip().split("  (cost")[0].split(" on ")[0] for r in rows if "(cost" in r]
    return ", ".join(n for n in nodes if "Scan" in n or "Sort" in n)[:90]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="needs to insert (default 200000)")
    parser.add_argument("--rounds", type=int, default=30, help="timed runs per statement (median reported)")
    args = parser.parse_args()

    from sqlalchemy import create_engine, func, select, text

    name = f"market_bench_idx_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        os.environ["MARKET_INSTANCE_DIR"] = tempfile.mkdtemp(prefix="bench-idx-")
        from market import create_app
        from market.extensions import db
        from market.listings.queries import public_listings
        from market.models import Demand, Field, Organization, Region, User

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_SYNC_AFTER_COMMIT": False, "SECRET_KEY": "bench"})
        with app.app_context():
            db.create_all()
            region = Region(code="340300", name="蚌埠市", level="city", path="/1/")
            root = Field(code="04", name="新材料")
            db.session.add_all([region, root])
            db.session.flush()
            field = Field(code="04.01", name="金属材料", parent_id=root.id)
            org = Organization(name="基准测试企业", uscc="913403000000000001", org_type="enterprise", region_id=region.id,
                               status="verified")
            db.session.add_all([field, org])
            db.session.flush()
            user = User(username="bench", name="基准", role="enterprise", org_id=org.id, password_hash="x")
            db.session.add(user)
            db.session.commit()
            ids = {"org": org.id, "owner": user.id, "region": region.id, "field": field.id}
            start = time.perf_counter()
            db.session.execute(text(FILL), {**ids, "n": args.n})
            db.session.commit()
            print(f"inserted {args.n} needs in {time.perf_counter() - start:.1f} s into {name}")

            browse = public_listings("demand", filters={})
            statements = {
                "public list: count": select(func.count()).select_from(browse.order_by(None).subquery()),
                "public list: page 1": browse.limit(20),
                "public list: page 500": browse.limit(20).offset(20 * 499),
                "home: newest 6": select(Demand).where(Demand.status == "published")
                .order_by(Demand.published_at.desc()).limit(6),
            }
            results: dict[str, dict[str, tuple[float, str]]] = {}
            for variant in ("with partial index", "without"):
                if variant == "without":
                    db.session.execute(text("DROP INDEX ix_demands_public_published"))
                    db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE demands"))  # as autovacuum would have done
                with db.engine.connect() as conn:
                    for label, stmt in statements.items():
                        timed(conn, stmt, 3)  # warm the cache
                        results.setdefault(label, {})[variant] = (timed(conn, stmt, args.rounds), plan_head(conn, stmt))
            db.session.remove()
            db.engine.dispose()

        public = args.n * 6 // 10
        print(f"\nPostgreSQL, {args.n} needs ({public} public), median of {args.rounds} runs (ms):\n")
        print(f"| statement | with ix_demands_public_published | without (status and published_at indexes only) |")
        print("|---|---|---|")
        for label, by in results.items():
            w, wo = by["with partial index"], by["without"]
            print(f"| {label} | {w[0]:.2f} ({w[1]}) | {wo[0]:.2f} ({wo[1]}) |")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
