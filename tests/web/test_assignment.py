"""Issue 29, item 3: the unit's lead (科长) assigns an item to a clerk, who finds it under 我的待办;
the item's page says who handles it and its history says who assigned it; the lead alone reads
the figures per person."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from services.web import accounts
from services.web.demo import LEAD_UNIT
from tests.support.web import (
    DESKTOP,
    assert_accessible,
    new_page,
    sign_in_as,
    sign_in_with_password,
    submit_for,
    watch_csp,
)

LEAD = f"{LEAD_UNIT}.lead"  # the demo unit's lead, beside its clerk (username: the unit code)


async def my_todo_count(system) -> int:
    counts = await system.router.get(
        "/v1/workitems/counts",
        params={"assignee": "me", "open": "true"},
        headers=system.auth("department", unit=LEAD_UNIT, sub=f"staff:{LEAD_UNIT}"),
    )
    return counts.json()["total"]


async def test_a_lead_assigns_an_item_and_the_clerk_finds_it_under_my_todo(system, web, browser):
    item = await submit_for(system, kind="tax", unit=LEAD_UNIT)
    clerk = await web.account(LEAD_UNIT)
    lead_page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(lead_page)
    try:
        await sign_in_as(lead_page, f"staff:{LEAD}")
        await lead_page.goto(f"/clerk/items/{item['id']}")
        await expect(lead_page.locator("[data-assignee]")).to_have_text("未分配")
        await lead_page.get_by_label("指派给").select_option(LEAD_UNIT)
        async with lead_page.expect_navigation():
            await lead_page.get_by_role("button", name="指派", exact=True).click()
        await expect(lead_page.get_by_text(f"已指派给 {clerk.display_name}")).to_be_visible()
        await expect(lead_page.locator("[data-assignee]")).to_have_text(clerk.display_name)
        await expect(lead_page.locator(".history")).to_contain_text("指派承办人")
        await expect(lead_page.locator(".history")).to_contain_text(f"承办人：{clerk.display_name}")
        await assert_accessible(lead_page)

        await lead_page.goto("/clerk/people")
        row = lead_page.get_by_role("row", name=clerk.display_name)
        await expect(row).to_be_visible()
        await assert_accessible(lead_page)
        assert blocked == []
    finally:
        await lead_page.context.close()

    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{LEAD_UNIT}")
        mine = page.locator('a[data-view="mine"]')
        await expect(mine.locator(".count")).to_have_text(str(await my_todo_count(system)))
        await mine.click()
        await expect(mine).to_have_attribute("aria-current", "true")
        await expect(page.locator(f"#row-{item['id']}")).to_contain_text(clerk.display_name)
        await assert_accessible(page)

        # The clerk holds it: no 认领, and no 指派 (that is the lead's).
        await page.goto(f"/clerk/items/{item['id']}")
        await expect(page.locator("[data-assignee]")).to_have_text(clerk.display_name)
        await expect(page.get_by_role("button", name="认领")).to_have_count(0)
        await expect(page.get_by_label("指派给")).to_have_count(0)
        refused = await page.goto("/clerk/people")
        assert refused is not None and refused.status == 403, "the figures per person are the lead's"
        assert blocked == []
    finally:
        await page.context.close()


async def test_a_clerk_takes_an_unassigned_item(system, web, browser):
    item = await submit_for(system, kind="tax", unit=LEAD_UNIT)
    clerk = await web.account(LEAD_UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, f"staff:{LEAD_UNIT}")
        await page.goto(f"/clerk/items/{item['id']}")
        async with page.expect_navigation():
            await page.get_by_role("button", name="认领").click()
        await expect(page.get_by_text("已认领，由您承办")).to_be_visible()
        await expect(page.locator("[data-assignee]")).to_have_text(clerk.display_name)
        await expect(page.locator(".history")).to_contain_text("认领")
        found = await system.router.get(
            f"/v1/workitems/{item['id']}", headers=system.auth("department", unit=LEAD_UNIT)
        )
        assert found.json()["assignee_sub"] == f"staff:{LEAD_UNIT}"
    finally:
        await page.context.close()


async def test_an_operator_makes_a_lead_who_signs_in_as_the_lead(web, browser):
    password = "lead-password-29"
    with pytest.raises(accounts.AccountError):
        await web.add_staff(password, role="supervisor", display_name="督办", region_code="440112", lead=True)
    username = f"kezhang-{uuid.uuid4().hex[:8]}"
    await web.add_staff(
        password, role="department", display_name="钱科长", unit_code=LEAD_UNIT, username=username, lead=True
    )
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_with_password(page, username, password)
        await expect(page.get_by_role("link", name="每人办理情况")).to_be_visible()
        shown = await page.goto("/clerk/people")
        assert shown is not None and shown.status == 200
        await expect(page.get_by_role("heading", name="每人办理情况")).to_be_visible()
    finally:
        await page.context.close()
