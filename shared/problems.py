"""RFC 9457 problem details, in Chinese by default and English for ``Accept-Language: en``.

Every refusal names each bad field (``errors[].field`` is a dotted path such as
``subjects.0.uscc``) with a machine code and a message in the caller's language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"


@dataclass
class FieldError:
    field: str
    code: str
    zh: str
    en: str


@dataclass
class Problem(Exception):
    status: int
    code: str
    zh: str
    en: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None


RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = Problem(
    503,
    "database_unavailable",
    "服务暂时不可用（数据库无法连接），未保存任何内容，请稍后重试",
    "Service temporarily unavailable (its database cannot be reached); nothing was stored, please retry",
    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
)


def invalid_field(field: str, code: str, zh: str, en: str) -> Problem:
    """The usual refusal of one bad field: 422 naming it, in both languages."""
    return Problem(
        422,
        "validation_failed",
        "提交的内容有误，请按提示修改",
        "The request has invalid fields",
        errors=[FieldError(field, code, zh, en)],
    )


def wants_english(request: Request) -> bool:
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return first.startswith("en")


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    english = wants_english(request)
    body: dict[str, Any] = {
        "type": f"https://xiaoer.cn/problems/{problem.code}",
        "title": problem.en if english else problem.zh,
        "status": problem.status,
        "code": problem.code,
        "instance": request.url.path,
    }
    if problem.errors:
        body["errors"] = [
            {"field": e.field, "code": e.code, "message": e.en if english else e.zh} for e in problem.errors
        ]
    body.update(problem.extra)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


# pydantic error type → (Chinese, English) message templates, formatted with the error's ctx.
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("必填项缺失", "Field required"),
    "extra_forbidden": ("不允许的字段", "Unknown field"),
    "string_too_short": ("长度不能少于 {min_length} 个字符", "Must have at least {min_length} characters"),
    "string_too_long": ("长度不能超过 {max_length} 个字符", "Must have at most {max_length} characters"),
    "too_short": ("至少需要 {min_length} 项", "Must have at least {min_length} entries"),
    "too_long": ("最多 {max_length} 项", "Must have at most {max_length} entries"),
    "greater_than_equal": ("不能小于 {ge}", "Must be at least {ge}"),
    "less_than_equal": ("不能大于 {le}", "Must be at most {le}"),
    "greater_than": ("必须大于 {gt}", "Must be greater than {gt}"),
    "less_than": ("必须小于 {lt}", "Must be less than {lt}"),
    "literal_error": ("取值必须是 {expected} 之一", "Must be one of {expected}"),
    "enum": ("取值必须是 {expected} 之一", "Must be one of {expected}"),
    "string_type": ("必须是字符串", "Must be a string"),
    "int_type": ("必须是整数", "Must be an integer"),
    "int_parsing": ("必须是整数", "Must be an integer"),
    "bool_parsing": ("必须是布尔值", "Must be true or false"),
    "list_type": ("必须是数组", "Must be a list"),
    "dict_type": ("必须是对象", "Must be an object"),
    "model_type": ("必须是对象", "Must be an object"),
    "string_pattern_mismatch": ("格式不正确", "Has the wrong format"),
    "datetime_parsing": ("不是有效的时间", "Is not a valid date-time"),
    "datetime_from_date_parsing": ("不是有效的时间", "Is not a valid date-time"),
    "date_parsing": ("不是有效的日期", "Is not a valid date"),
    "date_from_datetime_parsing": ("不是有效的日期", "Is not a valid date"),
    "uuid_parsing": ("不是有效的编号", "Is not a valid id"),
    "json_invalid": ("请求体不是有效的 JSON", "The body is not valid JSON"),
    "timezone_aware": (
        "时间须带时区，如 2025-11-03T09:00:00+08:00",
        "Must include a time zone, e.g. 2025-11-03T09:00:00+08:00",
    ),
    "value_error": ("取值无效", "Invalid value"),
}


def field_errors(errors: list[dict[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header"):
            location = location[1:]
        ctx = error.get("ctx") or {}
        code = error.get("type", "value_error")
        if "zh" in ctx and "en" in ctx:  # our own validators (shared.validation) carry both texts
            zh, en = ctx["zh"], ctx["en"]
        else:
            zh_t, en_t = _MESSAGES.get(code, (None, None))
            try:
                zh = zh_t.format(**ctx) if zh_t else error.get("msg", "取值无效")
                en = en_t.format(**ctx) if en_t else error.get("msg", "Invalid value")
            except (KeyError, IndexError):
                zh, en = error.get("msg", "取值无效"), error.get("msg", "Invalid value")
        result.append(FieldError(".".join(location) or "body", code, zh, en))
    return result


def _methods_of(request: Request) -> list[str]:
    """Every method some route answers on this path (Starlette's 405 names only the first route's,
    where one path has a route per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        problem = Problem(
            422,
            "validation_failed",
            "提交的内容有误，请按提示修改",
            "The request has invalid fields",
            errors=field_errors(list(exc.errors())),
        )
        return problem_response(request, problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        known = {
            400: ("bad_request", "请求无法解析", f"Bad request: {exc.detail}"),
            404: ("not_found", "资源不存在", "Not found"),
            405: ("method_not_allowed", "不支持的请求方法", "Method not allowed"),
            413: ("payload_too_large", "请求内容过大", "Payload too large"),
            415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
        }
        code, zh, en = known.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_methods_of(request))}
        return problem_response(request, Problem(exc.status_code, code, zh, en, headers=headers))

    from shared.db import UNAVAILABILITY_ERRORS, is_unavailable

    async def _database(request: Request, exc: Exception):
        if not is_unavailable(exc):
            raise exc  # a fault of another kind: the 500 below
        # Nothing was stored (the transaction never committed): the client may retry, with its
        # Idempotency-Key where it sent one, and gets one answer for both tries.
        structlog.get_logger(__name__).warning(
            "http.database_unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}"
        )
        return problem_response(request, DATABASE_UNAVAILABLE)

    for failure in UNAVAILABILITY_ERRORS:
        app.add_exception_handler(failure, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        structlog.get_logger(__name__).exception("http.unhandled_error", path=request.url.path)
        return problem_response(
            request, Problem(500, "internal_error", "服务器内部错误，请稍后重试", "Internal server error")
        )


# --- what the OpenAPI documents say about refusals -------------------------------------------------------
# Every refusal has one body shape (above) and one media type. The OpenAPI documents say so for every
# operation, so clients and fuzzers (schemathesis, in tests/system/test_openapi.py) can hold the APIs to it.
REFUSALS: dict[int, str] = {
    400: "请求无法解析 (a body that cannot be read, e.g. broken multipart)",
    401: "需要登录凭证，或凭证无效、已过期 (no token, or an invalid or expired one)",
    403: "无权执行此操作 (the caller's role or scope does not allow it)",
    404: "不存在，或不在调用者的范围内 (not found, or not in the caller's scope)",
    409: "与当前状态冲突 (the object's state does not allow this now)",
    413: "请求内容过大 (body or file over the limit)",
    415: "不支持的文件或内容类型 (file or content type not accepted)",
    422: "提交的内容有误，errors 逐项说明 (invalid fields, each named in errors)",
    503: "依赖的服务暂不可用或未配置 (a dependency is unavailable or not configured)",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; title and messages in Chinese, or English for Accept-Language: en",
    "type": "object",
    "required": ["type", "title", "status", "code", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that refuses in ways the generic rules below cannot see, e.g.
    ``refusals(409)`` for a move the item's state may not allow."""
    return {status: {"description": REFUSALS[status]} for status in statuses}


def document_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds to an OpenAPI document the refusals every operation can give, all as problem+json:
    401 and 403 where a token is required, 404 where the path names an object, 400, 413 and 422
    where there is a body (and 415 for uploads), and gives every declared refusal the problem
    schema in place of FastAPI's default validation error. A write to a named object (POST, PUT,
    DELETE on a path with an id) may meet a state that does not allow it: 409."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    reference = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses: set[int] = set()
            if operation.get("security"):
                statuses |= {401, 403, 503}  # 503: its database away for a while
            if "{" in path:
                statuses.add(404)
                if method in ("post", "put", "patch", "delete"):
                    statuses.add(409)
            parameters = operation.get("parameters", [])
            if any(p.get("in") in ("query", "path", "header") for p in parameters):
                statuses.add(422)
            if any(p.get("name") == "region" for p in parameters):
                statuses.add(404)  # a region outside the caller's scope is not found for them
            body = operation.get("requestBody")
            if body:
                statuses |= {400, 413, 422}
                if "multipart/form-data" in body.get("content", {}):
                    statuses.add(415)
            responses = operation["responses"]
            for status in statuses:
                responses.setdefault(str(status), {"description": REFUSALS[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and _generic(response):
                    response["content"] = {PROBLEM_JSON: {"schema": reference}}
    return schema


def _generic(response: dict[str, Any]) -> bool:
    """A refusal with no content of its own, or FastAPI's default validation error."""
    content = response.get("content")
    return not content or "HTTPValidationError" in str(content)


def transport_refusal(
    status: int, code: str, zh: str, en: str, limit: str, limit_en: str | None = None, detail: str | None = None
) -> bytes:
    """The problem+json body of a refusal made before any route runs (a head or body too large, a
    client too slow): no Accept-Language is read yet, so both languages at once, with the limit
    (``limit_en`` where English writes it otherwise)."""
    problem = {
        "type": f"https://xiaoer.cn/problems/{code}",
        "title": f"{zh}（上限 {limit}） / {en} (at most {limit_en or limit})",
        "status": status,
        "code": code,
    }
    if detail:
        problem["detail"] = detail
    return json.dumps(problem, ensure_ascii=False).encode()
