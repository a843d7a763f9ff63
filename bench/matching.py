"""Matching benchmark on the CSL papers (../shared/data/csl-dev.jsonl), on a fresh temporary instance.

    .venv/bin/python bench/matching.py                  # Whoosh (the default engine)
    .venv/bin/python bench/matching.py --engine tantivy
    .venv/bin/python bench/matching.py --limit 300      # the first 300 papers only (quicker)

Protocol (../shared/data/README.md, issue 3):
1. a fresh instance (SQLite and the index in a temporary folder, through create_app's config), with the
   field taxonomy;
2. every paper imported as a result with `flask import achievements` (title, abstract as the summary;
   the paper's own keywords are NOT given to the result, so a need cannot match on copied keywords);
3. for every paper a need titled 寻求<first keyword>相关技术, whose description names the paper's
   keywords the way a company would, with those keywords, imported with `flask import demands`
   (suggestions are computed by the after-commit hook, as for any import);
4. `flask match export`: MRR@10, Recall@1 and Recall@10 of each need's own paper, and the share of
   the other suggestions that are in the paper's discipline.
The same figures for a plain jieba + BM25 ranking (the same engine and query terms, re-ranking and
threshold off) are printed as the baseline.

The technical field of both sides is set from the paper's discipline with
market.data.demo.DISCIPLINE_TO_FIELD, as a company and a university pick one when they post
(`--no-field` leaves it empty). Maturity, price and mode of the results come from
market.data.demo.csl_achievement; the needs' budget and mode are derived from the paper id.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "csl-dev.jsonl"
NEED_MODES = [["development"], ["transfer"], ["license"], ["transfer", "license"], ["development", "consulting"]]


def load_papers(path: Path, limit: int | None) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        papers = [json.loads(line) for line in fh if line.strip()]
    return papers[:limit] if limit else papers


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def need_description(keywords: list[str]) -> str:
    if len(keywords) == 1:
        named = keywords[0]
    else:
        named = "、".join(keywords[:-1]) + "和" + keywords[-1]
    return (f"我公司在生产和产品研发中遇到与{named}有关的技术难题，现有工艺和方案难以满足要求。"
            f"希望寻求在{keywords[0]}方面有研究基础的高校院所合作，开展技术攻关并推动成果转化。")


def write_files(papers: list[dict], folder: Path, *, with_field: bool) -> tuple[Path, Path]:
    from market.data import demo

    results, needs = folder / "results.jsonl", folder / "needs.jsonl"
    with results.open("w", encoding="utf-8") as r, needs.open("w", encoding="utf-8") as n:
        for i, p in enumerate(papers):
            field = demo.DISCIPLINE_TO_FIELD.get(p.get("discipline", ""), "") if with_field else ""
            ach = demo.csl_achievement(p)
            inst = demo.INSTITUTIONS[ach["institution"] % len(demo.INSTITUTIONS)]["name"]
            title = p["title"][:120]
            if len(title) < 4:  # the listing rules want 4-120 characters (one paper is titled 秋千考)
                title += "研究"
            r.write(json.dumps({
                "external_id": p["id"], "title": title, "summary": p["abstract"][:5000],
                "organization": inst, "field": field, "maturity": ach.get("maturity"),
                "price_wan": ach.get("price_wan"), "modes": ach.get("modes"),
            }, ensure_ascii=False) + "\n")
            kws = [k for k in p.get("keywords", []) if k] or [p["title"][:10]]
            h = _h(p["id"])
            budget = None if h[0] % 5 == 0 else str([20, 50, 80, 100, 150, 200, 300][h[1] % 7])
            n.write(json.dumps({
                "external_id": f"need-{p['id']}", "title": f"寻求{kws[0]}相关技术"[:120],
                "description": need_description(kws), "keywords": kws,
                "organization": f"基准测试企业{i % 50 + 1:02d}有限公司", "field": field,
                "budget_wan": budget, "modes": NEED_MODES[h[2] % len(NEED_MODES)],
            }, ensure_ascii=False) + "\n")
    return results, needs


def metrics(ranked: dict[str, list[str]], discipline: dict[str, str]) -> dict:
    """ranked: need's paper id -> suggested paper ids, best first."""
    rr, r1, r10, same, other, counts = [], 0, 0, 0, 0, []
    for paper, suggestions in ranked.items():
        top = suggestions[:10]
        counts.append(len(top))
        rank = top.index(paper) + 1 if paper in top else None
        rr.append(1.0 / rank if rank else 0.0)
        r1 += rank == 1
        r10 += rank is not None
        for s in top:
            if s != paper:
                other += 1
                same += discipline.get(s) == discipline.get(paper)
    n = len(ranked) or 1
    return {"needs": len(ranked), "mrr10": sum(rr) / n, "recall1": r1 / n, "recall10": r10 / n,
            "same_discipline": same / other if other else 0.0, "others": other,
            "mean_suggestions": statistics.mean(counts) if counts else 0.0}


