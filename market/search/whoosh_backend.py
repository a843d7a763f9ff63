"""Whoosh implementation of SearchBackend.

Writers: one at a time per folder, across processes, through the folder's flock (never AsyncWriter).
Readers: one searcher per thread, refreshed when another writer has committed a new generation.
Text is pre-tokenized by the shared analyzer (backend.analyzed_text), exactly as for Tantivy.
Ranking is Whoosh's BM25F computed directly from the posting lists (see `_score`), which are decoded
once per segment and kept (`_postings`); filters and facets use cached value -> doc-number sets.
No query parser ever sees user text.
"""
from __future__ import annotations

import heapq
import math
import threading
import weakref
from array import array
from collections import OrderedDict

from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.analysis import RegexTokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound

from market.search import analyzer
from market.search.backend import (
    MAX_QUERY_TERMS,
    MLT_FIELD,
    MULTI_FIELDS,
    QUERY_FIELDS,
    Hit,
    SearchBackend,
    SearchResult,
    analyzed_text,
    check_facets,
    clean_code,
    code_values,
    dedupe_docs,
    fault_point,
    filter_items,
    indexed_org,
    is_term,
    mlt_terms,
    page_window,
    stored_terms,
    timestamp,
)
from market.search.filelock import writer_lock

_WRITER_MB = 128
_SCORE_CACHE = 2  # score dicts kept per thread and searcher (each can hold every document)
_DOC_FREQ_CACHE = 100_000  # terms per thread and searcher
# Decoded posting lists kept per index, least recently used dropped first, counted in postings (8
# bytes each: doc number and term frequency) plus _ENTRY_COST for the Python objects of one list:
# about 30 MB at most. bench/search_perf.py at 10,000 listings: the lists its searches and matches
# touch stay in it (the whole text field, 1.4M postings in 156,000 lists, would not).
_POSTINGS_CACHE = 3_000_000
_ENTRY_COST = 40
_ABSENT_CACHE = 500_000  # (segment, term) pairs known to be absent, forgotten all at once


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


def _best(scores: dict[int, float], docnums, k: int) -> list[int]:
    """The k best of `docnums` by score, ties by doc number: heapq.nlargest with a (score, -n) key,
    minus a Python call per candidate (the cut-off score is found on the bare floats)."""
    if len(docnums) > k > 0:
        cut = heapq.nlargest(k, map(scores.__getitem__, docnums))[-1]
        docnums = [n for n in docnums if scores[n] >= cut]
    return sorted(docnums, key=lambda n: (-scores[n], n))[:k]


def _abandon(writer) -> None:
    """A commit that failed (a full disk) keeps Whoosh's own WRITELOCK: a flock on a descriptor nothing closes, so
    every later writer of this process would wait for it and fail with LockError until a restart. Release it."""
    try:
        writer.cancel()
    except Exception:
        lock = getattr(writer, "writelock", None)
        if lock is not None:
            try:
                lock.release()
            except Exception:  # already released: nothing else to undo
                pass


