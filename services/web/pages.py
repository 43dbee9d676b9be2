"""Rendering: the Jinja2 environment every page shares (translations, filters, ``asset()``,
the CSRF token), the navigation each role sees, and the error pages — a person always gets a
page saying what happened and what to do, never a stack trace."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from shared import regions
from shared.clock import SHANGHAI
from shared.logging import mask_mobile, mask_name

from . import i18n, labels
from .assets import Assets
from .session import PageRole, signed_in, take_flashes

log = structlog.get_logger(__name__)
TEMPLATES_DIR = Path(__file__).parent / "templates"
ELDER_COOKIE = "elder"  # 长辈版: larger text, higher contrast (适老化)
# htmx under the Content-Security-Policy: no eval, no script tags or indicator styles of its own,
# no copies of pages in localStorage (personal data); a 304 (a live region unchanged) and a 401
# (sign in again: the answer's HX-Redirect takes the whole page) swap nothing.
HTMX_CONFIG = {
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    "historyCacheSize": 0,
    "selfRequestsOnly": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "304", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": False, "error": True},
        {"code": "...", "swap": False},
    ],
}


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation: ``label`` is a msgid (mark it with ``N_``)."""

    label: str
    href: str
    roles: tuple[PageRole, ...]


def shanghai_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Any instant (aware datetime, or ISO 8601 text as the APIs send it) in Asia/Shanghai."""
    if value in (None, ""):
        return "—"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        raise ValueError(f"a naive time cannot be shown in Asia/Shanghai: {value!r}")
    return instant.astimezone(SHANGHAI).strftime(fmt)


def build_environment(assets: Assets) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,  # a misspelt variable fails the page's test, not silently blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.filters.update(shanghai=shanghai_time, mask_mobile=mask_mobile, mask_name=mask_name, live_etag=live_etag)
    env.globals.update(
        asset=assets.url,
        region_name=regions.full_name,
        **labels.TEMPLATE_GLOBALS,
    )
    return env


def _page_context(request: Request) -> dict[str, Any]:
    """What every template may use, beside what its route passes."""
    viewer = signed_in(request)
    locale = i18n.current()
    nav = [item for item in request.app.state.nav if viewer and viewer.role in item.roles]
    # The entry a page belongs to: the longest address it lies under (/clerk/templates, not /clerk/).
    under = [item.href for item in nav if request.url.path.startswith(item.href)]
    # Set by asgi-csrf; absent only on the 500 page, rendered outside every middleware.
    csrf = request.scope.get("csrftoken") or (lambda: "")
    return {
        "viewer": viewer,
        "locale": locale,
        "html_lang": i18n.HTML_LANG[locale],
        "elder": request.cookies.get(ELDER_COOKIE) == "1",
        "nav": nav,
        "nav_current": max(under, key=len, default=None),
        "flashes": lambda: take_flashes(request),  # taken by the page that shows them, not by a fragment
        "csrf_token": csrf,
        "csrf_field": lambda: Markup('<input type="hidden" name="csrftoken" value="%s">') % escape(csrf()),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "dev": request.app.state.settings.env == "development",
        "htmx_config": HTMX_CONFIG,
        "live_seconds": request.app.state.settings.web_live_refresh_seconds,
    }


def make_templates(assets: Assets) -> Jinja2Templates:
    return Jinja2Templates(env=build_environment(assets), context_processors=[_page_context])


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200):
    """A page: ``return render(request, "clerk/queue.html", {"items": items})``."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context or {}, status_code=status_code)


def live_etag(content: str | bytes) -> str:
    """The ETag of a live region's content. The whole page carries it on the region too
    (``data-etag="{{ region|live_etag }}"``), so the first poll of an unchanged page is a 304
    and nothing is redrawn under the person's hand."""
    body = content.encode() if isinstance(content, str) else content
    return f'"{hashlib.sha256(body).hexdigest()[:20]}"'


def render_live(request: Request, template: str, context: dict[str, Any]) -> Response:
    """A live region's content (an htmx poll, see static/js/app.js) with an ETag of what it
    shows: asked again with that ETag while nothing changed, it is a 304 with no body."""
    response = render(request, template, context)
    tag = live_etag(response.body)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def is_live_poll(request: Request, region: str) -> bool:
    """An htmx call for the live region ``region`` (its id), which gets only that region's content."""
    return bool(request.headers.get("HX-Request")) and request.headers.get("HX-Target") == region


def error_page(request: Request, status: int, title: str, detail: str | None = None) -> HTMLResponse:
    """The page for anything that went wrong: what happened, and the way back."""
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status_code=status)
