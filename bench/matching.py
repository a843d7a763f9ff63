"""Matching benchmark on the CSL papers (../shared/data/csl-dev.jsonl): figures that cannot flatter us.

    .venv/bin/python bench/matching.py                     # no field, 4 need variants, 2-fold; a few minutes
    .venv/bin/python bench/matching.py --field             # the same with the field given to both sides, too
    .venv/bin/python bench/matching.py --engine tantivy
    .venv/bin/python bench/matching.py --limit 300         # the first 300 papers only (quicker)
    .venv/bin/python bench/matching.py --write-model       # also fit on all papers and ship market/data/match_model.json
    .venv/bin/python bench/matching.py --topic             # ablation: with the field classifier's topic signal

Protocol:
1. a fresh instance (SQLite and the index in a temporary folder), with the field taxonomy; every paper
   imported as a result with `flask import achievements` (title, abstract as the summary; the paper's own
   keywords are NOT given to the result, so a need cannot match on copied keywords);
2. for every paper, needs in four variants, written as a company would (need_for): from all its
   keywords, from its first keyword only, from its last keyword only, from its title only. The needs are
   not saved (the index holds only the results); each asks the engine (market/matching/engine.py) and the
   plain jieba + BM25 baseline (`plain=True`) for its 10 suggestions;
3. 2-fold: the papers are split in two halves by a hash of their id. The model (the logistic regression
   over the engine's signals, the one for needs that name a single keyword, engine.is_short, and the
   one for needs that name two keywords or more, engine.is_keyed) is
   fitted on the needs of one half and its figures are reported on the needs of the other half, then
   the halves swap: those held-out figures are the ones that count. The figures
   of a model fitted and reported on the same half are printed too, labelled in-sample. The training
   labels are 1 for the need's own paper and, with --related X, X for another paper of its discipline
   (read on the fitting half only: the market's `flask match fit` uses the listings' field the same
   way). With --topic, a field classifier (market/matching/topics.py) is also trained per fold on the
   fitting half's papers with their discipline as the label -- never on the held-out half's -- and the
   agreement of the fields it predicts for the need and each candidate is the `topic` signal (off by
   default: held out it did not help, see engine.py). Nothing else is fitted: the engine's other constants (pool, feedback terms, glossary weight) are fixed in the code. The
   index statistics (idf, feedback) come from all results, as they would in the market (no labels);
4. figures: MRR@10, Recall@1 and Recall@10 of the need's own paper; the same-discipline share over 9
   slots (the 10 suggestions minus the own paper, an empty slot counted as a miss); suggestions per need;
   and a reliability table of the held-out 匹配度 (of the pairings in each band, the share that were the
   right one), which is what the 匹配度 promises;
5. the graded set bench/data/graded_needs.jsonl: needs written the way companies write them, each pairing
   among the engine's and the baseline's top 10 graded by reading both texts (0 / 1 / 2): P@5 (grade >= 1)
   and nDCG@10, an empty slot counted as a miss; ungraded pairings are listed so they can be graded.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "csl-dev.jsonl"
GRADED = ROOT / "bench" / "data" / "graded_needs.jsonl"
VARIANTS = ("all", "first", "last", "title")
BANDS = (0, 5, 10, 20, 35, 50, 70, 101)


def load_papers(path: Path, limit: int | None) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        papers = [json.loads(line) for line in fh if line.strip()]
    return papers[:limit] if limit else papers


def half(paper_id: str) -> int:
    return hashlib.sha256(paper_id.encode("utf-8")).digest()[0] % 2


def need_description(keywords: list[str]) -> str:
    named = keywords[0] if len(keywords) == 1 else "、".join(keywords[:-1]) + "和" + keywords[-1]
    return (f"我公司在生产和产品研发中遇到与{named}有关的技术难题，现有工艺和方案难以满足要求。"
            f"希望寻求在{keywords[0]}方面有研究基础的高校院所合作，开展技术攻关并推动成果转化。")


def need_for(paper: dict, variant: str) -> dict:
    """title, description, keywords of the need a company would post for this paper's technology."""
    kws = [k for k in paper.get("keywords", []) if k] or [paper["title"][:10]]
    if variant == "title":
        return {"title": paper["title"][:120], "keywords": [],
                "description": "我公司希望寻求上述方向有研究基础的高校院所合作，开展技术攻关并推动成果转化。"}
    if variant == "first":
        kws = kws[:1]
    elif variant == "last":
        kws = kws[-1:]
    return {"title": f"寻求{kws[0]}相关技术"[:120], "description": need_description(kws), "keywords": kws}


