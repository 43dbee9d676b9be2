"""Issue 29 item 6 — the supervisor acts from the board, in a real Chromium at desktop size
through the whole running system: a supervisor 督办s a unit with a note, the unit's clerk reads the
督办单 on the workbench and answers it, the supervisor reads the answer and that it came in time;
extension requests are decided in the rows of the overdue board and of a unit's items without
leaving the page; every row names the enterprise and the unit; 内部批注 go between supervisor and
clerk on the item pages and never reach the enterprise's pages. Axe finds nothing on any of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from playwright.async_api import expect

from shared.clock import SHANGHAI, fix_reading_now, utcnow
from tests.support.web import DESKTOP, assert_accessible, new_page, sign_in_as, submit_for, watch_csp

SUPERVISED = "440112.finance"  # no other test works there: its 督办单 are this test's
UNIT, KIND = "440112.medical_security", "medical_security"
ENTERPRISE = "广州明珞装备股份有限公司"


async def staff_page(browser, web, persona: str):
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    await sign_in_as(page, f"staff:{persona}")
    return page, blocked


async def unit_name(system, code: str) -> str:
    units = await system.router.get("/v1/units", headers=system.auth("supervisor", region="440112"))
    return next(u["name"] for u in units.json() if u["unit_code"] == code)


async def still_the_same_page(page) -> bool:
    """Whether no navigation happened since ``mark_page`` (a full load would drop the mark)."""
    return await page.evaluate("document.documentElement.dataset.testMark === 'kept'")


async def mark_page(page) -> None:
    await page.evaluate("document.documentElement.dataset.testMark = 'kept'")


async def test_a_supervisor_supervises_a_unit_and_reads_the_clerks_answer(system, web, browser):
    note = f"请说明本月收件积压的原因及整改时限（{uuid.uuid4().hex[:6]}）"
    supervisor, blocked = await staff_page(browser, web, "dudao.440112")
    clerk, clerk_blocked = await staff_page(browser, web, SUPERVISED)
    try:
        await supervisor.goto(f"/board/units/{SUPERVISED}")
        await expect(supervisor.get_by_role("heading", name="督办该单位")).to_be_visible()
        await supervisor.get_by_label("督办事项").fill(note)
        due = (utcnow().astimezone(SHANGHAI).date() + timedelta(days=2)).isoformat()
        await supervisor.get_by_label("答复期限").fill(due)
        await supervisor.get_by_role("button", name="发出督办单").click()
        await expect(supervisor.get_by_role("status")).to_have_text("已发出督办单，单位答复后在此查看")
        order = supervisor.locator("li.order", has_text=note)
        await expect(order).to_contain_text("待答复")
        await expect(order).to_contain_text(due)
        await assert_accessible(supervisor)

        await clerk.goto("/clerk/")
        waiting = clerk.locator("li.order", has_text=note)
        await expect(waiting).to_contain_text(due)
        await expect(waiting).to_contain_text("未到期")
        await assert_accessible(clerk)
        await mark_page(clerk)
        await waiting.get_by_label("答复").fill("积压系系统切换所致，已增派人员，三日内清零")
        await waiting.get_by_role("button", name="提交答复").click()
        answered = clerk.locator("li.order", has_text=note)
        await expect(answered).to_contain_text("积压系系统切换所致")
        await expect(answered).to_contain_text("按时答复")
        await expect(answered.get_by_role("button", name="提交答复")).to_have_count(0)
        assert await still_the_same_page(clerk), "the answer was sent in place"

        await supervisor.reload()
        order = supervisor.locator("li.order", has_text=note)
        await expect(order).to_contain_text("已答复")
        await expect(order).to_contain_text("积压系系统切换所致，已增派人员，三日内清零")
        await expect(order).to_contain_text("按时答复")
        await expect(supervisor.locator("#supervise")).to_contain_text("按时答复")
        await assert_accessible(supervisor)
    finally:
        await supervisor.context.close()
        await clerk.context.close()
    assert blocked == [] and clerk_blocked == []


async def test_a_supervisor_cannot_supervise_a_unit_of_another_region(system, web, browser):
    page, _ = await staff_page(browser, web, "dudao.440112")
    try:
        response = await page.goto("/board/units/440113.tax")  # 番禺区: not this supervisor's
        assert response.status == 404
    finally:
        await page.context.close()


async def extension_asked(system, reason: str) -> dict:
    item = await submit_for(system, kind=KIND, unit=UNIT)
    clerk = system.auth("department", unit=UNIT)
    await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    asked = await system.router.post(
        f"/v1/workitems/{item['id']}/extension", json={"days": 3, "reason": reason}, headers=clerk
    )
    assert asked.status_code == 200, asked.text
    return item


async def extension_states(system, item_id: str) -> list[tuple[str, str | None]]:
    detail = await system.router.get(f"/v1/workitems/{item_id}", headers=system.auth("department", unit=UNIT))
    return [(x["state"], x["decision_reason"]) for x in detail.json()["extensions"]]


async def test_extensions_are_decided_in_the_rows_and_rows_name_enterprise_and_unit(system, web, browser):
    on_unit_page = await extension_asked(system, "需调取历年参保记录")
    on_overdue_board = await extension_asked(system, "材料需外省协查")
    name = await unit_name(system, UNIT)
    page, blocked = await staff_page(browser, web, "dudao.440112")
    try:
        # A unit's items: the row names both, and its extension is approved where it stands.
        await page.goto(f"/board/units/{UNIT}")
        row = page.locator("tr", has_text=on_unit_page["reference_no"])
        await expect(row.locator('[data-name="enterprise"]')).to_have_text(ENTERPRISE)
        await expect(row.locator('[data-name="unit"]')).to_have_text(name)
        await expect(row).to_contain_text("需调取历年参保记录")
        await assert_accessible(page)
        await mark_page(page)
        await row.get_by_role("button", name="批准").click()
        await expect(row.get_by_role("status")).to_have_text("已批准延期")
        assert await still_the_same_page(page)
        assert await extension_states(system, on_unit_page["id"]) == [("approved", None)]

        # The overdue board, read when every open item is late: the same, and a denial needs a reason.
        fix_reading_now(utcnow() + timedelta(days=90))
        try:
            await page.goto(f"/board/?unit={UNIT}")
            row = page.locator("tr", has_text=on_overdue_board["reference_no"])
            await expect(row.locator('[data-name="enterprise"]')).to_have_text(ENTERPRISE)
            await expect(row.locator('[data-name="unit"]')).to_have_text(name)
            await assert_accessible(page)
            await mark_page(page)
            await row.get_by_role("button", name="驳回").click()
            await expect(row.get_by_role("alert")).to_be_visible()
            assert await extension_states(system, on_overdue_board["id"]) == [("pending", None)]
            await row.get_by_label("驳回理由").fill("外省协查可并行，不予延期")
            await row.get_by_role("button", name="驳回").click()
            await expect(row.get_by_role("status")).to_have_text("已驳回延期申请")
            assert await still_the_same_page(page)
        finally:
            fix_reading_now(None)
        assert await extension_states(system, on_overdue_board["id"]) == [("denied", "外省协查可并行，不予延期")]

        # The extensions page names both too.
        third = await extension_asked(system, "需会同医保局核查")
        await page.goto("/board/extensions")
        card = page.locator("li.card", has_text=third["reference_no"])
        await expect(card).to_contain_text(ENTERPRISE)
        await expect(card).to_contain_text(name)
        await assert_accessible(page)
    finally:
        await page.context.close()
    assert blocked == []


async def test_internal_comments_go_between_supervisor_and_clerk_and_never_to_the_enterprise(system, web, browser):
    item = await submit_for(system, kind=KIND, unit=UNIT)
    note = f"内部批注：请先核查该企业的欠费记录（{uuid.uuid4().hex[:6]}）"
    supervisor, blocked = await staff_page(browser, web, "dudao.440112")
    clerk, clerk_blocked = await staff_page(browser, web, UNIT)
    enterprise = await new_page(browser, web)
    try:
        await supervisor.goto(f"/board/items/{item['id']}")
        await mark_page(supervisor)
        await supervisor.get_by_label("添加批注").fill(note)
        await supervisor.get_by_role("button", name="发表批注").click()
        await expect(supervisor.locator("#comments")).to_contain_text(note)
        assert await still_the_same_page(supervisor)
        await assert_accessible(supervisor)

        await clerk.goto(f"/clerk/items/{item['id']}")
        await expect(clerk.locator("#comments")).to_contain_text(note)
        await clerk.get_by_label("添加批注").fill("已核查，无欠费")
        await clerk.get_by_role("button", name="发表批注").click()
        await expect(clerk.locator("#comments")).to_contain_text("已核查，无欠费")
        await assert_accessible(clerk)

        await sign_in_as(enterprise, "enterprise")
        await enterprise.goto(f"/enterprise/requests/{item['request_id']}")
        await expect(enterprise.get_by_text(item["reference_no"]).first).to_be_visible()
        content = await enterprise.content()
        assert note not in content and "已核查，无欠费" not in content and "内部批注" not in content
    finally:
        for page in (supervisor, clerk, enterprise):
            await page.context.close()
    assert blocked == [] and clerk_blocked == []
