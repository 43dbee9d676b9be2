"""Staff accounts for an admin (what ``xiaoer user`` does, on a page): unlock an account locked
after wrong passwords, set a new password, deactivate a leaver (the account's sessions end at
once: the pages check the account on every request) or activate it again. An admin of a region
manages the accounts of its region; an admin without one (the whole country) every account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import or_, select

from shared import regions
from shared.clock import SHANGHAI, utcnow

from . import accounts
from .apis import ApiError, Services
from .i18n import N_, _
from .models import StaffAccount
from .pages import NavItem, render
from .session import Viewer, flash, viewer_of
from .units import unit_names

router = APIRouter(prefix="/admin")
Admin = viewer_of("admin")
NAV = [NavItem(N_("账号管理"), "/admin/accounts", ("admin",))]


def _manages(viewer: Viewer, account: StaffAccount) -> bool:
    if viewer.region is None:
        return True
    return account.region_code is not None and regions.covers(viewer.region, account.region_code)


def _status(account: StaffAccount) -> tuple[str, str]:
    """(tone, words) of an account's standing."""
    if not account.active:
        return "late", _("已停用")
    if account.locked_until is not None and account.locked_until > utcnow():
        until = account.locked_until.astimezone(SHANGHAI).strftime("%H:%M")
        return "soon", _("已锁定（至 %(time)s）") % {"time": until}
    return "ok", _("正常")


@router.get("/accounts", name="admin.accounts")
async def staff_accounts(request: Request, viewer: Admin, api: Services, q: Annotated[str, Query(max_length=64)] = ""):
    async with request.app.state.runtime.sessions() as session:
        query = select(StaffAccount).order_by(StaffAccount.username).limit(500)
        if q.strip():
            like = f"%{q.strip()}%"
            query = query.where(
                or_(
                    StaffAccount.username.ilike(like),
                    StaffAccount.display_name.ilike(like),
                    StaffAccount.unit_code.ilike(like),
                )
            )
        found = [a for a in await session.scalars(query) if _manages(viewer, a)]
    try:
        names = await unit_names(request, api)
    except ApiError:
        names = None  # the registry away: codes rather than no page
    rows = [{"account": a, "status": _status(a), "unit": names(a.unit_code) if names else a.unit_code} for a in found]
    return render(request, "admin/accounts.html", {"rows": rows, "q": q.strip()})


def _back(q: str) -> RedirectResponse:
    return RedirectResponse("/admin/accounts" + (f"?q={q}" if q else ""), status_code=303)


async def _change(request: Request, viewer: Viewer, username: str, change, done: str, q: str) -> RedirectResponse:
    async with request.app.state.runtime.sessions() as session, session.begin():
        account = await session.get(StaffAccount, username)
        if account is None or not _manages(viewer, account):
            flash(request, _("没有这个账号，或不在您的管理范围内"), "error")
            return _back(q)
        try:
            await change(session, username)
        except accounts.AccountError as refused:
            flash(request, str(refused), "error")
            return _back(q)
    flash(request, done % {"name": account.display_name, "username": username}, "success")
    return _back(q)


Back = Annotated[str, Form(max_length=64)]


@router.post("/accounts/{username}/unlock", name="admin.unlock")
async def unlock(request: Request, username: str, viewer: Admin, q: Back = ""):
    return await _change(request, viewer, username, accounts.unlock, _("已解锁 %(name)s（%(username)s）"), q)


@router.post("/accounts/{username}/password", name="admin.password")
async def new_password(
    request: Request,
    username: str,
    viewer: Admin,
    password: Annotated[str, Form(max_length=200)],
    confirm: Annotated[str, Form(max_length=200)],
    q: Back = "",
):
    if password != confirm:
        flash(request, _("两次输入的密码不一致，未更改"), "error")
        return _back(q)

    async def change(session, name):
        await accounts.set_password(session, name, password)

    done = _("已为 %(name)s（%(username)s）设置新密码，其登录已失效")
    return await _change(request, viewer, username, change, done, q)


@router.post("/accounts/{username}/deactivate", name="admin.deactivate")
async def deactivate(request: Request, username: str, viewer: Admin, q: Back = ""):
    if username == viewer.username:
        flash(request, _("不能停用自己的账号"), "error")
        return _back(q)
    done = _("已停用 %(name)s（%(username)s），其登录已立即失效")
    return await _change(request, viewer, username, accounts.deactivate, done, q)


@router.post("/accounts/{username}/activate", name="admin.activate")
async def activate(request: Request, username: str, viewer: Admin, q: Back = ""):
    return await _change(request, viewer, username, accounts.reactivate, _("已启用 %(name)s（%(username)s）"), q)
