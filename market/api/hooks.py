"""The API blueprint's request hooks: who the request acts as (its token, never the session cookie), the rate
limit, ETag on reads, and problem+json for every error its views raise."""
from __future__ import annotations

from flask import current_app, g, request, session
from werkzeug.exceptions import HTTPException

from ..errors import DomainError, _drop_session
from . import ratelimit, tokens
from .problems import ApiProblem, flatten_messages, from_problem, problem_response

# marshmallow's English messages, as users read them
_MESSAGES = (
    ("Missing data for required field", "必填"),
    ("Field may not be null", "不能为空"),
    ("Not a valid integer", "须为整数"),
    ("Not a valid string", "须为字符串"),
    ("Not a valid boolean", "须为 true 或 false"),
    ("Not a valid date", "日期格式应为 YYYY-MM-DD"),
    ("Not a valid list", "须为数组"),
    ("Not a valid mapping", "须为 JSON 对象"),
    ("Unknown field", "不支持的字段"),
    ("Must be one of", "取值不在允许范围内"),
    ("Length must be", "长度不符合要求"),
    ("Shorter than", "过短"),
    ("Longer than", "过长"),
    ("Must be greater", "超出允许范围"),
    ("Must be less", "超出允许范围"),
    ("String does not match", "格式不正确"),
    ("Invalid input type", "类型不正确"),
    ("Invalid JSON", "不是有效的 JSON"),
    ("Invalid value", "取值无效"),
)


def chinese(message: str) -> str:
    for english, text in _MESSAGES:
        if english.lower() in message.lower():
            return text
    return "取值无效"


def attach(bp) -> None:
    @bp.before_request
    def _authenticate():
        # who the request acts as: the token's owner, or anonymous; the session cookie is never used here
        manager = current_app.login_manager
        g.api_token = None
        manager._update_request_context_with_user(None)
        token = tokens.token_for_request()
        if token is not None:
            g.api_token = token
            manager._update_request_context_with_user(token.user)
        key = f"t{token.token_hash[:24]}" if token is not None else f"a{request.remote_addr or 'unknown'}"
        wait = ratelimit.hit(key, anonymous=token is None)
        if wait is not None:
            raise ApiProblem(429, f"请求过于频繁，请在 {wait} 秒后重试。", headers={"Retry-After": str(wait)})
        scope = tokens.ENDPOINT_SCOPES.get(request.endpoint)
        if scope is not None:
            tokens.require_scope(token, scope)

    @bp.after_request
    def _etag(response):
        if "_user_id" in session:  # a browser signed in to the site: nothing it fetched is kept by a shared cache
            response.headers["Cache-Control"] = "no-store"
        if request.method in ("GET", "HEAD") and response.status_code == 200 and response.mimetype == "application/json":
            response.add_etag(weak=True)
            response.make_conditional(request)
        return response

    @bp.errorhandler(ApiProblem)
    def _problem(err: ApiProblem):
        _drop_session()
        return from_problem(err)

    @bp.errorhandler(DomainError)
    def _domain(err: DomainError):
        _drop_session()
        return problem_response(err.status_code, err.message, errors=err.fields)

    @bp.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code is not None and err.code < 400:
            return err
        _drop_session()
        data = getattr(err, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        errors = {k: chinese(v) for k, v in flatten_messages(messages).items()} if messages else {}
        code = err.code or 500
        detail = None
        if errors:
            detail = "提交的内容有误，请按字段提示修改。"
        elif code == 400 and "json" in (err.description or "").lower():
            detail, errors = "请求体不是有效的 JSON。", {"_schema": "不是有效的 JSON"}
        return problem_response(code, detail, errors=errors, headers=dict(data.get("headers") or {})
                                if isinstance(data, dict) else None)
