"""The matching engine: for a need, the results that could solve it; for a result, the needs it could serve.

1. Query: the listing's key terms (title and keywords boosted over the body, words of any listing such
   as 寻求 / 技术 left out), plus the other names of every glossary concept it names
   (market/data/glossary.txt: machine vision <-> 机器视觉, PLC <-> 可编程逻辑控制器); the QUERY_TERMS most
   distinctive (weight x idf, as Lucene's MoreLikeThis) go to the index, restricted to the other kind.
2. Candidates: the POOL best hits. (Pseudo-relevance feedback, RM3-like: the best hits' stored terms
   that are frequent among them and rare in the index extend the query, is there behind FEEDBACK, off:
   the held-out figures did not improve.)
3. Every candidate gets signals (see `SIGNALS`): BM25 against the best a document could score, BM25
   relative to the best hit, the feedback query's score (0 while FEEDBACK is off), the share of the key-term weight it shares,
   the share found in its title, the share of the listing's keywords it contains word for word, the
   field (when both sides chose one), and how close it is to the neighbourhood of the query (`centroid`:
   the idf-weighted vocabulary of the CENTROID_DOCS best hits, its own terms left out), and `topic`: the
   agreement of the technical fields a classifier trained on the field-labelled listings predicts for
   both sides (market/matching/topics.py; a listing's own field when it has one). `topic` is 0 unless the
   model carries a classifier (`flask match fit --topic`, `bench/matching.py --topic`): on the CSL papers,
   held out, it changed MRR@10 by -0.003 / -0.002 / +0.001 (all / first / last keyword) and the
   same-discipline share by -0.004 (0.985 / 0.846 / 0.661 and 0.211 against 0.988 / 0.848 / 0.660 and
   0.215): a naive Bayes over 67 disciplines from ~500 labelled abstracts names the right one for a
   third of the held-out papers and a fifth of the needs. A listing that names a single keyword
   (`is_short`: a busy poster's need) is ranked by a model of its own (Model.short, fitted on such needs
   alone, with `top1`, whether the candidate is the query's best hit): held out on the CSL papers, MRR@10
   with the first keyword only 0.848 -> 0.852, the last 0.660 -> 0.666, the others unchanged. A listing
   that names two keywords or more (`is_keyed`) is ranked by a model fitted on such needs alone
   (Model.keyed): fitted on every need, the weights were set mostly by the one-keyword and title-only
   needs, which raw BM25 already ranks right, and gave the share of the keywords found word for word
   (`literal`) a fifth of the weight keyworded needs want; held out, MRR@10 with all keywords 0.988 ->
   0.992 (same-discipline share 0.215 -> 0.205), the others unchanged. The main model, fitted on every
   need, ranks the listings without keywords. A logistic regression over them (market/data/match_model.json,
   fitted by `bench/matching.py --write-model` on CSL papers; the one `flask match fit` fits on the
   market's own listings, SEARCH_INDEX_DIR/match_model.json, takes precedence: see model_for and
   fitting.py; the other listings on the subject of the right one are soft positives in the fit, so
   they rank before those that merely share a word) gives the probability that the pairing is the right one; the score is
   that probability, calibrated on held-out pairings into the 匹配度 (`match_degree`: of the pairings
   with that degree in the evaluation, the share that were right), with a 强 / 中 / 弱 label (`strength`).
   Each of the three picks the first suggestion; the others are ranked by its `rest` model (Model.ranked),
   fitted on the same rows with one more signal, `pivot`: the idf-weighted cosine of the candidate's terms
   with the best hit's, the candidate's norm estimated from its number of terms (Matcher._pivot). The whole
   text of the listing the need most likely asks for carries its subject: a CSL paper's 9 nearest neighbours
   by its whole title and abstract share its discipline 0.236-0.247 of the time (tf-idf words, character
   bigrams, LSA), a ceiling well under the issue's 0.30. Held out on the CSL papers, no field
   (bench/matching.py): same-discipline share 0.205 -> 0.218 (all keywords), 0.138 -> 0.142 (first keyword),
   0.102 -> 0.107 (last), 0.218 -> 0.221 (title); MRR@10 0.992 -> 0.991, 0.852 -> 0.851, 0.666 -> 0.667,
   1.000 -> 1.000 in the same order (plain BM25 0.985 / 0.847 / 0.649 / 1.000, share 0.174 / 0.118 / 0.084 /
   0.180). The exact cosine (the idf of every candidate term looked up) gave the same figures but 0.852 and
   0.220, at more time per match. Tried and not kept: `pivot` in the one model (the best hit's own pivot is
   1, so raw BM25's best hit wins over the model's: MRR@10 with all keywords 0.987); the same with the best
   hit's own pivot its mean cosine with the next five (share +0.003 only); slots 2-10 by `pivot` alone
   (MRR@10 first keyword 0.837, share 0.209 with all keywords); the rest model fitted with a same-discipline
   label of 0.6 or 1.0 instead of 0.3 (share 0.222, MRR@10 first keyword 0.851 / 0.849, last 0.664 / 0.660).
4. Up to TOP_N suggestions, best first, weak ones included and marked by their label; a candidate must
   share at least one term a person can see. Reasons: the 3-6 most specific shared terms (by idf; broad
   words only when nothing more specific is shared), which parts of the other listing hold them
   (标题 / 关键词 / 正文), and the field, region, maturity and price rules the pair meets.

`plain=True` is plain jieba + BM25 (the analyzer's key terms, generic words kept, raw score order, no
feedback, no model): the baseline that bench/matching.py compares against.
"""
from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import LISTING_MODELS, Achievement, Demand, Field, ListingMixin, Region
from ..models.listing import DEMAND_MODES
from ..money import format_wan
from ..search import analyzer
from ..search.backend import MAX_QUERY_TERMS, Hit, SearchBackend
from .topics import TopicClassifier, agreement, cached_predict