def write_results(papers: list[dict], folder: Path, *, with_field: bool) -> Path:
    from market.data import demo

    results = folder / "results.jsonl"
    with results.open("w", encoding="utf-8") as r:
        for p in papers:
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
    return results


# -- figures --------------------------------------------------------------------------------------

def metrics(ranked: dict[str, list[str]], discipline: dict[str, str]) -> dict:
    """ranked: need's paper id -> suggested paper ids, best first."""
    rr, r1, r10, same, counts = [], 0, 0, 0, []
    for paper, suggestions in ranked.items():
        top = suggestions[:10]
        counts.append(len(top))
        rank = top.index(paper) + 1 if paper in top else None
        rr.append(1.0 / rank if rank else 0.0)
        r1 += rank == 1
        r10 += rank is not None
        others = [s for s in top if s != paper][:9]
        same += sum(discipline.get(s) == discipline.get(paper) for s in others)  # empty slots: misses
    n = len(ranked) or 1
    return {"needs": len(ranked), "mrr10": sum(rr) / n, "recall1": r1 / n, "recall10": r10 / n,
            "same9": same / (9 * n), "per_need": statistics.mean(counts) if counts else 0.0,
            "empty": sum(1 for c in counts if c == 0)}


def line(name: str, m: dict) -> str:
    return (f"  {name:<28} MRR@10 {m['mrr10']:.3f}  R@1 {m['recall1']:.3f}  R@10 {m['recall10']:.3f}  "
            f"same-discipline/9 {m['same9']:.3f}  per need {m['per_need']:.1f}"
            + (f" ({m['empty']} get none)" if m["empty"] else ""))


# -- the model: market/matching/fitting.py (the same code `flask match fit` uses) ---------------------

def labeller(discipline: dict[str, str], related: float):
    """The training label of a (need, paper) pairing: 1 for the need's own paper, `related` (the soft
    label) for another paper of its discipline, 0 otherwise. Only the fitting half's labels are read."""
    def label(key, pid) -> float:
        paper = key[1]
        if pid == paper:
            return 1.0
        return related if related and discipline.get(pid) == discipline.get(paper) else 0.0
    return label


def is_own(key, pid) -> bool:
    return pid == key[1]


def fit_half(cands, keys, discipline, related: float, short: set, keyed: set = frozenset()):
    """Weights and 匹配度 calibration, both from the needs in `keys` alone: the main model, the model of
    the one-keyword needs among them (`short`, as engine.is_short tells them) and the model of those that
    name two keywords or more (`keyed`, engine.is_keyed; fitting.fit_pair)."""
    from market.matching import fitting

    model = fitting.fit_pair(cands, keys, labeller(discipline, related), short, keyed=keyed)
    own = fitting.ranked_by_main(model, keys, short, keyed)  # each model calibrated on the needs it ranks
    return fitting.calibrate_pair(model, fitting.shown_pairings(model, cands, own, is_own),
                                  fitting.shown_pairings(model.short, cands, [k for k in keys if k in short], is_own)
                                  if model.short is not None else (),
                                  fitting.shown_pairings(model.keyed, cands, [k for k in keys if k in keyed], is_own)
                                  if model.keyed is not None else ())


def ranker(model, key, short: set, keyed: set = frozenset()):
    """The model that ranks the need `key`: its short model for a one-keyword need, its keyed model for
    one that names two keywords or more (Model.for_listing)."""
    from market.matching import fitting

    return fitting.ranker_for(model, key, short, keyed)


