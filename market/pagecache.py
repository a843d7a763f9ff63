"""Anonymous page cache: the public pages (home, both libraries, listing details, search) rendered once per
version of the listings and served from memory to every visitor who is not signed in.

A page is keyed by host and full path with its query, and stored with the newest sequence number of the
listing change log (`index_changes`) at the time it was rendered. A cached page is served only while that
number is still the newest, so a listing published, edited, withdrawn or closed through any worker or any
node shows at once; everything else a public page shows (organisation names, the taxonomy, the home page's
count of verified organisations) is at most `PAGE_CACHE_SECONDS` old. `PAGE_CACHE_SECONDS = 0` turns it off.

Only a visitor without a signed-in session, a remember cookie or pending flash messages is served from the
cache, and only a 200 page rendered without touching the session (no CSRF token, no Set-Cookie) and not marked
`Cache-Control: no-store` by its view is stored, so nothing personal is ever kept or shared, and a search page
built while the index lagged the change log (a failing index folder, market/search/routes.py) is never served
once the index has caught up (the version follows the log, not what the index applied, so such a page is not
kept at all). Each process keeps its own bounded LRU.

A hit for a request that carries no session or remember cookie (every first-time or casual visitor) is answered
by `CachedPageMiddleware` before Flask builds a request at all: the stored status line, headers (security headers
included) and body, exactly as Flask sent them when the page was rendered. A visitor with a cookie goes through
Flask, where `_serve_cached` still serves the page once it has checked that the session is anonymous.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict

from flask import Flask, current_app, g, request, session
from sqlalchemy import func, select

from .database import UNAVAILABLE_ERRORS

CACHEABLE_ENDPOINTS = frozenset({"main.home", "listings.browse", "listings.detail", "search.search"})
MAX_BODY_BYTES = 512 * 1024


class PageCache:
    """A bounded LRU of rendered pages: key -> (version, expires, body, headers as sent)."""

    def __init__(self, max_entries: int = 512):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[int, float, bytes, list[tuple[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, version: int) -> tuple[bytes, list[tuple[str, str]]] | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version or entry[1] < now:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[2], entry[3]

    def put(self, key: str, version: int, ttl: float, body: bytes, headers: list[tuple[str, str]]) -> None:
        with self._lock:
            self._entries[key] = (version, time.monotonic() + ttl, body, headers)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def page_key(environ: dict) -> str:
    """The cache key of a request: scheme, host, path and the raw query string, read the same way by the
    middleware and by Flask (both see the environ after ProxyFix)."""
    return (f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME', '')}"
            f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}")


def is_cacheable_page() -> bool:
    """True for a public page the cache may serve to this request (used by base.html to leave out the CSRF meta)."""
    return bool(current_app.config.get("PAGE_CACHE_SECONDS")) and request.endpoint in CACHEABLE_ENDPOINTS


def _anonymous_request(app: Flask) -> bool:
    if request.cookies.get(app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        return False
    # reading the signed cookie session costs no query; a stale `_user_id` only means no cache
    return "_user_id" not in session and "_flashes" not in session


class VersionClock:
    """The newest change-log sequence number, read from the database at most every `interval` seconds.

    A commit in this process forgets the remembered number at once, so a change made through this worker
    shows on its next page; changes made by other workers and nodes show within `interval`.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self._value = 0
        self._read_at = float("-inf")

    def forget(self) -> None:
        self._read_at = float("-inf")

    def fresh(self) -> int | None:
        """The remembered number while it is recent enough, else None (the caller reads it in an app context)."""
        return self._value if time.monotonic() - self._read_at < self.interval else None

    def current(self) -> int:
        now = time.monotonic()
        if now - self._read_at >= self.interval:
            from .extensions import db
            from .models.listing import IndexChange

            self._value = db.session.scalar(select(func.max(IndexChange.seq))) or 0
            self._read_at = now
        return self._value


_CLOCKS: weakref.WeakSet[VersionClock] = weakref.WeakSet()


def forget_versions() -> None:
    """After any commit in this process (market/pipeline.py): listing changes may have been queued, so every app
    here re-reads the change-log version."""
    for clock in list(_CLOCKS):
        clock.forget()


