"""Assembles the web service: its runtime (only a database of staff accounts: no Kafka) and its
app — pages rendered on the server, calling the three services' APIs over HTTP."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import structlog
from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware

from shared import db
from shared.settings import SERVICES, WEB
from shared.web import RequestContextMiddleware, RequestLimitMiddleware

from . import (
    admin,
    board,
    clerk,
    demo,
    enterprise,
    messages,
    reply_templates,
    signin,
    verification,
    wallet,
    workbench,
)
from .apis import ApiError
from .assets import IMMUTABLE, STATIC_DIR, Assets, HashedStaticFiles
from .i18n import LocaleMiddleware, _
from .pages import error_page, make_templates
from .session import Forbidden, SessionGuard, SignInRequired, session_ended, sign_out
from .settings import WebSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


def load_settings(**overrides) -> WebSettings:
    """The web service's settings from the environment (``XIAOER_*``), with ``overrides`` on top."""
    return WebSettings(**overrides)


class WebRuntime:
    """The web service's moving parts: its database of staff accounts, nothing else."""

    name = WEB

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.migrations_dir = MIGRATIONS
        self.database_url = settings.database_url
        self.engine = db.create_engine(
            self.database_url, pool_size=settings.database_pool_size, pool_overflow=settings.database_pool_overflow
        )
        self.sessions = db.session_factory(self.engine)

    async def migrate(self) -> None:
        await db.upgrade_async(self.migrations_dir, self.database_url)

    async def stop(self) -> None:
        await self.engine.dispose()


def build_runtime(settings: WebSettings) -> WebRuntime:
    return WebRuntime(settings)


