"""The allowlist sanitizer for rich text (SECURITY.md item 8): market.sanitize.clean_html and its Jinja filter."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.sanitize import ALLOWED_TAGS, clean_html

TAG = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")
ATTR = re.compile(r'([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*"([^"]*)"')


def assert_only_allowed(html: str) -> None:
    """Every tag in the output is allowed, with allowed attributes and safe link targets only."""
    for match in TAG.finditer(html):
        name, rest = match.group(1).lower(), match.group(2)
        assert name in ALLOWED_TAGS, (name, html)
        attrs = dict(ATTR.findall(rest))
        allowed = {"href", "rel"} if name == "a" else set()
        assert set(attrs) <= allowed, (attrs, html)
        if "href" in attrs:
            assert re.match(r"(?i)(https?:|mailto:)", attrs["href"]), html
        if name == "a" and not match.group(0).startswith("</"):
            assert attrs.get("rel") == "noopener noreferrer", html
    low = html.lower()
    for bad in ("<script", "<style", "<svg", "<iframe", "<img", "javascript:", "onerror", "onclick", "onload", "<math"):
        assert bad not in low, (bad, html)


@pytest.mark.parametrize(
    "dirty, expected",
    [
        ("<script>alert(1)</script>简介", "简介"),
        ("<p>你好<script>document.cookie</script></p>", "<p>你好</p>"),
        ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>成果", "成果"),
        ('<img src=x onerror="alert(1)">图片', "图片"),
        ('<p onclick="alert(1)" onmouseover="x()">段落</p>', "<p>段落</p>"),
        ('<a href="javascript:alert(1)">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href="JaVaScRiPt:alert(1)">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href="java&#x09;script:alert(1)">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href=" javascript:alert(1)">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href="vbscript:msgbox(1)">点我</a>', '<a rel="noopener noreferrer">点我</a>'),
        ('<a href="/admin/users">相对链接</a>', '<a rel="noopener noreferrer">相对链接</a>'),
        ('<svg onload="alert(1)"><circle r="1"/></svg>矢量图', "矢量图"),
        ("<svg><script>alert(1)</script></svg>安全", "安全"),
        ('<math><mi xlink:href="javascript:alert(1)">x</mi></math>公式', "公式"),
        ("<style>body{display:none}</style>样式", "样式"),
        ('<p style="background:url(javascript:alert(1))">样式属性</p>', "<p>样式属性</p>"),
        ('<div class="x" id="y">块</div>', "块"),
        ('<p title="提示" lang="zh" class="c" dir="rtl">属性</p>', "<p>属性</p>"),
        ('<iframe src="https://evil.example"></iframe>框架', "框架"),
        ('<object data="x.swf"></object><embed src="x.swf">插件', "插件"),
        ('<form action="https://evil.example"><input name="p"></form>表单', "表单"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example">跳转', "跳转"),
        ('<base href="https://evil.example/">基址', "基址"),
        ("<!-- <script>alert(1)</script> -->注释", "注释"),
        ('<noscript><p title="</noscript><img src=x onerror=alert(1)>">', '"&gt;'),
        ("<template><script>alert(1)</script></template>模板", "模板"),
        ("<textarea><script>alert(1)</script></textarea>文本", "文本"),
    ],
)
def test_dangerous_markup_is_removed(dirty, expected):
    out = clean_html(dirty)
    assert out == expected
    assert_only_allowed(out)


@pytest.mark.parametrize(
    "kept",
    [
        "<p>磁控溅射低方阻透明导电膜制备技术</p>",
        "<p>第一段</p><p>第二段<br>换行</p>",
        "<ul><li>耐高温</li><li>低成本</li></ul>",
        "<ol><li>第一步</li><li>第二步</li></ol>",
        "<p><strong>重点</strong>与<em>强调</em></p>",
        '<a href="https://www.example.cn/成果?id=1&amp;k=2" rel="noopener noreferrer">成果链接</a>',
        '<a href="http://example.cn" rel="noopener noreferrer">http 链接</a>',
        '<a href="mailto:tech@example.cn" rel="noopener noreferrer">联系我们</a>',
        "技术需求：寻求高透光导电膜玻璃镀膜技术（ＩＴＯ），预算５０万元 😀",
        "价格 &lt; 100 万元 &amp; 面议",
    ],
)
def test_allowed_markup_and_chinese_are_kept(kept):
    assert clean_html(kept) == kept


@pytest.mark.parametrize("dirty", [
    '<a href="https://x.cn"><table><td><a href="https://x.cn">',  # a link nested in a link through a table
    "<p><table><td><p>甲</td></table>乙",
    "<ul><li><table><li>甲</table></ul>",
])
def test_trees_the_parser_rebuilds_still_reach_a_fixed_point(dirty):
    once = clean_html(dirty)
    assert clean_html(once) == once
    assert_only_allowed(once)


def test_links_get_rel_noopener_even_when_the_user_set_another():
    out = clean_html('<a href="https://example.cn" rel="opener" target="_blank">链接</a>')
    assert out == '<a href="https://example.cn" rel="noopener noreferrer">链接</a>'


def test_plain_text_is_escaped_not_interpreted():
    assert clean_html("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert clean_html("") == "" and clean_html(None) == ""


def test_nul_control_characters_and_lone_surrogates_are_dropped():
    assert clean_html("甲\x00乙\x07丙\ud800丁\n戊\t己") == "甲乙丙丁\n戊\t己"


def test_the_jinja_filter_renders_clean_html(app):
    from flask import render_template_string

    with app.test_request_context("/"):
        out = render_template_string("<div>{{ text|clean_html }}</div>", text='<p onclick="x()">你好<script>alert(1)</script></p>')
        plain = render_template_string("{{ text }}", text="<p>你好</p>")
    assert out == "<div><p>你好</p></div>"
    # without the filter the same text is escaped, as every plain field is today
    assert plain == "&lt;p&gt;你好&lt;/p&gt;"


# Markup('a constant') alone, at the end of its line (continued by an adjacent literal) or followed by .format(
LITERAL_MARKUP = re.compile(r"""Markup\(\s*(?:'[^'{}]*'|"[^"{}]*"|'[^']*'(?=\)\.format\()|"[^"]*"(?=\)\.format\())\s*(?:$|\)$|\)\.format\()""")


