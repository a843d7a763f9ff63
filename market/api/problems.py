"""Errors of the open API as RFC 9457 problem details (application/problem+json), with a Chinese `detail` and, for
bad input, one message per field."""
from __future__ import annotations

import json

from flask import Response

from ..errors import ERROR_TEXTS, ERROR_TITLES

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/v1"


class ApiProblem(Exception):
    """Raised anywhere under /api/v1: answered as a problem document."""

    def __init__(self, status: int, detail: str | None = None, *, errors: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail or ERROR_TEXTS.get(status, "请求无法完成。")
        self.errors = errors or {}
        self.headers = headers or {}


def problem_response(status: int, detail: str | None = None, *, errors: dict[str, str] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = {
        "type": "about:blank",
        "title": ERROR_TITLES.get(status, "出错了"),
        "status": status,
        "detail": detail or ERROR_TEXTS.get(status, "请求无法完成。"),
        "errors": {str(k): str(v) for k, v in (errors or {}).items()},
    }
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status >= 400:
        response.headers["Cache-Control"] = "no-store"
    return response


def from_problem(err: ApiProblem) -> Response:
    return problem_response(err.status, err.detail, errors=err.errors, headers=err.headers)


def flatten_messages(messages, prefix: str = "") -> dict[str, str]:
    """webargs/marshmallow's nested {location: {field: [msgs]}} as {field: first message}."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key not in ("json", "query", "headers", "form", "files", "view_args") else ""
            inner = f"{prefix}.{name}" if prefix and name else (name or prefix)
            out.update(flatten_messages(value, inner))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "_schema"] = "；".join(messages)
        else:
            for item in messages:
                out.update(flatten_messages(item, prefix))
    else:
        out[prefix or "_schema"] = str(messages)
    return out
