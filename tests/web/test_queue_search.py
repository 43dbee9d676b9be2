"""Issue 25, row 8: the clerk's queue. A search covers every tab (each hit shows its tab), the tabs
carry their counts under the same filters, the queue filters by enterprise, deadline and clock,
and 全选 ticks the page's items for one 签收."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.async_api import expect

from shared.clock import SHANGHAI
from tests.support import eventually
from tests.support.web import DESKTOP, assert_accessible, new_page, sign_in_as, submit_for, watch_csp

UNIT, KIND = "440112.ecology_environment", "ecology_environment"  # no other page test sends work there


async def move(system, item: dict, action: str, **body) -> None:
    moved = await system.router.post(
        f"/v1/workitems/{item['id']}/{action}", json=body, headers=system.auth("department", unit=UNIT)
    )
    assert moved.status_code == 200, moved.text


async def router_counts(system, **filters) -> dict[str, int]:
    found = await system.router.get(
        "/v1/workitems/counts", params=filters, headers=system.auth("department", unit=UNIT)
    )
    return {tab["code"]: tab["count"] for tab in found.json()["tabs"]}


async def test_a_search_covers_every_tab_and_the_tabs_count(system, web, browser):
    waiting = await submit_for(system, kind=KIND, unit=UNIT)
    working = await submit_for(system, kind=KIND, unit=UNIT)
    asked = await submit_for(system, kind=KIND, unit=UNIT)
    await move(system, working, "acknowledge")
    await move(system, asked, "acknowledge")
    await move(system, asked, "request-supplement", note="请补充环评批复")

    async def paused_known():
        found = await system.router.get(f"/v1/workitems/{asked['id']}", headers=system.auth("department", unit=UNIT))
        return found.json()["sla_paused"]

    await eventually(paused_known)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        counts = await router_counts(system)
        for tab, name in (("new", "待签收"), ("working", "办理中"), ("supplement", "待补正")):
            await expect(page.locator(f'a[data-tab="{tab}"] .count')).to_have_text(str(counts[tab]))
            await expect(page.locator(f'a[data-tab="{tab}"]')).to_contain_text(name)

        # From 待签收, a search by the enterprise's name finds the items of every tab, each with its tab.
        await page.get_by_label("企业", exact=True).fill("明珞")
        await page.get_by_role("button", name="搜索").click()
        await expect(page.get_by_role("link", name="全部")).to_have_attribute("aria-current", "page")
        for item, tab in ((waiting, "待签收"), (working, "办理中"), (asked, "待补正")):
            row = page.locator(f"#row-{item['id']}")
            await expect(row).to_be_visible()
            await expect(row.get_by_role("link", name=tab, exact=True)).to_be_visible()
        filtered = await router_counts(system, enterprise="明珞")
        await expect(page.locator('a[data-tab="working"] .count')).to_have_text(str(filtered["working"]))
        await assert_accessible(page)

        # By the clock: only what is paused (补正).
        await page.get_by_label("计时").select_option("paused")
        await page.get_by_role("button", name="搜索").click()
        await expect(page.locator(f"#row-{asked['id']}")).to_be_visible()
        await expect(page.locator(f"#row-{working['id']}")).to_have_count(0)
        await expect(page.locator(f"#row-{waiting['id']}")).to_have_count(0)

        # By deadline: nothing is due before yesterday.
        yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
        await page.get_by_label("计时").select_option("")
        await page.get_by_label("期限自").fill("2000-01-01")
        await page.get_by_label("至", exact=True).fill(yesterday)
        await page.get_by_role("button", name="搜索").click()
        await expect(page.get_by_text("没有找到符合条件的工单。")).to_be_visible()
        assert blocked == []
    finally:
        await page.context.close()


async def test_select_all_acknowledges_the_page_in_one_go(system, web, browser):
    items = [await submit_for(system, kind=KIND, unit=UNIT) for _ in range(3)]
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        await page.goto("/clerk/?tab=new&size=100")
        waiting = await page.locator('input[name="item"]').count()
        assert waiting >= 3
        await page.get_by_label("全选本页待签收工单").check()
        for item in items:
            await expect(page.get_by_label(f"选择 {item['reference_no']}")).to_be_checked()
        await page.get_by_role("button", name="批量签收").click()
        await expect(page.get_by_role("status")).to_have_text(f"已签收 {waiting} 件")
        clerk = system.auth("department", unit=UNIT)
        for item in items:
            found = await system.router.get(f"/v1/workitems/{item['id']}", headers=clerk)
            assert found.json()["state"] == "acknowledged"
        await expect(page.locator('a[data-tab="new"] .count')).to_have_text("0")
    finally:
        await page.context.close()