def topic_setup(args, doc_terms: dict[str, list[str]], discipline: dict[str, str], labelled: set[str],
                need_terms: dict):
    """The field classifier of one fold and every field distribution it predicts. It is trained on the
    papers of `labelled` (the fitting half) with their discipline as the label, as `flask match fit`
    trains on the listings whose owners chose a field; the held-out half's disciplines are never read.
    A labelled paper, and a need written from it, is predicted leave-one-out (the paper's own counts
    taken out), so neither is credited with the paper's own label: the signal is as strong on the
    fitting half as it can be on the held-out one. Only with --topic (else no classifier: the signal stays 0)."""
    from market.matching.topics import TopicClassifier

    if not getattr(args, "topic", False):
        return None, {}
    clf = TopicClassifier.fit((doc_terms[pid], discipline[pid]) for pid in sorted(labelled) if pid in doc_terms)
    if clf is None:
        return None, {}
    def own(pid):
        return (discipline[pid], doc_terms[pid]) if pid in labelled and pid in doc_terms else None

    topics = {pid: clf.predict(terms, own=own(pid)) for pid, terms in doc_terms.items()}
    # a need written from a labelled paper: that paper left out too (cross-fitting)
    topics.update((key, clf.predict(terms, own=own(key[1]) if isinstance(key, tuple) else None))
                  for key, terms in need_terms.items())
    return clf, topics


def rank_with(model, found, top_n: int = 10, raw: bool = False):
    from market.matching import fitting

    return fitting.rank_with(model, found, top_n=top_n, raw=raw)


# -- the graded set ---------------------------------------------------------------------------------

def dcg(gains: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def graded_figures(needs: list[dict], runs: dict[str, dict[str, list[str]]]) -> tuple[dict, list[tuple[str, str, str]]]:
    out, ungraded = {}, []
    for name, ranked in runs.items():
        p5, ndcg, hit3, any10, sugg = [], [], 0, 0, []
        for need in needs:
            grades = need.get("grades", {})
            top = ranked.get(need["id"], [])[:10]
            sugg.append(len(top))
            for pid in top:
                if pid not in grades:
                    ungraded.append((need["id"], pid, name))
            gains = [int(grades.get(pid, 0)) for pid in top] + [0] * (10 - len(top))
            p5.append(sum(1 for g in gains[:5] if g >= 1) / 5)
            ideal = dcg(sorted((int(g) for g in grades.values()), reverse=True)[:10])
            ndcg.append(dcg(gains) / ideal if ideal else None)
            hit3 += any(g >= 1 for g in gains[:3])
            any10 += any(g >= 1 for g in gains)
        judged = [x for x in ndcg if x is not None]
        out[name] = {"p5": statistics.mean(p5), "ndcg10": statistics.mean(judged) if judged else 0.0,
                     "judged": len(judged), "hit3": hit3, "hit10": any10, "per_need": statistics.mean(sugg)}
    return out, ungraded


# -- the run ----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["whoosh", "tantivy"], default="whoosh")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="use the first N papers")
    parser.add_argument("--field", action="store_true", help="also run with the field given to both sides")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="need variants, comma-separated")
    parser.add_argument("--graded", type=Path, default=GRADED)
    parser.add_argument("--write-model", action="store_true",
                        help="fit on every paper (no field) and write market/data/match_model.json")
    parser.add_argument("--feedback", action="store_true", help="ablation: the engine with pseudo-relevance feedback (off in the market)")
    parser.add_argument("--no-feedback", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)  # keep the retrieval (signals) for reruns of the fitting
    parser.add_argument("--topic", action="store_true",
                        help="ablation: the field classifier's topic signal (off in the market: it did not improve the held-out figures)")
    parser.add_argument("--no-glossary", action="store_true", help="ablation: the engine without the glossary")
    parser.add_argument("--related", type=float, default=None,
                        help="soft training label of another paper of the need's discipline (default: fitting.RELATED_LABEL)")
    parser.add_argument("--dump", type=Path, help="write the graded needs' top 10s (engine and baseline) here")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"data file not found: {args.data}", file=sys.stderr)
        return 2
    variants = [v for v in args.variants.split(",") if v in VARIANTS]
    if args.related is None:
        from market.matching.fitting import RELATED_LABEL
        args.related = RELATED_LABEL
    papers = load_papers(args.data, args.limit)
    discipline = {p["id"]: p.get("discipline", "") for p in papers}
    halves = [{p["id"] for p in papers if half(p["id"]) == k} for k in (0, 1)]
    print(f"{len(papers)} papers (halves of {len(halves[0])} and {len(halves[1])}), engine {args.engine}, "
          f"variants {', '.join(variants)}")
    settings = [False, True] if args.field else [False]
    for with_field in settings:
        run_setting(args, papers, discipline, halves, variants, with_field=with_field)
    return 0


