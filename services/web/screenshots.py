"""``make screenshots``: a picture of every page of the three audiences, in docs/screenshots/.

Starts its own ``xiaoer run`` on free ports in a temporary directory (nothing else running is
touched), puts a little demo data in through the public APIs (a bundle for 广州明珞 and its 浦东
subsidiary; a clerk signs for one item, asks for a 补正 on another, issues a certificate for a
third), then visits every GET page of the web service as the persona it is for, in Debian's
Chromium: phone size (375 × 667, full page) for the enterprise H5, desktop for the workbench and
the board. A page whose path needs an id gets one from the demo data; a page that answers
anything but HTML (a download, an htmx fragment) is skipped.

    python -m services.web.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.routing import APIRoute

from shared.auth import mint_token
from shared.settings import Settings
from shared.validation import make_uscc

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
MINGLUO = make_uscc("91440112MA59C5XK0")
MINGLUO_SH = make_uscc("91310115MA1H7A8K5")
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# Who looks at which part of the site, and on what screen.
AUDIENCES = {
    "enterprise": ("enterprise", PHONE),
    "clerk": ("staff:440112.tax.lead", DESKTOP),  # the unit's lead: a clerk's pages and the lead's own
    "messages": ("enterprise", PHONE),
    "board": ("staff:dudao.440112", DESKTOP),
    "admin": ("staff:admin", DESKTOP),
}


@dataclass
class Stack:
    urls: dict[str, str]  # intake, router, notifier, web
    settings: Settings

    def auth(self, role: str, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, role=role, **claims)}"}


def free_port() -> int:
    """A port nothing listens on: the one the system picks when asked to bind port 0."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_stack(timeout: float = 120) -> Iterator[Stack]:
    """``xiaoer run`` (embedded broker, SQLite, demo seed) on free 127.0.0.1 ports, stopped after."""
    with tempfile.TemporaryDirectory(prefix="xiaoer-pages-") as var_name:
        var = Path(var_name)
        ports = {name: free_port() for name in ("intake", "router", "notifier", "web")}
        env = {
            **os.environ,
            "XIAOER_ENV": "development",
            "XIAOER_VAR_DIR": str(var),
            "XIAOER_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            **{f"XIAOER_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        env = {k: v for k, v in env.items() if not k.endswith("_DATABASE_URL")}  # embedded defaults
        log_path = var / "stack.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "run"],
                cwd=var,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
            _wait_ready(process, urls, log_path, timeout)
            yield Stack(urls, Settings(var_dir=var))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _wait_ready(process: subprocess.Popen, urls: dict[str, str], log: Path, timeout: float) -> None:
    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"xiaoer run exited: {log.read_text()[-2000:]}")
        for name, url in list(pending.items()):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    del pending[name]
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"not ready within {timeout} s: {sorted(pending)}; {log.read_text()[-2000:]}")


async def _eventually(check):
    async with asyncio.timeout(30):  # the demo data settles in a second or two
        for _attempt in iter(int, 1):  # until found (the timeout ends a hopeless wait)
            if found := await check():
                return found
            await asyncio.sleep(0.3)


DEMO_BUNDLE = {
    "type": "compliance_certificate",
    "enterprise": {"uscc": MINGLUO, "name": "广州明珞装备股份有限公司", "region_code": "440112"},
    "subjects": [{"uscc": MINGLUO_SH, "name": "明珞（上海）智能装备有限公司", "region_code": "310115"}],
    # public_security: covered by 广东's 专项信用报告 (信用代证), so the page shows its upload slot.
    "items": ["tax", "market_regulation", "human_resources", "public_security"],
    "certificate_anyway": ["tax", "market_regulation", "human_resources"],
    "period_months": 36,
    "purpose": "ipo",
    "description": "上市申报所需无违法违规证明",
    "contact": {"name": "张三", "mobile": "13800138000"},
}

DEMO_RELATION = {
    "parent_name": "广州明珞装备股份有限公司",
    "parent_region": "440112",
    "subject_name": "明珞（上海）智能装备有限公司",
    "subject_region": "310115",
}


