"""A small technical-field classifier trained on the market's own field-labelled listings.

Many listings come without a technical field (imported, hastily posted), and a one-keyword need says
little about its subject. The listings whose owners did choose a field teach a multinomial naive Bayes
classifier over their analyzer terms (each distinct term counted once per listing); at match time it
predicts a field distribution for each side that has no field, and the engine's `topic` signal is the
agreement of the two distributions (the probability that both sides are of the same field,
sum over fields of p_need(f) x p_result(f)).

Trained by `flask match fit` on the published listings with a field (stored in the model json beside the
index) and by `bench/matching.py` on the fitting half's papers with their discipline as the label (never
on the held-out half's). Pure Python, sparse: scoring a listing walks only the (term, field) pairs seen in
training, so it costs well under a millisecond; predictions are cached by listing id and version.
"""
from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable

ALPHA = 0.1  # additive smoothing of the term counts
MIN_DF = 2  # a term seen in fewer labelled listings is not kept (it would only memorise its listing)
MIN_PROB = 0.005  # smaller shares of a prediction are dropped (and the rest renormalised)
MIN_LABELS = 2  # a classifier needs at least two fields to tell apart
_tokens = itertools.count(1)


class TopicClassifier:
    """Multinomial naive Bayes over distinct terms: labels are field codes (market) or disciplines (bench)."""

    def __init__(self, docs: dict[str, int], totals: dict[str, int], counts: dict[str, dict[str, int]],
                 alpha: float = ALPHA):
        self.docs = docs  # label -> labelled listings
        self.totals = totals  # label -> term occurrences (distinct terms per listing, summed)
        self.counts = counts  # term -> {label: listings of that label holding it}
        self.alpha = alpha
        vocab = max(len(counts), 1)
        n = sum(docs.values()) or 1
        self.labels = sorted(docs)
        self._prior = {c: math.log(docs[c] / n) for c in self.labels}
        self._base = {c: math.log(alpha / (totals[c] + alpha * vocab)) for c in self.labels}
        self._vocab = vocab
        self.token = next(_tokens)  # names this classifier in the prediction cache

    # -- training -----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, labelled: Iterable[tuple[Iterable[str], str]], alpha: float = ALPHA,
            min_df: int = MIN_DF) -> TopicClassifier | None:
        """From (terms, label) pairs; None when fewer than MIN_LABELS labels are seen."""
        raw: dict[str, dict[str, int]] = {}
        docs: dict[str, int] = {}
        for terms, label in labelled:
            if not label:
                continue
            docs[label] = docs.get(label, 0) + 1
            for t in set(terms):
                by = raw.setdefault(t, {})
                by[label] = by.get(label, 0) + 1
        if len(docs) < MIN_LABELS:
            return None
        counts = {t: by for t, by in raw.items() if sum(by.values()) >= min_df}
        totals = {c: 0 for c in docs}
        for by in counts.values():
            for c, k in by.items():
                totals[c] += k
        return cls(docs, totals, counts, alpha)

    # -- prediction ---------------------------------------------------------------------------------
    def predict(self, terms: Iterable[str], own: tuple[str, Iterable[str]] | None = None) -> dict[str, float]:
        """The field distribution of a listing with these terms. `own` = (label, terms) of a labelled
        listing to leave out: its counts are taken out first, so that the listing itself, or a need
        written from it, is predicted as if the classifier had not been trained on it (the fit's
        cross-fitting: otherwise the signal is stronger on the fitting half than it can be on new listings)."""
        kept = [t for t in set(terms) if t in self.counts]
        if not kept:
            return {}
        own_label, own_terms = (own[0], {t for t in own[1] if t in self.counts}) if own else (None, set())
        scores = {}
        extra = dict.fromkeys(self.labels, 0.0)
        a = self.alpha
        for t in kept:
            for c, k in self.counts[t].items():
                if c == own_label and t in own_terms:
                    k -= 1
                if k > 0:
                    extra[c] += math.log1p(k / a)
        m = len(kept)
        for c in self.labels:
            docs, base = self.docs[c], self._base[c]
            if c == own_label:
                docs -= 1
                if docs <= 0:
                    continue
                base = math.log(a / (self.totals[c] - len(own_terms) + a * self._vocab))
            scores[c] = math.log(docs) + m * base + extra[c]
        top = max(scores.values())
        probs = {c: math.exp(s - top) for c, s in scores.items() if s - top > -12}
        total = sum(probs.values())
        probs = {c: p / total for c, p in probs.items() if p / total >= MIN_PROB}
        total = sum(probs.values()) or 1.0
        return {c: round(p / total, 5) for c, p in probs.items()}

    # -- storage ------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"alpha": self.alpha, "docs": self.docs, "totals": self.totals, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict | None) -> TopicClassifier | None:
        if not data or not data.get("docs"):
            return None
        try:
            return cls({str(k): int(v) for k, v in data["docs"].items()},
                       {str(k): int(v) for k, v in data["totals"].items()},
                       {str(t): {str(c): int(k) for c, k in by.items()} for t, by in data["counts"].items()},
                       float(data.get("alpha", ALPHA)))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def agreement(a: dict[str, float], b: dict[str, float]) -> float:
    """The probability that two listings with these field distributions are of the same field."""
    if len(a) > len(b):
        a, b = b, a
    return sum(p * b.get(c, 0.0) for c, p in a.items())


_cache: dict[tuple, dict[str, float]] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 50_000


def cached_predict(classifier: TopicClassifier, key: tuple, terms: Iterable[str]) -> dict[str, float]:
    """classifier.predict, remembered by (classifier, key): key is a listing's (kind, id, version)."""
    full = (classifier.token, *key)
    found = _cache.get(full)
    if found is None:
        found = classifier.predict(terms)
        with _cache_lock:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[full] = found
    return found
