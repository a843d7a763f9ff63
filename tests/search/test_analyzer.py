from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from market.search import analyzer
from market.search.analyzer import ChineseAnalyzer, highlight, key_terms, normalize, tokenize

# Every Unicode code point, lone surrogates and controls included.
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)


def test_domain_words_stay_whole():
    for term in ["石墨烯", "聚乳酸", "钙钛矿", "锂离子电池", "固态电池", "氢燃料电池", "工业互联网", "边缘计算",
                 "集成电路", "新能源汽车", "特高压", "土壤修复", "稀土永磁", "3D打印", "增材制造", "机器视觉"]:
        assert normalize(term) in tokenize(f"一种{term}的应用"), term


def test_search_mode_adds_sub_words():
    tokens = tokenize("锂离子电池正极材料")
    assert {"锂离子电池", "电池", "离子", "正极", "材料"} <= set(tokens)


def test_full_width_becomes_half_width():
    assert normalize("ＡＢＣ１２３ ＰＬＡ") == "abc123 pla"
    assert tokenize("ＰＬＡ") == ["pla"]
    assert tokenize("３Ｄ打印") == tokenize("3D打印")


def test_whitespace_collapsed_and_controls_dropped():
    assert normalize("\u3000 a \t\n b\r\n") == "a b"
    assert normalize("a\x00b\ud800c\u200bd") == "abcd"
    assert normalize("") == ""


def test_mixed_latin_terms_kept_whole():
    tokens = tokenize("MEMS传感器")
    assert tokens[0] == "mems"
    assert {"mems", "传感器", "传感"} <= set(tokens)
    assert "5g" in tokenize("5G基站")
    assert tokenize("PLA") == ["pla"]
    assert "café" in tokenize("café 工艺")
    assert "co2" in tokenize("CO2捕集")


def test_stop_words_and_punctuation_dropped():
    tokens = tokenize("一种石墨烯的制备和应用，以及其他……!!")
    for stop in ["一种", "的", "和", "以及", "其他", "，", "…", "!"]:
        assert stop not in tokens
    assert tokenize("的 了 和 , 。 😀") == []


def test_meaningful_single_characters_kept():
    assert tokenize("钢") == ["钢"]
    assert "锂" in tokenize("锂 的")


def test_over_long_tokens_dropped():
    assert tokenize("x" * 500) == []


def test_tokenize_is_deterministic():
    text = "基于深度学习的工业机器人机器视觉检测系统，MEMS传感器与5G边缘计算"
    assert tokenize(text) == tokenize(text)


def test_nasty_input_does_not_raise():
    for text in ["\ud800", "\udfff\ud800", "\x00" * 10, "😀" * 100, "a" * 5000, "\u0301\u0301", "\ufeff"]:
        normalize(text)
        tokenize(text)
        key_terms(text)
        highlight(text, ["a"])


def test_key_terms_prefer_longer_domain_terms():
    terms = key_terms("锂离子电池 正极 电池 材料 锂离子电池")
    assert terms[0][0] == "锂离子电池"
    assert terms[0][1] == 1.0
    assert all(0 < w <= 1.0 for _, w in terms)
    assert len(key_terms("石墨烯 " * 50 + " ".join(f"词{i}" for i in range(40)), k=5)) <= 5
    assert key_terms("") == []


def test_whoosh_analyzer_offsets_point_into_original_text():
    text = "ＭＥＭＳ传感器，用于5G基站"
    tokens = [(t.text, t.startchar, t.endchar, t.pos)
              for t in ChineseAnalyzer()(text, positions=True, chars=True)]
    assert [t[0] for t in tokens] == tokenize(text)
    for term, start, end, _ in tokens:
        assert normalize(text[start:end]) == term
    assert [t[3] for t in tokens] == list(range(len(tokens)))


def test_highlight_escapes_html_and_marks_terms():
    text = '<script>alert("x")</script> 石墨烯 <b>改性</b> & ＭＥＭＳ'
    out = highlight(text, ["石墨烯", "mems", "script"])
    assert isinstance(out, Markup)
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;<mark>script</mark>&gt;" in out
    assert "<mark>石墨烯</mark>" in out
    assert "<mark>ＭＥＭＳ</mark>" in out  # original characters shown
    assert "&amp;" in out
    assert str(out).count("<mark>") == str(out).count("</mark>") == 4


def test_highlight_terms_are_not_markup():
    out = highlight("a <mark> b", ["<mark>"])
    assert str(out) == "a <mark>&lt;mark&gt;</mark> b"


def test_highlight_snippet_is_around_first_match():
    text = "前文" * 200 + "石墨烯复合材料" + "后文" * 200
    out = str(highlight(text, ["石墨烯"], max_len=60))
    assert "<mark>石墨烯</mark>" in out
    assert out.startswith("…") and out.endswith("…")
    assert len(out.replace("<mark>", "").replace("</mark>", "")) <= 62


def test_highlight_drops_unencodable_characters():
    out = highlight("a\x00b\ud800 石墨烯", ["石墨烯"])
    str(out).encode("utf-8")
    assert "<mark>石墨烯</mark>" in out


def test_user_dictionary_is_loaded_once():
    first = analyzer._segmenter()
    assert analyzer._segmenter() is first
    assert "mems" in analyzer.domain_terms()


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_analyzer_never_raises(text):
    norm = normalize(text)
    assert normalize(norm) == norm
    norm.encode("utf-8")
    tokens = tokenize(text)
    for token in tokens:
        token.encode("utf-8")
        assert token and " " not in token
    key_terms(text)
    str(highlight(text, tokens[:3] or ["a"])).encode("utf-8")


def test_query_terms_are_capped_keeping_domain_and_long_terms():
    text = " ".join(f"词{i}" for i in range(300)) + " 石墨烯复合材料"
    terms = analyzer.query_terms(text, limit=32)
    assert len(terms) == 32
    assert {"石墨烯", "复合材料"} <= set(terms)
    assert analyzer.query_terms("石墨烯 石墨烯 电池") == ["石墨", "石墨烯", "电池"]
