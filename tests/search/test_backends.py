"""Both engines against a real index folder: same interface, same answers."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.search.analyzer import key_terms, tokenize
from market.search.backend import Hit, SearchResult
from market.search.engines import get_backend

ENGINES = ["whoosh", "tantivy"]
T0 = datetime(2024, 1, 1, 8, 0)


def make_doc(i: int, **over) -> dict:
    doc = {
        "doc_id": f"demand:{i}",
        "kind": "demand",
        "id": i,
        "version": 1,
        "title": f"需求{i}",
        "body": "",
        "keywords": [],
        "org_name": "某某科技有限公司",
        "field": "01.01",
        "field_root": "01",
        "region_ids": ["100", "110"],
        "maturity": 3,
        "modes": ["license"],
        "price_band": "10-50",
        "published_at": T0 + timedelta(days=i),
    }
    doc.update(over)
    return doc


# city 100 > county 110 > town 111; city 100 > county 120
CORPUS = [
    make_doc(1, title="石墨烯改性聚乳酸复合材料", body="用于可降解包装，需要PLA改性工艺",
             keywords=["石墨烯", "聚乳酸"], region_ids=["100", "110", "111"], maturity=5,
             modes=["license", "transfer"], field="01.02", field_root="01"),
    make_doc(2, title="锂离子电池正极材料", body="固态电池与储能系统，石墨烯导电剂",
             keywords=["锂离子电池"], region_ids=["100", "120"], maturity=7, field="02.01",
             field_root="02", price_band="100-500"),
    make_doc(3, kind="achievement", doc_id="achievement:3", title="MEMS传感器封装测试",
             body="面向5G基站的智能传感模组", keywords=["MEMS", "智能传感"], org_name="某大学",
             region_ids=["100", "110"], maturity=None, modes=["transfer"], field="03.01",
             field_root="03", price_band="negotiable"),
    make_doc(4, kind="achievement", doc_id="achievement:4", title="工业机器人机器视觉检测",
             body="深度学习缺陷检测，石墨烯薄膜在线监测", keywords=["机器视觉"],
             region_ids=["100", "110", "111"], maturity=7, field="03.02", field_root="03"),
    make_doc(5, title="污水处理与土壤修复", body="节能环保 status draft", keywords=["土壤修复"],
             region_ids=["100", "120"], field="04.01", field_root="04", modes=["cooperation"]),
]


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def backend(engine, tmp_path):
    b = get_backend(engine, str(tmp_path / "index"))
    yield b
    b.close()


@pytest.fixture
def loaded(backend):
    backend.index_documents(CORPUS)
    return backend


def ids(result) -> list[str]:
    hits = result.hits if isinstance(result, SearchResult) else result
    return [h.doc_id for h in hits]


def test_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ValueError):
        get_backend("lucene", str(tmp_path))


def test_index_update_delete_versions(backend):
    assert backend.doc_count() == 0
    assert backend.versions() == {}
    backend.index_documents(CORPUS)
    assert backend.doc_count() == 5
    assert backend.versions() == {d["doc_id"]: 1 for d in CORPUS}

    backend.index_documents([make_doc(1, version=2, title="碳纤维复合材料")])
    assert backend.doc_count() == 5
    assert backend.versions()["demand:1"] == 2
    assert ids(backend.search("碳纤维")) == ["demand:1"]
    assert "demand:1" not in ids(backend.search("聚乳酸"))

    backend.delete_documents(["demand:1", "demand:999"])
    assert backend.doc_count() == 4
    assert "demand:1" not in backend.versions()
    assert backend.search("碳纤维").total == 0

    backend.clear()
    assert backend.doc_count() == 0
    backend.index_documents([make_doc(9)])
    assert backend.versions() == {"demand:9": 1}


def test_same_doc_twice_in_one_batch_keeps_the_last(backend):
    backend.index_documents([make_doc(1, version=1), make_doc(1, version=2)])
    assert backend.versions() == {"demand:1": 2}


def test_hits_carry_kind_id_version_and_score(loaded):
    result = loaded.search("MEMS传感器")
    assert result.total == 1
    [hit] = result.hits
    assert isinstance(hit, Hit)
    assert (hit.doc_id, hit.kind, hit.id, hit.version) == ("achievement:3", "achievement", 3, 1)
    assert hit.score > 0


def test_title_matches_rank_above_body_matches(loaded):
    # 石墨烯 is in the title of 1, in the bodies of 2 and 4.
    assert ids(loaded.search("石墨烯"))[0] == "demand:1"
    assert loaded.search("石墨烯").total == 3


def test_full_width_and_case_insensitive_query(loaded):
    assert ids(loaded.search("ｍｅｍｓ")) == ["achievement:3"]
    assert ids(loaded.search("pla")) == ["demand:1"]


def test_kinds_filter(loaded):
    assert set(ids(loaded.search("石墨烯", kinds=["achievement"]))) == {"achievement:4"}
    assert loaded.search("石墨烯", kinds=[]).total == 0
    assert loaded.search("石墨烯", kinds=["draft"]).total == 0


def test_region_filter_matches_the_region_and_below(loaded):
    assert set(ids(loaded.search("", filters={"region_ids": "110"}))) == {"demand:1", "achievement:3", "achievement:4"}
    assert set(ids(loaded.search("", filters={"region_ids": "111"}))) == {"demand:1", "achievement:4"}
    assert set(ids(loaded.search("", filters={"region_ids": "120"}))) == {"demand:2", "demand:5"}
    assert loaded.search("", filters={"region_ids": "100"}).total == 5
    assert loaded.search("", filters={"region_ids": "999"}).total == 0


def test_field_filters(loaded):
    assert set(ids(loaded.search("", filters={"field_root": "03"}))) == {"achievement:3", "achievement:4"}
    assert ids(loaded.search("", filters={"field": "03.01"})) == ["achievement:3"]
    assert ids(loaded.search("石墨烯", filters={"field_root": "03", "maturity": 7})) == ["achievement:4"]
    assert set(ids(loaded.search("", filters={"maturity": "7"}))) == {"demand:2", "achievement:4"}
    assert set(ids(loaded.search("", filters={"modes": "transfer"}))) == {"demand:1", "achievement:3"}
    assert ids(loaded.search("", filters={"price_band": "negotiable"})) == ["achievement:3"]
    # a list value means any of them
    assert set(ids(loaded.search("", filters={"field_root": ["02", "04"]}))) == {"demand:2", "demand:5"}
    # None / blank values do not restrict
    assert loaded.search("", filters={"field": None, "maturity": ""}).total == 5


def test_unknown_filter_or_facet_is_a_programming_error(loaded):
    with pytest.raises(ValueError):
        loaded.search("", filters={"status": "draft"})
    with pytest.raises(ValueError):
        loaded.search("", facets=["status"])


def test_facets_count_the_whole_matching_set(loaded):
    result = loaded.search("", per_page=1,
                           facets=["field_root", "region_ids", "maturity", "modes", "price_band", "kind", "field"])
    assert len(result.hits) == 1 and result.total == 5
    assert result.facets["field_root"] == {"01": 1, "02": 1, "03": 2, "04": 1}
    assert result.facets["region_ids"] == {"100": 5, "110": 3, "111": 2, "120": 2}
    assert result.facets["maturity"] == {"3": 1, "5": 1, "7": 2}
    assert result.facets["modes"] == {"license": 3, "transfer": 2, "cooperation": 1}
    assert result.facets["kind"] == {"achievement": 2, "demand": 3}
    assert result.facets["price_band"] == {"10-50": 3, "100-500": 1, "negotiable": 1}
    assert sum(result.facets["field"].values()) == 5

    filtered = loaded.search("石墨烯", filters={"region_ids": "110"}, facets=["kind", "field_root"])
    assert filtered.total == 2
    assert filtered.facets == {"kind": {"achievement": 1, "demand": 1}, "field_root": {"01": 1, "03": 1}}
    assert loaded.search("石墨烯").facets == {}


def test_facets_at_scale_cover_all_pages(backend):
    backend.index_documents([make_doc(i, field_root=f"0{i % 3}") for i in range(1, 61)])
    result = backend.search("需求", per_page=7, page=3, facets=["field_root"])
    assert result.total == 60
    assert result.facets["field_root"] == {"00": 20, "01": 20, "02": 20}


def test_empty_text_lists_everything_newest_first(loaded):
    result = loaded.search("")
    assert result.total == 5
    assert ids(result) == ["demand:5", "achievement:4", "achievement:3", "demand:2", "demand:1"]
    assert ids(loaded.search("   \u3000 ")) == ids(result)


def test_sort_by_date(loaded):
    assert ids(loaded.search("石墨烯", sort="date")) == ["achievement:4", "demand:2", "demand:1"]


def test_pagination_is_clamped(loaded):
    first = loaded.search("", per_page=2, page=1)
    assert ids(first) == ["demand:5", "achievement:4"]
    assert ids(loaded.search("", per_page=2, page=0)) == ids(first)
    assert ids(loaded.search("", per_page=2, page=-7)) == ids(first)
    assert ids(loaded.search("", per_page=2, page=3)) == ["demand:1"]
    beyond = loaded.search("", per_page=2, page=4)
    assert beyond.hits == [] and beyond.total == 5
    huge = loaded.search("石墨烯", page=10**9)
    assert huge.hits == [] and huge.total == 3
    pages = [ids(loaded.search("石墨烯", per_page=1, page=p)) for p in (1, 2, 3)]
    assert sorted(sum(pages, [])) == sorted(ids(loaded.search("石墨烯")))


ODD_QUERIES = [
    "status:draft", "*", "?", "field:03.01", "field_root:03", "kind:achievement", "doc_id:demand:1",
    '"unbalanced', "(((", "AND OR NOT", "NOT 石墨烯", "石墨烯 AND", "title:*", "石墨*", "a~2", "^3",
    "x" * 5000, "石墨烯" * 2000, "😀🚀", "\x00", "\ud800", "石\ud800墨烯\x00", "\\", "'; DROP TABLE--",
    "<script>alert(1)</script>", "[1 TO 9]", "{}", "/.*/", "\u202e\u200b",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_odd_queries_are_just_text(loaded, query):
    result = loaded.search(query, facets=["kind"], sort="relevance")
    assert isinstance(result, SearchResult)
    assert result.total == len(result.hits) <= 5
    loaded.search(query, sort="date", page=2)


def test_field_syntax_never_widens_the_match(loaded):
    # No document has these words in its text; query syntax must not reach the fields.
    for query in ["field:03.01", "field_root:03", "kind:achievement", "*", "AND OR NOT", "maturity:7"]:
        assert loaded.search(query).total == 0, query
    # "status draft" is in the body of demand:5 as words: matching it as text is fine, nothing more.
    assert ids(loaded.search("status:draft")) == ["demand:5"]
    # the real word still matches, the operator does not negate it
    assert loaded.search("NOT 石墨烯").total == 3


def test_query_terms_are_capped(loaded):
    text = " ".join(f"词{i}" for i in range(500)) + " 石墨烯复合材料"
    result = loaded.search(text)
    assert "demand:1" in ids(result)


def test_more_like_this(loaded):
    terms = key_terms("石墨烯 石墨烯 复合材料 薄膜")
    hits = loaded.more_like_this(terms, kind="achievement")
    assert ids(hits) == ["achievement:4"]
    assert hits[0].score > 0
    demands = loaded.more_like_this(terms, kind="demand")
    assert ids(demands)[0] == "demand:1"
    assert "demand:1" not in ids(loaded.more_like_this(terms, kind="demand", exclude=["demand:1"]))
    assert ids(loaded.more_like_this(terms, kind="demand", filters={"region_ids": "120"})) == ["demand:2"]
    assert len(loaded.more_like_this(terms, kind="demand", limit=1)) == 1
    assert loaded.more_like_this([], kind="demand") == []
    assert loaded.more_like_this([("\ud800", 1.0), ("x", float("nan")), ("石墨烯", -1)], kind="demand") == []


def test_more_like_this_weights_are_boosts(loaded):
    heavy_battery = loaded.more_like_this([("石墨烯", 0.1), ("锂离子电池", 1.0)], kind="demand")
    heavy_graphene = loaded.more_like_this([("石墨烯", 1.0), ("锂离子电池", 0.1)], kind="demand")
    assert ids(heavy_battery)[0] == "demand:2"
    assert ids(heavy_graphene)[0] == "demand:1"


def test_more_like_this_hits_carry_the_terms_of_the_document(loaded):
    [hit] = loaded.more_like_this(key_terms("石墨烯 薄膜"), kind="achievement")
    doc = CORPUS[3]
    assert hit.doc_id == doc["doc_id"]
    expected = set(tokenize(doc["title"])) | set(tokenize(" ".join(doc["keywords"]))) | set(tokenize(doc["body"]))
    assert hit.terms == frozenset(expected)
    assert {"石墨烯", "机器视觉", "缺陷"} <= hit.terms
    assert not set(tokenize(doc["org_name"])) - expected & hit.terms  # the organization is not text
    assert all(h.terms is None for h in loaded.search("石墨烯").hits)  # search hits do not pay for them


def test_doc_frequencies(loaded):
    # 石墨烯: title and keywords of 1, bodies of 2 and 4; MEMS only in 3; 某大学 is an organization
    assert loaded.doc_frequencies(["石墨烯", "mems", "没有的词", "某大学", "", "石墨 烯", "\ud800"]) == {
        "石墨烯": 3, "mems": 1, "没有的词": 0, "某大学": 0, "": 0, "石墨 烯": 0, "\ud800": 0}


def test_cached_reads_follow_every_commit(engine, tmp_path):
    """What a reader keeps between queries (scores, decoded posting lists) never outlives a commit,
    its own or another instance's: deleted and replaced documents are gone at once."""
    path = str(tmp_path / "index")
    reader, writer = get_backend(engine, path), get_backend(engine, path)
    writer.index_documents(CORPUS)
    terms = key_terms("石墨烯 复合材料")
    for _ in range(2):  # the second time from the caches
        assert set(ids(reader.search("石墨烯"))) == {"demand:1", "achievement:4", "demand:2"}
        assert ids(reader.more_like_this(terms, kind="demand")) == ["demand:1", "demand:2"]
    writer.delete_documents(["demand:1"])
    assert set(ids(reader.search("石墨烯"))) == {"achievement:4", "demand:2"}
    assert ids(reader.more_like_this(terms, kind="demand")) == ["demand:2"]
    writer.index_documents([make_doc(1, version=2, title="石墨烯涂层", body="", keywords=[])])
    hits = {h.doc_id: h for h in reader.more_like_this(terms, kind="demand")}
    assert set(hits) == {"demand:1", "demand:2"}
    assert (hits["demand:1"].version, hits["demand:1"].terms) == (2, frozenset({"石墨", "石墨烯", "涂层"}))
    reader.index_documents([make_doc(2, version=2, title="钠离子电池", body="", keywords=[])])
    assert ids(reader.more_like_this(terms, kind="demand")) == ["demand:1"]
    reader.close()
    writer.close()