TOP_N = 10
POOL = 50
MIN_SCORE = 0.0  # no threshold: weak suggestions are shown, marked 弱 (kept for callers that import it)
MATCHABLE = "published"  # done (已解决 / 已转化) and everything private are never matched
OTHER_KIND = {"demand": "achievement", "achievement": "demand"}

# key-term boosts by part of the listing (the title and keywords say what it is about)
PART_BOOSTS = (("title", 2.0), ("keywords", 2.0), ("body", 1.0))
TERMS_PER_PART = 20
QUERY_TERMS = 25  # of the listing's key terms, the most distinctive go to the index (Matcher.query_terms)
# Words that describe any listing rather than a technology ("寻求……相关技术", "希望与高校合作"): they are
# left out of the matching query and of the shared terms shown as a reason.
GENERIC_TERMS = frozenset("""
寻求 技术 研究 方法 希望 合作 我公司 公司 企业 单位 问题 需要 需求 成果 高校 院所 高校院所 提供 实现 提高 提升 解决
项目 应用 开发 研发 难题 目前 现有 具有 采用 工作 结果 表明 通过 利用 以及 主要 方面 能力 要求 推动 转化 攻关 开展
有限公司 科技 相关 领域 基础 条件 产品 生产 工艺 方案 满足 引进 服务 进一步 本文 文章 论文 提出 发现 影响 情况 问题
我们 我厂 厂里 太高 太低 降低 增加 减少 效果 效率 成本 质量 一种 基于 分析 设计 系统 进行 得到 显示 表现 作用 因素
""".split())
# Broad words that are shown as a reason only when fewer than MIN_SPECIFIC more specific terms are shared
BROAD_TERMS = frozenset("""
材料 玻璃 金属 设备 装置 性能 模型 数据 控制 检测 处理 结构 特性 测试 试验 实验 优化 机制 原理 理论 过程 条件 参数
制备 合成 测定 评价 计算 模拟 仿真 方式 策略 管理 平台 信息 网络 智能 安全 质量 环境 能源 化学 物理 生物
""".split())
BROAD_SHARE = 0.10  # a term in more than this share of the listings is broad too (in an index of BROAD_MIN_DOCS or more)
BROAD_MIN_DOCS = 200
MIN_SPECIFIC = 3
SHOWN_TERMS = 6

GLOSSARY_WEIGHT = 0.8  # an other name of a concept the listing names, relative to the listing's top term
# Pseudo-relevance feedback is off: held out on 400 CSL papers it changed MRR@10 by -0.000 / +0.002 / -0.008
# (all / first / last keyword) and the same-discipline share by at most 0.001, for a second index query
# (bench/matching.py --limit 400 against --no-feedback). Kept behind the flag for the next attempt.
FEEDBACK = False
FEEDBACK_DOCS = 5
FEEDBACK_TERMS = 10
FEEDBACK_WEIGHT = 0.3  # the best feedback term, relative to the listing's top term
K1 = 1.2  # BM25 saturation, as both engines use: a term scores at most idf x (K1 + 1) x boost

# The rules a pair may meet, each with its reason (their value is kept in Match.signals, not added to the score)
SAME_SUBFIELD = 20.0
SAME_DOMAIN = 10.0
SAME_COUNTY = 5.0
SAME_CITY = 2.0
MATURITY_TRANSFER = 5.0  # level >= 6 for 技术转让 / 技术许可
MATURITY_CODEVELOP = 3.0  # level >= 3 for 技术开发/合作研发
PRICE_IN_BUDGET = 5.0
TRANSFER_LEVEL = 6
CODEVELOP_LEVEL = 3

# the neighbourhood of a listing: the best hits of its first query, weighted by score; a candidate's
# "centroid" signal is how much of that neighbourhood's idf-weighted vocabulary it holds (leave-one-out:
# its own terms do not count for it). Discipline-neutral: it comes from the listings alone.
CENTROID_DOCS = 10
CENTROID_TERMS = 300

SIGNALS = ("bm25", "rank", "feedback", "cover", "title", "literal", "field", "centroid", "topic", "top1", "pivot")
SHORT_SIGNALS = ("top1",)  # used by the model of one-keyword listings only (Model.short)
REST_SIGNALS = ("pivot",)  # used by the models of the slots after the first only (Model.rest)
MODEL_FILE = "match_model.json"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / MODEL_FILE
# 匹配度 cut points of the labels (fixed: a label means the same on every page)
STRONG_FROM = 50
MEDIUM_FROM = 20


