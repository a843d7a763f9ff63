"""Request hardening: security headers, trusted hosts, safe redirects, write intent."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, request
from werkzeug.exceptions import SecurityError
from werkzeug.utils import cached_property

from .database import write_intent

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class MarketRequest(Request):
    """The request, with NUL removed from query argument names and values.

    No argument has a use for NUL, and PostgreSQL refuses it in any text parameter (a 500 from a crafted
    `?q=%00`); dropping it here keeps every view that reads `request.args` safe at once.
    """

    @cached_property
    def args(self):
        raw = Request.args.fget(self)
        if not any("\x00" in k or "\x00" in v for k, v in raw.items(multi=True)):
            return raw
        return self.parameter_storage_class(
            [(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in raw.items(multi=True)])


UNTRUSTED_HOSTS_WARNING = (
    "警告：未设置 TRUSTED_HOSTS，任何 Host 请求头都会被接受。"
    "正式部署请在环境文件中设置 TRUSTED_HOSTS=对外域名（多个用逗号分隔），见 README 的部署说明。"
    " / WARNING: TRUSTED_HOSTS is unset: any Host header is accepted."
)


def warn_untrusted_hosts(app: Flask) -> None:
    """One line on stderr (the app logger) when a server starts with no TRUSTED_HOSTS: gunicorn workers, `flask run`.

    Not for tests, the debug server, or a command-line task such as `flask db upgrade`, which serves nothing.
    """
    if app.config.get("TRUSTED_HOSTS") or app.testing or app.debug:
        return
    import click

    command = click.get_current_context(silent=True)
    if command is not None and command.info_name != "run":
        return
    app.logger.warning(UNTRUSTED_HOSTS_WARNING)


def init_security(app: Flask) -> None:
    app.request_class = MarketRequest
    warn_untrusted_hosts(app)

    # TRUSTED_HOSTS (config, from the env as a comma-separated list) is applied by Flask itself (3.1+): a request
    # whose Host is not listed fails routing with SecurityError, a 400. The page says why, in Chinese; it is
    # rendered without base.html since such a request has no URL adapter (see errors._render).
    @app.errorhandler(SecurityError)
    def _untrusted_host(err):
        from .errors import _render

        return _render(400, "访问的域名不是本站的地址，请求已被拒绝。")

    @app.before_request
    def _write_intent():
        write_intent.set(request.method not in SAFE_METHODS)

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static" and "no-store" not in h.get("Cache-Control", ""):
            # a signed-in page or any download (an export, a scan) is never kept by a browser or proxy, whatever
            # the view set (send_file's max_age=0 says "no-cache, max-age=0": stored, revalidated); anonymous
            # public pages stay "no-cache", as the page cache in market/pagecache.py first sent them. (Already
            # no-store: nothing to decide, and a page from market/usercache.py loads no user for the question.)
            private = _signed_in() or h.get("Content-Disposition", "").lower().startswith("attachment")
            if private and "no-store" not in h.get("Cache-Control", ""):
                h["Cache-Control"] = "no-store"
            elif "Cache-Control" not in h:
                h["Cache-Control"] = "no-cache"
        return response


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(getattr(current_user, "is_authenticated", False))


def wrap_proxy_fix(app: Flask) -> None:
    """The outermost middleware, so every other one (the page cache's) sees the proxied scheme, host and address.

    The client's address (sign-in throttle, sessions), scheme and host as the proxy saw them; without PROXY_FIX
    these headers are ignored, so a client cannot forge its address.
    """
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only local paths: '//evil', '/\\evil', 'javascript:' and absolute URLs fall back."""
    if not target or not isinstance(target, str):
        return fallback
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(ch) < 32 for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
