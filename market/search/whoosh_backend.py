"""Whoosh implementation of SearchBackend.

Writers: one at a time per folder, across processes, through the folder's flock (never AsyncWriter).
Readers: one searcher per thread, refreshed when another writer has committed a new generation.
Text is pre-tokenized by the shared analyzer (backend.indexed_text), exactly as for Tantivy.
Ranking is Whoosh's BM25F computed directly from the posting lists (see `_score`); filters and
facets use cached value -> doc-number sets. No query parser ever sees user text.
"""
from __future__ import annotations

import heapq
import threading
import weakref

from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.analysis import RegexTokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.matching.wrappers import FilterMatcher

from market.search import analyzer
from market.search.backend import (
    MAX_QUERY_TERMS,
    MLT_FIELD,
    MULTI_FIELDS,
    QUERY_FIELDS,
    Hit,
    SearchBackend,
    SearchResult,
    check_facets,
    clean_code,
    code_values,
    dedupe_docs,
    filter_items,
    indexed_org,
    indexed_text,
    mlt_terms,
    page_window,
    timestamp,
)
from market.search.filelock import writer_lock

_WRITER_MB = 128


def _posting_blocks(matcher):
    """(doc ids, term frequencies) of a leaf posting list, a block at a time. Uses the block
    arrays of Whoosh 2.7's W3LeafMatcher; any other matcher is read posting by posting."""
    if all(hasattr(matcher, a) for a in ("_read_ids", "_read_weights", "_next_block")):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            yield matcher._ids, matcher._weights
            matcher._next_block()
        return
    ids, tfs = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        tfs.append(matcher.weight())
        matcher.next()
    yield ids, tfs


def build_schema() -> Schema:
    # Text arrives as analyzer tokens joined by spaces (see backend.indexed_text), the same
    # stream Tantivy indexes, so the Whoosh side only splits on whitespace.
    text = dict(analyzer=RegexTokenizer(r"\S+"), phrase=False, stored=False)
    return Schema(
        doc_id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        id=STORED(),
        version=STORED(),
        text=TEXT(**text),
        org_name=TEXT(**text),
        field=ID(),
        field_root=ID(),
        maturity=ID(),
        price_band=ID(),
        region_ids=KEYWORD(commas=True, lowercase=False, scorable=False),
        modes=KEYWORD(commas=True, lowercase=False, scorable=False),
        published_ts=NUMERIC(numtype=int, bits=64, signed=True, sortable=True),
    )


def _whoosh_fields(doc: dict) -> dict:
    fields = {
        "doc_id": clean_code(doc["doc_id"]),
        "kind": clean_code(doc.get("kind") or ""),
        "id": int(doc["id"]),
        "version": int(doc.get("version") or 0),
        "published_ts": timestamp(doc.get("published_at")),
    }
    fields["text"] = indexed_text(doc)
    fields["org_name"] = indexed_org(doc)
    for name in ("field", "field_root", "maturity", "price_band"):
        values = code_values(doc.get(name))
        if values:
            fields[name] = values[0]
    for name in MULTI_FIELDS:
        values = code_values(doc.get(name))
        if values:
            fields[name] = ",".join(values)
    return fields


