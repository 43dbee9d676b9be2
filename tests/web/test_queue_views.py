"""Issue 29, item 4: the clerk's queue views. A clerk filters by deadline window and 承办人, saves
the combination as a view of their own ("本周到期·未分配"), finds it again after signing out and in
with the count the router gives for it, and deletes it; the columns sort by a click on their
header, in the router's order."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from playwright.async_api import Page, expect

from shared.clock import SHANGHAI, fix_reading_now
from tests.support.web import (
    DESKTOP,
    QUIET_UNIT,
    assert_accessible,
    due_known,
    new_page,
    sign_in_as,
    submit_for,
    watch_csp,
)

VIEW = "本周到期·未分配"


def clerk(system) -> dict[str, str]:
    return system.auth("department", unit=QUIET_UNIT, sub=f"staff:{QUIET_UNIT}")


async def week_unassigned_count(system, now: datetime) -> int:
    """What the router counts for 本周到期·未分配, the week (Monday to Sunday) of ``now`` in Shanghai."""
    today = now.astimezone(SHANGHAI).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(), SHANGHAI)
    params = {
        "due_from": monday.isoformat(),
        "due_to": (monday + timedelta(days=7)).isoformat(),
        "assignee": "none",
    }
    return (await system.router.get("/v1/workitems/counts", params=params, headers=clerk(system))).json()["total"]


async def row_ids(page: Page) -> list[str]:
    return [
        i.removeprefix("row-")
        for i in await page.locator("table.queue tbody tr").evaluate_all("rs => rs.map(r => r.id)")
    ]


async def router_ids(system, **params) -> list[str]:
    found = await system.router.get(
        "/v1/workitems", params={"limit": 20, "tab": "new", **params}, headers=clerk(system)
    )
    return [i["id"] for i in found.json()]


async def test_a_clerk_saves_a_view_and_finds_it_again_after_signing_in(system, web, browser):
    item = await submit_for(system)
    taken = await submit_for(system)
    claimed = await system.router.post(f"/v1/workitems/{taken['id']}/claim", headers=clerk(system))
    assert claimed.status_code == 200, claimed.text
    # "Now" is an hour before the new item's 签收 deadline: that deadline falls in this week.
    now = await due_known(system, item) - timedelta(hours=1)
    fix_reading_now(now)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        expected = await week_unassigned_count(system, now)
        assert expected >= 1
        await sign_in_as(page, f"staff:{QUIET_UNIT}")
        await page.get_by_label("到期", exact=True).select_option("week")
        await page.get_by_label("承办人", exact=True).select_option("none")
        await page.get_by_role("button", name="搜索").click()
        await expect(page.locator(f"#row-{item['id']}")).to_be_visible()
        await expect(page.locator(f"#row-{taken['id']}")).to_have_count(0)
        await page.get_by_label("视图名称").fill(VIEW)
        async with page.expect_navigation():
            await page.get_by_role("button", name="保存为视图").click()
        tab = page.get_by_role("link", name=VIEW)
        await expect(tab).to_have_attribute("aria-current", "true")
        await expect(tab.locator(".count")).to_have_text(str(expected))
        await assert_accessible(page)

        async with page.expect_navigation():
            await page.get_by_role("button", name="退出").click()
        await sign_in_as(page, f"staff:{QUIET_UNIT}")
        tab = page.get_by_role("link", name=VIEW)
        await expect(tab.locator(".count")).to_have_text(str(expected))
        await tab.click()
        await expect(page.locator(f"#row-{item['id']}")).to_be_visible()
        await expect(page.get_by_label("承办人", exact=True)).to_have_value("none")
        await expect(page.get_by_label("到期", exact=True)).to_have_value("week")

        async with page.expect_navigation():
            await page.get_by_role("button", name=f"删除视图“{VIEW}”").click()
        await expect(page.get_by_text("已删除视图")).to_be_visible()
        await expect(page.get_by_role("link", name=VIEW)).to_have_count(0)
        assert blocked == []
    finally:
        fix_reading_now(None)
        await page.context.close()


async def test_a_click_on_a_header_sorts_the_queue_as_the_router_does(system, web, browser):
    for _ in range(2):
        await due_known(system, await submit_for(system))  # no deadline lands between the page and the router's order
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, f"staff:{QUIET_UNIT}")
        await page.goto("/clerk/?tab=new")
        await page.locator('a[data-sort="created"]').click()
        await expect(page.locator('th[aria-sort="ascending"] a[data-sort="created"]')).to_be_visible()
        assert await row_ids(page) == await router_ids(system, order="created")

        await page.locator('a[data-sort="deadline"]').click()
        await expect(page.locator('th[aria-sort="ascending"] a[data-sort="deadline"]')).to_be_visible()
        by_deadline = await router_ids(system, order="deadline")
        assert await row_ids(page) == by_deadline

        await page.locator('a[data-sort="deadline"]').click()  # again: the other way round
        await expect(page.locator('th[aria-sort="descending"] a[data-sort="deadline"]')).to_be_visible()
        assert await row_ids(page) == await router_ids(system, order="deadline", desc="true")
        await expect(page.locator("#queue-caption")).to_contain_text("按期限排序（倒序）")
        await assert_accessible(page)
    finally:
        await page.context.close()
