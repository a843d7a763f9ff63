"""The search backend interface the app calls, and what both engines share (market/search/engines.py picks one).

A document is a dict: doc_id ("demand:12"), kind ("demand" | "achievement"), id, version, title, body,
keywords (list), org_name, field ("01.02"), field_root ("01"), region_ids (the region and all its
ancestors, as strings), maturity (1..9 or None), modes (list of codes), price_band, published_at.
Only published documents are given to the index, so everything in it is public.
"""
from __future__ import annotations

import errno
import os
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from market.search import analyzer

# Both engines index analyzer tokens, space-joined, in two fields: "text" holds the title tokens
# three times, the keywords twice and the body once; "org_name" the organization. Repeating tokens
# is how BM25F weights fields (weighted term frequencies summed before saturation, one length
# norm), and it lets a query be one term per field instead of one per field and boost: Whoosh
# speed depends on the number of posting lists it walks.
FIELD_REPEATS: tuple[tuple[str, int], ...] = (("title", 3), ("keywords", 2), ("body", 1))
QUERY_FIELDS: dict[str, float] = {"text": 1.0, "org_name": 1.0}
MLT_FIELD = "text"
FILTER_FIELDS: tuple[str, ...] = ("field", "field_root", "region_ids", "maturity", "modes", "price_band")
MULTI_FIELDS: frozenset[str] = frozenset({"region_ids", "modes"})
FACET_FIELDS: tuple[str, ...] = (*FILTER_FIELDS, "kind")
MAX_QUERY_TERMS = 32
MAX_PER_PAGE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Hit:
    doc_id: str
    kind: str
    id: int
    score: float  # relevance; 0.0 when sorted by date
    version: int
    # more_like_this only: the document's distinct terms (title, keywords, body) as indexed, when
    # the index stores them (indexes built before they were stored give None), so that a matcher can
    # tell which of its terms a hit shares without segmenting the hit's text again
    terms: frozenset[str] | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchBackend(ABC):
    """One index folder. Writers take the folder's file lock; readers see other processes' commits."""

    engine: str = ""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)

    @abstractmethod
    def index_documents(self, docs: list[dict]) -> None:
        """Insert or replace documents by doc_id, in one writer commit."""

    @abstractmethod
    def delete_documents(self, doc_ids: list[str]) -> None:
        """Remove documents by doc_id (unknown ids are ignored), in one writer commit."""

    @abstractmethod
    def search(self, text: str, *, kinds: list[str] | None = None, filters: dict | None = None,
               facets: Sequence[str] = (), sort: str = "relevance", page: int = 1,
               per_page: int = 20) -> SearchResult:
        """Free-text search. `text` is user input and only ever becomes an OR of analyzer terms over
        title (x3), keywords (x2), body and org_name; empty text lists everything by date. `filters`
        match exact codes (AND between keys, OR within a list value; region_ids matches the region
        and below). `facets` count values over the whole matching set. `sort` is "relevance" or "date".
        Pages start at 1; a page past the end is empty but keeps the total."""

    @abstractmethod
    def more_like_this(self, terms: list[tuple[str, float]], *, kind: str, filters: dict | None = None,
                       exclude: Sequence[str] = (), limit: int = 20) -> list[Hit]:
        """Documents of `kind` matching any of the weighted terms (weights are boosts) on title,
        keywords and body, best first, minus `exclude`d doc_ids."""

    @abstractmethod
    def doc_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """term -> how many documents (of both kinds) hold the analyzer term in title, keywords or
        body; 0 for absent ones. As in the engines' own statistics, documents deleted since their
        segment was last merged may still count: an idf estimate, not an exact count."""

    @abstractmethod
    def versions(self) -> dict[str, int]:
        """doc_id -> version for every stored document (for the drift check)."""

    @abstractmethod
    def doc_count(self) -> int: ...

    @abstractmethod
    def clear(self) -> None:
        """Remove every document (the index folder stays usable)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- helpers shared by the engines ----------------------------------------------------------------

_fault_seen: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Fault tests: MARKET_FAULT_AT=<name> raises here the error a full disk gives (ENOSPC), where a write to the
    index folder would meet it; "<name>#<k>" lets the first k such writes of the process through (see
    reset_faults). "index:write" is every engine commit and every applied.json write."""
    spec = os.environ.get("MARKET_FAULT_AT")
    if not spec:
        return
    point, _, allowed = spec.partition("#")
    if point != name:
        return
    _fault_seen[spec] = _fault_seen.get(spec, 0) + 1
    if _fault_seen[spec] > int(allowed or 0):
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (MARKET_FAULT_AT={spec})")


