"""Public verification pages (issue 27), no account: ``/verify`` (type a 核验码), ``/verify/{code}``
(the record, big 有效 / 已撤销, and a PDF to compare byte for byte), ``/verify/batch`` (many codes,
a CSV of codes or a ZIP of PDFs → a table and a CSV) and ``/share/{token}`` (the documents an
enterprise shared with its 保荐机构). Everything comes from the router's public API; the router
decides what exists, counts lookups (429) and keeps no oracle: an unknown and a malformed code
get the same 404 page here too."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import httpx
import structlog
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from shared import vocabulary

from . import labels
from .apis import ApiError, ServiceClient, Services, download
from .i18n import _, current
from .pages import render
from .session import flash, signed_in, viewer_of

log = structlog.get_logger(__name__)
router = APIRouter()

# Who may revoke a document (the router decides which: its issuing unit's clerks, supervisors over
# its region); they see the 撤销 form on its page when the router lets them see the document.
STAFF = ("department", "coordinator", "supervisor")
Revoker = viewer_of(*STAFF)
CODE_MAX = 64  # a 核验码 is 16 characters (19 grouped): anything far longer is not one
BATCH_MAX = 200  # the router's limit on codes in one batch

document_status = labels._namer(vocabulary.DOCUMENT_STATUSES)
use_window_name = labels._namer(vocabulary.USE_WINDOW_STATES)
document_form = labels._namer(vocabulary.DOCUMENT_FORMS)
revocation_reason = labels._namer(vocabulary.REVOCATION_REASONS)
identity_result = labels._namer(vocabulary.IDENTITY_RESULTS)
WORDS = {
    "document_status": document_status,
    "use_window_name": use_window_name,
    "document_form": document_form,
    "revocation_reason": revocation_reason,
}


async def public_call(request: Request, method: str, path: str, **kwargs) -> httpx.Response:
    """The router's public verification API, with no token: the raw answer whatever its status
    (these pages tell 404, 410, 422 and 429 apart); network trouble is ``ApiError(503)``."""
    state = request.app.state
    headers = {"Accept-Language": current(), **kwargs.pop("headers", {})}
    if request.client:  # the reader's address, for the router's per-client limit once it trusts us
        headers["X-Forwarded-For"] = request.client.host
    try:
        return await state.http.request(method, state.api_urls["router"] + path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("web.api_unreachable", service="router", path=path, error=f"{type(exc).__name__}: {exc}")
        raise ApiError(503, "unavailable", _("服务暂时不可用，请稍后再试")) from exc


def not_found_page(request: Request) -> Response:
    """The one page for an unknown or malformed code: it tells nobody which it was."""
    return render(request, "verification/not_found.html", {}, status_code=404)


def busy_page(request: Request, answer: httpx.Response) -> Response:
    """Too many lookups from here: 稍后再试, with the router's Retry-After."""
    retry_after = answer.headers.get("retry-after", "60")
    context = {"retry_after": int(retry_after) if retry_after.isdigit() else 60}
    response = render(request, "verification/busy.html", context, status_code=429)
    response.headers["Retry-After"] = str(context["retry_after"])
    return response


def refused(request: Request, answer: httpx.Response) -> Response | None:
    """The page for an answer that is not the record (404 → 未找到, 429 → 稍后再试), or None."""
    if answer.status_code == 404:
        return not_found_page(request)
    if answer.status_code == 429:
        return busy_page(request, answer)
    if answer.status_code >= 400:
        raise _problem(answer)
    return None


def _problem(answer: httpx.Response) -> ApiError:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    fields = {e.get("field", ""): e.get("message", "") for e in body.get("errors", []) if isinstance(e, dict)}
    return ApiError(answer.status_code, body.get("code", "http_error"), body.get("title", _("请求无法处理")), fields)


def record_path(code: str) -> str:
    return f"/v1/verifications/{quote(code, safe='')}"


async def managed(request: Request, api: ServiceClient, code: str) -> dict | None:
    """The document as the signed-in staff member's unit or supervisor sees it (its item), or None."""
    viewer = signed_in(request)
    if viewer is None or viewer.role not in STAFF:
        return None
    try:
        return await api.get("router", f"/v1/documents/{quote(code, safe='')}")
    except ApiError:
        return None  # not theirs to see: the public record only


async def show_record(
    request: Request, api: ServiceClient, code: str, check: dict | None = None, error: ApiError | None = None
):
    if len(code) > CODE_MAX:
        return not_found_page(request)
    answer = await public_call(request, "GET", record_path(code))
    if (page := refused(request, answer)) is not None:
        return page
    context = {
        "doc": answer.json(),
        "check": check,
        "error": error,
        "managed": await managed(request, api, code),
        "reasons": labels.options(vocabulary.REVOCATION_REASONS),
        **WORDS,
    }
    return render(request, "verification/record.html", context, status_code=error.status if error else 200)


