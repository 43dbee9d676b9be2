"""Issue 29: the workbench's keyboard shortcuts (static/js/workbench.js). j and k move the selection
through the queue, Enter opens the selected item, a signs for it (签收), r opens 办结 on an item's
page, ? shows the help dialog (Esc closes it); typing in a field fires none of them."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.web import (
    DESKTOP,
    LIVE_SECONDS,
    assert_accessible,
    due_known,
    new_page,
    sign_in_as,
    submit_for,
    watch_csp,
)

UNIT, KIND = "440112.human_resources", "human_resources"  # no other page test sends work here


async def state_of(system, item_id: str) -> str:
    found = await system.router.get(f"/v1/workitems/{item_id}", headers=system.auth("department", unit=UNIT))
    return found.json()["state"]


async def settled(page) -> None:
    """The queue's live poll has answered 304 (what is shown is what the unit has): from now on it
    redraws only when the queue changes, not under the keys a test presses."""
    await page.wait_for_event(
        "response",
        lambda r: r.request.headers.get("hx-target") == "queue" and r.status == 304,
        timeout=LIVE_SECONDS * 1000 * 6,
    )


async def test_j_and_k_move_the_selection_enter_opens_and_a_signs_for_the_item(system, web, browser):
    first = await submit_for(system, kind=KIND, unit=UNIT)
    second = await submit_for(system, kind=KIND, unit=UNIT)
    for item in (first, second):  # the queue's order by deadline will not change under the keys
        await due_known(system, item)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        await page.goto("/clerk/?tab=new")
        await settled(page)
        rows = page.locator("table.queue tbody tr")
        selected = page.locator("table.queue tbody tr.selected")
        await expect(selected).to_have_count(0)
        await page.keyboard.press("j")
        await expect(rows.nth(0)).to_have_class("selected")
        await expect(rows.nth(0).locator("td.ref a")).to_be_focused()
        await page.keyboard.press("j")
        await expect(rows.nth(1)).to_have_class("selected")
        await expect(selected).to_have_count(1)
        await page.keyboard.press("k")
        await expect(rows.nth(0)).to_have_class("selected")
        await expect(rows.nth(0)).to_have_attribute("aria-current", "true")
        await assert_accessible(page)

        # Typing in the search field: j, k and a are letters there, nothing else happens.
        search = page.get_by_role("searchbox", name="查找")
        await search.click()
        await page.keyboard.type("jka")
        await expect(search).to_have_value("jka")
        await expect(rows.nth(0)).to_have_class("selected")
        await search.fill(first["reference_no"])
        await search.press("Enter")  # htmx redraws the queue with the one item; the field keeps the focus
        await expect(rows).to_have_count(1)
        await page.keyboard.press("j")
        await expect(search).to_have_value(first["reference_no"] + "j")
        await search.fill(first["reference_no"])
        await page.locator("h1").click()  # out of the field: the keys are shortcuts again
        await page.keyboard.press("j")
        await expect(rows.nth(0)).to_have_class("selected")
        async with page.expect_navigation():
            await page.keyboard.press("a")
        await expect(page.get_by_role("status")).to_have_text("已签收 1 件")
        assert await state_of(system, first["id"]) == "acknowledged"
        assert await state_of(system, second["id"]) == "dispatched", "only the selected item"

        await page.goto(f"/clerk/?q={second['reference_no']}")
        await page.keyboard.press("j")
        await expect(rows.nth(0)).to_contain_text(second["reference_no"])
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert page.url.endswith(f"/clerk/items/{second['id']}")
        await page.go_back()
        await page.locator("h1").click()  # nothing focused: o opens the selection all the same
        await page.keyboard.press("j")
        async with page.expect_navigation():
            await page.keyboard.press("o")
        assert page.url.endswith(f"/clerk/items/{second['id']}")
        assert blocked == []
    finally:
        await page.context.close()


async def test_on_an_item_a_signs_r_opens_resolve_and_typing_in_a_textarea_fires_nothing(system, web, browser):
    item = await submit_for(system, kind=KIND, unit=UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        await page.goto(f"/clerk/items/{item['id']}")
        async with page.expect_navigation():
            await page.keyboard.press("a")
        await expect(page.get_by_role("status")).to_have_text("已签收")
        assert await state_of(system, item["id"]) == "acknowledged"

        resolve = page.locator("#move-resolve")
        await page.get_by_text("进展", exact=True).click()
        note = page.get_by_label("办理进展")
        await note.click()
        await page.keyboard.type("ra?jk")
        await expect(note).to_have_value("ra?jk")
        await expect(resolve).not_to_have_attribute("open", "")
        await expect(page.get_by_role("dialog")).to_have_count(0)
        assert await state_of(system, item["id"]) == "acknowledged"

        await note.evaluate("el => el.blur()")
        await page.keyboard.press("r")
        await expect(resolve).to_have_attribute("open", "")
        await expect(page.get_by_label("办理结果")).to_be_focused()
        assert blocked == []
    finally:
        await page.context.close()


async def test_question_mark_shows_the_shortcuts_and_escape_closes_them(system, web, browser):
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        await page.goto("/clerk/")
        await page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="键盘快捷键")
        await expect(dialog).to_be_visible()
        for key in ("j", "k", "Enter", "o", "a", "r", "Esc"):
            await expect(dialog.locator("kbd", has_text=key).first).to_be_visible()
        await expect(dialog).to_contain_text("签收")
        await assert_accessible(page)
        await page.keyboard.press("j")  # the dialog is open: no shortcut behind it
        await expect(page.locator("table.queue tbody tr.selected")).to_have_count(0)
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()

        await page.get_by_role("button", name="键盘快捷键").click()  # also for the mouse
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="关闭").click()
        await expect(dialog).to_be_hidden()
        assert blocked == []
    finally:
        await page.context.close()