def build_app(runtime: WebRuntime, *, workers: bool = False) -> FastAPI:
    """The pages' app. ``workers`` is accepted so that ``xiaoer serve|api web`` assemble it like
    the other services; the web service has no background workers."""
    settings = runtime.settings
    http = httpx.AsyncClient(timeout=settings.web_api_timeout_seconds)

    @asynccontextmanager
    async def lifespan(_app):
        try:
            yield
        finally:
            await http.aclose()
            await runtime.stop()

    app = FastAPI(title="xiaoer web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    assets = Assets()
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.http = http
    app.state.api_urls = {service: settings.public_url(service) for service in SERVICES}
    app.state.templates = make_templates(assets)
    app.state.nav = [*enterprise.NAV, *wallet.NAV, *clerk.NAV, *reply_templates.NAV, *board.NAV, *admin.NAV]

    app.mount("/static", HashedStaticFiles(assets), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:  # browsers ask for it on every site, whatever the page says
        return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": IMMUTABLE})

    # workbench before clerk: its /clerk/items/{id}/claim and /assign before clerk's /{action}
    for module in (signin, enterprise, workbench, clerk, reply_templates, board, admin, verification, wallet, messages):
        app.include_router(module.router)
    if settings.env == "development":
        app.include_router(demo.router)  # in production /demo does not exist (404)
    _operations(app, runtime)
    _error_pages(app)
    _middleware(app, runtime)
    return app


def _middleware(app: FastAPI, runtime: WebRuntime) -> None:
    # Added innermost first: a request passes the size limits → gzip → headers → language → session
    # → session guard → CSRF → request ids and metrics (inside asgi-csrf, which copies the scope, so
    # that they see the matched route).
    settings = runtime.settings
    app.add_middleware(RequestContextMiddleware, service=WEB)
    app.add_middleware(
        asgi_csrf,
        signing_secret=settings.derived_secret("csrf"),
        cookie_secure=settings.secure_cookies,
        always_protect=signin.ALWAYS_PROTECTED,  # sign-in forms are checked even before any cookie
        send_csrf_failed=_csrf_refused,
    )
    app.add_middleware(SessionGuard, runtime=runtime)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.derived_secret("session"),
        session_cookie="xiaoer_session",
        # A day longer than the token it carries: a session whose token ran out still arrives, so
        # the sign-in page can say the login expired (rather than greet a stranger).
        max_age=settings.jwt_ttl_seconds + 24 * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    # Outermost, as in the APIs (shared.web.create_app): absurd heads and bodies are refused before
    # the session, CSRF (which reads form bodies) or anything else touches them.
    app.add_middleware(
        RequestLimitMiddleware,
        max_body=settings.http_max_body_bytes,
        max_upload=2 * settings.file_max_bytes + 1024 * 1024,
        max_header=settings.http_max_header_bytes,
    )


# Scripts only from our own files (no inline script, no eval: htmx with allowEval off, Alpine's CSP
# build), styles only from our style sheets; nothing else is loaded, posted to or framed.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


CSRF_COOKIE = b"csrftoken="


class SecurityHeadersMiddleware:
    """Headers every answer carries: the Content-Security-Policy, no framing by other sites, no
    MIME sniffing, no referrer leak; pages (personal data) are never stored by a cache, and the
    CSRF cookie is HttpOnly too (the pages put the token in their forms; no script reads it)."""

    HEADERS = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Cache-Control", "no-store")
                message["headers"] = [
                    (name, value + b"; HttpOnly" if name == b"set-cookie" and value.startswith(CSRF_COOKIE) else value)
                    for name, value in message["headers"]
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def _no_body():
    return {"type": "http.disconnect"}


async def _csrf_refused(scope, send, reason) -> None:
    """asgi-csrf's refusal, as a page: a stale form (the token cookie gone) is the usual cause."""
    log.warning("web.csrf_refused", path=scope.get("path"), reason=getattr(reason, "name", str(reason)))
    request = Request(scope)
    response = error_page(
        request,
        403,
        _("页面已过期或来源不明，未做任何更改"),
        _("为保护您的账号，请返回上一页，刷新后再提交。"),
    )
    await response(scope, _no_body, send)


def page_of(request: Request) -> str:
    """The page the person is on: an htmx call's page (``HX-Current-URL``), the page a form was
    posted from (``Referer``), or the page asked for; only ever a path of this site."""
    if request.headers.get("HX-Request"):
        candidate = request.headers.get("HX-Current-URL")
    elif request.method not in ("GET", "HEAD"):
        candidate = request.headers.get("referer")
    else:
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not candidate:
        return "/"
    parts = urlsplit(candidate)
    if parts.netloc and parts.netloc != request.url.netloc:
        return "/"
    return signin.local_path(parts.path + (f"?{parts.query}" if parts.query else ""), "/")


def to_sign_in(request: Request, reason: str | None) -> Response:
    """To the sign-in page and back to this page afterwards, saying why. A full page goes there by
    a redirect; an htmx call (an upload, a tab, a row added) takes the whole page there
    (``HX-Redirect``), never a sign-in page inside a form. What was typed stays in the browser
    (static/js/app.js keeps forms) and is put back when the page opens again."""
    query = {"next": page_of(request)}
    if reason:
        query["reason"] = reason
    target = "/?" + urlencode(query)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired):
        return to_sign_in(request, session_ended(request))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return error_page(request, 403, _("无权访问此页面"), _("此页面供以下角色使用：%(roles)s") % {"roles": exc})

    @app.exception_handler(ApiError)
    async def _api_refused(request: Request, exc: ApiError):
        if exc.status == 401:  # the API no longer takes the token: sign in again
            sign_out(request)
            return to_sign_in(request, "expired")
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: _("页面不存在"), 405: _("不支持的请求方式")}
        return error_page(request, exc.status_code, titles.get(exc.status_code, _("请求无法处理")))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _exc: RequestValidationError):
        return error_page(request, 400, _("请求参数有误"), _("请返回上一页重新填写。"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("web.unhandled_error", path=request.url.path)
        return error_page(request, 500, _("系统出了点问题，请稍后再试"), _("如果问题持续，请联系管理员。"))


def _operations(app: FastAPI, runtime: WebRuntime) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": WEB}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            await db.ping(runtime.engine)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "checks": {"database": f"error: {exc}"}}, 503)
        return JSONResponse({"status": "ok", "checks": {"database": "ok"}})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
