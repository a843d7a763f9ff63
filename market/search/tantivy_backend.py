"""Tantivy implementation of SearchBackend, fed the same jieba terms as Whoosh.

Text fields hold `analyzer.tokenize()` output joined by spaces and are indexed with Tantivy's
whitespace tokenizer, so both engines index and rank the same terms. Keyword fields are raw strings
with fast columns (filters and terms aggregations for facets). Writers take the folder's flock, so
Tantivy's own writer lock is never contended; readers reload when meta.json changes.
"""
from __future__ import annotations

import os
import threading

import tantivy
from tantivy import Occur, Query

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

_WRITER_HEAP = 64_000_000
_KEYWORD_FIELDS = ("kind", "field", "field_root", "maturity", "price_band", "region_ids", "modes")
_FACET_SIZE = 10_000


def build_schema(*, with_terms: bool = True) -> tantivy.Schema:
    """The index layout; with_terms=False is the layout of indexes built before Hit.terms were
    stored, which are still served (their hits carry no terms) until a reindex."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True, tokenizer_name="raw")
    sb.add_integer_field("id", stored=True)
    sb.add_integer_field("version", stored=True, fast=True)
    if with_terms:
        sb.add_bytes_field("terms", stored=True)  # the distinct terms of title, keywords and body (Hit.terms)
    for name in QUERY_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    for name in _KEYWORD_FIELDS:
        sb.add_text_field(name, stored=(name == "kind"), fast=True, tokenizer_name="raw",
                          index_option="basic")
    sb.add_integer_field("published_ts", indexed=True, fast=True)
    return sb.build()


def _tantivy_doc(doc: dict, store_terms: bool) -> tantivy.Document:
    fields: dict = {
        "doc_id": clean_code(doc["doc_id"]),
        "id": int(doc["id"]),
        "version": int(doc.get("version") or 0),
        "published_ts": timestamp(doc.get("published_at")),
    }
    text, terms = analyzed_text(doc)
    for name, value in (("text", text), ("org_name", indexed_org(doc))):
        if value:
            fields[name] = value
    if store_terms:
        fields["terms"] = terms.encode("utf-8")
    for name in _KEYWORD_FIELDS:
        values = code_values(doc.get(name))
        if values:
            fields[name] = values if name in MULTI_FIELDS else values[0]
    return tantivy.Document(**fields)


class TantivyBackend(SearchBackend):
    engine = "tantivy"

    def __init__(self, path: str):
        super().__init__(path)
        self._schema = build_schema()
        self._store_terms = True
        self._ix: tantivy.Index | None = None
        self._meta_sig = None
        self._guard = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------

    def _index(self) -> tantivy.Index:
        if self._ix is None:
            with self._guard:
                if self._ix is None:
                    with writer_lock(self.path):  # creating an index races with other processes
                        try:
                            ix = tantivy.Index(self._schema, path=self.path, reuse=True)
                        except ValueError as exc:
                            if "schema does not match" not in str(exc):
                                raise
                            # built before Hit.terms were stored: served as it is until a reindex
                            ix = tantivy.Index.open(self.path)
                            self._schema, self._store_terms = ix.schema, False
                    ix.config_reader(reload_policy="manual")
                    self._meta_sig = self._signature()
                    ix.reload()
                    self._ix = ix
        return self._ix

    def _signature(self):
        try:
            st = os.stat(os.path.join(self.path, "meta.json"))
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _searcher(self) -> tantivy.Searcher:
        ix = self._index()
        sig = self._signature()
        if sig != self._meta_sig:  # another writer (maybe another process) committed
            with self._guard:
                ix.reload()
                self._meta_sig = sig
        return ix.searcher()

    def _write(self, apply) -> None:
        ix = self._index()  # outside the lock: creating the index takes it too
        with writer_lock(self.path):
            writer = ix.writer(heap_size=_WRITER_HEAP, num_threads=1)
            try:
                apply(writer)
                fault_point("index:write")
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()  # releases Tantivy's own writer lock
                del writer
        with self._guard:
            self._meta_sig = self._signature()  # before reloading: a later commit must not look seen
            ix.reload()

    # -- writes --------------------------------------------------------------------------------

    def index_documents(self, docs: list[dict]) -> None:
        batch = dedupe_docs(docs)
        self._index()  # knows whether the index stores terms
        prepared = [(clean_code(d["doc_id"]), _tantivy_doc(d, self._store_terms))
                    for d in batch]  # jieba outside the lock
        if not prepared:
            return

        def apply(writer):
            for doc_id, document in prepared:
                writer.delete_documents_by_term("doc_id", doc_id)
                writer.add_document(document)

        self._write(apply)

    def delete_documents(self, doc_ids: list[str]) -> None:
        ids = [c for c in (clean_code(d) for d in doc_ids or ()) if c]
        if not ids:
            return

        def apply(writer):
            for doc_id in ids:
                writer.delete_documents_by_term("doc_id", doc_id)

        self._write(apply)

    def clear(self) -> None:
        self._write(lambda writer: writer.delete_all_documents())

    # -- reads ---------------------------------------------------------------------------------

    def _term(self, name: str, value: str) -> Query:
        return Query.term_query(self._schema, name, value, index_option="freq")

    def _restrictions(self, kinds, filters) -> list[Query] | None:
        """Non-scoring MUST clauses for kinds and filters; None when kinds rule out everything."""
        clauses = []
        if kinds is not None:
            values = code_values(kinds)
            if not values:
                return None
            clauses.append(Query.term_set_query(self._schema, "kind", values))
        for name, values in filter_items(filters):
            clauses.append(Query.term_set_query(self._schema, name, values))
        return [Query.const_score_query(c, 0.0) for c in clauses]

    def _text_query(self, weighted: list[tuple[str, float]], boosts: dict[str, float]) -> Query:
        return Query.boolean_query([
            (Occur.Should, Query.boost_query(self._term(name, t), w * boost))
            for t, w in weighted for name, boost in boosts.items()
        ])

    @staticmethod
    def _hit(searcher, address, score: float, with_terms: bool = False) -> Hit:
        doc = searcher.doc(address)
        return Hit(doc_id=doc.get_first("doc_id"), kind=doc.get_first("kind"),
                   id=int(doc.get_first("id")), score=float(score),
                   version=int(doc.get_first("version")),
                   terms=stored_terms(doc.get_first("terms")) if with_terms else None)

    def _facet_counts(self, searcher, q: Query, names: list[str]) -> dict[str, dict[str, int]]:
        if not names:
            return {}
        aggs = {name: {"terms": {"field": name, "size": _FACET_SIZE}} for name in names}
        result = searcher.aggregate(q, aggs)
        out = {}
        for name in names:
            buckets = (result.get(name) or {}).get("buckets", [])
            counts = {str(b["key"]): int(b["doc_count"]) for b in buckets if b["doc_count"]}
            out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    def search(self, text, *, kinds=None, filters=None, facets=(), sort="relevance", page=1,
               per_page=20) -> SearchResult:
        facet_names = check_facets(facets)
        offset, per_page = page_window(page, per_page)
        text = text if isinstance(text, str) else ""
        terms = analyzer.query_terms(text, MAX_QUERY_TERMS)
        restrictions = self._restrictions(kinds, filters)
        empty = SearchResult(hits=[], total=0, facets={name: {} for name in facet_names})
        if restrictions is None or (not terms and analyzer.normalize(text)):
            return empty  # no allowed kind, or only stop words / punctuation

        if terms:
            base = self._text_query([(t, 1.0) for t in terms], QUERY_FIELDS)
        else:
            base = Query.all_query()
        q = Query.boolean_query([(Occur.Must, base)] + [(Occur.Must, r) for r in restrictions]) \
            if restrictions else base

        searcher = self._searcher()
        if offset >= searcher.num_docs:
            # Past the end for sure: count only (Tantivy allocates offset + limit slots otherwise).
            result = searcher.search(q, limit=1, count=True)
            hits = []
        elif sort == "date" or not terms:
            result = searcher.search(q, limit=per_page, offset=offset, count=True,
                                     order_by_field="published_ts", order=tantivy.Order.Desc)
            hits = [self._hit(searcher, address, 0.0) for _, address in result.hits]
        else:
            result = searcher.search(q, limit=per_page, offset=offset, count=True)
            hits = [self._hit(searcher, address, score) for score, address in result.hits]
        return SearchResult(hits=hits, total=int(result.count),
                            facets=self._facet_counts(searcher, q, facet_names))

    def more_like_this(self, terms, *, kind, filters=None, exclude=(), limit=20) -> list[Hit]:
        weighted = mlt_terms(terms)
        limit = max(int(limit), 0)
        restrictions = self._restrictions([kind], filters)
        if not weighted or not limit or restrictions is None:
            return []
        clauses = [(Occur.Must, self._text_query(weighted, {MLT_FIELD: 1.0}))]
        clauses += [(Occur.Must, r) for r in restrictions]
        excluded = [c for c in (clean_code(d) for d in exclude or ()) if c]
        if excluded:
            clauses.append((Occur.MustNot, Query.term_set_query(self._schema, "doc_id", excluded)))
        searcher = self._searcher()
        result = searcher.search(Query.boolean_query(clauses), limit=limit, count=False)
        return [self._hit(searcher, address, score, with_terms=True) for score, address in result.hits]

    def doc_frequencies(self, terms) -> dict[str, int]:
        searcher = self._searcher()
        return {t: int(searcher.doc_freq(MLT_FIELD, t)) if is_term(t) else 0 for t in terms}

    def versions(self) -> dict[str, int]:
        searcher = self._searcher()
        n = searcher.num_docs
        if not n:
            return {}
        result = searcher.search(Query.all_query(), limit=n, count=False)
        out = {}
        for _, address in result.hits:
            doc = searcher.doc(address)
            out[doc.get_first("doc_id")] = int(doc.get_first("version"))
        return out

    def doc_count(self) -> int:
        return int(self._searcher().num_docs)

    def close(self) -> None:
        with self._guard:
            self._ix = None
            self._meta_sig = None