def reset_faults() -> None:
    """Count the writes of MARKET_FAULT_AT=<name>#<k> from zero again."""
    _fault_seen.clear()


def clean_code(value) -> str:
    """A keyword value as stored and matched: str, without control characters or lone surrogates
    (which the engines cannot encode), no commas (Whoosh's multi-value separator), trimmed."""
    text = value if isinstance(value, str) else str(value)
    return "".join(
        c for c in text if c != "," and unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    ).strip()


def code_values(value) -> list[str]:
    """Keyword values of one field: a scalar or a list; None and blanks dropped, order kept."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out: list[str] = []
    for item in items:
        if item is None or isinstance(item, bool):
            continue
        code = clean_code(item)
        if code and code not in out:
            out.append(code)
    return out


def filter_items(filters: dict | None) -> list[tuple[str, list[str]]]:
    """(field, accepted values) pairs; a key given with no usable value is ignored."""
    items = []
    for key, value in (filters or {}).items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown search filter: {key!r}")
        values = code_values(value)
        if values:
            items.append((key, values))
    return items


def check_facets(facets: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(facets or ()))
    for name in names:
        if name not in FACET_FIELDS:
            raise ValueError(f"unknown search facet: {name!r}")
    return names


def page_window(page, per_page) -> tuple[int, int]:
    """(offset, per_page) with page clamped to >= 1 and per_page to 1..MAX_PER_PAGE."""
    try:
        page = int(page)
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = int(per_page)
    except (TypeError, ValueError):
        per_page = 20
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    return (page - 1) * per_page, per_page


def timestamp(value) -> int:
    """published_at as integer microseconds since the epoch (naive datetimes are taken as UTC)."""
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def text_of(doc: dict, name: str) -> str:
    value = doc.get(name)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value if v is not None)
    return value if isinstance(value, str) else str(value)


def analyzed_text(doc: dict) -> tuple[str, str]:
    """The "text" field (title tokens x3, keywords x2, body x1, space-joined) and the document's
    distinct terms (space-joined, first seen first), from one pass of the analyzer."""
    parts: list[str] = []
    seen: dict[str, None] = {}
    for name, repeat in FIELD_REPEATS:
        tokens = analyzer.tokenize(text_of(doc, name))
        if tokens:
            parts.extend([" ".join(tokens)] * repeat)
            seen.update(dict.fromkeys(tokens))
    return " ".join(parts), " ".join(seen)


def stored_terms(value) -> frozenset[str] | None:
    """Hit.terms from the stored value (str, or UTF-8 bytes); None when the index has none."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return frozenset(value.split())


def indexed_org(doc: dict) -> str:
    return " ".join(analyzer.tokenize(text_of(doc, "org_name")))


def mlt_terms(terms: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Caller-given weighted terms, normalized like indexed terms, positive weights, capped."""
    best: dict[str, float] = {}
    for item in terms or ():
        try:
            term, weight = item
            weight = float(weight)
        except (TypeError, ValueError):
            continue
        if not isinstance(term, str) or not weight > 0 or weight == float("inf"):
            continue
        term = analyzer.normalize(term)
        if term and len(term) <= analyzer.MAX_TOKEN_LEN and " " not in term:
            best[term] = max(best.get(term, 0.0), weight)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_QUERY_TERMS]
    return ranked


def is_term(value) -> bool:
    """Whether `value` could be an indexed term (an analyzer token), so worth looking up."""
    return (isinstance(value, str) and 0 < len(value) <= analyzer.MAX_TOKEN_LEN and " " not in value
            and value == analyzer.normalize(value))


def dedupe_docs(docs: Iterable[dict]) -> list[dict]:
    """Last write wins for a doc_id given twice in one batch."""
    by_id: dict[str, dict] = {}
    for doc in docs:
        by_id[clean_code(doc["doc_id"])] = doc
    return list(by_id.values())
