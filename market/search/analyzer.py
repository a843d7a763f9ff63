"""The one text analyzer used for indexing and for queries, with both search engines.

Text is normalized (NFKC, casefold, control characters dropped, whitespace collapsed) and cut by jieba
in search mode (whole words plus their dictionary sub-words, for recall). Both the Whoosh analyzer and
the pre-tokenized Tantivy fields use `tokenize()`, so the two engines rank the same terms.

Normalization works character by character so that every normalized character maps back to one
character of the original text: highlighting and Whoosh token offsets then point into the original.
The price is that combining sequences spread over several code points are not recomposed, which does
not matter for Chinese and ASCII technical text.
"""
from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from markupsafe import Markup, escape
from whoosh.analysis import Token, Tokenizer

_HERE = Path(__file__).resolve().parent
USERDICT_PATH = _HERE / "userdict.txt"
STOPWORDS_PATH = _HERE / "stopwords.txt"

MAX_TOKEN_LEN = 40  # longer runs are noise (hashes, base64) and would bloat the index
_DEFAULT_WORD_FREQ = 20000
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_LATIN_EXTRA = frozenset("+#&._%-")

_jieba = None
_jieba_lock = threading.Lock()
_domain_terms: frozenset[str] = frozenset()
_stopwords: frozenset[str] | None = None
_char_cache: dict[str, str] = {}


# -- normalization ------------------------------------------------------------------------------

def _normalize_char(ch: str) -> str:
    """Normalized form of one character: '' if dropped, ' ' for any whitespace."""
    out = _char_cache.get(ch)
    if out is None:
        if ch.isspace():
            out = " "
        elif unicodedata.category(ch) in _DROPPED_CATEGORIES:
            out = ""
        else:
            out = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", ch).casefold())
            # NFKC may itself produce whitespace or control characters (e.g. U+3000).
            out = "".join(
                " " if c.isspace() else c
                for c in out
                if c.isspace() or unicodedata.category(c) not in _DROPPED_CATEGORIES
            )
        if len(_char_cache) < 200_000:
            _char_cache[ch] = out
    return out


