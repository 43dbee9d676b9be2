"""The pages' foundation in a real Chromium at 375 × 667: one page per audience renders real data
from the running system (intake's requests, the router's queue, the notifier's overdue list)
with no serious or critical accessibility violation; the 中/EN and 长辈版 toggles; hashed
assets served immutable; and the checks that keep the English catalogue and the status names
in step with the code."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from playwright.async_api import expect

from services.web import i18n, pages, vendor_assets
from services.web.assets import Assets
from tests.support import MINGLUO, certificate_request, eventually, long_overdue_dispatch, publish_item_event
from tests.support.web import assert_accessible, assert_fits_phone, card_in_list, new_page, sign_in_as

WEB_DIR = Path(pages.__file__).parent


async def test_an_enterprise_sees_its_requests(system, web, page):
    submitted = await system.intake.post(
        "/v1/requests", json=certificate_request(items=("tax",)), headers=system.auth("enterprise", usccs=[MINGLUO])
    )
    assert submitted.status_code == 201, submitted.text
    reference = submitted.json()["reference_no"]

    await sign_in_as(page, "enterprise")
    await expect(page.get_by_role("heading", name="我的诉求", exact=True)).to_be_visible()
    card = await card_in_list(page, reference)
    await expect(card).to_contain_text("守法证明")
    await expect(card).to_contain_text("广州明珞装备股份有限公司")
    await expect(page.get_by_role("link", name="我的诉求")).to_have_attribute("aria-current", "page")
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_a_clerk_sees_the_units_queue(system, web, page):
    # A unit no other test sends work to, so the item is on the queue's first page.
    submitted = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=("water_affairs",)),
        headers=system.auth("enterprise", usccs=[MINGLUO]),
    )
    assert submitted.status_code == 201, submitted.text
    reference = submitted.json()["reference_no"]
    clerk = system.auth("department", unit="440112.water_affairs")

    async def routed():
        queue = (await system.router.get("/v1/workitems", params={"limit": 500}, headers=clerk)).json()
        return [item for item in queue if item["reference_no"] == reference]

    await eventually(routed)

    await sign_in_as(page, "staff:440112.water_affairs")
    assert page.url == web.url + "/clerk/"
    row = page.get_by_role("row").filter(has_text=reference)
    await expect(row).to_contain_text("水务局")
    await expect(row).to_contain_text("待签收")
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_a_supervisor_sees_what_is_overdue(system, web, page, producer):
    reference = f"XE-WEB-{uuid.uuid4().hex[:8]}"
    dispatched = long_overdue_dispatch(reference, "tax", "440112.tax", "广州市黄埔区税务局")
    await publish_item_event(producer, dispatched)
    supervisor = system.auth("supervisor", region="440112")

    async def overdue():
        rows = (await system.notifier.get("/v1/overdue", headers=supervisor)).json()
        return any(row["reference_no"] == reference for row in rows)

    await eventually(overdue)

    await sign_in_as(page, "staff:dudao.440112")
    assert page.url == web.url + "/board/"
    row = page.get_by_role("row").filter(has_text=reference)
    await expect(row).to_contain_text("广州市黄埔区税务局")
    await expect(row).to_contain_text("待签收")
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_the_language_toggle_and_accept_language_switch_to_english(browser, web, page):
    await page.goto("/")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    async with page.expect_navigation():
        await page.get_by_role("button", name="Switch to English").click()
    assert await page.get_attribute("html", "lang") == "en"
    await expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    await assert_accessible(page)
    async with page.expect_navigation():
        await page.get_by_role("button", name="切换到中文").click()
    await expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()

    english = await new_page(browser, web, locale="en-US")  # the browser's Accept-Language, no toggle
    try:
        await english.goto("/")
        assert await english.get_attribute("html", "lang") == "en"
        await expect(english.get_by_label("Password")).to_be_visible()
    finally:
        await english.context.close()


async def test_the_elder_toggle_enlarges_text_and_is_remembered(web, page):
    await sign_in_as(page, "enterprise")
    normal = await page.evaluate("getComputedStyle(document.documentElement).fontSize")
    toggle = page.get_by_role("button", name="长辈版")
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    async with page.expect_navigation():
        await toggle.click()
    assert page.url == web.url + "/enterprise/", "the toggle returns to the page it was pressed on"
    assert "elder" in (await page.get_attribute("html", "class") or "")
    large = await page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert float(large.removesuffix("px")) > float(normal.removesuffix("px"))
    await expect(page.get_by_role("button", name="长辈版")).to_have_attribute("aria-pressed", "true")
    await assert_accessible(page)  # high contrast holds in the large-text mode too

    await page.goto("/")  # another page: the preference stays
    assert "elder" in (await page.get_attribute("html", "class") or "")


async def test_assets_have_hashed_names_and_are_served_immutable(web, page):
    await page.goto("/")
    urls = await page.eval_on_selector_all(
        "link[rel=stylesheet], script[src]", "els => els.map(e => e.getAttribute('href') || e.getAttribute('src'))"
    )
    assert any("/vendor/htmx.2.0." in url for url in urls), f"htmx 2.0.x is pinned: {urls}"
    for url in urls:
        digest = re.search(r"\.([0-9a-f]{8})\.(?:min\.js|js|css|ico|png)$", url)
        assert digest, f"{url} carries its content's hash"
        response = await page.request.get(url)
        assert response.status == 200
        assert "immutable" in response.headers["cache-control"]
        assert hashlib.sha256(await response.body()).hexdigest()[:8] == digest.group(1)
    for unhashed in ("/static/css/app.css", "/static/vendor/manifest.json", "/static/../main.py"):
        assert (await page.request.get(unhashed)).status == 404, unhashed
    assert vendor_assets.check() == [], "the vendored files match the manifest"
    assert set(Assets().urls) >= {"htmx.min.js", "alpine-csp.min.js", "echarts.min.js", "css/app.css"}


def test_every_message_has_its_english_translation():
    """Run ``make i18n`` and translate the new entries of locale/en/LC_MESSAGES/messages.po."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            WEB_DIR, method_map, options_map=options, keywords=keywords
        )
    }
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    assert found - translated == set(), "messages without an English translation"


def test_times_are_shown_in_shanghai_and_personal_data_masked():
    environment = pages.build_environment(Assets())
    rendered = environment.from_string("{{ when | shanghai }} {{ mobile | mask_mobile }}").render(
        when="2026-01-31T17:30:00+00:00", mobile="13800138000"
    )
    assert rendered == "2026-02-01 01:30 138****8000"
    with pytest.raises(ValueError):
        pages.shanghai_time(datetime(2026, 1, 1))  # a naive time has no place to be shown in


async def test_the_pages_refuse_huge_request_heads_like_the_apis(web):
    async with httpx.AsyncClient(base_url=web.url) as client:
        refused = await client.get("/readyz", headers={"X-Padding": "x" * 200_000})
        assert refused.status_code == 431
        assert refused.headers["content-type"] == "application/problem+json"
        assert "请求头过大" in refused.json()["title"]
        assert (await client.get("/readyz")).status_code == 200