def test_a_searcher_whose_readers_whoosh_closed_is_replaced(tmp_path):
    """Seen on two gunicorn nodes: a refresh raced a merge in another process, Whoosh closed the readers it
    meant to reuse, and every later refresh of that worker's searcher raised ReaderClosed. Here the readers
    are closed the same way; the next query after a commit must open a fresh searcher and answer."""
    path = str(tmp_path / "index")
    reader, writer = get_backend("whoosh", path), get_backend("whoosh", path)
    writer.index_documents(CORPUS[:2])
    writer.index_documents(CORPUS[2:])  # two segments: a MultiReader, as on a busy index
    assert reader.doc_count() == len(CORPUS)
    for leaf, _ in reader._searcher().ixreader.leaf_readers():
        leaf.close()
    writer.index_documents([make_doc(9, title="石墨烯散热膜", body="", keywords=[])])
    assert reader.doc_count() == len(CORPUS) + 1
    assert "demand:9" in ids(reader.search("石墨烯"))
    reader.close()
    writer.close()


def test_an_index_built_before_terms_were_stored_is_still_served(engine, tmp_path):
    path = tmp_path / "old"
    path.mkdir()
    if engine == "whoosh":
        from whoosh import index as whoosh_index

        from market.search.whoosh_backend import build_schema

        whoosh_index.create_in(str(path), build_schema(with_terms=False))
    else:
        import tantivy

        from market.search.tantivy_backend import build_schema

        tantivy.Index(build_schema(with_terms=False), path=str(path))
    with get_backend(engine, str(path)) as b:
        b.index_documents(CORPUS)
        [hit] = b.more_like_this(key_terms("石墨烯 薄膜"), kind="achievement")
        assert (hit.doc_id, hit.terms) == ("achievement:4", None)
        assert b.doc_frequencies(["石墨烯"]) == {"石墨烯": 3}
        assert set(ids(b.search("石墨烯"))) == {"demand:1", "achievement:4", "demand:2"}


