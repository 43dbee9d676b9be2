"""Who is signed in. The session lives in a signed, HttpOnly, SameSite=Lax cookie (Starlette's
SessionMiddleware, itsdangerous) and carries a JWT minted with the shared key: the APIs check
that token on every call, so their authorisation still decides everything. The page roles add
two to the token's: a ``coordinator`` is a department token for a coordination office, and
staff are told apart from enterprises only to choose their pages.

:class:`SessionGuard` checks the session once per request before any page runs: a token past
its expiry ends it ("expired"), and so does a staff account deactivated ("inactive") or given a
new password ("revoked") after the session began — at once, not when the token runs out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request

from shared.auth import decode_token, mint_token
from shared.clock import utcnow

from . import labels
from .models import StaffAccount

STAFF_SUB = "staff:"  # the token subject of a staff account: staff:<username>
PageRole = Literal["enterprise", "liaison", "department", "coordinator", "supervisor", "admin"]
HOME: dict[str, str] = {
    "enterprise": "/enterprise/",
    "liaison": "/enterprise/enterprises",  # the enterprises served, most urgent first
    "department": "/clerk/",
    "coordinator": "/clerk/",
    "supervisor": "/board/",
    "admin": "/board/",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the pages see them; ``token`` is what the APIs are called with."""

    token: str
    role: PageRole
    name: str
    username: str | None = None  # staff only
    unit: str | None = None
    region: str | None = None
    usccs: list[str] = field(default_factory=list)
    lead: bool = False  # a unit's lead (科长): assigns its items, reads its figures per person
    signed_in_at: str | None = None  # ISO 8601: a staff session ends if its account changed after

    @property
    def home(self) -> str:
        return HOME[self.role]

    @property
    def role_name(self) -> str:
        return labels.role_name(self.role)

    @property
    def subject(self) -> str:
        """Who the APIs see (the token's ``sub``); the token was checked when the request came in."""
        return str(jwt.decode(self.token, options={"verify_signature": False}).get("sub", ""))


class SignInRequired(Exception):
    """No (valid) session: the app sends the person to the sign-in page, then back."""


class Forbidden(Exception):
    """Signed in, but this page is not for this role: the app shows a 403 page saying so."""


def sign_in(request: Request, *, role: PageRole, name: str, username: str | None = None, **claims) -> Viewer:
    """Mints the person's token and starts a fresh session (dropping any earlier one's data)."""
    settings = request.app.state.settings
    token_role = "department" if role == "coordinator" else role
    sub = STAFF_SUB + username if username else claims.pop("sub", None)
    token = mint_token(settings, role=token_role, sub=sub, name=name, **claims)
    viewer = Viewer(token=token, role=role, name=name, username=username, signed_in_at=utcnow().isoformat(), **claims)
    request.session.clear()
    request.session["viewer"] = asdict(viewer)
    return viewer


def sign_in_with_token(request: Request, token: str, *, name: str | None = None) -> Viewer:
    """A session for a token an API issued (intake's WeChat login): its own claims say who."""
    principal = decode_token(request.app.state.settings, token)
    viewer = Viewer(
        token=token,
        role=principal.role,
        name=name or principal.name or "",
        unit=principal.unit,
        region=principal.region,
        usccs=list(principal.usccs),
        signed_in_at=utcnow().isoformat(),
    )
    request.session.clear()
    request.session["viewer"] = asdict(viewer)
    return viewer


def sign_out(request: Request) -> None:
    request.session.clear()


def signed_in(request: Request) -> Viewer | None:
    """The session's person, as :class:`SessionGuard` found them for this request."""
    if "session" not in request.scope:  # the 500 page is rendered outside the session middleware
        return None
    state = request.scope.get("state") or {}
    if "viewer" in state:
        return state["viewer"]
    data = request.session.get("viewer")  # not guarded (a page rendered outside the guard)
    viewer, _ended = _from_token(request.app.state.settings, data) if data else (None, None)
    return viewer


def session_ended(request: Request) -> str | None:
    """Why the session this request came with ended: expired | inactive | revoked, or None."""
    return (request.scope.get("state") or {}).get("session_ended")


def _from_token(settings, data: dict) -> tuple[Viewer | None, str | None]:
    try:
        decode_token(settings, data["token"])
        return Viewer(**data), None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None, "expired"


UNGUARDED = ("/static/", "/favicon.ico", "/healthz", "/readyz", "/metrics")


class SessionGuard:
    """Inside the session middleware: decides once per request whether the session still holds
    (token valid; a staff account still active, and unchanged since the session began) and puts
    the :class:`Viewer`, or why the session ended, in ``scope["state"]``."""

    def __init__(self, app, runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED) or "session" not in scope:
            return await self.app(scope, receive, send)
        session = scope["session"]
        viewer, ended = None, None
        if data := session.get("viewer"):
            viewer, ended = _from_token(self.runtime.settings, data)
            if viewer is not None and viewer.username:
                ended = await self._staff_ended(viewer)
                viewer = None if ended else viewer
            if viewer is None:
                session.clear()
                # Kept until the next sign-in: when a background call (the queue's live poll) meets
                # the ended session first, the page asked for next still says why.
                session["ended"] = ended
        else:
            ended = session.get("ended")
        state = scope.setdefault("state", {})
        state["viewer"], state["session_ended"] = viewer, ended
        await self.app(scope, receive, send)

    async def _staff_ended(self, viewer: Viewer) -> str | None:
        async with self.runtime.sessions() as db:
            account = await db.get(StaffAccount, viewer.username)
        if account is None or not account.active:
            return "inactive"
        revoked = account.sessions_revoked_at
        began = datetime.fromisoformat(viewer.signed_in_at) if viewer.signed_in_at else None
        if revoked is not None and (began is None or began < revoked):
            return "revoked"
        return None


def flash(request: Request, message: str, level: Literal["info", "success", "error"] = "info") -> None:
    """A message shown once, on the next page rendered (after a redirect, say)."""
    request.session.setdefault("flash", []).append({"level": level, "message": message})
    request.session["flash"] = request.session["flash"]  # reassigned so the cookie is rewritten


def take_flashes(request: Request) -> list[dict]:
    return request.session.pop("flash", []) if "session" in request.scope else []


def require(*roles: PageRole):
    """A route dependency: the signed-in viewer if their role may see the page. Not signed in:
    to the sign-in page. Another role: a 403 page naming who the page is for."""

    def dependency(request: Request) -> Viewer:
        viewer = signed_in(request)
        if viewer is None:
            raise SignInRequired()
        if viewer.role not in roles:
            raise Forbidden(", ".join(labels.role_name(r) for r in roles))
        return viewer

    return dependency


def viewer_of(*roles: PageRole):
    """``Annotated[Viewer, Depends(require(...))]`` for a route's signature."""
    return Annotated[Viewer, Depends(require(*roles))]
