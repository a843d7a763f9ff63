"""The engine behind the SearchBackend interface, by name (SEARCH_ENGINE): Whoosh, or Tantivy for large markets.

Each engine is imported only when asked for, so a site on Whoosh never loads Tantivy and the other way round.
"""
from __future__ import annotations

from .backend import SearchBackend


def get_backend(engine: str, path: str) -> SearchBackend:
    if engine == "whoosh":
        from .whoosh_backend import WhooshBackend

        return WhooshBackend(path)
    if engine == "tantivy":
        from .tantivy_backend import TantivyBackend

        return TantivyBackend(path)
    raise ValueError(f"unknown search engine: {engine!r}")
