"""The OpenAPI 3 document, built from the API handlers' own `openapi` declarations and the
same `Schema` objects that validate their input, so the document cannot drift from the code."""

from __future__ import annotations

import re
from typing import Any

from app.core.forms import Schema

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "request_id": {"type": "string"},
            },
        }
    },
}


def openapi_path(pattern: str) -> str:
    """`/api/users/(?P<user_id>\\d+)` -> `/api/users/{user_id}`."""
    return _GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern).rstrip("$")


def implemented_methods(handler: type) -> list[str]:
    from tornado.web import RequestHandler

    return [m for m in HTTP_METHODS if getattr(handler, m) is not getattr(RequestHandler, m)]


def _operation(pattern: str, method: str, spec: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": spec.get("summary", ""),
        "tags": spec.get("tags", []),
        "responses": {
            str(spec.get("status", 200)): {"description": "成功",
                    "content": {"application/json": {"schema": spec.get("response",
                                                                         {"type": "object"})}}},
            "400": {"description": "输入有误",
                    "content": {"application/json": {"schema": _ERROR}}},
            "401": {"description": "未登录"},
            "403": {"description": "无权限"},
        },
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _GROUP.findall(pattern)
    ]
    query: Schema | None = spec.get("query")
    if query is not None:
        for name, field in query.fields.items():
            parameters.append({"name": name, "in": "query", "required": field.required,
                               "schema": field.json_schema(), "description": field.label})
    if parameters:
        operation["parameters"] = parameters
    body: Schema | None = spec.get("body")
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body.json_schema()}},
        }
    if spec.get("public"):
        operation["security"] = []
    return operation


def build_document(routes: list[tuple[str, type]], title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for pattern, handler in routes:
        if not pattern.startswith("/api/"):
            continue
        declared: dict[str, dict[str, Any]] = getattr(handler, "openapi", {})
        item = paths.setdefault(openapi_path(pattern), {})
        for method in implemented_methods(handler):
            item[method] = _operation(pattern, method, declared.get(method, {}))
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "oa_sid"},
            }
        },
        "security": [{"session": []}],
        "paths": dict(sorted(paths.items())),
    }