@router.get("/verify", name="verification.form")
async def verify_form(request: Request, code: str | None = None):
    """Type a code (as printed, read aloud, with or without dashes) → its page."""
    typed = (code or "").strip()
    if typed:
        return RedirectResponse(f"/verify/{quote(typed[:CODE_MAX], safe='')}", status_code=303)
    return render(request, "verification/form.html", {})


@router.get("/verify/batch", name="verification.batch")
async def batch_form(request: Request):
    return render(request, "verification/batch.html", {"results": None, "codes": "", "error": None})


@router.post("/verify/batch", name="verification.batch_check")
async def batch_check(
    request: Request,
    codes: Annotated[str, Form(max_length=20_000)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form(max_length=8)] = "table",
):
    """A 保荐机构's many codes at once: typed (one per line), or a CSV of codes, or a ZIP of PDFs."""
    as_csv = format == "csv"
    headers = {"Accept": "text/csv"} if as_csv else {}
    typed = [line.strip() for line in codes.replace(",", "\n").splitlines() if line.strip()]
    if file is not None and file.filename:
        body = {"files": {"file": (file.filename, await file.read(), file.content_type or "application/octet-stream")}}
    elif typed:
        body = {"json": {"codes": typed[:BATCH_MAX]}}
    else:
        error = ApiError(422, "batch_empty", _("请填写核验码或选择文件"), {"codes": _("请填写核验码或选择文件")})
        return render(request, "verification/batch.html", {"results": None, "codes": codes, "error": error}, 422)
    answer = await public_call(request, "POST", "/v1/verifications/batch", headers=headers, **body)
    if answer.status_code == 429:
        return busy_page(request, answer)
    if answer.status_code >= 400:
        error = _problem(answer)
        return render(request, "verification/batch.html", {"results": None, "codes": codes, "error": error}, 422)
    if as_csv:
        return download(answer)
    context = {"results": answer.json()["results"], "codes": codes, "error": None, **WORDS}
    return render(request, "verification/batch.html", context)


@router.get("/verify/{code}", name="verification.record")
async def verify_page(request: Request, code: str, api: Services):
    return await show_record(request, api, code)


@router.post("/verify/{code}/revoke", name="verification.revoke")
async def revoke(
    request: Request,
    code: str,
    viewer: Revoker,
    api: Services,
    reason_class: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    reopen: Annotated[bool, Form()] = False,
):
    """撤销: the issuing unit (or its supervisor) withdraws a document; verification says 已撤销 at
    once, and with 重办 the item reopens for the unit to issue again."""
    body = {"reason_class": reason_class, "reason": reason.strip(), "reopen": reopen}
    try:
        await api.post("router", f"/v1/documents/{quote(code, safe='')}/revocations", json=body)
    except ApiError as error:
        fields = "；".join(message for message in error.fields.values() if message)
        flash(request, f"{error.message}{'：' + fields if fields else ''}", "error")
    else:
        flash(request, _("已撤销该证明") + ("，" + _("工单已退回重办") if reopen else ""), "success")
    return RedirectResponse(f"/verify/{quote(code, safe='')}", status_code=303)


@router.post("/verify/{code}", name="verification.compare")
async def compare_file(request: Request, code: str, api: Services, file: Annotated[UploadFile | None, File()] = None):
    """The PDF a reader holds, compared with the registered file: 一致 / 不一致 (not an error)."""
    if len(code) > CODE_MAX:
        return not_found_page(request)
    if file is None or not file.filename:
        error = ApiError(422, "file_missing", _("请选择要比对的 PDF 文件"), {"file": _("请选择要比对的 PDF 文件")})
        return await show_record(request, api, code, error=error)
    sent = {"file": (file.filename, await file.read(), file.content_type or "application/pdf")}
    answer = await public_call(request, "POST", record_path(code) + "/file", files=sent)
    if answer.status_code == 422:
        return await show_record(request, api, code, error=_problem(answer))
    if (page := refused(request, answer)) is not None:
        return page
    found: dict[str, Any] = answer.json()
    found["name"] = identity_result("identical" if found["match"] else "different")
    return await show_record(request, api, code, check=found)


@router.get("/share/{token}", name="verification.share")
async def shared_documents(request: Request, token: str):
    """What an enterprise shared with its 保荐机构: each document's status and its page. A link
    past its expiry or withdrawn is 410 (已失效); one that never existed, 404."""
    if len(token) > 200:
        return render(request, "verification/share_gone.html", {"gone": False}, status_code=404)
    answer = await public_call(request, "GET", f"/v1/shares/{quote(token, safe='')}")
    if answer.status_code in (404, 410):
        gone = answer.status_code == 410
        return render(request, "verification/share_gone.html", {"gone": gone}, status_code=answer.status_code)
    if answer.status_code == 429:
        return busy_page(request, answer)
    if answer.status_code >= 400:
        raise _problem(answer)
    return render(request, "verification/share.html", {"share": answer.json(), **WORDS})
