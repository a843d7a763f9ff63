"""Search backend figures: indexing speed, index size, search, more-like-this and match latency.

    .venv/bin/python bench/search_perf.py                           # 10,000 then 100,000 docs, both engines
    .venv/bin/python bench/search_perf.py --sizes 10000 --engine whoosh
    .venv/bin/python bench/search_perf.py --sizes 100000 --engine tantivy

The corpus mixes sentences of ../shared/data/csl-dev.jsonl (real Chinese paper abstracts) into N
synthetic demands and achievements, stored as published listings in a temporary SQLite database
and indexed with the engine. Columns:
- search: 9 terms drawn from a random document's tokens, first page of 20 (total counted);
- +filter+facets: the same with a region filter and three facets, as the search page asks;
- more_like_this: the backend call alone, with 20 key terms of a random document;
- match: the matching engine for a random listing, end to end (key terms, candidates from the index,
  the listing's own score, candidates loaded from the database, shared terms, bonuses, reasons);
- page: the whole `/search?q=...&kind=...` page (9 terms as above, kind 全部/需求/成果 in turn) through the Flask
  app, anonymous, page cache off (PAGE_CACHE_SECONDS=0): arguments, the index catch-up (an empty change log),
  the engine with the page's five facets, the hits reloaded from the database, the template.
Each is timed in wall-clock and in this process's CPU time (time.process_time): the CPU figure is
what a call costs on an idle machine, the wall figure also counts waiting for a busy CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from market.search.analyzer import key_terms, tokenize  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "csl-dev.jsonl"
BATCH = 1000
ROUNDS = 200
ORGS = 200
COUNTIES = 8
TOWNS_PER_COUNTY = 5


def load_papers(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def region_tree() -> list[dict]:
    """City 1, counties 11..18, towns 111..185: ids double as codes, `path` as in the Region model."""
    rows = [{"id": 1, "code": "1", "name": "本市", "level": "city", "parent_id": None, "path": "/1/"}]
    for c in range(1, COUNTIES + 1):
        county = 10 + c
        rows.append({"id": county, "code": str(county), "name": f"第{c}区", "level": "county",
                     "parent_id": 1, "path": f"/1/{county}/"})
        for t in range(1, TOWNS_PER_COUNTY + 1):
            town = county * 10 + t
            rows.append({"id": town, "code": str(town), "name": f"第{c}区{t}镇", "level": "town",
                         "parent_id": county, "path": f"/1/{county}/{town}/"})
    return rows


def build_corpus(papers: list[dict], n: int, seed: int = 7) -> list[dict]:
    """N listings (every third a demand), each a dict with the database columns and the search document."""
    from market.data.fields import FIELDS
    from market.models.listing import price_band

    rng = random.Random(seed)
    sentences = [s for p in papers for s in re.split(r"(?<=[。；;])|(?<=\.)\s*", p["abstract"]) if len(s) > 8]
    titles = [p["title"] for p in papers]
    keywords = [k for p in papers for k in p.get("keywords", []) if "," not in k]
    subfields = [(sub, root) for root, _, subs in FIELDS for sub, _ in subs]
    counties = [r for r in region_tree() if r["level"] == "county"]
    t0 = datetime(2020, 1, 1)
    docs = []
    for i in range(1, n + 1):
        kind = "demand" if i % 3 == 0 else "achievement"
        county = rng.choice(counties)["id"]
        region = county * 10 + rng.randint(1, TOWNS_PER_COUNTY) if rng.random() < 0.7 else county
        path = ["1", str(county)] + ([str(region)] if region != county else [])
        field, root = rng.choice(subfields)
        amount = rng.choice([None, Decimal(rng.randint(1, 600) * 10_000)])
        org = rng.randint(1, ORGS)
        docs.append({
            "doc_id": f"{kind}:{i}", "kind": kind, "id": i, "version": 1,
            "title": rng.choice(titles)[:40],
            "body": "".join(rng.sample(sentences, rng.randint(3, 8))),
            "keywords": rng.sample(keywords, 4),
            "org_id": org, "org_name": f"基准测试单位{org:03d}",
            "field": field, "field_root": root, "region_id": region, "region_ids": path,
            "maturity": rng.choice([None, *range(1, 10)]) if kind == "achievement" else None,
            "modes": rng.sample(["license", "transfer", "development", "equity"], rng.randint(1, 2)),
            "amount": amount, "price_band": price_band(amount),
            "published_at": t0 + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60)),
        })
    return docs


def store(app, docs: list[dict]) -> None:
    """The corpus as published listings (Core inserts: no change log, the bench indexes them itself)."""
    from market.extensions import db
    from market.models import Achievement, Demand, Field, Organization, Region, User
    from market.reference import ensure_fields

    with app.app_context():
        db.create_all()
        ensure_fields()
        db.session.execute(db.insert(Region), region_tree())
        db.session.execute(db.insert(Organization), [
            {"id": o, "name": f"基准测试单位{o:03d}", "org_type": "university" if o % 2 else "enterprise",
             "status": "verified"} for o in range(1, ORGS + 1)])
        db.session.execute(db.insert(User), [
            {"id": o, "username": f"bench{o:03d}", "name": f"用户{o:03d}", "password_hash": "!",
             "role": "institution" if o % 2 else "enterprise", "org_id": o} for o in range(1, ORGS + 1)])
        field_ids = dict(db.session.execute(db.select(Field.code, Field.id)).all())
        rows = {"demand": [], "achievement": []}
        for d in docs:
            row = {"id": d["id"], "title": d["title"], "keywords": ",".join(d["keywords"]),
                   "modes": "," + ",".join(d["modes"]) + ",", "status": "published", "version": 1,
                   "org_id": d["org_id"], "owner_id": d["org_id"], "region_id": d["region_id"],
                   "field_id": field_ids[d["field"]], "published_at": d["published_at"]}
            if d["kind"] == "demand":
                row.update(description=d["body"], budget=d["amount"])
            else:
                row.update(summary=d["body"], price=d["amount"], maturity=d["maturity"])
            rows[d["kind"]].append(row)
        for kind, model in (("demand", Demand), ("achievement", Achievement)):
            for lo in range(0, len(rows[kind]), BATCH):
                db.session.execute(db.insert(model), rows[kind][lo:lo + BATCH])
        db.session.commit()


def folder_size(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def timed(fn, args_list) -> dict[str, tuple[float, float]]:
    """p50/p95 in ms of wall time and of this process's CPU time."""
    wall, cpu = [], []
    for args in args_list:
        t, c = time.perf_counter(), time.process_time()
        fn(*args)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return {"wall": percentiles(wall), "cpu": percentiles(cpu)}


