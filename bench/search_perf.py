"""Search backend figures: indexing speed, index size, search and more-like-this latency.

    .venv/bin/python bench/search_perf.py                       # 10,000 docs, both engines
    .venv/bin/python bench/search_perf.py --n 100000 --engine tantivy

The corpus mixes sentences of ../shared/data/csl-dev.jsonl (real Chinese paper abstracts) into N
synthetic demands and achievements. Queries are 9 terms drawn from a random document's tokens.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from market.search.analyzer import key_terms, tokenize  # noqa: E402
from market.search.backend import get_backend  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "csl-dev.jsonl"
BATCH = 1000
ROUNDS = 200


def load_papers(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_corpus(papers: list[dict], n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    sentences = [s for p in papers for s in re.split(r"(?<=[。；;])|(?<=\.)\s*", p["abstract"]) if len(s) > 8]
    titles = [p["title"] for p in papers]
    keywords = [k for p in papers for k in p.get("keywords", [])]
    orgs = ["某某大学", "某某研究院", "某某新材料有限公司", "某某智能装备股份有限公司", "某某生物科技有限公司"]
    towns = {f"1{c}": [f"1{c}{t}" for t in range(1, 6)] for c in range(1, 9)}
    t0 = datetime(2020, 1, 1)
    docs = []
    for i in range(1, n + 1):
        kind = "demand" if i % 3 == 0 else "achievement"
        county = rng.choice(list(towns))
        regions = ["1", county] + ([rng.choice(towns[county])] if rng.random() < 0.7 else [])
        root = f"{rng.randint(1, 12):02d}"
        docs.append({
            "doc_id": f"{kind}:{i}", "kind": kind, "id": i, "version": 1,
            "title": rng.choice(titles)[:40],
            "body": "".join(rng.sample(sentences, rng.randint(3, 8))),
            "keywords": rng.sample(keywords, 4),
            "org_name": rng.choice(orgs),
            "field": f"{root}.{rng.randint(1, 6):02d}", "field_root": root,
            "region_ids": regions,
            "maturity": rng.choice([None, *range(1, 10)]),
            "modes": rng.sample(["license", "transfer", "cooperation", "equity", "service"], rng.randint(1, 2)),
            "price_band": rng.choice(["0-10", "10-50", "50-100", "100-500", "500+", "negotiable"]),
            "published_at": t0 + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60)),
        })
    return docs


def folder_size(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def timed(fn, args_list) -> dict[str, tuple[float, float]]:
    """p50/p95 in ms of wall time and of this process's CPU time (the CPU figure is what a call
    costs on an idle machine; the wall figure also counts waiting for a busy CPU)."""
    wall, cpu = [], []
    for args in args_list:
        t, c = time.perf_counter(), time.process_time()
        fn(*args)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return {"wall": percentiles(wall), "cpu": percentiles(cpu)}


def run(engine: str, docs: list[dict], rng: random.Random) -> dict:
    folder = tempfile.mkdtemp(prefix=f"search-perf-{engine}-")
    try:
        backend = get_backend(engine, folder)
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
        for q in queries[:20]:  # warm caches
            backend.search(q)

        search_ms = timed(lambda q: backend.search(q), [(q,) for q in queries])
        facet_ms = timed(lambda q: backend.search(q, facets=["field_root", "region_ids", "kind"],
                                                  filters={"region_ids": "11"}), [(q,) for q in queries])
        mlt_ms = timed(lambda terms, kind, doc_id: backend.more_like_this(terms, kind=kind, exclude=[doc_id]),
                       mlts)
        totals = [backend.search(q).total for q in queries[:50]]
        backend.close()
        return {
            "engine": engine, "docs_per_s": len(docs) / index_s, "index_s": index_s,
            "index_cpu": index_cpu, "size_mb": folder_size(folder) / 1e6, "search": search_ms,
            "facets": facet_ms, "mlt": mlt_ms, "mean_total": statistics.mean(totals),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="documents in the synthetic corpus")
    parser.add_argument("--engine", choices=["whoosh", "tantivy", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the corpus is built from it)")
        return 0
    t = time.perf_counter()
    docs = build_corpus(load_papers(DATA), args.n, args.seed)
    print(f"corpus: {len(docs):,} docs built in {time.perf_counter() - t:.1f}s "
          f"(mean body {statistics.mean(len(d['body']) for d in docs):.0f} chars); "
          f"{ROUNDS} queries of 9 terms each, {ROUNDS} more_like_this of 20 terms each")
    engines = ["whoosh", "tantivy"] if args.engine == "both" else [args.engine]
    rows = [run(e, docs, random.Random(args.seed)) for e in engines]
    print()
    print(f"{'engine':<8} {'docs/s':>7} {'index s':>8} {'cpu s':>6} {'size MB':>8}  "
          f"{'latency ms p50/p95':<18} {'search':>13} {'+filter+facets':>15} {'more_like_this':>15}")
    for r in rows:
        for clock in ("wall", "cpu"):
            head = (f"{r['engine']:<8} {r['docs_per_s']:>7,.0f} {r['index_s']:>8.1f} {r['index_cpu']:>6.1f} "
                    f"{r['size_mb']:>8.1f}" if clock == "wall" else " " * 41)
            cells = "".join(f"{r[k][clock][0]:>8.1f}/{r[k][clock][1]:<6.1f}" for k in ("search", "facets", "mlt"))
            print(f"{head}  {clock:<18} {cells}")
    print(f"\nmean matches per query: " + ", ".join(f"{r['engine']} {r['mean_total']:,.0f}" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