def run_setting(args, papers, discipline, halves, variants, *, with_field: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="market-bench-matching-"))
    os.environ["MARKET_INSTANCE_DIR"] = str(folder / "instance")  # secret key file etc., not the checkout

    from market import create_app
    from market.data import demo
    from market.database import write_intent
    from market.extensions import db
    from market.matching import engine as eng
    from market.matching import fitting
    from market.models import Achievement, Demand, Field
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
    results = write_results(papers, folder, with_field=with_field)
    out = app.test_cli_runner().invoke(args=["import", "achievements", str(results)])
    if out.exit_code != 0:
        raise SystemExit(f"import failed:\n{out.output}\n{out.exception!r}")
    print(f"\n== technical field {'given to both sides (from the paper discipline)' if with_field else 'not given (imported and hastily posted listings)'} ==")

    cache = args.cache.with_suffix(f".{int(with_field)}.{len(papers)}.pickle") if args.cache else None
    if cache is not None and cache.exists():  # the same retrieval again: iterate on the fitting only
        with cache.open("rb") as fh:
            cands, baseline, timings, need_terms, need_keywords, doc_terms, graded, graded_cands, graded_plain = pickle.load(fh)
    else:
        cands: dict[tuple[str, str], list[tuple[str, dict]]] = {}
        baseline: dict[str, dict[str, list[str]]] = {v: {} for v in variants}
        timings = {"engine": [], "plain": []}
        need_terms: dict[object, list[str]] = {}  # a need's own key terms: what the field classifier reads of it
        need_keywords: dict[object, int] = {}  # how many keywords it names (one: engine.is_short)
        token = write_intent.set(False)
        try:
            with app.app_context():
                fields = {f.code: f.id for f in db.session.scalars(db.select(Field))}
                backend = replica().backend()
                ext = {a_id: ext_id for a_id, ext_id in db.session.execute(
                    db.text("select id, external_id from achievements"))}
                doc_terms = {ext[a.id]: sorted(t for t in eng._terms_of(a) if t not in eng.GENERIC_TERMS)
                             for a in db.session.scalars(db.select(Achievement))}
                # the engine with no classifier: the `topic` signal is computed below, per fold, with the
                # classifier fitted on that fold's labels only
                shipped = eng.model_for(None)
                engine_m = eng.Matcher(db.session, backend, feedback=args.feedback and not args.no_feedback,  # the pool the market uses
                                       glossary=not args.no_glossary, model=dataclasses.replace(shipped, classifier=None))
                plain_m = eng.Matcher(db.session, backend, plain=True)
                for variant in variants:
                    for p in papers:
                        spec = need_for(p, variant)
                        field_id = fields.get(demo.DISCIPLINE_TO_FIELD.get(p.get("discipline", ""), "")) if with_field else None
                        need = Demand(title=spec["title"], description=spec["description"], indicators="",
                                      keywords=",".join(spec["keywords"]), status="published", field_id=field_id, version=1)
                        t0 = time.perf_counter()
                        found = engine_m.candidates(need)
                        timings["engine"].append(time.perf_counter() - t0)
                        cands[(variant, p["id"])] = [(ext[m.other.id], m.signals) for m in found]
                        need_terms[(variant, p["id"])] = [t for t, _ in eng.listing_terms(need)]
                        need_keywords[(variant, p["id"])] = len(need.keyword_list)
                        t0 = time.perf_counter()
                        baseline[variant][p["id"]] = [ext[m.other.id] for m in plain_m.matches_for(need)]
                        timings["plain"].append(time.perf_counter() - t0)
                graded = load_graded(args.graded)
                graded_cands, graded_plain = {}, {}
                for g in graded:
                    need = Demand(title=g["title"], description=g.get("description", ""), indicators="",
                                  keywords=",".join(g.get("keywords", [])), status="published", version=1)
                    graded_cands[g["id"]] = [(ext[m.other.id], m.signals) for m in engine_m.candidates(need)]
                    need_terms[g["id"]] = [t for t, _ in eng.listing_terms(need)]
                    need_keywords[g["id"]] = len(need.keyword_list)
                    graded_plain[g["id"]] = [ext[m.other.id] for m in plain_m.matches_for(need)]
        finally:
            write_intent.reset(token)
        if cache is not None:
            with cache.open("wb") as fh:
                pickle.dump((cands, baseline, timings, need_terms, need_keywords, doc_terms, graded, graded_cands, graded_plain), fh)

    print(f"  signals per need: {1000 * statistics.median(timings['engine']):.1f} ms median "
          f"(baseline ranking {1000 * statistics.median(timings['plain']):.1f} ms); "
          f"candidates per need {statistics.mean(len(v) for v in cands.values()):.1f}")
    # one-keyword needs (engine.is_short): ranked by the model's short model
    short = {key for key, n in need_keywords.items() if n == 1}
    keyed = {key for key, n in need_keywords.items() if n >= 2}  # engine.is_keyed: ranked by the keyed model
    models, fold_cands, fold_graded = {}, {}, {}
    keys = [[key for key in cands if key[1] in halves[k]] for k in (0, 1)]
    for k in (0, 1):  # the classifier, the weights and the 匹配度 calibration, all from half k alone
        clf, topics = topic_setup(args, doc_terms, discipline, halves[k], need_terms)
        fold_cands[k] = fitting.with_topic(cands, clf, topics, lambda probe, oid: topics.get(oid))
        fold_graded[k] = fitting.with_topic(graded_cands, clf, topics, lambda probe, oid: topics.get(oid))
        models[k] = dataclasses.replace(fit_half(fold_cands[k], keys[k], discipline, args.related, short, keyed), classifier=clf)
        for name, m in (("", models[k]), (", one-keyword needs", models[k].short),
                        (", needs with two keywords or more", models[k].keyed)):
            for label, sub in ((name, m), (f"{name}, slots after the first", m.rest if m is not None else None)):
                if sub is not None:
                    print(f"  model fitted on half {k}{label}: bias {sub.bias:+.2f}, "
                          + ", ".join(f"{n} {w:+.2f}" for n, w in sub.weights.items()))
    clf_all, topics_all = topic_setup(args, doc_terms, discipline, halves[0] | halves[1], need_terms)
    cands_all = fitting.with_topic(cands, clf_all, topics_all, lambda probe, oid: topics_all.get(oid))
    everything = dataclasses.replace(fit_half(cands_all, keys[0] + keys[1], discipline, args.related, short, keyed), classifier=clf_all)
    graded_all = fitting.with_topic(graded_cands, clf_all, topics_all, lambda probe, oid: topics_all.get(oid))

    def ranked_by(fold_of, variant):  # fold_of(paper) -> the fold whose model ranks that paper's need
        return {pid: [x for x, _ in rank_with(ranker(models[fold_of(pid)], (variant, pid), short, keyed),
                                              fold_cands[fold_of(pid)][(variant, pid)])]
                for pid in (p["id"] for p in papers)}

    side = {p["id"]: half(p["id"]) for p in papers}
    for variant in variants:
        print(f"\n  needs from {dict(all='all keywords', first='the first keyword only', last='the last keyword only', title='the title only')[variant]}:")
        print(line("plain jieba + BM25", metrics(baseline[variant], discipline)))
        print(line("engine, held-out (2-fold)", metrics(ranked_by(lambda pid: 1 - side[pid], variant), discipline)))
        print(line("engine, in-sample", metrics(ranked_by(lambda pid: side[pid], variant), discipline)))

    # the 匹配度 promise, held-out: of the pairings shown with a degree in each band, how many were right
    bands = {b: [0, 0] for b in BANDS[:-1]}
    for (variant, pid) in cands:
        k = 1 - side[pid]
        for x, degree in rank_with(ranker(models[k], (variant, pid), short, keyed), fold_cands[k][(variant, pid)]):
            b = max(lo for lo in BANDS[:-1] if degree >= lo)
            bands[b][0] += 1
            bands[b][1] += x == pid
    print("\n  匹配度 held-out reliability (all variants, the 10 shown per need; weights and calibration from the"
          " other half): band -> pairings, share that were the need's own paper")
    for lo, hi in zip(BANDS, BANDS[1:]):
        n, right = bands[lo]
        print(f"    {lo:>3}-{min(hi, 100):<3} {eng.strength(lo)}  {n:>6} pairings  right {right / n if n else 0:.3f}")

    if graded and not with_field:
        runs = {"plain jieba + BM25": graded_plain,
                "engine (fitted on all CSL)": {gid: [x for x, _ in rank_with(ranker(everything, gid, short, keyed), f)]
                                               for gid, f in graded_all.items()}}
        for k in (0, 1):
            runs[f"engine (fitted on half {k})"] = {gid: [x for x, _ in rank_with(ranker(models[k], gid, short, keyed), f)]
                                                   for gid, f in fold_graded[k].items()}
        figures, ungraded = graded_figures(graded, runs)
        print(f"\n  graded set {args.graded.name}: {len(graded)} needs written as companies write them "
              f"({sum(1 for g in graded if any(int(v) >= 1 for v in g.get('grades', {}).values()))} with a relevant abstract)")
        for name, f in figures.items():
            print(f"    {name:<28} P@5 {f['p5']:.3f}  nDCG@10 {f['ndcg10']:.3f} (over {f['judged']} needs with a relevant abstract)  "
                  f"a relevant one in the top 3 for {f['hit3']}, in the top 10 for {f['hit10']}; {f['per_need']:.1f} per need")
        if ungraded:
            print(f"    {len(set((a, b) for a, b, _ in ungraded))} pairings not graded (counted as 0)")
        if args.dump:
            with args.dump.open("w", encoding="utf-8") as fh:
                for g in graded:
                    fh.write(json.dumps({"id": g["id"], "engine": runs["engine (fitted on all CSL)"].get(g["id"], []),
                                         "plain": graded_plain.get(g["id"], [])}, ensure_ascii=False) + "\n")
    if args.write_model and not with_field:
        everything = dataclasses.replace(everything, about=f"bench/matching.py --write-model: fitted on {len(papers)} CSL papers, "
                                                           f"{len(variants)} need variants, no field"
                                                           + ("; field classifier over their disciplines" if args.topic else "")
                                                           + "; short: the model of one-keyword needs"
                                                           + "; keyed: the model of needs with two keywords or more")
        from market.matching.fitting import model_write

        model_write(everything, eng.DEFAULT_MODEL_PATH)
        print(f"\n  wrote {eng.DEFAULT_MODEL_PATH.relative_to(ROOT)}: bias {everything.bias:+.2f}, "
              + ", ".join(f"{n} {w:+.2f}" for n, w in everything.weights.items()))

    import shutil

    with app.app_context():
        replica().close()
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def load_graded(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    sys.exit(main())
