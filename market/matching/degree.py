"""匹配度: the one 0-100 figure and the 强 / 中 / 弱 label that every page shows for a stored suggestion.

Every page (the panel on a listing's page, `/matching`, the broker's queue, `flask match export`) reads the figure
through this module only. The mapping itself belongs to the engine (engine.match_degree / engine.strength: the
stored score is the calibrated probability x 100 that the pairing is the right one); this module only adapts it
for templates. Whatever the mapping, it must stay monotone non-decreasing in the stored score: lists are sorted
by `Suggestion.score` in SQL and must come out sorted by 匹配度 too.
"""
from __future__ import annotations

from . import engine

LABELS = {"strong": "强", "medium": "中", "weak": "弱"}
_KEYS = {label: key for key, label in LABELS.items()}


def match_degree(score: float | None) -> int:
    """The stored score -> 匹配度, an integer from 0 to 100."""
    return engine.match_degree(score)


def strength(degree: int) -> str:
    """匹配度 -> "strong" | "medium" | "weak" (LABELS gives the Chinese word)."""
    return _KEYS[engine.strength(degree)]


def strength_label(degree: int) -> str:
    return LABELS[strength(degree)]


def scale_note() -> str:
    """What the labels mean, for the pages' legends: "强 ≥ 50，中 20–49，弱 < 20"."""
    strong, medium = engine.STRONG_FROM, engine.MEDIUM_FROM
    return f"强 ≥ {strong}，中 {medium}–{strong - 1}，弱 < {medium}"
