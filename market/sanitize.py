"""Allowlist HTML sanitizer for user-written rich text (README, "Security and reliability", row 8).

Today every user text field is rendered escaped as plain text, so nothing calls this yet on a page. A
feature that lets users write formatted text stores what they typed and renders it with the
`clean_html` Jinja filter (`{{ listing.body|clean_html }}`), never with `|safe`.

Allowed: p, br, ul, ol, li, strong, em, and a with an http/https/mailto href (rel="noopener noreferrer"
is forced). Everything else is removed: script and style elements with their content, every other tag
(its text kept), every other attribute (event handlers, style, class), relative and javascript: links,
comments. Lone surrogates and control characters (but newline and tab) are dropped first: they are
not text, and nh3 cannot take a lone surrogate.
"""
from __future__ import annotations

import unicodedata

import nh3
from markupsafe import Markup

ALLOWED_TAGS = frozenset({"p", "br", "ul", "ol", "li", "strong", "em", "a"})
# "*": nothing on every tag (nh3 would otherwise keep its default generic attributes, title and lang)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "*": set()}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"
# removed with everything inside them (the default would keep a script's text as visible text)
CONTENT_DROPPED = frozenset({"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math",
                             "textarea", "select", "title", "xmp", "noembed", "noframes"})

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(CONTENT_DROPPED),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)


def _text_only(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(CONTENT_DROPPED), attributes={}, strip_comments=True)


def clean_html(text: str | None) -> str:
    """The allowed subset of `text` as safe HTML; cleaning the result again changes nothing.

    One pass is not always a fixed point: the HTML parser can build trees that do not survive serialising and
    parsing again (`<a><table><td><a>` nests a link in a link; the next parse splits them). So clean until the
    output no longer changes, and in the unlikely case that takes too long, keep only the text.
    """
    if not text:
        return ""
    out = _CLEANER.clean(_text_only(str(text)))
    for _ in range(4):
        again = _CLEANER.clean(out)
        if again == out:
            return out
        out = again
    return _TEXT_ONLY.clean(out)


def clean_html_markup(text: str | None) -> Markup:
    """For templates: the cleaned HTML marked safe, so Jinja does not escape it again."""
    # bandit B704 (Markup on untrusted data) does not apply: the text has just passed the allowlist sanitizer
    return Markup(clean_html(text))  # nosec B704
