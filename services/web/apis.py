"""The three services' public HTTP APIs, called with the signed-in person's token.

Pages never read another service's database: they ask its API, as any client would, so the
API's own scope checks decide what a person sees. A refusal (problem+json) becomes an
:class:`ApiError` a page can show: its ``message`` at the top, ``fields`` beside the inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import structlog
from fastapi import Depends, Request, Response

from shared.settings import Service

from .i18n import _, current
from .session import signed_in

log = structlog.get_logger(__name__)
SAFE_METHODS = ("GET", "HEAD")


@dataclass
class ApiError(Exception):
    """An API said no, or did not answer. ``fields`` maps a field's dotted path as the API names
    it (``subjects.0.uscc``) to its message, already in the page's language."""

    status: int
    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def field(self, name: str) -> str | None:
        return self.fields.get(name)


def _refusal(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "title" not in body:
        # Not problem+json: a proxy's error page, say. Say what a person can do, not what broke.
        return ApiError(response.status_code, "http_error", _("服务暂时不可用，请稍后再试"))
    fields = {e.get("field", ""): e.get("message", "") for e in body.get("errors", []) if isinstance(e, dict)}
    return ApiError(response.status_code, body.get("code", "http_error"), body["title"], fields)


class ServiceClient:
    """Calls intake, router and notifier for one page, as the signed-in person (their token) and in
    the page's language."""

    def __init__(self, http: httpx.AsyncClient, base_urls: dict[str, str], token: str | None) -> None:
        self._http = http
        self._base_urls = base_urls
        self._token = token

    async def call(self, service: Service, method: str, path: str, **kwargs) -> httpx.Response:
        """The raw response of a successful call (2xx); any other answer raises :class:`ApiError`.
        Use for downloads (``response.content``, its headers); :meth:`get`/:meth:`post` for JSON."""
        headers = {"Accept-Language": current(), **kwargs.pop("headers", {})}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        url = self._base_urls[service] + path
        try:
            try:
                response = await self._http.request(method, url, headers=headers, **kwargs)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if method not in SAFE_METHODS:
                    raise
                # A kept-alive connection the API closed as it was reused (its idle timeout): a
                # read may be asked again, on a fresh connection. A write is not repeated blindly.
                response = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("web.api_unreachable", service=service, path=path, error=f"{type(exc).__name__}: {exc}")
            raise ApiError(503, "unavailable", _("服务暂时不可用，请稍后再试")) from exc
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    async def get(self, service: Service, path: str, params: dict | None = None) -> Any:
        return (await self.call(service, "GET", path, params=params)).json()

    async def post(self, service: Service, path: str, **kwargs) -> Any:
        """``json=``, or ``data=`` and ``files=`` for uploads; ``headers=`` e.g. Idempotency-Key."""
        response = await self.call(service, "POST", path, **kwargs)
        return response.json() if response.content else None

    async def put(self, service: Service, path: str, **kwargs) -> Any:
        response = await self.call(service, "PUT", path, **kwargs)
        return response.json() if response.content else None


def download(upstream: httpx.Response) -> Response:
    """A file an API served (an attachment, a certificate, a ledger export), passed on to the
    browser, which holds no token to fetch it itself: ``return download(await api.call(...))``."""
    headers = {name: upstream.headers[name] for name in ("content-disposition",) if name in upstream.headers}
    headers["Cache-Control"] = "private, no-store"  # personal documents: never in a shared cache
    media_type = upstream.headers.get("content-type", "application/octet-stream")
    return Response(upstream.content, media_type=media_type, headers=headers)


def _service_client(request: Request) -> ServiceClient:
    viewer = signed_in(request)
    state = request.app.state
    return ServiceClient(state.http, state.api_urls, viewer.token if viewer else None)


# The services as one page calls them: ``async def page(api: Services): await api.get("intake", "/v1/requests")``.
Services = Annotated[ServiceClient, Depends(_service_client)]
