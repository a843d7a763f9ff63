"""The matching engine: for a need, the results that could solve it; for a result, the needs it could serve.

1. Candidates: one more-like-this query on the search index with the listing's key terms (title and
   keywords boosted over the body), the QUERY_TERMS most distinctive of them (weight x idf, as
   Lucene's MoreLikeThis), restricted to the other kind (the POOL best). The shared terms of each
   candidate are read from the terms the index stored with it, not segmented again.
2. Re-rank with a score in points that a person can follow:
   - text, up to 80: 60 x (the candidate's BM25 score / the score the same query gives the listing's
     own document, i.e. how close to a perfect match) + 20 x (the share of the listing's key-term
     weight that the candidate also contains);
   - bonuses: same subfield 20 or same domain 10 (both sides chose it when posting); same county 5 or
     same city 2; a maturity fitting the need's mode of cooperation (5: level 6 or more for 技术转让/许可;
     3: level 3 or more for 合作研发); a price within the budget 5.
3. Keep the TOP_N best with text >= MIN_TEXT, total > MIN_SCORE (less SAME_DOMAIN when a side has no
   field, as imported listings may) and at least one shared key term that a person can see: a result
   from another field must be close in text, one from the same subfield needs only a moderate overlap.

Every bonus comes with a reason in Chinese, and the shared key terms are listed, so a suggestion can
be checked by reading both listings. The weights were set on bench/matching.py (CSL papers); `plain=True`
is plain jieba + BM25 (the analyzer's key terms, generic words kept, raw score order, no threshold):
the baseline that bench compares against.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import LISTING_MODELS, Achievement, Demand, Field, ListingMixin, Region
from ..models.listing import DEMAND_MODES
from ..money import format_wan
from ..search import analyzer
from ..search.backend import MAX_QUERY_TERMS, Hit, SearchBackend

TOP_N = 10
POOL = 50
MIN_SCORE = 30.0
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
""".split())

TEXT_SELF_POINTS = 60.0
TEXT_COVER_POINTS = 20.0
MIN_TEXT = 6.0
SELF_PROBE = 10
SAME_SUBFIELD = 20.0
SAME_DOMAIN = 10.0
SAME_COUNTY = 5.0
SAME_CITY = 2.0
MATURITY_TRANSFER = 5.0  # level >= 6 for 技术转让 / 技术许可
MATURITY_CODEVELOP = 3.0  # level >= 3 for 技术开发/合作研发
PRICE_IN_BUDGET = 5.0
TRANSFER_LEVEL = 6
CODEVELOP_LEVEL = 3
SHOWN_TERMS = 6


@dataclass
class Match:
    """One suggested pairing as seen from `source`: `other` is the suggested listing."""

    demand_id: int
    achievement_id: int
    other: ListingMixin
    score: float
    reasons: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    signals: dict = field(default_factory=dict)  # the score's parts, for tuning and the bench


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
            if not (drop_generic and term in GENERIC_TERMS):
                combined[term] = combined.get(term, 0.0) + weight * boost
    ranked = sorted(combined.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:MAX_QUERY_TERMS]
    return [(t, round(w, 4)) for t, w in ranked]


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


# -- the matcher ----------------------------------------------------------------------------------

class Matcher:
    """Matches listings against one index; keeps the small region and field tables for a batch."""

    def __init__(self, session: Session, backend: SearchBackend, *, plain: bool = False,
                 top_n: int = TOP_N, pool: int = POOL, min_score: float = MIN_SCORE, min_text: float = MIN_TEXT):
        self.session = session
        self.backend = backend
        self.plain = plain
        self.top_n = top_n
        self.pool = max(pool, top_n)
        self.min_score = min_score
        self.min_text = min_text
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
        """The best listings of the other kind for `listing`, best first (empty unless it is published)."""
        if listing.status != MATCHABLE:
            return []
        key = (listing.KIND, listing.id, listing.version or 1)
        if key not in self._memo:
            if len(self._memo) > 5000:
                self._memo.clear()
            self._memo[key] = self._compute(listing)
        return list(self._memo[key])

    def _compute(self, listing: ListingMixin) -> list[Match]:
        terms = listing_terms(listing, drop_generic=not self.plain)
        if not terms:
            return []
        other_kind = OTHER_KIND[listing.KIND]
        query = terms if self.plain else self.query_terms(terms)
        hits = self.backend.more_like_this(query, kind=other_kind, limit=self.pool)
        if not hits:
            return []
        candidates = self._load(other_kind, [h.id for h in hits])
        weights = dict(terms)
        total_weight = sum(weights.values()) or 1.0
        top_score = max(h.score for h in hits) or 1.0
        reference = top_score if self.plain else max(self._self_score(listing, query), top_score)
        matches: list[Match] = []
        for hit in hits:
            other = candidates.get(hit.id)
            if other is None or other.status != MATCHABLE or other.org_id == listing.org_id:
                continue
            their_terms = _terms_of(other, hit)
            shared = [t for t, _ in terms if t in their_terms]
            shown = shown_terms(shared)
            demand, achievement = (listing, other) if listing.KIND == "demand" else (other, listing)
            reasons = [f"共同关键词：{'、'.join(shown)}"] if shown else []
            signals = {"rank": hit.score / top_score, "self": hit.score / reference,
                       "cover": sum(weights[t] for t in shared) / total_weight}
            if self.plain:
                score = hit.score
            else:
                score = self.text_points(signals)
                text_ok = score >= self.min_text
                for name, points, reason in self._bonuses(demand, achievement):
                    signals[name] = points
                    score += points
                    reasons.append(reason)
                # a listing without a field cannot earn the field bonus: judge it by the rest
                bar = self.min_score if demand.field_id and achievement.field_id else self.min_score - SAME_DOMAIN
                if not text_ok or score <= bar or not shown:
                    continue
            matches.append(Match(demand_id=demand.id, achievement_id=achievement.id, other=other,
                                 score=round(score, 2), reasons=reasons, terms=shown, signals=signals))
        matches.sort(key=lambda m: (-m.score, m.other.id))
        return matches[: self.top_n]

    def query_terms(self, terms: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The listing's most distinctive key terms, for the index query (as Lucene's MoreLikeThis
        picks them): weight x idf, best QUERY_TERMS; terms no document holds are left out. Common
        terms add little to BM25 and much to the work (their posting lists are the longest)."""
        n = self.backend.doc_count()
        if len(terms) <= QUERY_TERMS or not n:
            return terms
        dfs = self.backend.doc_frequencies([t for t, _ in terms])
        ranked = sorted(((t, w) for t, w in terms if dfs.get(t)),
                        key=lambda tw: -tw[1] * math.log(1 + (n - dfs[tw[0]] + 0.5) / (dfs[tw[0]] + 0.5)))
        return ranked[:QUERY_TERMS]

    def text_points(self, signals: dict) -> float:
        return TEXT_SELF_POINTS * min(signals["self"], 1.0) + TEXT_COVER_POINTS * signals["cover"]

    def _self_score(self, listing: ListingMixin, terms: list[tuple[str, float]]) -> float:
        """The score the same query gives the listing's own document: what a perfect match scores."""
        own = self.backend.more_like_this(terms, kind=listing.KIND, limit=SELF_PROBE)
        for hit in own:
            if hit.doc_id == listing.doc_id:
                return hit.score
        return max((h.score for h in own), default=0.0)

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
        rules = (("field", self._field_bonus), ("region", self._region_bonus), ("maturity", _maturity_bonus),
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
        if city is not None and theirs is not None and city.id == theirs.id:
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
