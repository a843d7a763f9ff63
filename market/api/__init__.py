"""The open JSON API (issue 21): `/api/v1` with its OpenAPI 3.1 document, API tokens, and the account page for them.

Library: flask-smorest (marshmallow schemas, webargs parsing). It plugs into our plain Flask app as an extension
and blueprints, where APIFlask would replace the app class that create_app and every test build; it writes an OpenAPI
3.1.0 document from the schemas and decorators, so the document cannot drift from the code. Its app-wide HTTP
error handler is not installed: the site's HTML error pages stay, and errors under /api/v1 become problem+json here.
"""
from __future__ import annotations

import threading

from flask import Flask, request
from flask_smorest import Api

from ..jobs import on_sweep

from .problems import API_PREFIX, PROBLEM_TYPE, problem_response

class MarketApi(Api):
    """flask-smorest's Api without its app-wide HTTPException handler (that would turn the site's pages into JSON);
    its error responses documented as problem+json; its blueprints' views written into the document when the
    document is first read (`spec`), not when the app is built: that work (deep copies of every operation's schemas,
    40 ms of CPU) was done by every create_app -- each gunicorn worker, each CLI command, each test -- while only a
    request for /api/v1/openapi.json (or `flask openapi`) reads the document."""

    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def __init__(self, app=None, **kwargs):
        self._undocumented: list[tuple] = []
        self._documenting = threading.Lock()
        self._writing = threading.local()
        self._spec = None
        super().__init__(app, **kwargs)

    @property
    def spec(self):
        if self._undocumented and not getattr(self._writing, "active", False):
            with self._documenting:  # one thread writes the views in; another waits for the whole document
                self._writing.active = True  # the writing itself reads `spec`: the document as it stands
                try:
                    while self._undocumented:
                        blp, name, parameters = self._undocumented[0]
                        blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
                        self._spec.tag({"name": name, "description": blp.description})
                        self._undocumented.pop(0)
                finally:
                    self._writing.active = False
        return self._spec

    @spec.setter
    def spec(self, value):
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Api.register_blueprint with the documentation of its views left for the first read of `spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def _register_error_handlers(self):
        return None

    def _register_responses(self):
        from flask_smorest.utils import prepare_response

        from .schemas import ProblemSchema

        for status in (400, 401, 403, 404, 409, 413, 422, 429, 500, 503):
            import http

            response = {"description": http.HTTPStatus(status).phrase, "schema": ProblemSchema}
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(http.HTTPStatus(status).name, response, lazy=True)
        response = {"description": "问题详情（application/problem+json）", "schema": ProblemSchema}
        prepare_response(response, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def _is_api() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "科技大市场开放接口")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_RATE_LIMIT", 120)  # requests per minute per token
    app.config.setdefault("API_ANON_RATE_LIMIT", 600)  # per address without a token (the public reads)
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": (
            "公开读取无需令牌；本单位条目、技术合同登记提交（multipart，附PDF扫描件）和统计数据需要在“账号 → API 令牌”页面创建的令牌，"
            "放在请求头 Authorization: Bearer 令牌 中。读取接口返回 ETag，可用 If-None-Match 得到 304；"
            "新建接口接受 Idempotency-Key；错误为 application/problem+json，detail 为中文说明；"
            "超过频率限制返回 429 和 Retry-After。金额为元，两位小数的字符串。")},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    })
    api = MarketApi(app)

    from ..extensions import csrf
    from . import pages, routes

    api.register_blueprint(routes.bp)
    csrf.exempt(routes.bp)  # tokens come in the Authorization header only, never from cookies: nothing to forge
    app.register_blueprint(pages.bp)
    _problems_everywhere(app)
    on_sweep(_prune_idempotency)


def _prune_idempotency() -> None:
    """Every jobs sweep: stored answers older than a week go (a client retries within minutes)."""
    from ..extensions import db
    from .services import idempotency_prune

    try:
        idempotency_prune()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _problems_everywhere(app: Flask) -> None:
    @app.after_request
    def _problem_everywhere(response):
        """Under /api/v1 every error is problem+json, whoever answered it (routing's 404/405, a 413, the 500 page)."""
        if not _is_api() or response.status_code < 400 or response.mimetype == PROBLEM_TYPE:
            return response
        fixed = problem_response(response.status_code)
        for name in ("Retry-After", "Allow", "WWW-Authenticate"):
            if name in response.headers:
                fixed.headers[name] = response.headers[name]
        return fixed