def match_degree(score: float | None) -> int:
    """The 匹配度 0-100 of a stored suggestion score (Match.score, Suggestion.score): the score is already
    the calibrated share of such pairings that were right, so this only rounds and clamps (scores stored
    before the 匹配度, up to ~120 points, read 100 until `flask match refresh --all`)."""
    if score is None or not math.isfinite(score):
        return 0
    return int(min(max(round(score), 0), 100))


def strength(degree: int) -> str:
    """强 / 中 / 弱 for a 匹配度 (fixed cut points STRONG_FROM / MEDIUM_FROM)."""
    if degree >= STRONG_FROM:
        return "强"
    return "中" if degree >= MEDIUM_FROM else "弱"


@dataclass
class Match:
    """One suggested pairing as seen from `source`: `other` is the suggested listing."""

    demand_id: int
    achievement_id: int
    other: ListingMixin
    score: float  # the 匹配度 before rounding (0-100); plain=True: the raw BM25 score
    reasons: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    signals: dict = field(default_factory=dict)  # the model's inputs, for fitting and the bench

    @property
    def degree(self) -> int:
        return match_degree(self.score)

    @property
    def strength(self) -> str:
        return strength(self.degree)


# -- the model ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    """A logistic regression over SIGNALS: P(right pairing) = sigmoid(bias + sum(weight x signal))."""

    weights: dict[str, float]
    bias: float
    about: str = ""
    # (probability x 100, share of such pairings that were right x 100) knots, increasing: the held-out
    # calibration that makes a 匹配度 mean "this often the right one"; empty: the probability itself
    calibration: tuple[tuple[float, float], ...] = ()
    # the field classifier behind the `topic` signal (market/matching/topics.py); None: topic is 0
    classifier: TopicClassifier | None = None
    # the model of a listing that names a single keyword (is_short), fitted on such needs alone, with its
    # own calibration; None: this model ranks them too
    short: Model | None = None
    # the model of a listing that names two keywords or more (is_keyed), fitted on such needs alone, with
    # its own calibration; None: this model ranks them too
    keyed: Model | None = None
    # the model that ranks the candidates after the first (which this one picks), with the `pivot`
    # signal: closeness to the first one's whole text; None: this model ranks them all
    rest: Model | None = None

    def for_listing(self, listing: ListingMixin) -> Model:
        """The model that ranks the candidates of `listing`: `short` for a one-keyword listing, `keyed`
        for one that names two keywords or more, else this one (a listing without keywords)."""
        if self.short is not None and is_short(listing):
            return self.short
        return self.keyed if self.keyed is not None and is_keyed(listing) else self

    def probability(self, signals: dict) -> float:
        z = self.bias + sum(w * float(signals.get(name, 0.0)) for name, w in self.weights.items())
        if z < -40:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def degree(self, probability: float) -> float:
        """The calibrated 匹配度 (0-100, unrounded) of a probability: piecewise linear between the knots,
        plus probability / 100 so that pairings the model tells apart never tie."""
        x = 100.0 * probability
        knots = self.calibration
        if not knots:
            return x
        if x <= knots[0][0]:
            y = knots[0][1] * (x / knots[0][0] if knots[0][0] > 0 else 1.0)
        elif x >= knots[-1][0]:
            y = knots[-1][1]
        else:
            for (x0, y0), (x1, y1) in zip(knots, knots[1:]):
                if x0 <= x <= x1:
                    y = y0 + (y1 - y0) * ((x - x0) / (x1 - x0) if x1 > x0 else 1.0)
                    break
        return min(max(y + probability / 100.0, 0.0), 100.0)

    def ranked(self, found: list, signals_of, tie) -> list[tuple[object, float]]:
        """(item, probability) for every item of `found`, best first: the first by this model, the
        others by `rest` when there is one (their probability capped at the first's, so that the list
        stays in the order of its 匹配度). signals_of(item) -> its signals; tie(item) breaks ties."""
        scored = sorted(((x, self.probability(signals_of(x))) for x in found), key=lambda xp: (-xp[1], tie(xp[0])))
        if self.rest is None or len(scored) < 2:
            return scored
        first, cap = scored[0]
        others = sorted(((x, min(self.rest.probability(signals_of(x)), cap)) for x, _ in scored[1:]),
                        key=lambda xp: (-xp[1], tie(xp[0])))
        return [(first, cap)] + others

    def to_json(self) -> dict:
        out = {"signals": list(SIGNALS), "weights": self.weights, "bias": self.bias,
               "calibration": [list(k) for k in self.calibration], "about": self.about}
        for name in ("short", "keyed", "rest"):
            sub = getattr(self, name)
            if sub is not None:
                out[name] = {k: v for k, v in sub.to_json().items() if k not in ("classifier", "short", "keyed")}
        if self.classifier is not None:
            out["classifier"] = self.classifier.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict) -> Model:
        weights = {k: float(v) for k, v in (data.get("weights") or {}).items() if k in SIGNALS}
        knots = tuple((float(x), float(y)) for x, y in (data.get("calibration") or ()))
        return cls(weights=weights, bias=float(data.get("bias", 0.0)), about=str(data.get("about", "")),
                   calibration=tuple(sorted(knots)), classifier=TopicClassifier.from_json(data.get("classifier")),
                   short=cls.from_json(data["short"]) if isinstance(data.get("short"), dict) else None,
                   keyed=cls.from_json(data["keyed"]) if isinstance(data.get("keyed"), dict) else None,
                   rest=cls.from_json(data["rest"]) if isinstance(data.get("rest"), dict) else None)


