"""Fitting the matching model: the logistic combination of the engine's signals (engine.SIGNALS).

Shared by `flask match fit` (market/matching/cli.py, on the market's own listings) and bench/matching.py
(on the CSL papers). Pure Python (Newton's method on a handful of weights): no numpy needed.

A training row is (signals, label): 1 for the right pairing, 0 for a wrong one, and a soft label between
them (RELATED_LABEL) for a pairing that is not the one sought but on the same subject (the same
technical field in the market, the same discipline in the bench): the model then ranks, after the right
pairing, the listings on its subject before those that merely share a word.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Achievement, Deal, Demand, Field, Interest, ListingMixin, MatchFeedback
from .engine import (GENERIC_TERMS, MATCHABLE, REST_SIGNALS, SHORT_SIGNALS, SIGNALS, Matcher, Model, _terms_of, is_keyed,
                     is_short, listing_terms, model_for)
from .feedback import DECLINE_CODE
from .topics import TopicClassifier, agreement

NEGATIVES_PER_PROBE = 30  # the right pairing plus this many other candidates per probe
RELATED_LABEL = 0.3  # the soft label of a same-subject pairing: bench/matching.py, held out, 0.2 / 0.3 / 0.5 gave
# same-discipline share 0.206 / 0.214 / 0.218 and first-keyword MRR@10 0.850 / 0.850 / 0.847 (0 gave 0.189 and 0.854)
CAL_EDGES = (0, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 45, 60, 75, 90, 100.01)

Candidates = dict  # probe key -> [(candidate key, signals)]


def fit(rows: list[tuple[dict, float]], names: tuple[str, ...] = SIGNALS, l2: float = 1.0,
        iterations: int = 25) -> Model:
    """Logistic regression of the labels on the named signals, with a small L2 penalty (not on the bias)."""
    d = len(names) + 1
    w = [0.0] * d
    xs = [[1.0] + [float(s.get(n, 0.0)) for n in names] for s, _ in rows]
    ys = [float(y) for _, y in rows]
    for _ in range(iterations):
        g = [0.0] * d
        h = [[0.0] * d for _ in range(d)]
        for x, y in zip(xs, ys):
            z = sum(a * b for a, b in zip(w, x))
            p = 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))
            r, v = p - y, p * (1 - p)
            for i in range(d):
                g[i] += r * x[i]
                vi = v * x[i]
                hi = h[i]
                for j in range(i, d):
                    hi[j] += vi * x[j]
        for i in range(1, d):
            g[i] += l2 * w[i]
            h[i][i] += l2
        for i in range(d):
            for j in range(i):
                h[i][j] = h[j][i]
        step = _solve(h, g)
        w = [a - b for a, b in zip(w, step)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return Model(weights={n: round(w[i + 1], 4) for i, n in enumerate(names)}, bias=round(w[0], 4))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        if abs(m[c][c]) < 1e-12:
            continue
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                if f:
                    m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] if abs(m[i][i]) > 1e-12 else 0.0 for i in range(n)]


def training_rows(cands: Candidates, probes: Iterable, label: Callable[[object, object], float]) -> list[tuple[dict, float]]:
    """For each probe: its right pairings, the NEGATIVES_PER_PROBE // 2 other candidates the first query
    ranked best and as many drawn at random from the rest (seeded by the probe: the same rows every run)."""
    rows = []
    keep = set(probes)
    for probe, found in cands.items():
        if probe not in keep:
            continue
        labelled = [(s, label(probe, oid)) for oid, s in found]
        right = [(s, y) for s, y in labelled if y >= 1.0]
        others = sorted(((s, y) for s, y in labelled if y < 1.0), key=lambda sy: -sy[0].get("rank", 0.0))
        half = NEGATIVES_PER_PROBE // 2
        rng = random.Random(str(probe))
        kept = others[:half] + rng.sample(others[half:], min(half, max(len(others) - half, 0)))
        rows += kept + right
    return rows


def rank_with(model: Model, found: list[tuple[object, dict]], top_n: int = 10, raw: bool = False) -> list[tuple[object, float]]:
    """The top_n (candidate, 匹配度) by the model's probability, as the engine ranks them (Model.ranked:
    the first by the model, the others by its rest model; raw=True: the probability x 100 instead of the
    calibrated degree)."""
    signals = dict(found)
    scored = model.ranked([oid for oid, _ in found], signals.__getitem__, str)
    return [(oid, 100.0 * p if raw else model.degree(p)) for oid, p in scored[:top_n]]


def calibrate(model: Model, shown: Iterable[tuple[float, bool]]) -> Model:
    """The model with calibration knots from shown pairings (probability x 100, whether it was the right
    one): for bands of probability, the share that were right, made non-decreasing (pool adjacent
    violators)."""
    bins = [[0, 0, 0.0] for _ in CAL_EDGES[:-1]]  # pairings, right, sum of probability x 100
    for x, right in shown:
        b = max(i for i, lo in enumerate(CAL_EDGES[:-1]) if x >= lo)
        bins[b][0] += 1
        bins[b][1] += bool(right)
        bins[b][2] += x
    merged: list[list[float]] = []
    for blk in ([n, r, sx] for n, r, sx in bins if n):
        merged.append(list(blk))
        while len(merged) > 1 and merged[-2][1] / merged[-2][0] > merged[-1][1] / merged[-1][0]:
            n, r, sx = merged.pop()
            merged[-1] = [merged[-1][0] + n, merged[-1][1] + r, merged[-1][2] + sx]
    knots = tuple((round(sx / n, 3), round(100.0 * r / n, 2)) for n, r, sx in merged)
    return replace(model, calibration=knots)


MAIN_SIGNALS = tuple(n for n in SIGNALS if n not in SHORT_SIGNALS and n not in REST_SIGNALS)
SHORT_MODEL_SIGNALS = tuple(n for n in SIGNALS if n not in REST_SIGNALS)


def fit_with_rest(rows: list[tuple[dict, float]], names: tuple[str, ...]) -> Model:
    """The model over `names` with its rest model (the one that ranks the candidates after the first)
    over `names` and REST_SIGNALS, both fitted on the same rows."""
    return replace(fit(rows, names=names), rest=fit(rows, names=names + REST_SIGNALS))


MIN_SHORT = 40  # one-keyword probes needed to fit a model of their own


def fit_pair(cands: Candidates, probes: Collection, label: Callable[[object, object], float],
             short: Collection, min_short: int = MIN_SHORT, keyed: Collection = (),
             min_keyed: int = MIN_SHORT) -> Model:
    """The model over MAIN_SIGNALS fitted on all `probes`, with (when there are MIN_SHORT of them) a
    model of its own for the one-keyword probes (`short`, engine.is_short) over all SIGNALS, and one over
    MAIN_SIGNALS for the probes that name two keywords or more (`keyed`, engine.is_keyed). Held out on
    the CSL papers the short model lifted MRR@10 with the first keyword only from 0.848 to 0.852 and
    with the last from 0.660 to 0.666. The keyed model lifted it with all keywords from 0.988 to 0.992:
    fitted on all probes, the weights were set mostly by the one-keyword and title probes (three in four
    rows), whose right paper wins on raw BM25, and gave the literal keyword signal a fifth of the weight
    that keyworded needs want (0.5 against 2.5-2.8). The main model, fitted on every probe, still ranks
    the listings without keywords (title only: MRR@10 1.000 either way, and its same-discipline share
    is 0.218 against 0.211 for the keyed model). Each of the three carries a rest model with `pivot`
    (engine.Model.ranked: it orders the candidates after the first)."""
    main = fit_with_rest(training_rows(cands, probes, label), MAIN_SIGNALS)
    few = [p for p in probes if p in short]
    if few and len(few) >= min_short:
        main = replace(main, short=fit_with_rest(training_rows(cands, few, label), SHORT_MODEL_SIGNALS))
    many = [p for p in probes if p in keyed]
    if many and len(many) >= min_keyed:
        main = replace(main, keyed=fit_with_rest(training_rows(cands, many, label), MAIN_SIGNALS))
    return main


def ranker_for(model: Model, probe, short: Collection = (), keyed: Collection = ()) -> Model:
    """The model that ranks `probe` (Model.for_listing for a probe key): short, keyed or the main one."""
    if model.short is not None and probe in short:
        return model.short
    return model.keyed if model.keyed is not None and probe in keyed else model


def ranked_by_main(model: Model, probes: Iterable, short: Collection = (), keyed: Collection = ()) -> list:
    """The probes the main model itself ranks (neither its short nor its keyed model does), on whose shown
    pairings its 匹配度 is calibrated; all of `probes` when it ranks none of them."""
    probes = list(probes)
    return [p for p in probes if ranker_for(model, p, short, keyed) is model] or probes


def calibrate_pair(model: Model, shown: Iterable[tuple[float, bool]], shown_short: Iterable[tuple[float, bool]],
                   shown_keyed: Iterable[tuple[float, bool]] = ()) -> Model:
    """calibrate() for the main model and its short and keyed ones, each from the pairings it showed."""
    short = calibrate(model.short, shown_short) if model.short is not None else None
    keyed = calibrate(model.keyed, shown_keyed) if model.keyed is not None else None
    return replace(calibrate(model, shown), short=short, keyed=keyed)


def with_topic(cands: Candidates, classifier: TopicClassifier | None, probe_topics: dict,
               other_topic: Callable[[object, object], dict[str, float]]) -> Candidates:
    """A copy of `cands` whose `topic` signal comes from `classifier` (the one fitted on the fitting
    half's labels only): probe_topics[probe] is the probe's field distribution, other_topic(probe,
    candidate key) the candidate's. Without a classifier the signal is 0, as in the engine."""
    out = {}
    for probe, found in cands.items():
        mine = probe_topics.get(probe) or {}
        out[probe] = [(oid, {**s, "topic": agreement(mine, other_topic(probe, oid) or {}) if mine and classifier else 0.0})
                      for oid, s in found]
    return out


def shown_pairings(model: Model, cands: Candidates, probes: Iterable, right: Callable[[object, object], bool]):
    """(probability x 100, right) of the top 10 the model shows for each probe."""
    keep = set(probes)
    for probe, found in cands.items():
        if probe in keep:
            for oid, x in rank_with(model, found, raw=True):
                yield x, right(probe, oid)


def mrr10(model: Model, cands: Candidates, probes: Iterable, right: Callable[[object, object], bool],
          short: Collection = (), keyed: Collection = ()) -> float:
    """Mean reciprocal rank of the first right pairing in the model's top 10 (0 when none is there);
    the probes in `short` (one-keyword needs) are ranked by model.short when it has one, those in `keyed`
    (two keywords or more) by model.keyed."""
    keep = set(probes)
    rr = []
    for probe, found in cands.items():
        if probe not in keep:
            continue
        ranker = ranker_for(model, probe, short, keyed)
        ranks = [i for i, (oid, _) in enumerate(rank_with(ranker, found), 1) if right(probe, oid)]
        rr.append(1.0 / ranks[0] if ranks else 0.0)
    return sum(rr) / len(rr) if rr else 0.0


# -- `flask match fit`: the model fitted on the market's own listings -------------------------------------

VARIANTS = ("all", "first", "last", "title")
MIN_SOURCES = 20  # published listings with a probe; fewer: the shipped model stays


class NotEnoughData(Exception):
    """Too few listings to fit on: the message says how many there are and how many are needed."""


@dataclass
class FitReport:
    model: Model
    sources: int  # listings probed (each in VARIANTS)
    deal_probes: int  # needs with a confirmed pairing (deal or accepted interest)
    rows: int
    held_out: dict[str, float] = field(default_factory=dict)  # probe kind -> MRR@10, 2-fold held out
    in_sample: dict[str, float] = field(default_factory=dict)


def fold(key: str) -> int:
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2


def probe_for(listing: ListingMixin, variant: str) -> ListingMixin:
    """An unsaved listing of the other kind, written from `listing`'s keywords (or title) the way a busy
    poster writes one: what the benchmark protocol asks the engine for, with `listing` the right answer."""
    kws = listing.keyword_list or [(listing.title or "")[:10]]
    if variant == "first":
        kws = kws[:1]
    elif variant == "last":
        kws = kws[-1:]
    named = "、".join(kws)
    if listing.KIND == "achievement":
        if variant == "title":
            return Demand(title=listing.title, description="希望寻求上述方向有研究基础的高校院所合作。", indicators="",
                          keywords="", status=MATCHABLE, version=1)
        return Demand(title=f"寻求{kws[0]}相关技术"[:120], indicators="", keywords=",".join(kws), status=MATCHABLE,
                      version=1, description=f"我公司在生产中遇到与{named}有关的技术难题，希望寻求高校院所合作攻关。")
    if variant == "title":
        return Achievement(title=listing.title, summary="本成果可提供技术转让与合作开发。", keywords="",
                           status=MATCHABLE, version=1)
    return Achievement(title=f"{kws[0]}技术"[:120], keywords=",".join(kws), status=MATCHABLE, version=1,
                       summary=f"本成果涉及{named}，可提供技术转让与合作开发。")


def model_fit(*, session: Session, backend, related: float = RELATED_LABEL,
              variants: tuple[str, ...] = VARIANTS, topic: bool = False) -> FitReport:
    """Fit the logistic combination on the market's own data (reads only; the caller writes the file):
    - probes: every published listing with keywords, asked for in each variant (probe_for); its right
      answer is the listing itself;
    - confirmed pairings: every published need with a deal or an accepted interest on a published result;
      those results are its right answers; pairings an owner marked 不相关 or declined as 技术不对口 are
      wrong ones whatever their field;
    - other candidates of the same technical field get the soft label `related`, the rest 0.
    - topic=True: a field classifier (topics.py) trained on the published listings whose owners chose a
      technical field gives the `topic` signal; in each fold it reads only that fold's listings' fields,
      and a probe written from a labelled listing is predicted with that listing left out. Off by
      default: on the CSL benchmark it did not improve the held-out figures (engine.py).
    Weights come from all probes; the 匹配度 calibration from the held-out predictions of a 2-fold split
    by listing, whose MRR@10 is reported beside the in-sample one."""
    base = model_for(backend)
    matcher = Matcher(session, backend, glossary=True, model=replace(base, classifier=None))  # topic: per fold below
    cands: dict[tuple, list[tuple[int, dict]]] = {}
    probes: dict[tuple, ListingMixin] = {}  # probe key -> the (unsaved) probe or the need
    others: dict[tuple[str, int], ListingMixin] = {}  # (kind, id) of a candidate -> the listing
    rights: dict[tuple, set[int]] = {}
    fields: dict[tuple, int | None] = {}
    folds: dict[tuple, int] = {}
    other_fields: dict[tuple[str, int], int | None] = {}  # (kind, id) of a candidate -> its field
    wrong: set[tuple[int, int]] = set(session.execute(select(MatchFeedback.demand_id, MatchFeedback.achievement_id)).tuples())
    wrong |= set(session.execute(select(Interest.demand_id, Interest.achievement_id).where(
        Interest.status == "declined", Interest.reason_code == DECLINE_CODE,
        Interest.demand_id.is_not(None), Interest.achievement_id.is_not(None))).tuples())
    sources = 0
    for model in (Achievement, Demand):
        listings = session.scalars(select(model).where(model.status == MATCHABLE).order_by(model.id)).all()
        for listing in listings:
            if not listing.keyword_list:
                continue
            sources += 1
            for variant in variants:
                key = ("probe", listing.KIND, listing.id, variant)
                probes[key] = probe = probe_for(listing, variant)
                found = matcher.candidates(probe)
                cands[key] = [(m.other.id, m.signals) for m in found]  # of listing's kind: the probe is of the other
                others.update(((m.other.KIND, m.other.id), m.other) for m in found)
                other_fields.update(((m.other.KIND, m.other.id), m.other.field_id) for m in found)
                rights[key], fields[key] = {listing.id}, listing.field_id
                folds[key] = fold(f"{listing.KIND}:{listing.id}")
    if sources < MIN_SOURCES:
        raise NotEnoughData(f"已发布且填写了关键词的条目只有 {sources} 个，至少需要 {MIN_SOURCES} 个才能拟合；继续使用随附模型。")
    confirmed: dict[int, set[int]] = {}
    pairs = session.execute(select(Deal.demand_id, Deal.achievement_id).where(
        Deal.demand_id.is_not(None), Deal.achievement_id.is_not(None))).tuples().all()
    pairs += session.execute(select(Interest.demand_id, Interest.achievement_id).where(
        Interest.status == "accepted", Interest.demand_id.is_not(None),
        Interest.achievement_id.is_not(None))).tuples().all()
    for d, a in pairs:
        if (d, a) not in wrong:
            confirmed.setdefault(d, set()).add(a)
    needs = session.scalars(select(Demand).where(Demand.id.in_(confirmed), Demand.status == MATCHABLE)).all()
    for need in needs:
        key = ("deal", "demand", need.id, "")
        found = matcher.candidates(need)
        if not any(m.other.id in confirmed[need.id] for m in found):
            continue  # the engine cannot reach it at all: nothing to learn about ranking it
        cands[key] = [(m.other.id, m.signals) for m in found]
        probes[key] = need
        others.update(((m.other.KIND, m.other.id), m.other) for m in found)
        other_fields.update(((m.other.KIND, m.other.id), m.other.field_id) for m in found)
        rights[key], fields[key], folds[key] = confirmed[need.id], need.field_id, fold(f"demand:{need.id}")

    def is_right(key, oid) -> bool:
        return oid in rights[key]

    def label(key, oid) -> float:
        if oid in rights[key]:
            return 1.0
        if (key[0] == "deal" and (key[2], oid) in wrong) or not related:
            return 0.0
        kind = "achievement" if key[0] == "deal" else key[1]
        return related if fields[key] is not None and other_fields.get((kind, oid)) == fields[key] else 0.0

    # the field classifier: the published listings whose owners chose a field, labelled by its code
    # (fold h's classifier reads only the labels of fold h's listings)
    codes = {f.id: f.code for f in session.scalars(select(Field))}
    labelled: dict[tuple[str, int], tuple[int, list[str], str]] = {}  # (kind, id) -> fold, terms, field code
    for model in (Achievement, Demand):
        for listing in session.scalars(select(model).where(model.status == MATCHABLE, model.field_id.is_not(None))):
            terms = [t for t in _terms_of(listing) if t not in GENERIC_TERMS]
            labelled[(listing.KIND, listing.id)] = (fold(f"{listing.KIND}:{listing.id}"), terms, codes.get(listing.field_id))

    def topics_with(classifier: TopicClassifier | None, trained_on: int | None) -> Candidates:
        """The candidates with the topic signal of `classifier`, trained on fold `trained_on` (None: all)."""
        if classifier is None:
            return with_topic(cands, None, {}, lambda probe, oid: {})
        m = Matcher(session, backend, glossary=True, model=replace(base, classifier=classifier))
        mine = {}
        for key, p in probes.items():
            terms = [t for t, _ in listing_terms(p)]
            source = labelled.get((key[1], key[2])) if key[0] == "probe" else None
            if source is not None and trained_on in (None, source[0]):
                # a probe written from a labelled listing: that listing left out (cross-fitting)
                mine[key] = classifier.predict(terms, own=(source[2], source[1]))
            else:
                mine[key] = m.topic_of(p, terms)

        def theirs(key, oid):
            other = others[("achievement" if key[0] == "deal" else key[1], oid)]
            return m.topic_of(other, _terms_of(other))
        return with_topic(cands, classifier, mine, theirs)

    halves = [[k for k in cands if folds[k] == h] for h in (0, 1)]
    if not topic:
        labelled.clear()
    classifiers = {h: TopicClassifier.fit((t, c) for f, t, c in labelled.values() if f == h) for h in (0, 1)}
    fold_cands = {h: topics_with(classifiers[h], h) for h in (0, 1)}
    short = {key for key, p in probes.items() if is_short(p)}  # one-keyword needs: Model.short ranks them
    keyed = {key for key, p in probes.items() if is_keyed(p)}  # two keywords or more: Model.keyed
    # each fold gets a short (keyed) model when the final one will (so that its 匹配度 is calibrated held out too)
    min_short = 1 if len(short & set(cands)) >= MIN_SHORT else len(cands) + 1
    min_keyed = 1 if len(keyed & set(cands)) >= MIN_SHORT else len(cands) + 1
    models = {h: replace(fit_pair(fold_cands[h], halves[h], label, short, min_short, keyed, min_keyed),
                         classifier=classifiers[h])
              for h in (0, 1)}
    shown = [p for h in (0, 1)
             for p in shown_pairings(models[h], fold_cands[h], ranked_by_main(models[h], halves[1 - h], short, keyed),
                                     is_right)]
    shown_short = [p for h in (0, 1) if models[h].short is not None
                   for p in shown_pairings(models[h].short, fold_cands[h], short & set(halves[1 - h]), is_right)]
    shown_keyed = [p for h in (0, 1) if models[h].keyed is not None
                   for p in shown_pairings(models[h].keyed, fold_cands[h], keyed & set(halves[1 - h]), is_right)]
    classifier = TopicClassifier.fit((t, c) for _, t, c in labelled.values())
    all_cands = topics_with(classifier, None)
    rows = training_rows(all_cands, list(all_cands), label)
    final = replace(calibrate_pair(replace(fit_pair(all_cands, list(all_cands), label, short, keyed=keyed),
                                           classifier=classifier),
                                   shown, shown_short, shown_keyed),
                    about=f"flask match fit: {sources} listings probed, {len(needs)} needs with confirmed pairings, "
                          f"same-field label {related}")
    report = FitReport(model=final, sources=sources, deal_probes=sum(1 for k in cands if k[0] == "deal"),
                       rows=len(rows))
    for name in ("probe", "deal"):
        groups = [[k for k in halves[h] if k[0] == name] for h in (0, 1)]
        if not groups[0] and not groups[1]:
            continue
        n = len(groups[0]) + len(groups[1])
        report.held_out[name] = sum(mrr10(models[1 - h], fold_cands[1 - h], groups[h], is_right, short, keyed)
                                    * len(groups[h]) for h in (0, 1)) / n
        report.in_sample[name] = sum(mrr10(models[h], fold_cands[h], groups[h], is_right, short, keyed)
                                     * len(groups[h]) for h in (0, 1)) / n
    return report


def model_write(model: Model, path: Path) -> None:
    """Write the model file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in model.to_json().items())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("{" + body + "}\n", encoding="utf-8")
    os.replace(tmp, path)
