"""RFC 9457 problem details, in Chinese by default and English for ``Accept-Language: en``.

Every refusal names each bad field (``errors[].field`` is a dotted path such as
``subjects.0.uscc``) with a machine code and a message in the caller's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
            404: ("not_found", "资源不存在", "Not found"),
            405: ("method_not_allowed", "不支持的请求方法", "Method not allowed"),
            413: ("payload_too_large", "请求内容过大", "Payload too large"),
            415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
        }
        code, zh, en = known.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return problem_response(request, Problem(exc.status_code, code, zh, en, headers=exc.headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        import structlog

        structlog.get_logger(__name__).exception("http.unhandled_error", path=request.url.path)
        return problem_response(
            request, Problem(500, "internal_error", "服务器内部错误，请稍后重试", "Internal server error")
        )