def build_schema(*, with_terms: bool = True) -> Schema:
    """The index layout; with_terms=False is the layout of indexes built before Hit.terms were
    stored, which are still served (their hits carry no terms) until a reindex."""
    # Text arrives as analyzer tokens joined by spaces (see backend.analyzed_text), the same
    # stream Tantivy indexes, so the Whoosh side only splits on whitespace.
    text = dict(analyzer=RegexTokenizer(r"\S+"), phrase=False, stored=False)
    schema = Schema(
        doc_id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        id=STORED(),
        version=STORED(),
        terms=STORED(),  # the distinct terms of title, keywords and body (see Hit.terms)
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
    if not with_terms:
        schema.remove("terms")
    return schema


def _whoosh_fields(doc: dict) -> dict:
    fields = {
        "doc_id": clean_code(doc["doc_id"]),
        "kind": clean_code(doc.get("kind") or ""),
        "id": int(doc["id"]),
        "version": int(doc.get("version") or 0),
        "published_ts": timestamp(doc.get("published_at")),
    }
    fields["text"], fields["terms"] = analyzed_text(doc)
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
        self._postings_cache: OrderedDict[tuple, tuple[array, array]] = OrderedDict()
        self._postings_size = 0
        self._absent: dict[tuple, set[str]] = {}
        self._absent_size = 0
        self._postings_lock = threading.Lock()

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
            try:
                searcher = searcher.refresh()
            except Exception:
                # Whoosh's reader() retries when another process's merge removed a segment mid-refresh, but
                # its first try already closed the readers it meant to reuse, so the retry and every later
                # refresh of this searcher raise ReaderClosed: open a fresh searcher instead of reusing one
                searcher = self._index().searcher()
        if searcher is not getattr(state, "searcher", None):
            state.searcher = searcher
            state.facet_postings = {}
            state.published = None
            state.scores = {}
            state.doc_freqs = {}
            state.leaves = None
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
            try:
                fault_point("index:write")
                if mergetype is None:
                    writer.commit()
                else:
                    writer.commit(mergetype=mergetype)
            except BaseException:
                _abandon(writer)
                raise

    # -- writes --------------------------------------------------------------------------------

    def index_documents(self, docs: list[dict]) -> None:
        # Analysed outside the lock. Whether the index has room for the terms is read from the writer's schema
        # under the lock: `ix.schema` lists the newest TOC and then opens it, and another process's commit
        # between the two deletes it (FileNotFoundError: _MAIN_20.toc, seen in CI).
        rows = [_whoosh_fields(d) for d in dedupe_docs(docs)]
        if not rows:
            return

        def apply(writer):
            if "terms" not in writer.schema:  # an index created before the field existed has no room for it
                for row in rows:
                    row.pop("terms", None)
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

    @staticmethod
    def _segment_key(reader):
        segment = reader.segment() if hasattr(reader, "segment") else None
        return segment.segment_id() if segment is not None else None

    @staticmethod
    def _deleted(reader) -> frozenset[int]:
        """The segment's deleted doc numbers as of this searcher's generation."""
        if not reader.has_deletions():
            return frozenset()
        segment = reader.segment() if hasattr(reader, "segment") else None
        if segment is not None and hasattr(segment, "deleted_docs"):
            return frozenset(segment.deleted_docs())
        return frozenset(n for n in range(reader.doc_count_all()) if reader.is_deleted(n))

    def _postings(self, reader, segment_key, name: str, term: str) -> tuple[array, array] | None:
        """(doc numbers, term frequencies) of one term in one segment, deleted documents included;
        None when the segment lacks the term. A segment never changes once written, so the decoded
        lists are kept (by segment id) across searchers: looking a term up and decoding its blocks
        costs more than scoring its postings."""
        if segment_key is None:  # not a Whoosh 2.7 segment: nothing to key a cache on
            return self._read_postings(reader, name, term)
        key = (segment_key, name, term)
        absent_key = (segment_key, name)
        with self._postings_lock:
            found = self._postings_cache.get(key)
            if found is not None:
                self._postings_cache.move_to_end(key)
                return found
            if term in self._absent.get(absent_key, ()):
                return None
        found = self._read_postings(reader, name, term)
        with self._postings_lock:
            if found is None:
                if self._absent_size >= _ABSENT_CACHE:
                    self._absent.clear()
                    self._absent_size = 0
                self._absent.setdefault(absent_key, set()).add(term)
                self._absent_size += 1
            elif key not in self._postings_cache:
                self._postings_cache[key] = found
                self._postings_size += len(found[0]) + _ENTRY_COST
                while self._postings_size > _POSTINGS_CACHE and self._postings_cache:
                    _, old = self._postings_cache.popitem(last=False)
                    self._postings_size -= len(old[0]) + _ENTRY_COST
        return found

    @staticmethod
    def _read_postings(reader, name: str, term: str) -> tuple[array, array] | None:
        try:
            matcher = reader.postings(name, term)
        except TermNotFound:
            return None
        if isinstance(matcher, FilterMatcher):  # deletions are the caller's business
            matcher = matcher.child
        ids, tfs = array("I"), array("f")
        for block_ids, block_tfs in _posting_blocks(matcher):
            ids.extend(block_ids)
            tfs.extend(block_tfs)
        return ids, tfs

    def _leaves(self, searcher) -> list[tuple]:
        """(reader, doc number offset, segment id, deleted doc numbers) of each segment."""
        state = self._local
        if state.leaves is None:
            leaves = []
            for sub, offset in searcher.leaf_searchers():
                reader = sub.reader()
                segment = self._segment_key(reader)
                leaves.append((reader, offset, segment, self._deleted(reader)))
            state.leaves = leaves
        return state.leaves

    def _term_postings(self, searcher, name: str, term: str) -> tuple[int, list[tuple]]:
        """(document frequency, [(segment leaf, postings)]) of one term over every segment; the
        frequency counts deleted documents, as Whoosh's own does."""
        df, found = 0, []
        for leaf in self._leaves(searcher):
            postings = self._postings(leaf[0], leaf[2], name, term)
            if postings is not None:
                df += len(postings[0])
                found.append((leaf, postings))
        return df, found

    def _score(self, searcher, weighted: list[tuple[str, str, float]]) -> dict[int, float]:
        """BM25F scores (Whoosh's formula and parameters) of every live document matching any of
        the (field, term, boost) triples: one pass over each posting list (decoded once, see
        `_postings`). Whoosh's own matcher tree costs several Python calls per posting; this is
        ~10x faster, and it yields the whole matching set, which totals and facets need anyway.
        The last few results are kept for this searcher: the matcher asks the same terms twice
        (the candidates, then the listing's own score). Callers must not modify the dict."""
        key = tuple(weighted)
        cache = self._local.scores
        if key in cache:
            return cache[key]
        weighting = searcher.weighting
        k1, b = getattr(weighting, "K1", 1.2), getattr(weighting, "B", 0.75)
        c2 = k1 * (1 - b)
        doc_count = searcher.doc_count_all()
        avgs: dict[str, float] = {}  # avg_field_length sums every segment: once per field
        scores: dict[int, float] = {}
        get = scores.get
        for name, term, boost in weighted:
            df, found = self._term_postings(searcher, name, term)
            if not df:
                continue
            if name not in avgs:
                avgs[name] = searcher.avg_field_length(name) or 1.0
            idf = math.log(doc_count / (df + 1)) + 1  # Whoosh's WeightingModel.idf
            c1, c3 = idf * (k1 + 1) * boost, k1 * b / avgs[name]
            for (reader, offset, _, deleted), (ids, tfs) in found:
                lengths = self._lengths(reader, name)
                for doc, tf in zip(ids, tfs):
                    if deleted and doc in deleted:
                        continue
                    gdoc = doc + offset
                    scores[gdoc] = get(gdoc, 0.0) + c1 * tf / (tf + c2 + c3 * lengths[doc])
        if len(cache) >= _SCORE_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = scores
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
    def _hit(searcher, docnum: int, score: float, with_terms: bool = False) -> Hit:
        stored = searcher.stored_fields(docnum)
        return Hit(doc_id=stored["doc_id"], kind=stored["kind"], id=int(stored["id"]),
                   score=float(score), version=int(stored["version"]),
                   terms=stored_terms(stored.get("terms")) if with_terms else None)

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
                top = _best(scores, matched, limit)
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
        top = _best(scores, candidates, limit)
        return [self._hit(searcher, n, scores[n], with_terms=True) for n in top]

    def doc_frequencies(self, terms) -> dict[str, int]:
        searcher = self._searcher()
        cache = self._local.doc_freqs
        if len(cache) > _DOC_FREQ_CACHE:
            cache.clear()
        out = {}
        for term in terms:
            if term not in cache:
                # the term's info alone (no postings decoded): counts deleted documents, as _term_postings does
                cache[term] = searcher.doc_frequency(MLT_FIELD, term) if is_term(term) else 0
            out[term] = cache[term]
        return out

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
        with self._postings_lock:
            self._postings_cache.clear()
            self._postings_size = 0
            self._absent.clear()
            self._absent_size = 0
        if self._ix is not None:
            self._ix.close()
            self._ix = None
