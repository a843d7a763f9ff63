"""The search page's reads: request arguments -> engine query -> listings reloaded from the database.

Every argument is checked against the known values and anything else is ignored, so no input can reach
the engine as syntax or widen what it returns; the hits are reloaded by id and only published rows are
kept (the index holds only public documents, this is the second line).

The query text is planned before it reaches the engine (`plan_query`): the words of the query are grouped
into concepts (a word with its sub-words; a glossary name with its other names, so that `machine vision` also
looks for 机器视觉, market/data/glossary.txt); a concept no document holds is named on the page (未找到：隔膜);
lone numbers and single letters never match on their own; and a query whose concepts mostly matched nothing
gets no results rather than hits for its one common word (`<script>alert(1)</script>` once found 39 by "1").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination
from markupsafe import Markup
from sqlalchemy import String, cast, literal, null, select, union_all
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import LISTING_MODELS, Field, ListingMixin, Region
from ..models.listing import ACHIEVEMENT_MODES, DEMAND_MODES, MATURITY_LEVELS, PRICE_BANDS, PUBLIC_STATUSES
from . import analyzer
from .backend import SearchBackend

MAX_QUERY_CHARS = 1000
MIN_SHARE = 0.5  # of a query's concepts (lone numbers and letters aside), at least this share must be found
BROAD_SHARE = 0.05  # a glossary name with a word in more than this share of the documents is not searched too
BROAD_MIN_DOCS = 10
MAX_CONCEPTS = 32
MAX_PAGE = 500
KINDS = {"all": "全部", "demand": "需求", "achievement": "成果"}
SORTS = {"relevance": "相关度", "date": "发布时间"}
# url argument -> (engine field, heading)
FACETS = {
    "field": ("field_root", "技术领域"),
    "region": ("region_ids", "区域"),
    "maturity": ("maturity", "技术成熟度"),
    "mode": ("modes", "合作/交易方式"),
    "band": ("price_band", "预算/价格"),
}


@dataclass
class SearchArgs:
    q: str = ""
    kind: str = "all"
    sort: str = "relevance"
    page: int = 1
    filters: dict[str, str] = field(default_factory=dict)  # url argument -> accepted value

    @property
    def kinds(self) -> list[str] | None:
        return None if self.kind == "all" else [self.kind]

    def engine_filters(self) -> dict[str, str]:
        return {FACETS[name][0]: value for name, value in self.filters.items()}


@dataclass
class FacetValue:
    value: str
    label: str
    count: int


@dataclass
class SearchHit:
    kind: str
    listing: ListingMixin
    title: Markup
    snippet: Markup


@dataclass
class Concept:
    name: str  # as the page names it: the user's word, or the glossary name as the user typed it
    terms: list[str]  # analyzer terms of the user's word (with its sub-words)
    others: list[str] = field(default_factory=list)  # glossary: the concept's other names
    weak: bool = False  # a lone number or letter: never enough on its own
    found: bool = False


@dataclass
class QueryPlan:
    """What the engine is asked and what the page says about the query."""

    text: str = ""  # the engine's query: the found words and the glossary names worth searching too
    highlight: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # 未找到：...
    expanded: list[str] = field(default_factory=list)  # other names searched too (machine vision -> 机器视觉)
    refused: str = ""  # why the query gets no results at all, when it does not


def _top_level(terms: list[str]) -> list[str]:
    """The terms that are not sub-words of another term of the list ("锂电池" over "锂电", "电池")."""
    return [t for t in terms if not any(t != other and t in other for other in terms)]


def _is_weak(word: str) -> bool:
    plain = word.replace(".", "").replace("%", "")
    return plain.isdigit() or (len(word) == 1 and word.isascii())


def _as_typed(q: str, name: str) -> str:
    """A glossary name as the user typed it ("LiDAR", not the normalized "lidar")."""
    found = re.search(re.escape(name), q, re.IGNORECASE)
    return found.group(0) if found else name


def _concepts(q: str) -> list[Concept]:
    links = analyzer.glossary_links(q)
    rest = analyzer.normalize(q)
    concepts: list[Concept] = []
    for name, others in links.items():
        rest = rest.replace(name, " ")
        concepts.append(Concept(name=_as_typed(q, name), terms=analyzer.query_terms(name), others=list(others)))
    words = analyzer.query_terms(rest)
    for top in _top_level(words):
        members = [t for t in words if t in top]
        concepts.append(Concept(name=top, terms=members, weak=_is_weak(top)))
    return concepts[:MAX_CONCEPTS]


def plan_query(backend: SearchBackend, q: str) -> QueryPlan:
    """The engine query for `q` and what the page says: see the module's docstring.

    A glossary name is searched too only when none of its words is broad (held by more than BROAD_SHARE of the
    documents, in an index of at least BROAD_MIN_DOCS): the engine splits a name into its dictionary sub-words,
    and 微机电系统 would otherwise bring in every listing that says 系统."""
    plan = QueryPlan()
    if not q:
        return plan
    concepts = _concepts(q)
    if not concepts:
        plan.text = q  # only stop words or punctuation: the engine answers nothing, as before
        return plan
    other_terms = {n: analyzer.query_terms(n) for c in concepts for n in c.others}
    wanted = [t for c in concepts for t in c.terms] + [t for terms in other_terms.values() for t in terms]
    dfs = backend.doc_frequencies(list(dict.fromkeys(wanted)))
    broad_from = max(BROAD_MIN_DOCS, BROAD_SHARE * backend.doc_count())
    words: list[str] = []
    for c in concepts:
        own = [t for t in c.terms if dfs.get(t, 0) > 0]
        usable = [n for n in c.others
                  if other_terms[n] and all(dfs.get(t, 0) > 0 for t in _top_level(other_terms[n]))
                  and not any(dfs.get(t, 0) > broad_from for t in other_terms[n])]
        c.found = bool(own) or bool(usable)
        if c.found and not c.weak:
            words += own + usable
            plan.expanded += [n for n in usable if n not in plan.expanded]
    strong = [c for c in concepts if not c.weak]
    found = [c for c in strong if c.found]
    plan.missing = [c.name for c in strong if not c.found]
    if not strong:
        plan.refused = "请输入更具体的关键词：单独的数字或字母不足以检索。"
        return plan
    if len(found) < MIN_SHARE * len(strong):
        plan.refused = "查询中的大部分词语没有找到相关条目，请换个说法或减少关键词。"
        return plan
    plan.text = " ".join(dict.fromkeys(words))
    plan.highlight = list(dict.fromkeys(words))
    return plan


class ResultPagination(Pagination):
    """The pager macro's interface over a page of engine hits."""

    def _query_items(self) -> list:
        return self._query_args["items"]

    def _query_count(self) -> int:
        return self._query_args["total"]


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _root_fields() -> dict[str, str]:
    return dict(db.session.execute(select(Field.code, Field.name).where(Field.parent_id.is_(None))).all())


