"""Issue 29, item 1 on the pages — 消息中心: a red dot with the unread count beside 消息 in every
signed-in page's header; the enterprise on its phone is told 待您补正 when a clerk asks for more,
the message opens its request and the count drops; 全部已读 clears it. A clerk on the desktop finds
a new item in the message centre and opens the item from it. axe finds nothing serious."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.support import MINGLUO, certificate_request, eventually
from tests.support.web import (
    DESKTOP,
    QUIET_UNIT,
    assert_accessible,
    assert_fits_phone,
    new_page,
    sign_in_as,
    submit_for,
)


def owner(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")  # the demo persona's token


async def unread(system, headers) -> int:
    return (await system.notifier.get("/v1/messages/unread-count", headers=headers)).json()["unread"]


async def test_the_enterprise_is_told_to_supplement_and_the_message_opens_its_request(system, web, page):
    # What earlier tests told 明珞 is read, so the dot counts this test's messages only.
    assert (await system.notifier.post("/v1/messages/read-all", headers=owner(system))).status_code == 200
    created = await system.intake.post(
        "/v1/requests", json=certificate_request(items=("water_affairs",)), headers=owner(system)
    )
    assert created.status_code == 201, created.text
    request_id, reference = created.json()["id"], created.json()["reference_no"]

    async def routed():
        items = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner(system))).json()["work_items"]
        return items[0] if items else None

    item = await eventually(routed)
    clerk = system.auth("department", unit=QUIET_UNIT)
    for action, body in (("acknowledge", {}), ("request-supplement", {"note": "请补充近三年的缴费凭证"})):
        moved = await system.router.post(f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk)
        assert moved.status_code == 200, moved.text

    async def told():
        mine = (await system.notifier.get("/v1/messages", headers=owner(system))).json()["items"]
        return mine if mine and mine[0]["kind_name"] == "待您补正" and mine[0]["request_id"] == request_id else None

    await eventually(told)
    assert await unread(system, owner(system)) == 2  # 已签收, then 待您补正

    await sign_in_as(page, "enterprise")
    bell = page.locator("header .bell")
    await expect(bell.locator(".dot")).to_have_text("2")
    await expect(bell).to_have_accessible_name(re.compile(r"^消息\s*2 条未读$"))
    await bell.click()
    await expect(page.get_by_role("heading", name="消息中心")).to_be_visible()
    newest = page.locator("li.message").first
    await expect(newest).to_have_class("card message unread")
    await expect(newest.locator(".message-tag")).to_have_text("待您补正")
    await expect(newest).to_contain_text(reference)
    await expect(newest).to_contain_text("请补充近三年的缴费凭证")
    await assert_fits_phone(page)
    await assert_accessible(page)

    await newest.locator("a").click()
    await expect(page).to_have_url(f"{web.url}/enterprise/requests/{request_id}")
    await expect(page.locator("header .bell .dot")).to_have_text("1")
    assert await unread(system, owner(system)) == 1
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="demo:liaison-messages")
    assert await unread(system, liaison) >= 2, "the liaison officer's marks are its own"

    await page.goto("/messages/")
    await expect(page.locator("li.message").first).not_to_have_class("card message unread")
    async with page.expect_navigation():
        await page.get_by_role("button", name="全部已读").click()
    await expect(page.get_by_role("status")).to_have_text("已将 1 条消息标为已读")
    await expect(page.locator("header .bell .dot")).to_have_count(0)
    await expect(page.locator("li.message.unread")).to_have_count(0)
    await page.goto("/messages/?unread=true")
    await expect(page.locator(".empty")).to_have_text("没有未读消息。")


async def test_a_clerk_finds_a_new_item_in_the_message_centre_and_opens_it(system, web, browser):
    item = await submit_for(system)

    async def told():  # the notifier's message, written after the router has the item
        unit = system.auth("department", unit=QUIET_UNIT)
        mine = (await system.notifier.get("/v1/messages", headers=unit)).json()["items"]
        return any(m["work_item_id"] == item["id"] for m in mine)

    await eventually(told)
    clerk = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(clerk, f"staff:{QUIET_UNIT}")
        await expect(clerk.locator("header .bell .dot")).to_be_visible()
        await clerk.goto("/messages/?unread=true")
        message = clerk.locator("li.message", has_text=item["reference_no"]).first
        await expect(message.locator(".message-title")).to_have_text("新工单待签收")
        await assert_accessible(clerk)
        await message.locator("a").click()
        await expect(clerk).to_have_url(f"{web.url}/clerk/items/{item['id']}")
        await clerk.goto("/messages/")
        opened = clerk.locator("li.message", has_text=item["reference_no"]).first
        await expect(opened).not_to_have_class("card message unread")

    finally:
        await clerk.context.close()