def _normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalize `text` and return, for each normalized character, its index in `text`."""
    chars: list[str] = []
    origin: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        out = _normalize_char(ch)
        if not out:
            continue
        for c in out:
            if c == " ":
                pending_space = True
                continue
            if pending_space and chars:
                chars.append(" ")
                origin.append(i)
            pending_space = False
            chars.append(c)
            origin.append(i)
    return "".join(chars), origin


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), casefold, drop control characters and lone surrogates,
    collapse whitespace. Never raises on any str."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _normalize_with_map(text)[0]


# -- dictionaries -------------------------------------------------------------------------------

def _read_list(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split())
    return rows


def _stop_words() -> frozenset[str]:
    global _stopwords
    if _stopwords is None:
        _stopwords = frozenset(normalize(row[0]) for row in _read_list(STOPWORDS_PATH))
    return _stopwords


def _segmenter():
    """The process-wide jieba tokenizer (our own instance, not jieba's global), loaded lazily."""
    global _jieba, _domain_terms
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                tk.initialize()
                terms = set()
                for row in _read_list(USERDICT_PATH):
                    word = normalize(row[0])
                    freq = int(row[1]) if len(row) > 1 and row[1].isdigit() else _DEFAULT_WORD_FREQ
                    tk.add_word(word, freq)
                    terms.add(word)
                _domain_terms = frozenset(terms)
                _stop_words()
                _jieba = tk
    return _jieba


def domain_terms() -> frozenset[str]:
    _segmenter()
    return _domain_terms


# -- tokenizing ---------------------------------------------------------------------------------

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or a digit, any script
# A non-CJK word of letters/digits (plus + # & . _ % -): 'mems', 'c++', '1.5', 'μ'.
_LATIN_WORD = re.compile(f"(?=[^{_CJK_CLASS}]*[^\\W_])[^\\W{_CJK_CLASS}]*(?:[+#&._%-][^\\W{_CJK_CLASS}]*)*")


def _is_cjk(ch: str) -> bool:
    return _CJK.match(ch) is not None


def _cut(norm: str) -> list[tuple[str, int, int]]:
    """jieba default-mode cut with offsets, re-joining non-ASCII Latin words that jieba splits
    (its word regex is ASCII-only: 'café' comes out as 'caf' + 'é', 'μm' as 'μ' + 'm')."""
    words: list[tuple[str, int, int]] = []
    start = 0
    latin = _LATIN_WORD.fullmatch
    prev_latin = False
    for w in _segmenter().cut(norm, HMM=True):
        end = start + len(w)
        is_latin = not _CJK.match(w) and latin(w) is not None
        if is_latin and prev_latin and words[-1][2] == start \
                and not (w.isascii() and words[-1][0].isascii()):
            prev = words.pop()
            words.append((prev[0] + w, prev[1], end))
        else:
            words.append((w, start, end))
        prev_latin = is_latin
        start = end
    return words


def _keep(term: str, stops: frozenset[str]) -> bool:
    if not term or len(term) > MAX_TOKEN_LEN or term in stops:
        return False
    return _WORD_CHAR.search(term) is not None  # drops punctuation, whitespace, emoji


# The same texts are analysed again and again: a listing's title, keywords and body each time it is matched,
# indexed or checked for subscriptions. Their terms are kept for texts of up to CACHE_TEXT_LEN characters, at
# most CACHE_TEXTS of them, the least recently used dropped first (jieba's cut is deterministic and its
# dictionaries are fixed once loaded). Kept compactly: the terms interned (a market's vocabulary repeats), the
# offsets as arrays, about 16 bytes a term, so a full cache of listing-sized texts stays within a few MB.
CACHE_TEXTS = 2048
CACHE_TEXT_LEN = 4000


@functools.lru_cache(maxsize=CACHE_TEXTS)
def _analyzed(text: str) -> tuple[tuple[str, ...], array, array]:
    terms, starts, ends = [], array("I"), array("I")
    for term, start, end in _analyze_text(text):
        terms.append(sys.intern(term))
        starts.append(start)
        ends.append(end)
    return tuple(terms), starts, ends


def _analyze(text: str) -> Iterable[tuple[str, int, int]]:
    """(term, start, end) with offsets into the ORIGINAL text, in search mode."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) <= CACHE_TEXT_LEN:
        return zip(*_analyzed(text))
    return _analyze_text(text)


def _analyze_text(text: str) -> Iterator[tuple[str, int, int]]:
    norm, origin = _normalize_with_map(text)
    if not norm:
        return
    tk = _segmenter()
    stops = _stop_words()
    freq = tk.FREQ
    for w, s, e in _cut(norm):
        if not _keep(w, stops):
            continue
        n = len(w)
        if n > 2 and _CJK.search(w):
            # Same sub-words as jieba's cut_for_search: dictionary 2- and 3-grams inside long words.
            for size in (2, 3):
                if n > size:
                    for i in range(n - size + 1):
                        gram = w[i:i + size]
                        if freq.get(gram) and _keep(gram, stops):
                            yield gram, origin[s + i], origin[s + i + size - 1] + 1
        yield w, origin[s], origin[e - 1] + 1


def tokenize(text: str) -> list[str]:
    """Search-mode terms of `text`: whole words and their dictionary sub-words, Latin/number words
    kept whole, stop words and punctuation dropped. Deterministic."""
    return [t for t, _, _ in _analyze(text)]


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Distinct terms of a user query, capped at `limit`: domain terms first, then the longest
    (most specific) ones, then the earliest."""
    seen: dict[str, int] = {}
    for i, t in enumerate(tokenize(text)):
        seen.setdefault(t, i)
    if len(seen) <= limit:
        return list(seen)
    domain = domain_terms()
    ranked = sorted(seen, key=lambda t: (t not in domain, -len(t), seen[t]))[:limit]
    return sorted(ranked, key=seen.__getitem__)


def key_terms(text: str, k: int = 20) -> list[tuple[str, float]]:
    """Weighted terms for a more-like-this query: term frequency x a length factor (1 char 0.5,
    2 chars 1, 3 chars 1.5, 4+ chars 2), x1.5 for user-dictionary domain terms; scaled so the top
    weight is 1.0. The caller boosts the title by repeating it."""
    counts = Counter(tokenize(text))
    if not counts:
        return []
    domain = domain_terms()
    weights = {
        t: tf * (min(len(t), 4) / 2.0) * (1.5 if t in domain else 1.0)
        for t, tf in counts.items()
    }
    top = sorted(weights.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:k]
    peak = top[0][1]
    return [(t, round(w / peak, 4)) for t, w in top]


# -- Whoosh -------------------------------------------------------------------------------------

class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer over `tokenize()`; startchar/endchar point into the original text."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        for pos, (term, s, e) in enumerate(_analyze(value)):
            t.text = term
            t.boost = 1.0
            if keeporiginal:
                t.original = term
            t.stopped = False
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t


def ChineseAnalyzer() -> ChineseTokenizer:  # noqa: N802 (named like Whoosh's analyzers)
    return ChineseTokenizer()


# -- highlighting -------------------------------------------------------------------------------

_ELLIPSIS = "…"


def _clean(segment: str) -> str:
    """Original text minus the characters normalization drops (NUL, controls, lone surrogates)."""
    return "".join(c for c in segment if c.isspace() or unicodedata.category(c) not in _DROPPED_CATEGORIES)


def highlight(text: str, terms: Iterable[str], max_len: int = 200) -> Markup:
    """An HTML-escaped snippet of `text` (at most about `max_len` characters) around the first
    matches, with <mark> around every matched term. Matching is on normalized text, so 'MEMS'
    matches 'mems' and full-width 'ＰＬＡ' matches 'pla'; the snippet shows the original characters."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    wanted = sorted({n for n in (normalize(t) for t in terms if isinstance(t, str)) if n},
                    key=lambda t: (-len(t), t))[:64]
    norm, origin = _normalize_with_map(text)
    spans: list[tuple[int, int]] = []
    if wanted and norm:
        pattern = re.compile("|".join(re.escape(t) for t in wanted))
        for m in pattern.finditer(norm):
            s, e = origin[m.start()], origin[m.end() - 1] + 1
            if not spans or s >= spans[-1][1]:
                spans.append((s, e))
    max_len = max(int(max_len), 1)
    if len(text) <= max_len:
        lo, hi = 0, len(text)
    else:
        first = spans[0][0] if spans else 0
        lo = max(0, first - max_len // 4)
        hi = min(len(text), lo + max_len)
        lo = max(0, hi - max_len)
    parts: list[str] = [_ELLIPSIS] if lo > 0 else []
    cursor = lo
    for s, e in spans:
        if e <= lo or s < cursor:
            continue
        if s >= hi:
            break
        e = min(e, hi)
        parts.append(escape(_clean(text[cursor:s])))
        parts.append(Markup("<mark>") + escape(_clean(text[s:e])) + Markup("</mark>"))
        cursor = e
    parts.append(escape(_clean(text[cursor:hi])))
    if hi < len(text):
        parts.append(_ELLIPSIS)
    return Markup("").join(parts)


# -- bilingual glossary ----------------------------------------------------------------------------

GLOSSARY_PATH = _HERE.parent / "data" / "glossary.txt"
_glossary: tuple[re.Pattern | None, dict[str, tuple[str, ...]]] | None = None
_glossary_lock = threading.Lock()


def _load_glossary() -> tuple[re.Pattern | None, dict[str, tuple[str, ...]]]:
    """(one pattern over every glossary name, name -> the other names of its concepts), normalized."""
    global _glossary
    if _glossary is None:
        with _glossary_lock:
            if _glossary is None:
                links: dict[str, set[str]] = {}
                for line in GLOSSARY_PATH.read_text(encoding="utf-8").splitlines():
                    if not line.strip() or line.lstrip().startswith("#"):
                        continue
                    names = [n for n in (normalize(p).strip() for p in line.split("=")) if n]
                    for name in names:
                        links.setdefault(name, set()).update(n for n in names if n != name)
                parts = []
                for name in sorted(links, key=lambda n: (-len(n), n)):
                    body = re.escape(name)
                    # Latin names are whole words ("mes" is not in "messages"); Chinese names are substrings
                    parts.append(body if _CJK.search(name) else f"(?<![a-z0-9]){body}(?![a-z0-9])")
                pattern = re.compile("|".join(parts)) if parts else None
                _glossary = (pattern, {n: tuple(sorted(o)) for n, o in links.items()})
    return _glossary


def is_latin(name: str) -> bool:
    """Whether a glossary name is written without Chinese characters (machine vision, PLC, 5G)."""
    return _CJK.search(name) is None


def glossary_links(text: str) -> dict[str, tuple[str, ...]]:
    """Glossary names found in `text` (normalized) -> the other names of the same concept, from
    market/data/glossary.txt: 'machine vision' -> ('computer vision', '机器视觉', '视觉检测')."""
    pattern, links = _load_glossary()
    norm = normalize(text)
    if pattern is None or not norm:
        return {}
    return {m.group(0): links[m.group(0)] for m in pattern.finditer(norm)}
