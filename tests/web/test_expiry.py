"""Issue 25, row 4: a login that expires loses nothing. An htmx call (an upload, a tab of the
queue) answered 401 takes the whole page to sign-in with ``next=`` and 登录已过期，请重新登录 —
never a sign-in page inside a form; a full-page form sent after expiry keeps what was typed, put
back once the person has signed in again. For the enterprise H5 and for staff alike."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import expect

from tests.support import MINGLUO_SH, PDF_BYTES
from tests.support.web import (
    DESKTOP,
    QUIET_UNIT,
    assert_accessible,
    expire_session,
    new_page,
    sign_in_again_as,
    sign_in_as,
    sign_in_with_password,
    submit_for,
    watch_csp,
)

EXPIRED = "登录已过期，请重新登录"


def sent_back_to(url: str) -> str:
    """The page the sign-in page will go back to (its ``next``)."""
    return parse_qs(urlsplit(url).query)["next"][0]


async def test_an_upload_after_expiry_takes_the_whole_page_to_sign_in_and_the_form_comes_back(system, web, page):
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    form_page = page.url.removeprefix(web.url)
    marker = f"过期不丢 {uuid.uuid4().hex[:8]}"
    await page.get_by_label("统计局", exact=True).check()
    await page.get_by_label("情况说明").fill(marker)
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_role("button", name="添加子公司").click()
    subsidiary = page.locator("#subject-0")
    await subsidiary.get_by_label("统一社会信用代码").fill(MINGLUO_SH)
    await page.get_by_label("上传材料").set_input_files(
        {"name": "第一份.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(page.locator("#new-files-list")).to_contain_text("已上传")

    await expire_session(page, web)
    async with page.expect_navigation(url=re.compile(r"/\?next=")):
        await page.get_by_label("上传材料").set_input_files(
            {"name": "第二份.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
    assert sent_back_to(page.url) == form_page
    await expect(page.get_by_role("alert")).to_have_text(EXPIRED)
    await expect(page.get_by_role("heading", name="工作人员登录")).to_have_count(1)  # a page, not a fragment
    await expect(page.locator("form.bundle")).to_have_count(0)
    await assert_accessible(page)

    await sign_in_again_as(page, "enterprise")
    assert page.url.removeprefix(web.url) == form_page
    await expect(page.get_by_label("情况说明")).to_have_value(marker)
    await expect(page.get_by_label("联系人")).to_have_value("张三")
    await expect(page.get_by_label("统计局", exact=True)).to_be_checked()
    await expect(page.locator("#subject-0").get_by_label("统一社会信用代码")).to_have_value(MINGLUO_SH)
    await expect(page.locator("#new-files-list")).to_contain_text("第一份.pdf")
    await expect(page.locator("#new-files-list")).not_to_contain_text("第二份.pdf")  # not sent: to choose again


async def test_a_form_sent_after_expiry_keeps_what_was_typed(system, web, page):
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    form_page = page.url.removeprefix(web.url)
    marker = f"过期提交 {uuid.uuid4().hex[:8]}"
    await page.get_by_label("水务局", exact=True).check()
    await page.get_by_label("情况说明").fill(marker)
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")

    await expire_session(page, web)
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    assert sent_back_to(page.url) == form_page
    await expect(page.get_by_role("alert")).to_have_text(EXPIRED)

    await sign_in_again_as(page, "enterprise")
    await expect(page.get_by_label("情况说明")).to_have_value(marker)
    await expect(page.get_by_label("联系电话")).to_have_value("13800138000")
    await expect(page.get_by_label("水务局", exact=True)).to_be_checked()
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交，受理编号 XE-")


async def test_a_clerks_note_sent_after_expiry_comes_back_after_signing_in(system, web, browser):
    item = await submit_for(system)
    clerk = system.auth("department", unit=QUIET_UNIT)
    await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    username = f"expiry-{uuid.uuid4().hex[:6]}"
    await web.add_staff("Guo-qi-2026!", role="department", display_name="钱七", unit_code=QUIET_UNIT, username=username)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_with_password(page, username, "Guo-qi-2026!")
        await page.goto(f"/clerk/items/{item['id']}")
        await page.get_by_text("进展", exact=True).click()
        note = f"已电话联系企业核实情况 {uuid.uuid4().hex[:6]}"
        await page.get_by_label("办理进展").fill(note)

        await expire_session(page, web)
        async with page.expect_navigation():
            await page.get_by_role("button", name="提交：进展").click()
        assert sent_back_to(page.url) == f"/clerk/items/{item['id']}"
        await expect(page.get_by_role("alert")).to_have_text(EXPIRED)
        history = (await system.router.get(f"/v1/workitems/{item['id']}", headers=clerk)).json()["history"]
        assert all(entry["note"] != note for entry in history), "nothing was sent without a login"

        await page.get_by_label("用户名").fill(username)
        await page.get_by_label("密码").fill("Guo-qi-2026!")
        async with page.expect_navigation():
            await page.get_by_role("button", name="登录", exact=True).click()
        assert page.url == f"{web.url}/clerk/items/{item['id']}"
        await expect(page.get_by_label("办理进展")).to_be_visible()  # its move opened again
        await expect(page.get_by_label("办理进展")).to_have_value(note)
        await page.get_by_role("button", name="提交：进展").click()
        await expect(page.get_by_role("status")).to_have_text("已记录办理进展")
        await expect(page.locator(".history")).to_contain_text(note)

        # The queue's tabs are htmx: after expiry a tab takes the whole page to sign in.
        await page.goto("/clerk/?tab=working")

        async def no_polls(route):  # the queue's own polls (HX-Trigger: queue) would go there first
            await (route.abort() if route.request.headers.get("hx-trigger") == "queue" else route.continue_())

        await page.route("**/clerk/**", no_polls)
        await expire_session(page, web)
        async with page.expect_navigation(url=re.compile(r"/\?next=")):
            await page.get_by_role("link", name="待签收").click()
        assert sent_back_to(page.url) == "/clerk/?tab=working"
        await expect(page.get_by_role("alert")).to_have_text(EXPIRED)
        await expect(page.locator("#queue")).to_have_count(0)
        assert blocked == []
    finally:
        await page.context.close()