class WhooshBackend(SearchBackend):
    engine = "whoosh"

    def __init__(self, path: str):
        super().__init__(path)
        self._ix = None
        self._local = threading.local()
        self._searchers = weakref.WeakSet()  # to close them all
        self._guard = threading.Lock()
        self._segment_values: dict[tuple, list] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def _index(self):
        if self._ix is None:
            with self._guard:
                if self._ix is None:
                    if not whoosh_index.exists_in(self.path):
                        with writer_lock(self.path):  # two processes may race to create it
                            if not whoosh_index.exists_in(self.path):
                                whoosh_index.create_in(self.path, build_schema())
                    self._ix = whoosh_index.open_dir(self.path)
        return self._ix

    def _searcher(self):
        """This thread's searcher, refreshed if any process committed since it was opened."""
        state = self._local
        searcher = getattr(state, "searcher", None)
        if searcher is None:
            searcher = self._index().searcher()
        elif not searcher.up_to_date():
            searcher = searcher.refresh()
        if searcher is not getattr(state, "searcher", None):
            state.searcher = searcher
            state.facet_postings = {}
            state.published = None
            with self._guard:
                self._searchers.add(searcher)
        return searcher

    def _write(self, apply, mergetype=None) -> None:
        ix = self._index()  # outside the lock: creating the index takes it too
        with writer_lock(self.path):
            writer = ix.writer(timeout=10.0, limitmb=_WRITER_MB)
            try:
                apply(writer)
            except BaseException:
                writer.cancel()
                raise
            if mergetype is None:
                writer.commit()
            else:
                writer.commit(mergetype=mergetype)

    # -- writes --------------------------------------------------------------------------------

    def index_documents(self, docs: list[dict]) -> None:
        rows = [_whoosh_fields(d) for d in dedupe_docs(docs)]
        if not rows:
            return

        def apply(writer):
            # One searcher for all the deletes: update_document() would open one per document.
            with writer.searcher() as searcher:
                for row in rows:
                    for docnum in searcher.document_numbers(doc_id=row["doc_id"]):
                        writer.delete_document(docnum)
            for row in rows:
                writer.add_document(**row)

        self._write(apply)

    def delete_documents(self, doc_ids: list[str]) -> None:
        ids = [clean_code(d) for d in doc_ids or ()]
        if not ids:
            return

        def apply(writer):
            with writer.searcher() as searcher:
                for doc_id in ids:
                    for docnum in searcher.document_numbers(doc_id=doc_id):
                        writer.delete_document(docnum)

        self._write(apply)

    def clear(self) -> None:
        self._write(lambda writer: None, mergetype=writing.CLEAR)

    # -- reads ---------------------------------------------------------------------------------

    def _allowed(self, searcher, kinds, filters) -> set[int] | None:
        """Doc numbers allowed by kinds and filters (AND between keys, OR within one), or None
        when nothing restricts. Built from the cached value -> doc numbers sets."""
        clauses = filter_items(filters)
        if kinds is not None:
            clauses.insert(0, ("kind", code_values(kinds)))
        allowed: set[int] | None = None
        for name, values in clauses:
            postings = self._facet_postings(searcher, name)
            docs = set().union(*(postings.get(v, ()) for v in values))
            allowed = docs if allowed is None else allowed & docs
            if not allowed:
                return set()
        return allowed

    def _segment_cache(self, reader, name: str, build) -> list:
        """A per-document list for one segment; segments never change once written (deletions
        aside, which are checked separately), so it is cached by segment id across searchers."""
        segment = reader.segment() if hasattr(reader, "segment") else None
        key = (segment.segment_id() if segment is not None else id(reader), name)
        values = self._segment_values.get(key)
        if values is None:
            if len(self._segment_values) > 512:
                self._segment_values.clear()
            values = build(reader)
            self._segment_values[key] = values
        return values

    def _lengths(self, reader, name: str) -> list[int]:
        return self._segment_cache(
            reader, name,
            lambda r: [r.doc_field_length(n, name, 1) for n in range(r.doc_count_all())])

    def _published(self, searcher) -> list[int]:
        """published_ts by global doc number, for this searcher."""
        state = self._local
        if state.published is None:
            values: list[int] = []
            for sub, _ in searcher.leaf_searchers():
                values.extend(self._segment_cache(
                    sub.reader(), "published_ts",
                    lambda r: list(r.column_reader("published_ts"))))
            state.published = values
        return state.published

    def _score(self, searcher, weighted: list[tuple[str, str, float]]) -> dict[int, float]:
        """BM25F scores (Whoosh's formula and parameters) of every live document matching any of
        the (field, term, boost) triples: one pass over each posting list, block by block.
        Whoosh's own matcher tree costs several Python calls per posting; this is ~10x faster,
        and it yields the whole matching set, which totals and facets need anyway."""
        weighting = searcher.weighting
        k1, b = getattr(weighting, "K1", 1.2), getattr(weighting, "B", 0.75)
        scores: dict[int, float] = {}
        get = scores.get
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            for name, term, boost in weighted:
                if (name, term) not in reader:
                    continue
                idf = searcher.idf(name, term)
                avg = searcher.avg_field_length(name) or 1.0
                c1, c2, c3 = idf * (k1 + 1) * boost, k1 * (1 - b), k1 * b / avg
                lengths = self._lengths(reader, name)
                matcher = reader.postings(name, term)
                deleted = frozenset()
                if isinstance(matcher, FilterMatcher):  # the segment has deletions
                    deleted, matcher = matcher._ids, matcher.child
                for ids, tfs in _posting_blocks(matcher):
                    for doc, tf in zip(ids, tfs):
                        if deleted and doc in deleted:
                            continue
                        gdoc = doc + offset
                        scores[gdoc] = get(gdoc, 0.0) + c1 * tf / (tf + c2 + c3 * lengths[doc])
        return scores

    def _newest(self, searcher, docnums, k: int) -> list[int]:
        published = self._published(searcher)
        return heapq.nlargest(k, docnums, key=lambda n: (published[n], -n))

    def _facet_postings(self, searcher, name: str) -> dict[str, frozenset[int]]:
        """value -> doc numbers for one facet field, cached for the life of this searcher."""
        cache = self._local.facet_postings
        if name not in cache:
            reader = searcher.reader()
            postings = {}
            if name in reader.indexed_field_names():
                for value in reader.field_terms(name):
                    postings[str(value)] = frozenset(reader.postings(name, value).all_ids())
            cache[name] = postings
        return cache[name]

    def _facet_counts(self, searcher, names, matched: set[int]) -> dict[str, dict[str, int]]:
        out = {}
        for name in names:
            counts = {}
            for value, ids in self._facet_postings(searcher, name).items():
                n = len(ids & matched)
                if n:
                    counts[value] = n
            out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    @staticmethod
    def _hit(searcher, docnum: int, score: float) -> Hit:
        stored = searcher.stored_fields(docnum)
        return Hit(doc_id=stored["doc_id"], kind=stored["kind"], id=int(stored["id"]),
                   score=float(score), version=int(stored["version"]))

    def search(self, text, *, kinds=None, filters=None, facets=(), sort="relevance", page=1,
               per_page=20) -> SearchResult:
        facet_names = check_facets(facets)
        offset, per_page = page_window(page, per_page)
        text = text if isinstance(text, str) else ""
        terms = analyzer.query_terms(text, MAX_QUERY_TERMS)
        if not terms and analyzer.normalize(text):
            # Only stop words or punctuation: nothing to look for.
            return SearchResult(hits=[], total=0, facets={name: {} for name in facet_names})

        searcher = self._searcher()
        allowed = self._allowed(searcher, kinds, filters)
        scores: dict[int, float] = {}
        if terms:
            scores = self._score(searcher, [(name, t, boost) for t in terms
                                            for name, boost in QUERY_FIELDS.items()])
            matched = set(scores) if allowed is None else allowed.intersection(scores)
        else:
            matched = allowed if allowed is not None else set(searcher.reader().all_doc_ids())

        total = len(matched)
        hits: list[Hit] = []
        if offset < total:
            limit = offset + per_page
            if sort == "date" or not terms:
                hits = [self._hit(searcher, n, 0.0) for n in self._newest(searcher, matched, limit)[offset:]]
            else:
                top = heapq.nlargest(limit, matched, key=lambda n: (scores[n], -n))
                hits = [self._hit(searcher, n, scores[n]) for n in top[offset:]]
        return SearchResult(hits=hits, total=total,
                            facets=self._facet_counts(searcher, facet_names, matched))

    def more_like_this(self, terms, *, kind, filters=None, exclude=(), limit=20) -> list[Hit]:
        weighted = mlt_terms(terms)
        limit = max(int(limit), 0)
        if not weighted or not limit:
            return []
        searcher = self._searcher()
        allowed = self._allowed(searcher, [kind], filters)
        scores = self._score(searcher, [(MLT_FIELD, t, w) for t, w in weighted])
        candidates = allowed.intersection(scores) if allowed is not None else set(scores)
        for doc_id in exclude or ():
            doc_id = clean_code(doc_id)
            if doc_id:
                candidates.difference_update(searcher.document_numbers(doc_id=doc_id))
        top = heapq.nlargest(limit, candidates, key=lambda n: (scores[n], -n))
        return [self._hit(searcher, n, scores[n]) for n in top]

    def versions(self) -> dict[str, int]:
        return {f["doc_id"]: int(f["version"]) for f in self._searcher().all_stored_fields()}

    def doc_count(self) -> int:
        return self._searcher().doc_count()

    def close(self) -> None:
        with self._guard:
            searchers, self._searchers = list(self._searchers), weakref.WeakSet()
        for searcher in searchers:
            try:
                searcher.close()
            except Exception:  # already closed by a refresh
                pass
        self._local = threading.local()
        if self._ix is not None:
            self._ix.close()
            self._ix = None