def test_no_template_marks_user_text_safe():
    """A `|safe` in a template or a Markup() around user text would bypass the sanitizer: there are none, except
    Markup() around fully rendered (autoescaped) templates (render_template, or an .html template's render), the search highlighter, which escapes each piece, the
    phone cards filter (templating.table_cards), which re-emits an autoescaped rendering token by token with
    labels copied from its own escaped header (a plain string is escaped first), and a string literal written in
    the code (a constant; with `.format(...)`, which escapes every argument)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in (root / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\|\s*safe\b", text) or "autoescape false" in text.replace(" ", " "):
            offenders.append(str(path.relative_to(root)))
    for path in (root / "market").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "Markup(" in line and not re.search(r"Markup\((render_template\(|template\.render\(|\"<mark>\"|\"</mark>\"|\"\"\)|clean_html\(|\"\"\.join\(parser\.out\)\))", line) \
                    and not LITERAL_MARKUP.search(line):
                offenders.append(f"{path.relative_to(root)}: {line.strip()}")
    assert not offenders, offenders


# ------------------------------------------------------------------ properties

HTML_BITS = st.sampled_from([
    "<p>", "</p>", "<br>", "<ul>", "<li>", "</li>", "<ol>", "<strong>", "</em>", "<em>", "<a href=\"https://x.cn\">",
    "<a href='javascript:alert(1)'>", "</a>", "<script>", "</script>", "<svg onload=alert(1)>", "<style>", "</style>",
    "<img src=x onerror=alert(1)>", "<!--", "-->", "<", ">", "&", "&amp;", "&lt;", "&#x3c;", "\"", "'", "=", "/",
    "<iframe>", "<math>", "<noscript>", "</noscript>", "<textarea>", "<p title=\"", "<![CDATA[", "]]>", "<?xml",
    "<!DOCTYPE html>", "<table><td>", "<select><option>", "<template>", "</template>", "<table>", "<tr>", "<td>",
    "</td>", "<caption>", "<button>", "<h1>", "</ol>", "</ul>", "<form>", "<b>", "<font>", "<dd>", "<pre>", "<nobr>",
    "<a href=\"mailto:a@b.cn\">", "<a href=\"/x\">",
])
TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("技术需求成果ＡＢＣ１２３😀\x00\ud800\u200b\u202e"), max_size=20)
HTMLISH = st.lists(HTML_BITS | TEXT, max_size=25).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HTMLISH)
def test_cleaning_twice_changes_nothing(dirty):
    once = clean_html(dirty)
    assert clean_html(once) == once
    assert_only_allowed(once)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from("，。、；：！？（）"), max_size=200))
def test_chinese_text_passes_unchanged(text):
    assert clean_html(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_cleans_without_error(text):
    out = clean_html(text)
    assert isinstance(out, str)
    assert_only_allowed(out)