def _mode_labels() -> dict[str, str]:
    return {**ACHIEVEMENT_MODES, **DEMAND_MODES}


def parse_args(args) -> SearchArgs:
    """Request arguments -> SearchArgs; unknown or malformed values are dropped, never raised."""
    q = _text(args.get("q", "")).replace("\x00", "").strip()[:MAX_QUERY_CHARS]
    kind = _text(args.get("kind", "all"))
    kind = kind if kind in KINDS else "all"
    sort = _text(args.get("sort", "relevance"))
    sort = sort if sort in SORTS else "relevance"
    raw_page = _text(args.get("page", "1"))
    page = (int(raw_page) if len(raw_page) <= 9 else MAX_PAGE) if raw_page.isascii() and raw_page.isdigit() else 1
    page = min(max(page, 1), MAX_PAGE)
    filters: dict[str, str] = {}
    value = _text(args.get("field", ""))
    if value and value in _root_fields():
        filters["field"] = value
    value = _text(args.get("region", ""))
    if value.isascii() and value.isdigit() and len(value) < 10 and db.session.get(Region, int(value)) is not None:
        filters["region"] = str(int(value))
    value = _text(args.get("maturity", ""))
    if value.isascii() and value.isdigit() and len(value) < 3 and int(value) in MATURITY_LEVELS:
        filters["maturity"] = str(int(value))
    value = _text(args.get("mode", ""))
    if value in _mode_labels():
        filters["mode"] = value
    value = _text(args.get("band", ""))
    if value in PRICE_BANDS:
        filters["band"] = value
    return SearchArgs(q=q, kind=kind, sort=sort, page=page, filters=filters)