_STORE = "market.page_cache.store"  # environ key: the view's page may be stored, with (key, version, ttl)
_VERSION_FAILED = "market.page_cache.version_failed"  # environ key: the middleware could not read the version


class CachedPageMiddleware:
    """Answers cache hits for cookie-less GET requests without entering Flask, and stores the pages that
    Flask marked as cacheable with the headers it actually sent."""

    def __init__(self, app: Flask, wsgi_app, cache: PageCache, clock: VersionClock):
        self.app = app
        self.wsgi_app = wsgi_app
        self.cache = cache
        self.clock = clock
        self.cookie_names = tuple(f"{name}=" for name in (
            app.config.get("SESSION_COOKIE_NAME") or "session",
            app.config.get("REMEMBER_COOKIE_NAME") or "remember_token"))

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "GET" and self.app.config.get("PAGE_CACHE_SECONDS")
                and not any(name in environ.get("HTTP_COOKIE", "") for name in self.cookie_names)
                and (key := page_key(environ)) in self.cache):  # static files and misses: no version read
            try:
                version = self._version()
            except UNAVAILABLE_ERRORS as err:  # the database is out of reach: Flask answers with its 503 page
                environ[_VERSION_FAILED] = err
                version = None
            hit = self.cache.get(key, version) if version is not None else None
            if hit is not None:
                body, headers = hit
                start_response("200 OK", list(headers))
                return [body]
        sent: dict = {}

        def capture(status, headers, exc_info=None):
            sent["status"], sent["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        slot = environ.get(_STORE)
        if slot is None or not sent.get("status", "").startswith("200 "):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        headers = list(sent["headers"])
        if len(body) <= MAX_BODY_BYTES and not any(k.lower() == "set-cookie" for k, _ in headers):
            key, version, ttl = slot
            self.cache.put(key, version, ttl, body, headers)
        return [body]

    def _version(self) -> int:
        version = self.clock.fresh()
        if version is not None:
            return version
        from .database import write_intent

        token = write_intent.set(False)  # a read: never BEGIN IMMEDIATE for it on SQLite
        try:
            with self.app.app_context():
                return self.clock.current()
        finally:
            write_intent.reset(token)


def init_page_cache(app: Flask) -> None:
    cache = PageCache(int(app.config.get("PAGE_CACHE_ENTRIES") or 512))
    app.extensions["market.page_cache"] = cache
    app.jinja_env.globals["is_cacheable_page"] = is_cacheable_page
    clock = VersionClock(float(app.config.get("PAGE_CACHE_VERSION_CHECK", 0.25)))
    app.extensions["market.page_cache_clock"] = clock
    _CLOCKS.add(clock)
    # innermost middleware: ProxyFix, when configured, is wrapped around it last (see create_app)
    app.wsgi_app = CachedPageMiddleware(app, app.wsgi_app, cache, clock)

    @app.before_request
    def _serve_cached():
        ttl = float(app.config.get("PAGE_CACHE_SECONDS") or 0)
        if ttl <= 0 or request.method != "GET" or request.endpoint not in CACHEABLE_ENDPOINTS:
            return None
        if not _anonymous_request(app):
            return None
        key = page_key(request.environ)
        failed = request.environ.pop(_VERSION_FAILED, None)
        if failed is not None:
            raise failed  # the same error again, without a second try: market/errors.py answers it with a 503
        version = clock.current()
        hit = cache.get(key, version)
        if hit is not None:
            body, headers = hit
            return app.response_class(body, status=200, headers=[(k, v) for k, v in headers
                                                                 if k.lower() != "content-length"])
        g.page_cache_slot = (key, version, ttl)
        return None

    @app.after_request
    def _store(response):
        """Marks the page for the middleware, which stores it with the headers finally sent."""
        slot = g.pop("page_cache_slot", None)
        if (slot is None or response.status_code != 200 or response.direct_passthrough
                or "Set-Cookie" in response.headers or session.modified
                or "no-store" in response.headers.get("Cache-Control", "")):  # e.g. search on a lagging index
            return response
        request.environ[_STORE] = slot
        return response