def is_short(listing: ListingMixin) -> bool:
    """A listing that names a single keyword (a busy poster's need): its candidates are ranked by Model.short."""
    return len(listing.keyword_list) == 1


def is_keyed(listing: ListingMixin) -> bool:
    """A listing that names two keywords or more: its candidates are ranked by Model.keyed."""
    return len(listing.keyword_list) >= 2


_models: dict[str, tuple[float, Model]] = {}
_models_lock = threading.Lock()


def _read_model(path: Path) -> Model | None:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = str(path)
    cached = _models.get(key)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        model = Model.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    with _models_lock:
        _models[key] = (mtime, model)
    return model


def model_path_for(backend: SearchBackend) -> Path:
    """Where `flask match fit` stores the model of an index: beside its generations (SEARCH_INDEX_DIR),
    so that a reindex keeps it."""
    path = Path(backend.path)
    return (path.parent if path.name.startswith("gen-") else path) / MODEL_FILE


def model_for(backend: SearchBackend | None) -> Model:
    """The model stored with the index, else the one shipped in market/data (fitted on CSL papers)."""
    if backend is not None:
        found = _read_model(model_path_for(backend))
        if found is not None:
            return found
    found = _read_model(DEFAULT_MODEL_PATH)
    if found is None:  # a broken checkout: plain BM25 order, degrees near the middle
        return Model(weights={"bm25": 4.0, "rank": 2.0}, bias=-4.0, about="fallback")
    return found


# -- text ------------------------------------------------------------------------------------------

def _part_text(listing: ListingMixin, part: str) -> str:
    if part == "keywords":
        return "，".join(listing.keyword_list)
    return listing.title if part == "title" else listing.body


def listing_terms(listing: ListingMixin, *, drop_generic: bool = True) -> list[tuple[str, float]]:
    """The weighted key terms that describe a listing: title and keywords boosted over the body."""
    combined: dict[str, float] = {}
    for part, boost in PART_BOOSTS:
        for term, weight in analyzer.key_terms(_part_text(listing, part), k=TERMS_PER_PART + 10):
            # a keyword the poster chose is never generic to them (系统, 优化 may be all they wrote)
            if not (drop_generic and term in GENERIC_TERMS and part != "keywords"):
                combined[term] = combined.get(term, 0.0) + weight * boost
    ranked = sorted(combined.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:MAX_QUERY_TERMS]
    return [(t, round(w, 4)) for t, w in ranked]


def glossary_terms(listing: ListingMixin, terms: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """`terms` plus the analyzer terms of the other names of every glossary concept the listing names."""
    text = "\n".join(_part_text(listing, part) for part, _ in PART_BOOSTS)
    links = analyzer.glossary_links(text)
    if not links:
        return terms
    have = dict(terms)
    top = max(have.values(), default=1.0)
    for found, names in links.items():
        # bilingual only: an English name or abbreviation reaches its Chinese names, a Chinese name its
        # English ones; Chinese-to-Chinese synonyms (导电膜 -> 透明导电膜) added noise on the graded set
        latin = analyzer.is_latin(found)
        for name in (n for n in names if latin or analyzer.is_latin(n)):
            tokens = analyzer.tokenize(name)
            whole = [t for t in tokens if len(t) >= 2 and t not in GENERIC_TERMS]
            for t in whole or tokens:
                if t not in have:
                    have[t] = round(GLOSSARY_WEIGHT * top, 4)
    return sorted(have.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))


_term_cache: dict[tuple[str, int, int], frozenset[str]] = {}
_term_cache_lock = threading.Lock()
_TERM_CACHE_MAX = 50_000


def _terms_of(listing: ListingMixin, hit: Hit | None = None) -> frozenset[str]:
    """Every analyzer term of a listing's title, keywords and body: the terms the index stored
    with `hit` when it is of the same version, else segmented here (cached by id and version)."""
    key = (listing.KIND, listing.id, listing.version or 1)
    if hit is not None and hit.terms is not None and hit.version == (listing.version or 1):
        return hit.terms
    found = _term_cache.get(key)
    if found is None:
        text = "\n".join(_part_text(listing, part) for part, _ in PART_BOOSTS)
        found = frozenset(analyzer.tokenize(text))
        with _term_cache_lock:
            if len(_term_cache) >= _TERM_CACHE_MAX:
                _term_cache.clear()
            _term_cache[key] = found
    return found


