"""Signing in and out (``/``), WeChat login for enterprises, and the two display preferences
(language, 长辈版) every page's header offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from shared.clock import SHANGHAI

from . import accounts, i18n
from .apis import ApiError, Services
from .i18n import N_, _
from .pages import ELDER_COOKIE, render
from .session import flash, session_ended, sign_in, sign_in_with_token, sign_out, signed_in

router = APIRouter()
# Forms that act without a session: asgi-csrf checks them even when the browser sends no cookie.
ALWAYS_PROTECTED = {"/signin", "/demo", "/prefs/lang", "/prefs/elder"}
ONE_YEAR = 365 * 24 * 3600


def local_path(target: str | None, fallback: str = "/") -> str:
    """Where to go next, if it is a path on this site (never another site: no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def in_wechat(request: Request) -> bool:
    return "MicroMessenger" in request.headers.get("user-agent", "")


# Why the sign-in page opened instead of the page asked for (?reason= from main.to_sign_in).
REASONS = {
    "expired": N_("登录已过期，请重新登录"),
    "inactive": N_("账号已停用，请联系管理员"),
    "revoked": N_("账号的密码已更改，请重新登录"),
}


def _signin_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status=200,
    notice: str | None = None,
):
    context = {
        "next": next_path,
        "username": username,
        "error": error,
        "notice": notice,
        "in_wechat": in_wechat(request),
    }
    return render(request, "signin.html", context, status_code=status)


@router.get("/", name="signin")
async def signin_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=500)] = None,
    reason: Annotated[str | None, Query(max_length=20)] = None,
):
    viewer = signed_in(request)
    if viewer is not None:
        return RedirectResponse(local_path(next, viewer.home), status_code=303)
    next_path = local_path(next, "")
    if reason in REASONS:
        notice = _(REASONS[reason])
    elif next_path and session_ended(request):
        notice = _(REASONS[session_ended(request)])
    else:
        notice = _("请先登录") if next_path else None
    return _signin_page(request, next_path=next_path, notice=notice)


def _refusal_message(refused: accounts.SignInRefused, settings) -> tuple[str, int]:
    if refused.reason == "locked":
        until = refused.locked_until.astimezone(SHANGHAI).strftime("%H:%M")
        return _("密码错误次数过多，账号已锁定，请于 %(time)s 后再试") % {"time": until}, 423
    if refused.reason == "inactive":
        return _("账号已停用，请联系管理员"), 403
    return (
        _("用户名或密码错误（连续错误 %(n)d 次将锁定 %(minutes)d 分钟）")
        % {"n": settings.web_max_failed_sign_ins, "minutes": settings.web_lockout_minutes},
        401,
    )


@router.post("/signin")
async def signin_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
):
    settings = request.app.state.settings
    async with request.app.state.runtime.sessions() as session, session.begin():
        outcome = await accounts.authenticate(session, settings, username, password)
    if isinstance(outcome, accounts.SignInRefused):
        message, status = _refusal_message(outcome, settings)
        return _signin_page(request, next_path=local_path(next, ""), username=username, error=message, status=status)
    viewer = sign_in(
        request,
        role=outcome.role,
        name=outcome.display_name,
        username=outcome.username,
        unit=outcome.unit_code,
        region=outcome.region_code,
        lead=outcome.lead,
    )
    return RedirectResponse(local_path(next, viewer.home), status_code=303)


@router.post("/signout")
async def signout(request: Request):
    sign_out(request)
    flash(request, _("您已退出登录"), "success")
    return RedirectResponse("/", status_code=303)


@router.get("/auth/wechat")
async def wechat_signin(
    request: Request,
    api: Services,
    code: Annotated[str, Query(min_length=1, max_length=200)],
    next: Annotated[str | None, Query(max_length=500)] = None,
):
    """Inside the mini-program, its web-view opens this page with a fresh ``wx.login()`` code;
    intake exchanges it (jscode2session) for the token of the account bound to that WeChat user.
    ``next``: the page to go back to (after a login expired)."""
    try:
        answer = await api.post("intake", "/v1/auth/wechat", json={"code": code})
    except ApiError as refused:
        return _signin_page(request, next_path="", error=refused.message, status=refused.status)
    viewer = sign_in_with_token(request, answer["access_token"])
    return RedirectResponse(local_path(next, viewer.home), status_code=303)


def _back(request: Request, target: str) -> RedirectResponse:
    return RedirectResponse(local_path(target, "/"), status_code=303)


def _remember(request: Request, response: RedirectResponse, cookie: str, value: str) -> None:
    """A display preference, kept for a year in this browser (signed in or not)."""
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(cookie, value, max_age=ONE_YEAR, samesite="lax", httponly=True, secure=secure)


@router.post("/prefs/lang")
async def choose_language(
    request: Request, lang: Annotated[str, Form(max_length=5)], next: Annotated[str, Form(max_length=500)] = "/"
):
    response = _back(request, next)
    if lang in i18n.LOCALES:
        _remember(request, response, i18n.COOKIE, lang)
    return response


@router.post("/prefs/elder")
async def choose_elder_mode(
    request: Request, elder: Annotated[str, Form(max_length=1)], next: Annotated[str, Form(max_length=500)] = "/"
):
    response = _back(request, next)
    _remember(request, response, ELDER_COOKIE, "1" if elder == "1" else "0")
    return response
