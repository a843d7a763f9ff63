"""Domain errors and the HTTP error pages."""
from __future__ import annotations

import threading
import time

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .database import UNAVAILABLE_ERRORS, committed_in_request


class DomainError(Exception):
    """A refusal with a user-facing Chinese message and optional per-field reasons."""

    status_code = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


class NotAllowed(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


ERROR_TITLES = {
    400: "请求有误",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的请求方式",
    409: "操作冲突",
    413: "上传内容过大",
    429: "操作过于频繁",
    500: "服务器内部错误",
    503: "服务暂时不可用",
}
ERROR_TEXTS = {
    400: "提交的内容无法处理，请检查后重试。",
    403: "您没有权限访问该页面或执行该操作。",
    404: "您访问的页面不存在或已被删除。",
    405: "该地址不支持此请求方式。",
    409: "该记录已被修改，请刷新后重试。",
    413: "上传的文件或提交的内容超过了允许的大小。",
    429: "操作过于频繁，请稍后再试。",
    500: "服务器出现问题，我们已记录，请稍后重试。",
    503: "数据库暂时无法响应，请稍后重试。",
}
QUERY_CANCELLED = "查询耗时过长，已被系统取消。请缩小查询范围（如时间段、区域）后重试。"
DB_UNAVAILABLE = "数据库暂时无法连接，请稍后重试。"
DB_UNAVAILABLE_NOT_SAVED = "数据库暂时无法连接，本次提交未保存，请稍后重试。"
DB_UNAVAILABLE_MAYBE_SAVED = ("数据库在保存时失去响应，本次提交可能已经保存，也可能没有保存。"
                              "请稍后刷新相关页面查看，确认未保存后再重新提交。")
DB_UNAVAILABLE_SAVED = ("本次提交已保存，但数据库随后暂时无法连接，结果页面未能显示。"
                        "请稍后刷新页面查看，不要重复提交。")
NOT_SAVED = "本次提交未保存。"
RETRY_AFTER_SECONDS = 30
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _render(code: int, message: str | None = None):
    """The error page in the site's layout; when that layout cannot be built because the database is out of
    reach (it loads the signed-in user), the database's 503 page instead; on any other failure the bare page."""
    if not _urls_buildable():
        return _bare_page(code, message), code
    try:
        return (
            render_template(
                "errors/error.html",
                code=code,
                title=ERROR_TITLES.get(code, "出错了"),
                message=message or ERROR_TEXTS.get(code, "请求无法完成。"),
            ),
            code,
        )
    except UNAVAILABLE_ERRORS as err:
        _OUTAGE_LOG.warning(current_app.logger, "database unavailable while rendering a %s page for %s %s: %s",
                            code, request.method, request.path, _reason(err))
        return unavailable_response(_unavailable_message(err))
    except Exception:
        current_app.logger.exception("the %s page could not be rendered for %s %s", code, request.method, request.path)
        return _bare_page(code, message), code


def unavailable_response(message: str):
    """The 503 page of a database out of reach, built without touching the database: no signed-in user is loaded
    (the request is anonymous from here on), no context processor runs (they read the user and its counters), and
    nothing is read from the session store. `Retry-After` and `no-store`: a proxy must not keep it."""
    _drop_session()
    _forget_user()
    if _urls_buildable():
        template = current_app.jinja_env.get_template("errors/unavailable.html")
        body = template.render(code=503, title=ERROR_TITLES[503], message=message, request=request)
    else:
        body = _bare_page(503, message)
    response = current_app.response_class(body, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable_message(err: Exception) -> str:
    """What the user is told: a read is simply not available; a write was not saved, unless the request had
    already committed (then it was, and the page after it failed) or it failed at the COMMIT itself (no answer to
    it: it may have been applied)."""
    if request.method in SAFE_METHODS:
        return QUERY_CANCELLED if _is_cancelled(err) else DB_UNAVAILABLE
    if committed_in_request():
        return DB_UNAVAILABLE_SAVED
    if getattr(err, "market_commit_unknown", False):
        return DB_UNAVAILABLE_MAYBE_SAVED
    return QUERY_CANCELLED + NOT_SAVED if _is_cancelled(err) else DB_UNAVAILABLE_NOT_SAVED


def _unavailable_cause(err: BaseException | None) -> Exception | None:
    """The database error behind `err`, when one of its causes is one."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, UNAVAILABLE_ERRORS):
            return err
        err = err.__cause__ or err.__context__
        seen += 1
    return None


def _drop_session() -> None:
    """Roll back the request's transaction; a connection that is already gone must not turn this into a 500."""
    from .extensions import db

    try:
        db.session.rollback()
    except Exception as exc:  # the connection died under it: discard the session instead
        current_app.logger.warning("rollback failed (%s); session discarded", _reason(exc))
        try:
            db.session.close()
        except Exception:  # nothing more to do with a session whose connection is gone
            pass


def _forget_user() -> None:
    """Flask-Login: the current user is the anonymous one for the rest of this request (no session lookup)."""
    manager = getattr(current_app, "login_manager", None)
    if manager is not None:
        manager._update_request_context_with_user()


def _reason(err: BaseException) -> str:
    """The first line of the driver's message, for the log."""
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


class _OncePerEpisode:
    """A warning logged at most once every `every` seconds, with the count of those it stood for: an outage answered
    with thousands of 503s leaves a few lines, not thousands."""

    def __init__(self, every: float = 10.0):
        self.every = every
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._skipped = 0

    def warning(self, logger, message: str, *args) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every:
                self._skipped += 1
                return
            skipped, self._skipped, self._last = self._skipped, 0, now
        if skipped:
            message += " (and %d more since the last such line)"
            args = (*args, skipped)
        logger.warning(message, *args)


_OUTAGE_LOG = _OncePerEpisode()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(err):
        _drop_session()
        app.logger.info("CSRF refused: %s", err.description)
        return _render(400, "页面已过期或表单校验失败（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        _drop_session()
        return _render(err.status_code, err.message)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        _drop_session()
        if request.method == "HEAD":
            return "", err.code
        return _render(err.code or 500, None if err.code != 400 else (err.description if _is_chinese(err.description) else None))

    def database_unavailable(err: Exception):
        """The database out of reach (stopped, frozen, no pooled connection free) or a statement cancelled by
        DB_STATEMENT_TIMEOUT_MS: a Chinese 503 with Retry-After, signed in or not, never a traceback; a write says
        that it was not saved."""
        if _is_cancelled(err):
            app.logger.warning("database statement cancelled on %s %s: %s", request.method, request.path, _reason(err))
        else:
            _OUTAGE_LOG.warning(app.logger, "database unavailable on %s %s: %s", request.method, request.path,
                                _reason(err))
        return unavailable_response(_unavailable_message(err))

    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, database_unavailable)

    @app.teardown_appcontext
    def _end_session(exc):
        """Close the request's session before Flask-SQLAlchemy does (teardowns run last registered first): a
        connection that died after the answer was built (its closing ROLLBACK fails) must not turn that answer into
        gunicorn's bare 500."""
        from .extensions import db

        try:
            db.session.remove()
        except Exception as err:
            _OUTAGE_LOG.warning(app.logger, "closing the session failed: %s", _reason(err))
            db.session.registry.clear()  # drop the session; its dead connection is discarded by the pool

    @app.errorhandler(Exception)
    def server_error(err: Exception):
        cause = _unavailable_cause(err)
        if cause is not None:
            return database_unavailable(cause)
        _drop_session()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500)


def _urls_buildable() -> bool:
    """False when the request never got a URL adapter (a Host outside TRUSTED_HOSTS): url_for would fail."""
    from flask.globals import request_ctx

    return bool(request_ctx) and request_ctx.url_adapter is not None


def _bare_page(code: int, message: str | None) -> str:
    """The error page without base.html (which builds URLs), for requests refused before routing."""
    from markupsafe import escape

    title = escape(ERROR_TITLES.get(code, "出错了"))
    text = escape(message or ERROR_TEXTS.get(code, "请求无法完成。"))
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><h1>{code} · {title}</h1><p class="lead" id="error-message">{text}</p></body></html>')


def _is_chinese(text: str | None) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _is_cancelled(err: Exception) -> bool:
    """PostgreSQL's QueryCanceled (statement_timeout), or SQLite's progress handler interrupting a statement."""
    orig = getattr(err, "orig", None)
    if type(orig).__name__ == "QueryCanceled" or getattr(orig, "sqlstate", None) == "57014":
        return True
    return "interrupted" in str(orig)