def _readable(term: str) -> bool:
    """A term worth showing as a reason: two characters or more and not just a number."""
    return len(term) >= 2 and not term.replace(".", "").isdigit() and term not in GENERIC_TERMS


def shown_terms(shared: list[str], limit: int = SHOWN_TERMS) -> list[str]:
    """The shared terms to show, best first, without the sub-words of a longer shown term."""
    out: list[str] = []
    for term in shared:
        if not _readable(term) or any(term in longer for longer in out):
            continue
        out = [t for t in out if t not in term]  # a longer term replaces its sub-words
        out.append(term)
    return out[:limit]


def _idf(df: int, n: int) -> float:
    return math.log(max(n, 1) / (df + 1)) + 1.0  # the engines' idf (Whoosh's WeightingModel.idf)


def _subject_term(term: str) -> bool:
    """A term the `centroid` and `pivot` signals weigh: two characters or more, neither generic nor broad."""
    return len(term) >= 2 and term not in GENERIC_TERMS and term not in BROAD_TERMS


def _phrases(listing: ListingMixin) -> list[str]:
    """What a person would look for word for word in the other listing: its keywords (else its
    title's longest key terms), lower-cased."""
    found = [k.strip().lower() for k in listing.keyword_list if len(k.strip()) >= 2]
    if not found:
        found = [t for t, _ in analyzer.key_terms(listing.title or "", k=8) if len(t) >= 3 and t not in GENERIC_TERMS][:4]
    return list(dict.fromkeys(found))[:12]


# -- the matcher ----------------------------------------------------------------------------------