async def demo_data(stack: Stack) -> dict[str, str]:
    """A bundle for 广州明珞 and its subsidiary, worked a little by the clerks: the ids pages need."""
    company = stack.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise", name="广州明珞装备股份有限公司")
    async with httpx.AsyncClient(timeout=30) as http:
        intake, router = stack.urls["intake"], stack.urls["router"]
        # The group registry knows the subsidiary (otherwise it needs its 授权委托书).
        admin = stack.auth("admin", sub="screenshots-admin")
        url = f"{intake}/v1/relations/{MINGLUO}/{MINGLUO_SH}"
        (await http.put(url, json=DEMO_RELATION, headers=admin)).raise_for_status()
        created = (
            (await http.post(f"{intake}/v1/requests", json=DEMO_BUNDLE, headers=company)).raise_for_status().json()
        )

        async def routed():
            found = (await http.get(f"{intake}/v1/requests/{created['id']}", headers=company)).json()
            items = found["work_items"]
            departments = [i for i in items if i["item"] != "public_security"]
            return items if len(departments) == 6 and all(i["due_at"] for i in departments) else None

        items = {(i["subject_uscc"], i["item"]): i for i in await _eventually(routed)}

        async def move(item, action, **fields):
            clerk = stack.auth("department", unit=item["unit_code"], sub=f"staff:{item['unit_code']}")
            url = f"{router}/v1/workitems/{item['id']}/{action}"
            return (await http.post(url, json=fields, headers=clerk)).raise_for_status().json()

        tax = items[(MINGLUO, "tax")]
        await move(tax, "acknowledge")
        market = items[(MINGLUO, "market_regulation")]
        await move(market, "acknowledge")
        await move(market, "request-supplement", note="请补充近三年营业执照副本")
        people = items[(MINGLUO, "human_resources")]
        await move(people, "acknowledge")
        clerk = stack.auth("department", unit=people["unit_code"], sub=f"staff:{people['unit_code']}")
        upload = await http.post(
            f"{router}/v1/workitems/{people['id']}/files",
            files={"file": ("证明.pdf", PDF, "application/pdf")},
            headers=clerk,
        )
        await move(
            people, "resolve", outcome="issued", document_no="穗黄人社证〔2026〕8号", attachments=[upload.json()["id"]]
        )
        return {
            "request_id": created["id"],
            "item_id": tax["id"],
            "work_item_id": tax["id"],
            "unit_code": tax["unit_code"],
        }


def page_paths(ids: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Every GET page of the web service per audience, as (name, path) with its ids filled in."""
    from services.web import admin, board, clerk, enterprise, messages, reply_templates, workbench

    found: dict[str, list[tuple[str, str]]] = {audience: [] for audience in AUDIENCES}
    modules = (enterprise, clerk, workbench, reply_templates, board, admin, messages)
    for route in [route for module in modules for route in module.router.routes]:
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        audience = route.path.strip("/").split("/")[0]
        if audience not in found:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)  # {item_id}, {message_id:int}
        if any(n not in ids for n in names):
            continue  # an id the demo data has none of (a file, say)
        path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: ids[m.group(1)], route.path)
        slug = re.sub(r"[^a-z0-9]+", "-", route.path.lower()).strip("-") or audience
        found[audience].append((re.sub(r"-?(request|item|work)-?id", "", slug).strip("-"), path))
    return found


async def take(stack: Stack, out: Path) -> list[Path]:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    ids = await demo_data(stack)
    written: list[Path] = []
    web = stack.urls["web"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            context = await browser.new_context(viewport=PHONE, locale="zh-CN", base_url=web)
            page = await context.new_page()
            for name, path in (("signin", "/"), ("demo", "/demo")):
                await page.goto(path)
                written.append(out / f"{name}.png")
                await page.screenshot(path=written[-1], full_page=True)
            await context.close()
            for audience, paths in page_paths(ids).items():
                persona, viewport = AUDIENCES[audience]
                context = await browser.new_context(viewport=viewport, locale="zh-CN", base_url=web)
                page = await context.new_page()
                await page.goto("/demo")
                await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                async with page.expect_navigation():
                    await page.locator(f'button[name="persona"][value="{persona}"]').click()
                for name, path in paths:
                    try:
                        response = await page.goto(path)
                    except PlaywrightError:  # a download (the ledger, an export) is no page
                        continue
                    html = response is not None and "text/html" in (response.headers.get("content-type") or "")
                    if not html or response.status != 200 or not await page.locator("main").count():
                        continue  # a download, a fragment, or a page needing more than the demo data
                    written.append(out / f"{name}.png")
                    await page.screenshot(path=written[-1], full_page=True)
                await context.close()
        finally:
            await browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_stack() as stack:
        for path in asyncio.run(take(stack, args.out)):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
