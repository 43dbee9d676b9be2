"""Issue 25, row 11 on the pages: English mode names everything a person reads in English (states,
outcomes, file purposes, the 专项信用报告's notes, countdowns, headings, labels, buttons); units by
their names, never by code (440112.tax); no internal jargon (a notification's channel "topic" is
the 消息总线); a favicon, so no page asks for something that is not there."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support import MINGLUO, PDF_BYTES, certificate_request, eventually
from tests.support.web import DESKTOP, QUIET_UNIT, new_page, sign_in_as, submit_for

CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e]")
UNIT_CODE = re.compile(r"\b\d{6}\.[a-z_]+")
# What a page itself says (not what people typed or named): it must be English in English mode.
CHROME = "h1, h2, label, button, th[scope=col], caption, legend, nav a, .status, .countdown, .deadline, .label, dt"


async def chinese_in_chrome(page) -> list[str]:
    # (The 中 toggle is Chinese on purpose: it says lang="zh-CN".)
    texts = await page.locator(f"main :is({CHROME}), header :is({CHROME}):not([lang])").all_inner_texts()
    data = await page.locator(".ref, [data-name]").all_inner_texts()  # numbers and names shown as they are
    return [t for t in texts if CJK.search(t) and not any(d and d in t for d in data)]


async def test_english_mode_on_the_pages_of_a_worked_request(system, web, browser, producer):
    owner = system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")
    created = await system.intake.post("/v1/requests", json=certificate_request(items=("transport",)), headers=owner)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]

    async def routed():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
        return body["work_items"][0] if body["work_items"] and body["work_items"][0]["due_at"] else None

    item = await eventually(routed)
    clerk = system.auth("department", unit=item["unit_code"])
    await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    upload = await system.router.post(
        f"/v1/workitems/{item['id']}/files", files={"file": ("证明.pdf", PDF_BYTES, "application/pdf")}, headers=clerk
    )
    await system.router.post(
        f"/v1/workitems/{item['id']}/resolve",
        json={
            "outcome": "issued",
            "document_no": f"HPJT-{uuid.uuid4().hex[:4]}",
            "attachments": [upload.json()["id"]],
        },
        headers=clerk,
    )

    async def issued():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
        return any(f["purpose"] == "issued" for f in body["files"])

    await eventually(issued)
    enterprise = await new_page(browser, web, locale="en-US")
    try:
        await sign_in_as(enterprise, "enterprise")
        await enterprise.goto(f"/enterprise/requests/{request_id}")
        row = enterprise.locator(f"#item-{item['id']}")
        await expect(row.locator(".status")).to_have_text("Resolved")
        await expect(row).to_contain_text("Certificate issued")
        await expect(row.get_by_role("link", name=re.compile("Download Issued document")).first).to_be_visible()
        assert await chinese_in_chrome(enterprise) == []
        # The timeline in English: intake's lines, names (of units) as they are.
        timeline = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()["timeline"]
        lines = [e for e in timeline if e["work_item_id"] == item["id"]]
        shown = await row.locator(".events li").all_inner_texts()
        assert len(shown) == len(lines) >= 3
        for entry, text in zip(lines, shown, strict=True):
            assert text.endswith(entry["summary_en"]), (text, entry)
            assert not CJK.search(text.replace(item["unit_name"], "").replace(item["subject_name"], "")), text
        await expect(row.locator(".events")).to_contain_text("resolved it: Certificate issued")
        for path in ("/enterprise/", "/enterprise/new"):
            await enterprise.goto(path)
            assert await chinese_in_chrome(enterprise) == [], path
    finally:
        await enterprise.context.close()

    staff = await new_page(browser, web, viewport=DESKTOP, locale="en-US")
    try:
        await sign_in_as(staff, f"staff:{item['unit_code']}")
        for path in ("/clerk/", f"/clerk/items/{item['id']}", "/clerk/?tab=done"):
            await staff.goto(path)
            assert await chinese_in_chrome(staff) == [], path
            assert not UNIT_CODE.search(await staff.locator("main").inner_text()), path
    finally:
        await staff.context.close()


async def test_units_by_name_no_jargon_and_a_favicon(system, web, browser, producer):
    item = await submit_for(system)
    clerk = system.auth("department", unit=QUIET_UNIT)
    await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    asked = await system.router.post(
        f"/v1/workitems/{item['id']}/extension", json={"days": 2, "reason": "需现场核查"}, headers=clerk
    )
    assert asked.status_code == 200, asked.text
    supervisor = await new_page(browser, web, viewport=DESKTOP)
    missing = []
    supervisor.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        await sign_in_as(supervisor, "staff:dudao.440112")
        for path in ("/board/", "/board/extensions", f"/board/items/{item['id']}", f"/board/units/{QUIET_UNIT}"):
            await supervisor.goto(path)
            await supervisor.wait_for_load_state("networkidle")
            text = await supervisor.locator("main").inner_text()
            assert not UNIT_CODE.search(text), f"{path}: {UNIT_CODE.search(text).group(0)}"
        # News of the item in its 通知记录 is named in words, never by the event's type.
        dudao = system.auth("supervisor", region="440112")

        async def news_of_the_item():
            found = await system.notifier.get("/v1/notifications", params={"work_item_id": item["id"]}, headers=dudao)
            return [n for n in found.json() if n["kind"] == "cn.xiaoer.workitem.acknowledged"]

        await eventually(news_of_the_item, timeout=30)
        await supervisor.goto(f"/board/items/{item['id']}")
        await expect(supervisor.locator("main")).to_contain_text("广州市黄埔区水务局")
        await expect(supervisor.locator("main")).not_to_contain_text("topic")
        await expect(supervisor.locator("main")).to_contain_text("签收通知")
        await expect(supervisor.locator("main")).not_to_contain_text("cn.xiaoer")
        icon = await supervisor.request.get("/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
        assert missing == [], f"asked for and not found: {missing}"
    finally:
        await supervisor.context.close()
