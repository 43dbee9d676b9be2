"""Issue 25, rows 3 and 10 on the clerk's pages: 出具证明 without its certificate file is refused
beside the file field and changes nothing (the enterprise then downloads the file that was
issued); 转办 asks for a reason and a second look before it goes, and the receiving unit reads
who sent it and why."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support import MINGLUO, PDF_BYTES, eventually
from tests.support.web import DESKTOP, assert_accessible, new_page, sign_in_as, submit_for, watch_csp

ISSUING_UNIT, ISSUING_KIND = "440112.fire_rescue", "fire_rescue"
FROM_UNIT, FROM_KIND = "440112.medical_security", "medical_security"
TO_UNIT, TO_NAME = "440112.natural_resources", "广州市黄埔区规划和自然资源局"


async def state_of(system, item_id: str, unit: str) -> str:
    found = await system.router.get(f"/v1/workitems/{item_id}", headers=system.auth("department", unit=unit))
    return found.json()["state"]


async def test_a_certificate_is_issued_only_with_its_file(system, web, browser):
    item = await submit_for(system, kind=ISSUING_KIND, unit=ISSUING_UNIT)
    clerk = system.auth("department", unit=ISSUING_UNIT)
    await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{ISSUING_UNIT}")
        await page.goto(f"/clerk/items/{item['id']}")
        await page.get_by_text("办结", exact=True).click()
        await page.get_by_label("办理结果").select_option("issued")
        number = f"穗黄消证〔{uuid.uuid4().hex[:4]}〕1号"
        await page.get_by_label("文号（出具证明时必填）").fill(number)
        await page.get_by_role("button", name="提交：办结").click()
        file_field = page.get_by_label("证明文件（PDF）")
        await expect(page.locator("#error-attachments")).to_contain_text("证明文件")
        await expect(file_field).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_role("alert").get_by_role("link")).to_contain_text("证明文件")  # the banner's link
        assert await state_of(system, item["id"], ISSUING_UNIT) == "acknowledged", "nothing was issued"
        await expect(page.get_by_label("文号（出具证明时必填）")).to_have_value(number)  # what was typed stays
        await assert_accessible(page)

        await page.get_by_label("证明文件（PDF）").set_input_files(
            {"name": "消防守法证明.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await page.get_by_role("button", name="提交：办结").click()
        await expect(page.get_by_role("status")).to_have_text("已办结")
        assert blocked == []
    finally:
        await page.context.close()

    owner = system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")

    async def issued():
        body = (await system.intake.get(f"/v1/requests/{item['request_id']}", headers=owner)).json()
        return any(f["purpose"] == "issued" for f in body["files"])

    await eventually(issued)
    enterprise = await new_page(browser, web)
    try:
        await sign_in_as(enterprise, "enterprise")
        await enterprise.goto(f"/enterprise/requests/{item['request_id']}")
        link = enterprise.locator(f"#item-{item['id']}").get_by_role("link", name=re.compile("消防守法证明.pdf"))
        downloaded = await enterprise.request.get(await link.get_attribute("href"))
        assert downloaded.ok and await downloaded.body() == PDF_BYTES
    finally:
        await enterprise.context.close()


async def test_a_transfer_needs_a_reason_and_a_confirmation_and_the_receiver_reads_both(system, web, browser):
    item = await submit_for(system, kind=FROM_KIND, unit=FROM_UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{FROM_UNIT}")
        await page.goto(f"/clerk/items/{item['id']}")
        await page.get_by_text("转办", exact=True).click()
        await page.get_by_label("转办给", exact=True).select_option(TO_UNIT)
        confirm = page.get_by_role("button", name="确认转办")
        await page.get_by_role("button", name="转办…").click()
        await expect(confirm).to_be_hidden()  # no reason yet: nothing to confirm
        assert await page.get_by_label("转办理由（接收单位可见）").evaluate("e => e.validity.valueMissing")

        reason = f"涉及用地审批，属规划和自然资源局职责 {uuid.uuid4().hex[:4]}"
        await page.get_by_label("转办理由（接收单位可见）").fill(reason)
        await page.get_by_role("button", name="转办…").click()
        await expect(confirm).to_be_visible()
        await expect(page.locator(".confirm")).to_contain_text(TO_NAME)
        await expect(page.locator(".confirm")).to_contain_text(reason)
        await assert_accessible(page)
        await page.get_by_role("button", name="取消").click()
        await expect(confirm).to_be_hidden()
        assert await state_of(system, item["id"], FROM_UNIT) == "dispatched", "cancelled: nothing moved"

        await page.get_by_role("button", name="转办…").click()
        await confirm.click()
        await expect(page.get_by_role("status")).to_have_text("已转办")
        assert blocked == []
    finally:
        await page.context.close()

    receiver = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(receiver, f"staff:{TO_UNIT}")
        row = receiver.locator(f"#row-{item['id']}")
        await expect(row).to_contain_text("由 广州市黄埔区医疗保障局 转来")
        await row.get_by_role("link", name=item["reference_no"]).click()
        await expect(receiver.locator("#transferred")).to_contain_text(f"广州市黄埔区医疗保障局 转办至本单位：{reason}")
        await assert_accessible(receiver)
    finally:
        await receiver.context.close()