class Matcher:
    """Matches listings against one index; keeps the small region and field tables for a batch."""

    def __init__(self, session: Session, backend: SearchBackend, *, plain: bool = False,
                 top_n: int = TOP_N, pool: int = POOL, model: Model | None = None,
                 feedback: bool = FEEDBACK, glossary: bool = True, **_ignored):
        self.session = session
        self.backend = backend
        self.plain = plain
        self.top_n = top_n
        self.pool = max(pool, top_n)
        self.model = model or model_for(backend)
        self.feedback = feedback
        self.glossary = glossary
        self._regions: dict[int, Region] | None = None
        self._fields: dict[int, Field] | None = None
        self._memo: dict[tuple[str, int, int], list[Match]] = {}  # the index does not change within a batch

    # reference tables, loaded once per matcher
    @property
    def regions(self) -> dict[int, Region]:
        if self._regions is None:
            self._regions = {r.id: r for r in self.session.scalars(select(Region))}
        return self._regions

    @property
    def fields(self) -> dict[int, Field]:
        if self._fields is None:
            self._fields = {f.id: f for f in self.session.scalars(select(Field))}
        return self._fields

    def matches_for(self, listing: ListingMixin) -> list[Match]:
        """Up to top_n listings of the other kind for `listing`, best first (empty unless it is published)."""
        if listing.status != MATCHABLE:
            return []
        key = (listing.KIND, listing.id, listing.version or 1)
        if listing.id is None:  # a listing not saved (the bench's probes): nothing to remember it by
            return self._compute(listing)
        if key not in self._memo:
            if len(self._memo) > 5000:
                self._memo.clear()
            self._memo[key] = self._compute(listing)
        return list(self._memo[key])

    def _compute(self, listing: ListingMixin) -> list[Match]:
        if self.plain:
            return self._plain(listing)
        model = self.model.for_listing(listing)
        found = []
        for m, p in model.ranked(self.candidates(listing), lambda m: m.signals, lambda m: m.other.id):
            m.signals["probability"] = p
            m.score = round(model.degree(p), 3)
            found.append(m)
        top = found[: self.top_n]
        for m in top:
            self._explain(listing, m)
        return top

    def _plain(self, listing: ListingMixin) -> list[Match]:
        terms = listing_terms(listing, drop_generic=False)
        if not terms:
            return []
        other_kind = OTHER_KIND[listing.KIND]
        hits = self.backend.more_like_this(terms, kind=other_kind, limit=self.pool)
        candidates = self._load(other_kind, [h.id for h in hits])
        matches = []
        for hit in hits:
            other = candidates.get(hit.id)
            if other is None or other.status != MATCHABLE or other.org_id == listing.org_id:
                continue
            their_terms = _terms_of(other, hit)
            shown = shown_terms([t for t, _ in terms if t in their_terms])
            demand, achievement = (listing, other) if listing.KIND == "demand" else (other, listing)
            matches.append(Match(demand_id=demand.id, achievement_id=achievement.id, other=other,
                                 score=round(hit.score, 2), terms=shown,
                                 reasons=[f"共同关键词：{'、'.join(shown)}"] if shown else []))
        matches.sort(key=lambda m: (-m.score, m.other.id))
        return matches[: self.top_n]

    def candidates(self, listing: ListingMixin) -> list[Match]:
        """Every candidate of the other kind with its signals (unscored, unordered): what the model
        ranks, and what bench/matching.py fits the model on."""
        terms = listing_terms(listing)
        own = {t for t, _ in terms}
        if self.glossary:
            terms = glossary_terms(listing, terms)
        self._own_terms = own
        if not terms:
            return []
        other_kind = OTHER_KIND[listing.KIND]
        n = self.backend.doc_count() or 1
        dfs = self.backend.doc_frequencies([t for t, _ in terms])
        query = self.query_terms(terms, dfs=dfs, n=n)
        if not query:
            return []
        hits = self.backend.more_like_this(query, kind=other_kind, limit=self.pool)
        if not hits:
            return []
        ideal = sum(w * _idf(dfs.get(t, 0), n) * (K1 + 1) for t, w in query) or 1.0
        first = {h.id: h for h in hits}
        second: dict[int, Hit] = {}
        if self.feedback:
            expansion = self._feedback_terms(hits, query, n)
            if expansion:
                second = {h.id: h for h in self.backend.more_like_this(query + expansion, kind=other_kind,
                                                                       limit=self.pool)}
        pool = dict(second)
        pool.update(first)  # the first query's hit carries the first query's score
        others = self._load(other_kind, list(pool))
        top1 = max(h.score for h in hits) or 1.0
        top2 = max((h.score for h in second.values()), default=0.0) or 1.0
        weights = dict(terms)
        total_weight = sum(weights.values()) or 1.0
        phrases = _phrases(listing)
        chosen = {t for k in listing.keyword_list for t in analyzer.tokenize(k) if len(t) >= 2}
        self._listing_dfs, self._n, self._weights = dfs, n, weights  # for _explain of the kept ones
        found: list[Match] = []
        known: dict[str, int] = {}  # document frequencies looked up for this match, shared by both signals
        centroid = self._centroid(hits, n, known)
        pivot = self._pivot(hits, pool, others, n, known)
        classifier = self.model.classifier
        mine = self.topic_of(listing, own) if classifier is not None else {}
        for oid, hit in pool.items():
            other = others.get(oid)
            if other is None or other.status != MATCHABLE or other.org_id == listing.org_id:
                continue
            their_terms = _terms_of(other, hit)
            shared = [t for t, _ in terms if t in their_terms]
            if not any((_readable(t) and t not in BROAD_TERMS) or t in chosen for t in shared):
                continue  # nothing specific a person could see in common (处理 alone is not a reason)
            title = (other.title or "").lower()
            text = f"{title}\n{','.join(other.keyword_list)}\n{other.body}".lower()
            s1 = first[oid].score if oid in first else 0.0
            signals = {
                "bm25": min(s1 / ideal, 1.0),
                "rank": s1 / top1,
                "top1": 1.0 if s1 >= 0.999 * top1 else 0.0,  # the best hit of the query
                "feedback": (second[oid].score / top2) if oid in second else 0.0,
                "cover": sum(weights[t] for t in shared) / total_weight,
                "title": sum(weights[t] for t in shared if t in title) / total_weight,
                "literal": (sum(1 for p in phrases if p in text) / len(phrases)) if phrases else 0.0,
                "field": self._field_signal(listing, other),
                "centroid": centroid(oid, their_terms),
                "topic": agreement(mine, self.topic_of(other, their_terms)) if mine else 0.0,
                "pivot": pivot(their_terms),
            }
            demand, achievement = (listing, other) if listing.KIND == "demand" else (other, listing)
            found.append(Match(demand_id=demand.id, achievement_id=achievement.id, other=other, score=0.0,
                               terms=shared, signals=signals))
        return found

    def topic_of(self, listing: ListingMixin, terms: Iterable[str]) -> dict[str, float]:
        """The field distribution of a listing for the `topic` signal: its own field when its owner
        chose one the classifier knows, else the classifier's prediction from its terms (generic
        words left out); cached by listing id and version."""
        classifier = self.model.classifier
        if classifier is None:
            return {}
        chosen = self.fields.get(listing.field_id or 0)
        if chosen is not None and chosen.code in classifier.docs:
            return {chosen.code: 1.0}
        words = [t for t in terms if t not in GENERIC_TERMS]
        if listing.id is None:
            return classifier.predict(words)
        return cached_predict(classifier, (listing.KIND, listing.id, listing.version or 1), words)

    def _frequencies(self, terms: list[str], known: dict[str, int]) -> dict[str, int]:
        """The document frequencies of `terms`, asking the index only for those not in `known` (which keeps them)."""
        missing = [t for t in terms if t not in known]
        if missing:
            fetched = self.backend.doc_frequencies(missing)
            known.update((t, fetched.get(t, 0)) for t in missing)
        return {t: known[t] for t in terms if known[t]}

    def _centroid(self, hits: list[Hit], n: int, known: dict[str, int]):
        """A function (id, terms) -> the share of the neighbourhood's weight that a candidate's terms
        hold, its own contribution left out: high for listings on the same subject as the best hits."""
        top = [h for h in hits[:CENTROID_DOCS] if h.terms]
        if len(top) < 2:
            return lambda oid, terms: 0.0
        peak = top[0].score or 1.0
        share = {h.id: h.score / peak for h in top}
        mass: dict[str, float] = {}
        for h in top:
            for t in h.terms:
                if _subject_term(t):
                    mass[t] = mass.get(t, 0.0) + share[h.id]
        kept = sorted(mass, key=lambda t: (-mass[t], -len(t), t))[:CENTROID_TERMS]
        dfs = self._frequencies(kept, known)
        idf = {t: _idf(dfs.get(t, 0), n) for t in kept if dfs.get(t)}
        total = sum(mass[t] * w for t, w in idf.items()) or 1.0

        def similarity(oid: int, terms: frozenset[str]) -> float:
            own = share.get(oid, 0.0)
            held = mine = 0.0
            for t in terms:
                w = idf.get(t)
                if w is not None:
                    held += mass[t] * w
                    mine += w
            # leave-one-out: a best hit's own terms are not its neighbourhood
            return max(held - own * mine, 0.0) / ((total - own * mine) or 1.0)

        return similarity

    def _pivot(self, hits: list[Hit], pool: dict[int, Hit], others: dict[int, ListingMixin], n: int,
               known: dict[str, int]):
        """A function terms -> how close a candidate's terms are to the best hit's (the `pivot` signal):
        the idf-weighted cosine, a candidate's norm taken as its number of terms times the best hit's
        mean squared idf (only the best hit's terms are looked up: the candidates' whole vocabularies
        took a match at 10,000 listings over its time budget). The best hit's whole text says more
        about the subject than the short listing."""
        best = max(hits, key=lambda h: h.score)
        if best.id not in others:
            return lambda terms: 0.0
        mine = [t for t in _terms_of(others[best.id], pool[best.id]) if _subject_term(t)]
        dfs = self._frequencies(mine, known)
        idf2 = {t: _idf(dfs.get(t, 0), n) ** 2 for t in mine}
        total = sum(idf2.values())
        if not total:
            return lambda terms: 0.0
        mean = total / len(idf2)
        held = frozenset(idf2)

        def similarity(terms: frozenset[str]) -> float:
            size = sum(1 for t in terms if _subject_term(t))
            if not size:
                return 0.0
            return min(sum(idf2[t] for t in terms & held) / math.sqrt(total * size * mean), 1.0)

        return similarity

    def _feedback_terms(self, hits: list[Hit], query: list[tuple[str, float]], n: int) -> list[tuple[str, float]]:
        """RM3-like expansion: terms of the best hits, weighted by how many of them (by score) hold the
        term and by its idf; terms of the query, generic or unreadable ones left out."""
        top = [h for h in hits[:FEEDBACK_DOCS] if h.terms]
        if len(top) < 2:
            return []
        peak = top[0].score or 1.0
        have = {t for t, _ in query}
        mass: dict[str, float] = {}
        for h in top:
            share = h.score / peak
            for t in h.terms:
                if t not in have and _readable(t) and t not in BROAD_TERMS:
                    mass[t] = mass.get(t, 0.0) + share
        common = sorted((t for t, m in mass.items() if m >= 1.5), key=lambda t: (-mass[t], -len(t), t))[:60]
        if not common:
            return []
        dfs = self.backend.doc_frequencies(common)
        scored = sorted(((t, mass[t] * _idf(dfs.get(t, 0), n)) for t in common if dfs.get(t)),
                        key=lambda tw: (-tw[1], tw[0]))[:FEEDBACK_TERMS]
        if not scored:
            return []
        best = scored[0][1]
        scale = FEEDBACK_WEIGHT * max(w for _, w in query)
        return [(t, round(scale * w / best, 4)) for t, w in scored]

    def query_terms(self, terms: list[tuple[str, float]], *, dfs: dict[str, int] | None = None,
                    n: int | None = None) -> list[tuple[str, float]]:
        """The listing's most distinctive key terms, for the index query (as Lucene's MoreLikeThis
        picks them): weight x idf, best QUERY_TERMS; terms no document holds are left out. Common
        terms add little to BM25 and much to the work (their posting lists are the longest)."""
        n = self.backend.doc_count() if n is None else n
        if len(terms) <= QUERY_TERMS or not n:
            return terms
        dfs = dfs if dfs is not None else self.backend.doc_frequencies([t for t, _ in terms])
        ranked = sorted(((t, w) for t, w in terms if dfs.get(t)),
                        key=lambda tw: -tw[1] * math.log(1 + (n - dfs[tw[0]] + 0.5) / (dfs[tw[0]] + 0.5)))
        return ranked[:QUERY_TERMS]

    def _field_signal(self, a: ListingMixin, b: ListingMixin) -> float:
        fa, fb = self.fields.get(a.field_id or 0), self.fields.get(b.field_id or 0)
        if fa is None or fb is None:
            return 0.0
        if fa.id == fb.id:
            return 1.0
        return 0.5 if fa.root_code == fb.root_code else 0.0

    # -- reasons -----------------------------------------------------------------------------------
    def _explain(self, listing: ListingMixin, m: Match) -> None:
        """The reasons of a kept suggestion: the most specific shared terms, where they are, the rules."""
        dfs, n, weights = self._listing_dfs, self._n, self._weights
        linked = [t for t in m.terms if t not in self._own_terms and _readable(t)]
        spec = sorted((t for t in m.terms if t in self._own_terms), key=lambda t: (-weights.get(t, 0.5) * _idf(dfs.get(t, 0), n), -len(t), t))
        broad = {t for t in spec if t in BROAD_TERMS or (n >= BROAD_MIN_DOCS and dfs.get(t, 0) > BROAD_SHARE * n)}
        specific = shown_terms([t for t in spec if t not in broad])
        shown = specific if len(specific) >= MIN_SPECIFIC else shown_terms(
            [t for t in spec if t not in broad] + [t for t in spec if t in broad])
        m.reasons = [f"共同关键词：{'、'.join(shown)}"] if shown else []
        if linked:  # reached through the glossary: the other listing names the concept differently
            linked = shown_terms(linked, limit=SHOWN_TERMS - len(shown) or 1)
            m.reasons.append(f"同义术语：{'、'.join(linked)}")
            shown = shown + [t for t in linked if t not in shown]
        m.terms = shown
        other = m.other
        parts = [label for label, text in (("标题", other.title), ("关键词", ",".join(other.keyword_list)),
                                           ("正文", other.body))
                 if text and any(t in text.lower() for t in shown)]
        if parts:
            m.reasons.append(f"相符部分：对方的{'、'.join(parts)}")
        demand, achievement = (listing, other) if listing.KIND == "demand" else (other, listing)
        for name, points, reason in self._bonuses(demand, achievement):
            m.signals[name] = points
            m.reasons.append(reason)

    def _load(self, kind: str, ids: list[int]) -> dict[int, ListingMixin]:
        model = LISTING_MODELS[kind]
        rows = self.session.scalars(
            select(model).where(model.id.in_(ids)).options(selectinload(model.org))
        ).all()
        return {r.id: r for r in rows}

    # -- bonuses, each with its reason -----------------------------------------------------------
    def _bonuses(self, demand: Demand, achievement: Achievement) -> list[tuple[str, float, str]]:
        """(rule, points, reason) for every bonus the pair earns."""
        out = []
        rules = (("field_rule", self._field_bonus), ("region", self._region_bonus), ("maturity", _maturity_bonus),
                 ("price", _price_bonus))
        for name, rule in rules:
            found = rule(demand, achievement)
            if found:
                out.append((name, *found))
        return out

    def _field_bonus(self, demand: Demand, achievement: Achievement):
        a, b = self.fields.get(demand.field_id or 0), self.fields.get(achievement.field_id or 0)
        if a is None or b is None:
            return None
        if a.id == b.id:
            return SAME_SUBFIELD, f"同属技术领域：{self._field_label(a)}"
        if a.root_code == b.root_code:
            root = self._root(a)
            return SAME_DOMAIN, f"同属{root.name if root else a.root_code}领域"
        return None

    def _root(self, f: Field) -> Field | None:
        while f is not None and f.parent_id is not None:
            f = self.fields.get(f.parent_id)
        return f

    def _field_label(self, f: Field) -> str:
        parent = self.fields.get(f.parent_id or 0)
        return f"{parent.name} / {f.name}" if parent else f.name

    def _ancestor(self, region_id: int | None, level: str) -> Region | None:
        region = self.regions.get(region_id or 0)
        if region is None:
            return None
        for rid in region.ancestor_ids:
            r = self.regions.get(rid)
            if r is not None and r.level == level:
                return r
        return None

    def _region_bonus(self, demand: Demand, achievement: Achievement):
        county = self._ancestor(demand.region_id, "county")
        theirs = self._ancestor(achievement.region_id, "county")
        if county is not None and theirs is not None and county.id == theirs.id:
            return SAME_COUNTY, f"同在{county.name}"
        city = self._ancestor(demand.region_id, "city")
        theirs = self._ancestor(achievement.region_id, "city")
        # a party left on the city node itself has no known place (issue 16: a Hefei university once sat there)
        on_node = any(getattr(self.regions.get(rid or 0), "level", None) == "city"
                      for rid in (demand.region_id, achievement.region_id))
        if city is not None and theirs is not None and city.id == theirs.id and not on_node:
            return SAME_CITY, f"同在{city.name}，距离较近"
        return None


def _maturity_bonus(demand: Demand, achievement: Achievement):
    level = achievement.maturity
    if not level:
        return None
    modes = demand.mode_list
    wanted = [DEMAND_MODES[m] for m in ("transfer", "license") if m in modes]
    if wanted and level >= TRANSFER_LEVEL:
        return MATURITY_TRANSFER, f"技术成熟度{level}级，达到{'/'.join(wanted)}通常要求的{TRANSFER_LEVEL}级及以上"
    if "development" in modes and level >= CODEVELOP_LEVEL:
        return MATURITY_CODEVELOP, f"技术成熟度{level}级，适合{DEMAND_MODES['development']}"
    return None


def _price_bonus(demand: Demand, achievement: Achievement):
    budget, price = demand.budget, achievement.price
    if budget is None or price is None or not isinstance(price, Decimal):
        return None
    if price <= budget:
        return PRICE_IN_BUDGET, f"成果报价{format_wan(price)}，在需求预算{format_wan(budget)}以内"
    return None