def test_engines_agree(tmp_path):
    results = {}
    for engine in ENGINES:
        with get_backend(engine, str(tmp_path / engine)) as b:
            b.index_documents(CORPUS)
            results[engine] = [
                ids(b.search(q)) for q in ["石墨烯", "传感器", "机器视觉 深度学习", "储能 电池", ""]
            ] + [ids(b.more_like_this(key_terms("石墨烯 复合材料"), kind="demand"))]
    assert results["whoosh"] == results["tantivy"]


def test_a_second_instance_sees_commits(engine, tmp_path):
    path = str(tmp_path / "index")
    reader = get_backend(engine, path)
    writer = get_backend(engine, path)
    assert reader.doc_count() == 0
    writer.index_documents(CORPUS[:2])
    assert reader.doc_count() == 2
    writer.delete_documents(["demand:1"])
    assert ids(reader.search("石墨烯")) == ["demand:2"]
    reader.close()
    writer.close()


def _write_many(engine: str, path: str, start: int, count: int, batch: int) -> None:
    backend = get_backend(engine, path)
    for lo in range(start, start + count, batch):
        backend.index_documents([make_doc(i, title=f"并发写入测试{i}") for i in range(lo, min(lo + batch, start + count))])
    backend.close()


def test_two_processes_write_concurrently(engine, tmp_path):
    path = str(tmp_path / "index")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(engine, path, start, 200, 5)) for start in (0, 200)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    with get_backend(engine, path) as b:
        assert b.doc_count() == 400
        assert set(b.versions()) == {f"demand:{i}" for i in range(400)}
        assert b.search("并发").total == 400


@pytest.fixture(scope="module", params=ENGINES)
def shared_index(request, tmp_path_factory):
    b = get_backend(request.param, str(tmp_path_factory.mktemp(request.param)))
    b.index_documents(CORPUS)
    yield b
    b.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=()), max_size=400),
       page=st.integers(min_value=-5, max_value=10**12), sort=st.sampled_from(["relevance", "date", "x"]))
def test_any_text_never_raises(shared_index, text, page, sort):
    result = shared_index.search(text, page=page, sort=sort, facets=["kind", "region_ids"],
                                 filters={"region_ids": text[:5] or None})
    assert result.total >= len(result.hits)
    shared_index.more_like_this([(text, 1.0)] + key_terms(text), kind="demand", exclude=[text])
    assert set(shared_index.doc_frequencies([text, *tokenize(text)])) == {text, *tokenize(text)}
