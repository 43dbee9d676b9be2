"""Fixtures and helpers for the pages' browser tests (tests/web/); loaded by
tests/conftest.py as a plugin.

A browser needs real HTTP: the three APIs of the session's ``system`` (the same runtimes, so
the same consumers and databases) and the web service are served by uvicorn on free
127.0.0.1 ports in the session's event loop, and Debian's Chromium is driven by Playwright's
async API in that loop too. The web service has its own database (SQLite, or PostgreSQL with
``XIAOER_TEST_DATABASE=postgres``) holding the demo staff accounts.

    async def test_something(web, page):             # page: a phone (375 × 667), Chinese
        await sign_in_as(page, "staff:440112.tax")   # a demo persona (see services/web/demo.py)
        await page.goto(web.url + "/clerk/")
        await expect(page.get_by_role("heading", name="工作台")).to_be_visible()
        await assert_accessible(page)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from base64 import b64decode, b64encode
from dataclasses import dataclass
from datetime import datetime

import itsdangerous
import jwt
import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from services.intake import main as intake_main
from services.notifier import main as notifier_main
from services.router import main as router_main
from services.router import registry
from services.web import accounts, demo
from services.web import main as web_main
from services.web.settings import WebSettings
from tests.support import MINGLUO, certificate_request, eventually, make_databases

CHROMIUM = "/usr/bin/chromium"  # Debian's package: no browser download
# A page's assertion waits up to 15 s (Playwright's default: 5) for what it expects: `make test` runs
# the SQLite and PostgreSQL passes side by side on two cores, so an answer can take a while; what
# never comes still fails.
expect.set_options(timeout=15_000)
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
API_BUILDERS = {"intake": intake_main, "router": router_main, "notifier": notifier_main}


class _Server(uvicorn.Server):
    """uvicorn inside the test session's loop: pytest keeps its own signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve(app, *, lifespan: str = "off") -> tuple[str, _Server, asyncio.Task]:
    """Serves ``app`` on a free 127.0.0.1 port (bound here, so no other process can take it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, lifespan=lifespan, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started or task.done(), timeout=30)
    if task.done():
        task.result()  # raises what stopped it
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task


@dataclass
class WebStack:
    url: str  # the pages
    api_urls: dict[str, str]
    settings: WebSettings
    runtime: web_main.WebRuntime

    async def account(self, username: str) -> accounts.StaffAccount | None:
        async with self.runtime.sessions() as session:
            return await session.get(accounts.StaffAccount, username)

    async def add_staff(self, password: str, **fields) -> accounts.StaffAccount:
        """A staff account, as ``xiaoer user add`` makes it (role, display_name, unit_code …)."""
        async with self.runtime.sessions() as session, session.begin():
            return await accounts.create(session, password=password, **fields)


LIVE_SECONDS = 2  # live pages ask for changes this often in tests (20 s by default)


def web_settings(system, var_dir, database_url: str, api_urls: dict[str, str], **extra) -> WebSettings:
    fields = dict(
        _env_file=None,
        env="development",
        var_dir=var_dir,
        jwt_secret=system.settings.jwt_secret.get_secret_value(),  # the APIs' key: their tokens
        log_json=False,
        web_database_url=database_url,
        web_live_refresh_seconds=LIVE_SECONDS,
        **{f"{name}_public_url": url for name, url in api_urls.items()},
    )
    return web_main.load_settings(**{**fields, **extra})


@pytest.fixture(scope="session")
async def web(system, tmp_path_factory):
    """The three APIs and the pages on real HTTP; the demo staff accounts seeded."""
    servers = []
    api_urls = {}
    for name, builder in API_BUILDERS.items():
        # A second app over the session's runtime (lifespan off: the system fixture owns the workers).
        url, server, task = await serve(builder.build_app(system.runtimes[name]))
        api_urls[name] = url
        servers.append((server, task))
    var_dir = tmp_path_factory.mktemp("web")
    databases = await make_databases(var_dir, ["web"])
    settings = web_settings(system, var_dir, databases.urls["web"], api_urls)
    runtime = web_main.build_runtime(settings)
    await runtime.migrate()
    async with runtime.sessions() as session, session.begin():
        await accounts.seed_demo(session, demo.demo_accounts(registry.demo_registry()), demo.DEMO_PASSWORD)
    url, server, task = await serve(web_main.build_app(runtime), lifespan="on")
    servers.append((server, task))
    yield WebStack(url, api_urls, settings, runtime)
    for server, task in reversed(servers):
        server.should_exit = True
        await task
    for cleanup in databases.cleanup:
        await cleanup()


@pytest.fixture(scope="session")
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        await chromium.close()


async def new_page(browser: Browser, web: WebStack, *, viewport=PHONE, locale: str = "zh-CN") -> Page:
    """A page in a fresh browser context (its own cookies: a new person)."""
    context = await browser.new_context(viewport=viewport, locale=locale, base_url=web.url)
    return await context.new_page()


def watch_csp(page: Page) -> list[str]:
    """What the page's Content-Security-Policy blocked (Chromium reports each on the console)."""
    blocked: list[str] = []

    def seen(message) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", seen)
    return blocked


