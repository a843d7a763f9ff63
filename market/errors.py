"""Domain errors and the HTTP error pages."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException


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


def _render(code: int, message: str | None = None):
    if not _urls_buildable():
        return _bare_page(code, message), code
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=ERROR_TITLES.get(code, "出错了"),
            message=message or ERROR_TEXTS.get(code, "请求无法完成。"),
        ),
        code,
    )


def register_error_handlers(app: Flask) -> None:
    from .extensions import db

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        db.session.rollback()
        app.logger.info("CSRF refused: %s", err.description)
        return _render(400, "页面已过期或表单校验失败（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        return _render(err.status_code, err.message)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        db.session.rollback()
        if request.method == "HEAD":
            return "", err.code
        return _render(err.code or 500, None if err.code != 400 else (err.description if _is_chinese(err.description) else None))

    @app.errorhandler(OperationalError)
    def database_unavailable(err: OperationalError):
        """A statement cancelled by DB_STATEMENT_TIMEOUT_MS, or the database out of reach: 503, not a traceback."""
        db.session.rollback()
        cancelled = _is_cancelled(err)
        app.logger.warning("database %s on %s %s: %s", "statement cancelled" if cancelled else "unavailable",
                           request.method, request.path, str(err.orig).strip()[:300])
        body, code = _render(503, QUERY_CANCELLED if cancelled else None)
        return body, code, {"Retry-After": "30"}

    @app.errorhandler(Exception)
    def server_error(err: Exception):
        db.session.rollback()
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


def _is_cancelled(err: OperationalError) -> bool:
    """PostgreSQL's QueryCanceled (statement_timeout), or SQLite's progress handler interrupting a statement."""
    orig = getattr(err, "orig", None)
    if type(orig).__name__ == "QueryCanceled" or getattr(orig, "sqlstate", None) == "57014":
        return True
    return "interrupted" in str(orig)
