"""What every service's HTTP app has: problem+json errors, request and trace ids in logs,
Prometheus metrics, and the health endpoints ops teams probe."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

from shared import files, tracing
from shared.problems import document_refusals, install_problem_handlers, transport_refusal
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter("xiaoer_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "xiaoer_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


async def _db_session(request: Request):
    async with request.app.state.runtime.sessions() as session:
        yield session


# A database session of the service handling the request, for one request.
DbSession = Annotated[AsyncSession, Depends(_db_session)]


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``, taken from the caller when sent) and a trace
    id (from a W3C ``traceparent`` header, or new), binds both to every log line written while
    it runs, and records its latency by route template (never by raw path: ids would explode
    the metric's cardinality)."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        match = _TRACEPARENT.match(headers.get("traceparent", ""))
        trace_id = match.group(1) if match else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id, service=self.service)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, scope["method"], template, status_holder["status"]).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], template).observe(elapsed)
            if template not in ("/metrics", "/healthz", "/readyz"):
                log.info(
                    "http.request",
                    method=scope["method"],
                    route=template,
                    status=status_holder["status"],
                    ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.clear_contextvars()


class RequestLimitMiddleware:
    """Refuses what no route could want before reading it all, as problem+json: a request head
    larger than ``max_header`` (431; httptools, uvicorn's fast parser, sets no limit of its own),
    and a body larger than the route could take (413) from ``Content-Length`` or as soon as a
    streamed body passes the limit. Uploads (multipart) may be somewhat more than a file may be,
    everything else ``http_max_body_bytes``."""

    def __init__(self, app, max_body: int, max_upload: int, max_header: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.max_header = max_header

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        head = sum(len(name) + len(value) for name, value in scope.get("headers", []))
        if head + len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > self.max_header:
            return await _refuse(
                send, 431, "headers_too_large", "请求头过大", "Request header fields too large", self.max_header
            )
        headers = dict(scope.get("headers", []))
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_upload if upload else self.max_body
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(send, 413, "body_too_large", "请求体过大", "Request body too large", limit)
        seen, refused = 0, False

        async def counted_receive():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    # Answer now and tell the route the client left: it stops reading.
                    refused = True
                    await _refuse(send, 413, "body_too_large", "请求体过大", "Request body too large", limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # after a refusal the route has nothing more to say
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _refuse(send, status: int, code: str, zh: str, en: str, limit: int) -> None:
    size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"
    body = transport_refusal(status, code, zh, en, size)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


EXPORT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def exports(*formats: str) -> dict[int | str, dict]:
    """``responses=`` of a route whose ``format`` parameter picks JSON, CSV or XLSX."""
    content = {EXPORT_TYPES[f]: {} if f == "json" else files.BINARY for f in formats}
    return {200: {"description": "按 format 参数: " + "、".join(formats), "content": content}}


def operations_router(runtime: ServiceRuntime, warnings: Callable[[], list[str]] | None) -> APIRouter:
    """``/healthz``, ``/readyz`` and ``/metrics``: what ops teams and their probes ask."""
    router = APIRouter(tags=["operations"])
    service = runtime.name
    readiness = runtime.readiness()

    @router.get("/healthz", summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get(
        "/readyz",
        summary="Database and broker reachable, workers running; lag and warnings as detail",
        responses={503: {"description": "a dependency is away", "content": {"application/json": {}}}},
    )
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        ready = True
        for name, check in readiness.items():
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:  # report every dependency, not just the first failure
                checks[name] = f"error: {exc}"
                ready = False
        body: dict = {"status": "ok" if ready else "unavailable", "checks": checks}
        # Degraded but serving: shown, not failing the probe.
        body["warnings"] = runtime.warnings() + (warnings() if warnings is not None else [])
        body["lag"] = runtime.lag()
        return JSONResponse(body, 200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: list[APIRouter],
    workers: bool = False,
    warnings: Callable[[], list[str]] | None = None,
) -> FastAPI:
    """A service's HTTP app: its routers, problem+json errors, request ids, metrics and probes.
    With ``workers`` the runtime's relay and consumers run in the app's lifespan too."""
    service = runtime.name
    # Swagger UI and ReDoc from files in the fastapi-offline package: intranets have no CDN.
    app = FastAPIOffline(
        title=title, description=description, version="0.1.0", lifespan=runtime.lifespan(workers=workers)
    )
    app.state.settings = runtime.settings
    app.state.runtime = runtime
    app.state.files = files.file_store(runtime.settings)  # attachments and issued documents
    tracing.instrument(app)
    install_problem_handlers(app)
    settings = runtime.settings
    # Uploads get room beyond a file's limit so the upload route itself refuses an oversized file
    # naming the field; only absurd bodies stop here.
    app.add_middleware(
        RequestLimitMiddleware,
        max_body=settings.http_max_body_bytes,
        max_upload=2 * settings.file_max_bytes + 1024 * 1024,
        max_header=settings.http_max_header_bytes,
    )
    app.add_middleware(RequestContextMiddleware, service=service)
    app.include_router(operations_router(runtime, warnings))
    for router in routers:
        app.include_router(router)

    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_refusals(generate())
        return app.openapi_schema

    app.openapi = openapi  # the documents declare every refusal (shared.problems.document_refusals)
    return app