def run(engine: str, docs: list[dict], seed: int) -> dict:
    rng = random.Random(seed)
    folder = tempfile.mkdtemp(prefix=f"search-perf-{engine}-")
    os.environ["MARKET_INSTANCE_DIR"] = os.path.join(folder, "instance")  # the secret key file, not the checkout
    from market import create_app
    from market.extensions import db
    from market.matching.engine import Matcher
    from market.models import LISTING_MODELS, IndexChange
    from market.search.engines import get_backend
    from market.search.indexing import _swap_link, _write_state, replica

    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.path.join(folder, 'bench.db')}",
        "SEARCH_ENGINE": engine, "SEARCH_INDEX_DIR": os.path.join(folder, "index"),
        "SECRET_KEY": "bench", "SEARCH_SYNC_AFTER_COMMIT": False,
    }
    app = create_app(config)
    page_app = None
    try:
        store(app, docs)
        # the generation folder the app serves from (SEARCH_INDEX_DIR/current -> gen-1, market/search/indexing.py)
        index_dir = os.path.join(config["SEARCH_INDEX_DIR"], "gen-1")
        backend = get_backend(engine, index_dir)
        t, c = time.perf_counter(), time.process_time()
        for lo in range(0, len(docs), BATCH):
            backend.index_documents(docs[lo:lo + BATCH])
        index_s, index_cpu = time.perf_counter() - t, time.process_time() - c
        assert backend.doc_count() == len(docs)

        queries, mlts = [], []
        for _ in range(ROUNDS):
            doc = rng.choice(docs)
            tokens = sorted(set(tokenize(doc["title"] + " " + doc["body"])))
            queries.append(" ".join(rng.sample(tokens, min(9, len(tokens)))))
            doc = rng.choice(docs)
            mlts.append((key_terms(" ".join([doc["title"]] * 3 + [doc["body"], " ".join(doc["keywords"])])),
                         "achievement" if doc["kind"] == "demand" else "demand", doc["doc_id"]))
        sources = rng.sample(docs, ROUNDS + 5)  # 5 to warm up, then each listing matched once
        pages = []  # 5 to warm up, then each page asked once
        for i in range(ROUNDS + 5):
            doc = rng.choice(docs)
            tokens = sorted(set(tokenize(doc["title"] + " " + doc["body"])))
            pages.append("/search?" + urlencode({"q": " ".join(rng.sample(tokens, min(9, len(tokens)))),
                                                 "kind": ("all", "demand", "achievement")[i % 3]}))
        for q in queries[:20]:  # warm caches
            backend.search(q)

        search_ms = timed(lambda q: backend.search(q), [(q,) for q in queries])
        facet_ms = timed(lambda q: backend.search(q, facets=["field_root", "region_ids", "kind"],
                                                  filters={"region_ids": "11"}), [(q,) for q in queries])
        mlt_ms = timed(lambda terms, kind, doc_id: backend.more_like_this(terms, kind=kind, exclude=[doc_id]),
                       mlts)
        with app.app_context():
            matcher = Matcher(db.session, backend)
            listings = [db.session.get(LISTING_MODELS[d["kind"]], d["id"]) for d in sources]
            for listing in listings[:5]:  # the region and field tables, the first queries
                matcher.matches_for(listing)
            suggested = []
            match_ms = timed(lambda listing: suggested.append(len(matcher.matches_for(listing))),
                             [(x,) for x in listings[5:]])
            # the Core inserts logged no change: the app's catch-up, at the log's newest seq, applies nothing and
            # serves the index built above as it is (no reindex, no empty generation of its own)
            seq = db.session.scalar(db.select(db.func.max(IndexChange.seq))) or 0
        _write_state(index_dir, {"seq": seq, "gaps": {}})
        _swap_link(os.path.join(config["SEARCH_INDEX_DIR"], "current"), "gen-1")
        page_app = create_app({**config, "PAGE_CACHE_SECONDS": 0, "DB_STATEMENT_TIMEOUT_MS": 0})
        client = page_app.test_client()
        page_totals: list[int] = []  # the page's own "共 N 条"

        def page(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            page_totals.append(int(re.search(r"共 (\d+) 条", response.get_data(as_text=True)).group(1)))

        for url in pages[:5]:  # templates, the engine opened, the taxonomy
            page(url)
        assert replica(page_app).backend().doc_count() == len(docs)
        assert os.path.realpath(replica(page_app).backend().path) == os.path.realpath(index_dir)
        page_ms = timed(page, [(url,) for url in pages[5:]])
        totals = [backend.search(q).total for q in queries[:50]]
        backend.close()
        return {
            "engine": engine, "docs_per_s": len(docs) / index_s, "index_s": index_s,
            "index_cpu": index_cpu, "size_mb": folder_size(index_dir) / 1e6, "search": search_ms,
            "facets": facet_ms, "mlt": mlt_ms, "match": match_ms, "page": page_ms,
            "mean_total": statistics.mean(totals), "mean_suggested": statistics.mean(suggested),
            "mean_page_total": statistics.mean(page_totals[5:]),
        }
    finally:
        with app.app_context():
            db.engine.dispose()
        if page_app is not None:
            replica(page_app).close()
            with page_app.app_context():
                db.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], metavar="N",
                        help="corpus sizes to measure, one after the other (default: 10000 100000)")
    parser.add_argument("--n", type=int, default=None, help="one corpus size (same as --sizes N)")
    parser.add_argument("--engine", choices=["whoosh", "tantivy", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the corpus is built from it)")
        return 0
    sizes = [args.n] if args.n else args.sizes
    papers = load_papers(DATA)
    engines = ["whoosh", "tantivy"] if args.engine == "both" else [args.engine]
    for n in sizes:
        t = time.perf_counter()
        docs = build_corpus(papers, n, args.seed)
        print(f"corpus: {len(docs):,} docs built in {time.perf_counter() - t:.1f}s "
              f"(mean body {statistics.mean(len(d['body']) for d in docs):.0f} chars); {ROUNDS} each of: "
              f"9-term searches, 20-term more_like_this, matches of a random listing, search pages")
        rows = [run(e, docs, args.seed) for e in engines]
        print()
        print(f"{'engine':<8} {'docs':>7} {'docs/s':>7} {'index s':>8} {'cpu s':>6} {'size MB':>8}  "
              f"{'ms p50/p95':<10} {'search':>13} {'+filter+facets':>15} {'more_like_this':>15} {'match':>15} "
              f"{'page':>15}")
        for r in rows:
            for clock in ("wall", "cpu"):
                head = (f"{r['engine']:<8} {n:>7,} {r['docs_per_s']:>7,.0f} {r['index_s']:>8.1f} "
                        f"{r['index_cpu']:>6.1f} {r['size_mb']:>8.1f}" if clock == "wall" else " " * 49)
                cells = "".join(f"{r[k][clock][0]:>8.1f}/{r[k][clock][1]:<6.1f}"
                                for k in ("search", "facets", "mlt", "match", "page"))
                print(f"{head}  {clock:<10} {cells}")
        print(f"\nmean matches per search: " + ", ".join(f"{r['engine']} {r['mean_total']:,.0f}" for r in rows)
              + "; mean suggestions per match: "
              + ", ".join(f"{r['engine']} {r['mean_suggested']:.1f}" for r in rows)
              + "; mean results per page: " + ", ".join(f"{r['engine']} {r['mean_page_total']:,.0f}" for r in rows)
              + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
