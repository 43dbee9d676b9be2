"""我的证明 (issue 27): the enterprise's certificate wallet on the H5 — every document issued to it
or its subjects across requests, grouped by subject, with its validity (有效 / 即将到期 / 已过期 /
已撤销), downloads passed through (the browser holds no token), and share links for a 保荐机构:
chosen documents for a number of days, listed and withdrawn here. The router's API decides what
an enterprise may see and share."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .apis import ApiError, Services, download
from .i18n import N_, _
from .pages import NavItem, render
from .session import flash, viewer_of
from .verification import WORDS

router = APIRouter(prefix="/wallet")
Holder = viewer_of("enterprise", "liaison")
NAV = [NavItem(N_("我的证明"), "/wallet/", ("enterprise", "liaison"))]
SHARE_DAYS = (7, 14, 30, 90)  # what the form offers; the router takes 1..90


def validity(doc: dict) -> tuple[str, str]:
    """(css class, name) of a wallet row: revoked first, then expired, expiring soon, valid."""
    if doc["status"] == "revoked":
        return "revoked", WORDS["document_status"]("revoked")
    if doc["expired"]:
        return "expired", _("已过期")
    if doc["expiring_soon"]:
        return "expiring", _("即将到期")
    return "valid", WORDS["document_status"]("valid")


def by_subject(docs: list[dict]) -> list[dict]:
    """The router's rows (ordered by subject, newest first) in one group per subject."""
    groups: dict[str, dict] = {}
    for doc in docs:
        group = groups.setdefault(doc["subject_uscc"], {"uscc": doc["subject_uscc"], "name": doc["subject"]["name"]})
        group.setdefault("documents", []).append({**doc, "validity": validity(doc)})
    return list(groups.values())


@router.get("/", name="wallet.documents")
async def my_documents(request: Request, viewer: Holder, api: Services):
    docs = await api.get("router", "/v1/documents")
    shares = await api.get("router", "/v1/shares")
    context = {"groups": by_subject(docs), "shares": shares, "share_days": SHARE_DAYS, **WORDS}
    return render(request, "wallet/documents.html", context)


@router.get("/{code}/file", name="wallet.file")
async def document_file(code: str, viewer: Holder, api: Services):
    return download(await api.call("router", "GET", f"/v1/documents/{quote(code, safe='')}/file"))


@router.get("/{code}/slip", name="wallet.slip")
async def document_slip(code: str, viewer: Holder, api: Services):
    return download(await api.call("router", "GET", f"/v1/documents/{quote(code, safe='')}/slip"))


@router.post("/shares", name="wallet.share")
async def create_share(
    request: Request,
    viewer: Holder,
    api: Services,
    codes: Annotated[list[str] | None, Form()] = None,
    expires_in_days: Annotated[int, Form(ge=1, le=90)] = 30,
    note: Annotated[str, Form(max_length=200)] = "",
):
    """生成分享链接: the link is shown once (only a hash of its token is kept)."""
    if not codes:
        flash(request, _("请先勾选要分享的证明"), "error")
        return RedirectResponse("/wallet/#share", status_code=303)
    body = {"codes": codes, "expires_in_days": expires_in_days, "note": note.strip() or None}
    try:
        created = await api.post("router", "/v1/shares", json=body)
    except ApiError as error:
        flash(request, error.field("codes") or error.message, "error")
        return RedirectResponse("/wallet/#share", status_code=303)
    link = str(request.base_url).rstrip("/") + created["url"]
    message = _("分享链接已生成，请复制发给对方（仅显示这一次）：%(link)s") % {"link": link}
    flash(request, message, "success")
    return RedirectResponse("/wallet/#shares", status_code=303)


@router.post("/shares/{share_id}/revoke", name="wallet.unshare")
async def revoke_share(request: Request, share_id: str, viewer: Holder, api: Services):
    await api.call("router", "DELETE", f"/v1/shares/{quote(share_id, safe='')}")
    flash(request, _("分享链接已撤销，对方再打开将看到“已失效”"), "success")
    return RedirectResponse("/wallet/#shares", status_code=303)