def show(name: str, m: dict) -> None:
    print(f"{name:<34} MRR@10 {m['mrr10']:.4f}  Recall@1 {m['recall1']:.4f}  Recall@10 {m['recall10']:.4f}  "
          f"same-discipline share {m['same_discipline']:.4f} (of {m['others']} other suggestions, "
          f"{m['mean_suggestions']:.1f} per need)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["whoosh", "tantivy"], default="whoosh")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="use the first N papers")
    parser.add_argument("--no-field", action="store_true", help="leave the technical field of both sides empty")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance and print its folder")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"data file not found: {args.data}", file=sys.stderr)
        return 2

    papers = load_papers(args.data, args.limit)
    discipline = {p["id"]: p.get("discipline", "") for p in papers}
    folder = Path(tempfile.mkdtemp(prefix="market-bench-matching-"))
    os.environ["MARKET_INSTANCE_DIR"] = str(folder / "instance")  # secret key file etc., not the checkout

    from market import create_app
    from market.extensions import db
    from market.matching.engine import Matcher
    from market.models import Demand
    from market.reference import ensure_fields
    from market.search.indexing import replica

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
        "SEARCH_ENGINE": args.engine,
        "SEARCH_INDEX_DIR": str(folder / "index"),
        "SECRET_KEY": "bench",
    })
    with app.app_context():
        db.create_all()
        ensure_fields()
        db.session.commit()
    results, needs = write_files(papers, folder, with_field=not args.no_field)
    runner = app.test_cli_runner()

    def run(*cli_args: str) -> str:
        t0 = time.perf_counter()
        out = runner.invoke(args=list(cli_args))
        if out.exit_code != 0:
            raise SystemExit(f"`flask {' '.join(cli_args)}` failed ({out.exit_code}):\n{out.output}\n{out.exception!r}")
        print(f"  flask {' '.join(cli_args[:2])}: {time.perf_counter() - t0:.1f} s")
        return out.output

    from market.matching import engine as eng

    print(f"{len(papers)} papers, engine {args.engine}, instance {folder}")
    print(f"re-ranking: text {eng.TEXT_SELF_POINTS:g} x BM25/self + {eng.TEXT_COVER_POINTS:g} x term cover, "
          f"subfield +{eng.SAME_SUBFIELD:g} / domain +{eng.SAME_DOMAIN:g}, region, maturity, price; "
          f"kept: text >= {eng.MIN_TEXT:g}, score > {eng.MIN_SCORE:g}, top {eng.TOP_N} of {eng.POOL} candidates")
    print("technical field of needs and results: "
          + ("none (--no-field)" if args.no_field else "set from the paper's discipline via market.data.demo.DISCIPLINE_TO_FIELD"))
    run("import", "achievements", str(results))
    run("import", "demands", str(needs))  # suggestions are stored by the after-commit hook
    exported = run("match", "export", "--limit", "10")

    ranked: dict[str, list[str]] = {}
    for line in exported.splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        paper = row["demand"]["external_id"].removeprefix("need-")
        ranked[paper] = [s["external_id"] for s in row["suggestions"]]

    with app.app_context():
        t0 = time.perf_counter()
        baseline: dict[str, list[str]] = {}
        matcher = Matcher(db.session, replica().backend(), plain=True)
        for demand in db.session.scalars(db.select(Demand).where(Demand.status == "published")):
            baseline[demand.external_id.removeprefix("need-")] = [
                m.other.external_id for m in matcher.matches_for(demand)]
        base_time = time.perf_counter() - t0

    print()
    show("jieba + BM25 baseline (bonuses off)", metrics(baseline, discipline))
    show("engine (match export)", metrics(ranked, discipline))
    print(f"(baseline ranking of {len(baseline)} needs: {base_time:.1f} s)")
    if args.keep:
        print(f"instance kept in {folder}")
    else:
        import shutil

        with app.app_context():
            replica().close()
            db.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