def run(backend: SearchBackend, sargs: SearchArgs, *, per_page: int):
    """(pagination of SearchHit, facets {url argument: [FacetValue]}, counts per kind, the QueryPlan)."""
    plan = plan_query(backend, sargs.q)
    if plan.refused:
        pagination = ResultPagination(page=sargs.page, per_page=per_page, error_out=False, items=[], total=0)
        return pagination, _facets({}), {"all": 0, **{k: 0 for k in LISTING_MODELS}}, plan
    engine_facets = [engine for engine, _ in FACETS.values()]
    if sargs.kind == "all":
        engine_facets.append("kind")
    result = backend.search(plan.text, kinds=sargs.kinds, filters=sargs.engine_filters(), facets=engine_facets,
                            sort=sargs.sort, page=sargs.page, per_page=per_page)
    if sargs.kind == "all":
        kind_counts = result.facets.get("kind", {})
    else:
        kind_counts = backend.search(plan.text, kinds=None, filters=sargs.engine_filters(), facets=["kind"],
                                     page=1, per_page=1).facets.get("kind", {})
    items = _reload(result.hits, plan.highlight)
    pagination = ResultPagination(page=sargs.page, per_page=per_page, error_out=False, items=items, total=result.total)
    counts = {"all": sum(kind_counts.values()), **{k: kind_counts.get(k, 0) for k in LISTING_MODELS}}
    return pagination, _facets(result.facets), counts, plan


def _reload(hits, terms: list[str]) -> list[SearchHit]:
    """The hits' rows in rank order; a row that is gone or no longer public is dropped."""
    by_kind: dict[str, dict[int, ListingMixin]] = {}
    for kind, model in LISTING_MODELS.items():
        ids = [h.id for h in hits if h.kind == kind]
        if ids:
            rows = db.session.scalars(
                select(model)
                .where(model.id.in_(ids), model.status.in_(PUBLIC_STATUSES))
                # joined into the same statement (many-to-one): selectinload cost three more per kind
                .options(joinedload(model.org), joinedload(model.field), joinedload(model.region))
            ).all()
            by_kind[kind] = {r.id: r for r in rows}
    out = []
    for hit in hits:
        listing = by_kind.get(hit.kind, {}).get(hit.id)
        if listing is None:
            continue
        out.append(SearchHit(
            kind=hit.kind,
            listing=listing,
            title=analyzer.highlight(listing.title, terms, max_len=200),
            snippet=analyzer.highlight(listing.body, terms, max_len=160),
        ))
    return out


def _facets(raw: dict[str, dict[str, int]]) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    region_counts = raw.get("region_ids", {})
    ids = [int(v) for v in region_counts if v.isdigit()]
    # the root fields' names and the facet's regions: one statement (two before)
    parts = [select(literal("f").label("kind"), Field.code.label("key"), Field.name.label("name"),
                    null().cast(String).label("path"), null().cast(String).label("level"))
             .where(Field.parent_id.is_(None))]
    if ids:
        parts.append(select(literal("r"), cast(Region.id, String), Region.name, Region.path, Region.level)
                     .where(Region.id.in_(ids), Region.level.in_(("city", "county"))))
    labels = db.session.execute(union_all(*parts) if len(parts) > 1 else parts[0]).all()
    roots = {r.key: r.name for r in labels if r.kind == "f"}
    out["field"] = [FacetValue(code, roots[code], n) for code, n in raw.get("field_root", {}).items() if code in roots]
    regions = sorted((r for r in labels if r.kind == "r"), key=lambda r: r.path)
    out["region"] = [FacetValue(r.key, r.name if r.level == "city" else f"　{r.name}", region_counts[r.key])
                     for r in regions]

    mat = raw.get("maturity", {})
    out["maturity"] = [FacetValue(v, f"{v}级", mat[v]) for v in sorted(mat, key=lambda v: int(v) if v.isdigit() else 99)
                       if v.isdigit() and int(v) in MATURITY_LEVELS]
    labels = _mode_labels()
    out["mode"] = [FacetValue(v, labels[v], n) for v, n in raw.get("modes", {}).items() if v in labels]
    bands = raw.get("price_band", {})
    out["band"] = [FacetValue(code, label, bands[code]) for code, label in PRICE_BANDS.items() if code in bands]
    return out