@pytest.fixture
async def page(browser, web):
    """A phone-sized page (375 × 667) in Chinese, signed in as nobody. Whatever the test does on
    it, the Content-Security-Policy blocked nothing (the pages work under it)."""
    opened = await new_page(browser, web)
    blocked = watch_csp(opened)
    yield opened
    await opened.context.close()
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked}"


async def sign_in_as(page: Page, persona: str) -> None:
    """Demo sign-in: ``enterprise``, ``liaison``, or ``staff:<username>`` (a unit code such as
    ``440112.tax``, ``440112.coordinator``, ``dudao.440112``, ``admin``)."""
    await page.goto("/demo")
    await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # other regions
    async with page.expect_navigation():
        await page.locator(f'button[name="persona"][value="{persona}"]').click()


async def card_in_list(page: Page, text: str, pages: int = 30):
    """The enterprise list's card holding ``text``, following 更多 as a person would: requests
    waiting for the enterprise come first (issue 25, row 5), and the session's other tests leave
    many of 广州明珞's requests 待评价, so a new one may stand on a later page."""
    for _ in range(pages):
        card = page.locator("li.card", has_text=text)
        if await card.count():
            return card
        more = page.get_by_role("link", name="更多")
        if not await more.count():
            break
        async with page.expect_navigation():
            await more.click()
    raise AssertionError(f"no card with {text!r} in the list")


async def sign_in_again_as(page: Page, persona: str) -> None:
    """From the sign-in page a page sent the person to (``?next=``): the demo sign-in, which goes
    back to that page."""
    async with page.expect_navigation():
        await page.get_by_role("link", name="以演示角色登录").click()
    await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    async with page.expect_navigation():
        await page.locator(f'button[name="persona"][value="{persona}"]').click()


SESSION_COOKIE = "xiaoer_session"


async def expire_session(page: Page, web: WebStack) -> None:
    """The signed-in person's token runs out now, as it does after ``XIAOER_JWT_TTL_SECONDS``: the
    session cookie is signed again as the web service signs it, with the same claims and an
    expiry a minute ago (no waiting for a clock)."""
    context = page.context
    cookie = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)
    signer = itsdangerous.TimestampSigner(web.settings.derived_secret("session"))
    data = json.loads(b64decode(signer.unsign(cookie["value"].encode())))
    claims = jwt.decode(data["viewer"]["token"], options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 60
    data["viewer"]["token"] = jwt.encode(claims, web.settings.signing_key, algorithm="HS256")
    value = signer.sign(b64encode(json.dumps(data).encode())).decode()
    keep = ("name", "domain", "path", "expires", "httpOnly", "secure", "sameSite")
    await context.add_cookies([{**{k: cookie[k] for k in keep}, "value": value}])


async def sign_in_with_password(page: Page, username: str, password: str) -> None:
    await page.goto("/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="登录", exact=True).click()


async def assert_accessible(page: Page) -> None:
    """axe-core (bundled with axe-playwright-python, offline) finds no serious or critical violation."""
    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    described = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in bad]
    assert not bad, f"{page.url}: " + "; ".join(described)


async def assert_fits_phone(page: Page) -> None:
    """Nothing makes the page wider than the phone (wide tables scroll inside their own box)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


async def related(system, subject_uscc: str, subject_name: str, subject_region: str, parent: str = MINGLUO) -> None:
    """The enterprise-group registry says ``parent`` (广州明珞) may ask about the subsidiary: its
    requests name it without a 授权委托书 (as an admin keeps the registry, through intake's API)."""
    response = await system.intake.put(
        f"/v1/relations/{parent}/{subject_uscc}",
        json={
            "parent_name": "广州明珞装备股份有限公司",
            "parent_region": parent[2:8],
            "subject_name": subject_name,
            "subject_region": subject_region,
        },
        headers=system.auth("admin", sub="pages-group-registry"),
    )
    assert response.status_code == 200, response.text


QUIET_UNIT = "440112.water_affairs"  # few other tests send work here: a short queue


async def submit_for(system, kind: str = "water_affairs", unit: str = QUIET_UNIT) -> dict:
    """A request routed to ``unit``; returns its work item there (once the router has it)."""
    submitted = await system.intake.post(
        "/v1/requests", json=certificate_request(items=(kind,)), headers=system.auth("enterprise", usccs=[MINGLUO])
    )
    assert submitted.status_code == 201, submitted.text
    reference = submitted.json()["reference_no"]
    clerk = system.auth("department", unit=unit)

    async def routed():
        found = await system.router.get("/v1/workitems", params={"q": reference}, headers=clerk)
        return found.json()[0] if found.status_code == 200 and found.json() else None

    return await eventually(routed)


async def due_known(system, item: dict) -> datetime:
    """The deadline that counts now for a new item (签收's; ``item`` as ``submit_for`` returns it),
    once the notifier has told the router: a queue ordered by deadline stays as it was drawn."""
    clerk = system.auth("department", unit=item["unit_code"])

    async def known():
        found = (await system.router.get(f"/v1/workitems/{item['id']}", headers=clerk)).json()
        return found["acknowledge_due_at"]

    return datetime.fromisoformat(await eventually(known))
