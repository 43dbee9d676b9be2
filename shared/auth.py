"""JWT bearer tokens (PyJWT, HS256) and the roles that act in xiaoer.

- ``enterprise``: enterprise staff, bound to one USCC.
- ``liaison``: a liaison officer (驻企联络员), bound to the USCCs of the enterprises they serve.
- ``department``: a department unit's clerk or system, bound to one unit code; ``lead`` marks the
  unit's lead (科长), who assigns items to clerks and keeps the unit's reply templates.
- ``supervisor``: a supervising office (督办), bound to a region code; sees everything under it.
- ``admin``: operators; bound to a region too when given one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import ColumnElement, false, true

from shared import events, regions
from shared.clock import utcnow
from shared.problems import Problem
from shared.settings import Settings

Role = Literal["enterprise", "liaison", "department", "supervisor", "admin"]
_ALGORITHM = "HS256"


class Principal(BaseModel):
    sub: str
    role: Role
    name: str | None = None
    usccs: list[str] = []  # enterprise: exactly one; liaison: the enterprises served
    unit: str | None = None  # department
    lead: bool = False  # department: the unit's lead (科长)
    region: str | None = None  # supervisor, admin

    def as_actor(self) -> events.Actor:
        """Who acts, as events record it: the person's id and name, and the unit they act for."""
        return events.Actor(role=self.role, id=self.sub, name=self.name, unit=self.unit)

    def leads(self, unit_code: str) -> bool:
        """The lead (科长) of this unit: assigns its items, keeps its templates, reads per-person figures."""
        return self.role == "department" and self.lead and self.unit == unit_code

    def may_act_for(self, uscc: str) -> bool:
        return self.role in ("enterprise", "liaison") and uscc in self.usccs

    @property
    def is_national(self) -> bool:
        """An admin bound to no region oversees the whole country."""
        return self.role == "admin" and self.region is None

    def covers_region(self, region_code: str) -> bool:
        """A supervisor or admin sees a region when it is theirs or lies under it in GB/T 2260."""
        if self.role not in ("supervisor", "admin"):
            return False
        return self.is_national or (self.region is not None and regions.covers(self.region, region_code))

    def region_clause(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        """The SQL twin of :meth:`covers_region` for a column holding region codes."""
        if self.is_national:
            return true()
        if self.role not in ("supervisor", "admin") or self.region is None:
            return false()
        return regions.within(column, self.region)


def mint_token(
    settings: Settings,
    *,
    role: Role,
    sub: str | None = None,
    name: str | None = None,
    usccs: list[str] | None = None,
    unit: str | None = None,
    region: str | None = None,
    lead: bool = False,
    ttl_seconds: int | None = None,
) -> str:
    if role == "enterprise" and len(usccs or []) != 1:
        raise ValueError("an enterprise token is bound to exactly one USCC")
    if role == "liaison" and not usccs:
        raise ValueError("a liaison token needs at least one USCC")
    if role == "department" and not unit:
        raise ValueError("a department token needs a unit code")
    if lead and role != "department":
        raise ValueError("only a department token can mark a unit's lead")
    if role == "supervisor" and not region:
        raise ValueError("a supervisor token needs a region code")
    now = utcnow()
    claims = {
        "iss": settings.jwt_issuer,
        "sub": sub or f"{role}:{uuid.uuid4().hex[:12]}",
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds or settings.jwt_ttl_seconds),
        "role": role,
        "name": name,
        "usccs": usccs or [],
        "unit": unit,
        "region": region,
        "lead": lead or None,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, settings.signing_key, _ALGORITHM)


def decode_token(settings: Settings, token: str) -> Principal:
    claims = jwt.decode(
        token,
        settings.signing_key,
        algorithms=[_ALGORITHM],
        issuer=settings.jwt_issuer,
        options={"require": ["exp", "sub", "iss"]},
    )
    return Principal.model_validate(claims)


_bearer = HTTPBearer(auto_error=False, description="JWT minted by `xiaoer token` or `POST /v1/auth/wechat`")


async def current_principal(  # async: a plain def would cost a thread-pool hop per request
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None:
        raise Problem(401, "unauthenticated", "需要登录凭证", "A bearer token is required")
    try:
        return decode_token(request.app.state.settings, credentials.credentials)
    except (jwt.PyJWTError, ValueError) as exc:
        raise Problem(401, "invalid_token", "登录凭证无效或已过期", f"Invalid or expired token: {exc}") from exc


def require_roles(*roles: Role):
    """A dependency that lets only the given roles through (403 for the others)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise Problem(403, "forbidden", "无权执行此操作", f"This action needs one of the roles: {', '.join(roles)}")
        return principal

    return dependency


# Who may call a route, declared once for every service: ``principal: Overseer`` in a route's
# signature lets supervisors and admins through and answers 403 to the others.
Anyone = Annotated[Principal, Depends(current_principal)]
"""Any valid token, whatever its role."""
ForEnterprise = Annotated[Principal, Depends(require_roles("enterprise", "liaison"))]
"""Those who act for enterprises: their own staff and liaison officers."""
Department = Annotated[Principal, Depends(require_roles("department"))]
"""A department unit's clerk or system."""
Staff = Annotated[Principal, Depends(require_roles("department", "supervisor", "admin"))]
"""The government side: department units, supervising offices and admins."""
Overseer = Annotated[Principal, Depends(require_roles("supervisor", "admin"))]
"""Supervising offices (督办) and admins, each within its region."""
Admin = Annotated[Principal, Depends(require_roles("admin"))]
"""Operators, within their region (the whole country with none)."""
