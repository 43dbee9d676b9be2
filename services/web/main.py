"""Assembles the web service: its runtime (only a database of staff accounts: no Kafka) and its
app — pages rendered on the server, calling the three services' APIs over HTTP."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import structlog
from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware

from shared import db
from shared.settings import SERVICES, WEB
from shared.web import RequestContextMiddleware, RequestLimitMiddleware

from . import board, clerk, demo, enterprise, signin
from .apis import ApiError
from .assets import Assets, HashedStaticFiles
from .i18n import LocaleMiddleware, _
from .pages import error_page, make_templates
from .session import Forbidden, SignInRequired, flash, sign_out
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
    app.state.nav = [*enterprise.NAV, *clerk.NAV, *board.NAV]

    app.mount("/static", HashedStaticFiles(assets), name="static")
    for module in (signin, enterprise, clerk, board):
        app.include_router(module.router)
    if settings.env == "development":
        app.include_router(demo.router)  # in production /demo does not exist (404)
    _operations(app, runtime)
    _error_pages(app)
    _middleware(app, settings)
    return app


def _middleware(app: FastAPI, settings: WebSettings) -> None:
    # Added innermost first: a request passes the size limits → gzip → headers → language → session
    # → CSRF → request ids and metrics (inside asgi-csrf, which copies the scope, so that they see
    # the matched route).
    app.add_middleware(RequestContextMiddleware, service=WEB)
    app.add_middleware(
        asgi_csrf,
        signing_secret=settings.derived_secret("csrf"),
        cookie_secure=settings.secure_cookies,
        always_protect=signin.ALWAYS_PROTECTED,  # sign-in forms are checked even before any cookie
        send_csrf_failed=_csrf_refused,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.derived_secret("session"),
        session_cookie="xiaoer_session",
        max_age=settings.jwt_ttl_seconds,  # the cookie lives as long as the token it carries
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


class SecurityHeadersMiddleware:
    """Headers every page carries: no framing by other sites, no MIME sniffing, no referrer leak."""

    HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
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


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return error_page(request, 403, _("无权访问此页面"), _("此页面供以下角色使用：%(roles)s") % {"roles": exc})

    @app.exception_handler(ApiError)
    async def _api_refused(request: Request, exc: ApiError):
        if exc.status == 401:  # the token expired or was revoked: sign in again
            sign_out(request)
            flash(request, _("登录已过期，请重新登录"), "error")
            return RedirectResponse("/", status_code=303)
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
