"""The H5 budget (issue 11, kept by issue 25): the enterprise's request page — the heaviest H5 page,
with its live region, forms and uploads — transfers at most 60 KB of JavaScript and CSS with gzip,
counted as bench/pages.py counts it (the bytes on the wire of every script and style sheet the page
names). A size, not a speed: the render times stay in bench/."""

from __future__ import annotations

import re

import httpx

from tests.support import MINGLUO, certificate_request
from tests.support.web import sign_in_as

BUDGET_KB = 60


async def test_the_h5_request_page_stays_within_60_kb_of_scripts_and_styles(system, web, page):
    created = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=("tax", "statistics")),
        headers=system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise"),
    )
    assert created.status_code == 201, created.text
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{created.json()['id']}")
    html = await page.content()
    assets = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(
        r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html
    )
    assert any("alpine-csp" in a for a in assets) and any("htmx" in a for a in assets)
    wire = 0
    async with httpx.AsyncClient(base_url=web.url, headers={"Accept-Encoding": "gzip"}) as client:
        for url in assets:
            async with client.stream("GET", url) as response:
                assert response.status_code == 200, url
                await response.aread()
                wire += response.num_bytes_downloaded
    assert wire <= BUDGET_KB * 1024, f"{wire / 1024:.1f} KB of JS + CSS: {assets}"
