"""WeChat mini-program login: exchange a ``wx.login()`` code for the user's openid at WeChat's
``jscode2session`` endpoint, then issue our own JWT for the identity bound to that openid."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Principal, mint_token
from shared.clock import utcnow
from shared.problems import FieldError, Problem

from . import messages
from .models import WechatBinding
from .settings import IntakeSettings


async def code_to_openid(settings: IntakeSettings, code: str) -> str:
    if not settings.wechat_appid or settings.wechat_secret is None:
        raise Problem(503, "wechat_not_configured", "未配置微信登录", "WeChat login is not configured")
    params = {
        "appid": settings.wechat_appid,
        "secret": settings.wechat_secret.get_secret_value(),
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        async with httpx.AsyncClient(base_url=settings.wechat_api_base_url, timeout=5) as client:
            response = await client.get("/sns/jscode2session", params=params)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Problem(502, "wechat_unavailable", "微信服务暂时不可用", "WeChat did not answer") from exc
    if answer.get("errcode") or not answer.get("openid"):
        # 40029 invalid code, 40163 code already used, 45011 rate limited …
        raise Problem(
            401,
            "wechat_code_refused",
            "微信登录凭证无效或已使用",
            "WeChat refused the login code",
            errors=[FieldError("code", f"wechat_{answer.get('errcode')}", "登录凭证无效", str(answer.get("errmsg")))],
        )
    return answer["openid"]


async def login(
    settings: IntakeSettings, session: AsyncSession, code: str, binding_principal: Principal | None
) -> tuple[str, WechatBinding]:
    """Returns a token for the identity bound to this WeChat user. The first login binds: it
    comes with the enterprise's or liaison officer's existing token."""
    openid = await code_to_openid(settings, code)
    binding = await session.get(WechatBinding, openid)
    if binding is None:
        if binding_principal is None or binding_principal.role not in ("enterprise", "liaison"):
            raise Problem(
                403,
                "wechat_not_bound",
                "该微信尚未绑定企业账号，请先用企业账号登录后绑定",
                "This WeChat user is not bound yet: log in once with your enterprise account to bind it",
            )
        binding = WechatBinding(
            openid=openid,
            sub=binding_principal.sub,
            role=binding_principal.role,
            name=binding_principal.name,
            usccs=list(binding_principal.usccs),
        )
        session.add(binding)
        bound = events.WechatUserBound(openid=openid, role=binding.role, usccs=binding.usccs, occurred_at=utcnow())
        # The notifier learns the openid from this, to send progress as subscribe messages.
        await messages.wechat_user_bound(session, bound)
    token = mint_token(settings, role=binding.role, sub=binding.sub, name=binding.name, usccs=binding.usccs)
    return token, binding
