"""Issue 25, row 13: locked down. A strict Content-Security-Policy on every page (scripts only from
the site's files, no eval, nothing inline) and the pages still work under it (htmx, Alpine's CSP
build, the charts); the session cookies HttpOnly and SameSite=Lax; ``xiaoer user unlock |
password | deactivate`` and the same on an admin's page, a deactivated account's open sessions
ending at once."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect

from tests.support.web import (
    DESKTOP,
    LIVE_SECONDS,
    QUIET_UNIT,
    assert_accessible,
    new_page,
    sign_in_as,
    sign_in_with_password,
    submit_for,
    watch_csp,
)

LIVE_WAIT_MS = (LIVE_SECONDS * 3 + 2) * 1000  # three of the open queue's polls, and its way to sign-in
PAGES = {
    None: ["/", "/demo"],
    "enterprise": ["/enterprise/", "/enterprise/new", "/enterprise/enterprises", "/messages/"],
    f"staff:{QUIET_UNIT}": ["/clerk/", "/clerk/?tab=working"],
    "staff:dudao.440112": ["/board/", "/board/units", "/board/extensions", "/messages/"],
    "staff:admin": ["/admin/accounts"],
}


async def xiaoer_user(web, *args: str, stdin: bytes = b"") -> str:
    command = [sys.executable, "-m", "cli", "user", *args]
    environment = {**os.environ, "XIAOER_WEB_DATABASE_URL": web.settings.database_url, "XIAOER_ENV": "development"}
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=environment
    )
    output, _ = await process.communicate(stdin)
    assert process.returncode == 0, output
    return output.decode()


async def test_every_page_carries_a_strict_policy_and_still_works_under_it(system, web, browser):
    for persona, paths in PAGES.items():
        page = await new_page(browser, web, viewport=DESKTOP)
        blocked = watch_csp(page)
        try:
            if persona:
                await sign_in_as(page, persona)
            for path in paths:
                response = await page.goto(path)
                assert response.status == 200, path
                policy = response.headers["content-security-policy"]
                assert "script-src 'self'" in policy and "default-src 'self'" in policy, path
                assert "unsafe-eval" not in policy and "unsafe-inline" not in policy, path
                assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
                html = await response.text()
                assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html), path
                assert not re.search(r"\son[a-z]+=", html), f"{path}: an inline event handler"
            await page.wait_for_load_state("networkidle")
            assert blocked == [], f"{persona}: {blocked}"
        finally:
            await page.context.close()


async def test_htmx_and_alpine_work_under_the_policy(system, web, browser):
    """A tab of the queue (htmx) and the 转办 confirmation (Alpine's CSP build) under the policy."""
    item = await submit_for(system)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{QUIET_UNIT}")
        await page.get_by_role("link", name="办理中").click()
        await expect(page).to_have_url(re.compile(r"tab=working"))
        await expect(page.get_by_role("link", name="办理中")).to_have_attribute("aria-current", "page")
        await page.goto(f"/clerk/items/{item['id']}")
        await page.get_by_text("转办", exact=True).click()
        confirm = page.get_by_role("button", name="确认转办")
        await expect(confirm).to_be_hidden()
        await page.get_by_label("转办给", exact=True).select_option(label="广州市黄埔区统计局")
        await page.get_by_label("转办理由（接收单位可见）").fill("属统计局职责")
        await page.get_by_role("button", name="转办…").click()
        await expect(confirm).to_be_visible()  # Alpine ran, without eval
        await expect(page.locator(".confirm")).to_contain_text("广州市黄埔区统计局")
        await page.get_by_role("button", name="取消").click()
        await expect(confirm).to_be_hidden()
        assert blocked == []
    finally:
        await page.context.close()


async def test_the_session_cookies_are_httponly_and_samesite_lax(web, page):
    await sign_in_as(page, "enterprise")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    for name in ("xiaoer_session", "csrftoken"):
        assert cookies[name]["httpOnly"], name
        assert cookies[name]["sameSite"] == "Lax", name
    assert await page.evaluate("document.cookie") == "", "no script reads a cookie"
    assert (await page.request.get("/favicon.ico")).status == 200


async def test_xiaoer_user_unlocks_sets_a_password_and_deactivates_ending_the_session_at_once(web, browser):
    username = f"leaver-{uuid.uuid4().hex[:6]}"
    await web.add_staff(
        "First-pass-2026", role="department", display_name="孙八", unit_code=QUIET_UNIT, username=username
    )
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        for _ in range(web.settings.web_max_failed_sign_ins):
            await sign_in_with_password(page, username, "wrong password")
        await expect(page.get_by_role("alert")).to_contain_text("账号已锁定")
        assert "unlocked" in await xiaoer_user(web, "unlock", username)
        await sign_in_with_password(page, username, "First-pass-2026")
        assert page.url == web.url + "/clerk/"

        # A new password ends the open session: the next click goes to sign in, saying why.
        said = await xiaoer_user(web, "password", username, "--password-stdin", stdin=b"Second-pass-2026\n")
        assert "sessions have ended" in said
        # Its next request (the queue asking for changes by itself, or opening the queue) meets
        # sign-in. A goto, not a reload: the live poll may be navigating the page to sign-in just
        # then, and a reload of a page being replaced fails in the browser ("not attached").
        await open_or_sent_to_sign_in(page, web.url + "/clerk/")
        await expect(page.get_by_role("alert")).to_have_text("账号的密码已更改，请重新登录")
        await sign_in_with_password(page, username, "First-pass-2026")
        await expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
        await sign_in_with_password(page, username, "Second-pass-2026")
        assert page.url == web.url + "/clerk/"

        # Deactivated: the session open in the browser ends at its next request.
        assert "deactivated" in await xiaoer_user(web, "deactivate", username)
        # The queue's live poll may meet the ended session first: the page asked next still says why.
        polled = await page.request.get("/clerk/", headers={"HX-Request": "true"}, max_redirects=0)
        assert polled.status == 401 and "reason=inactive" in polled.headers["hx-redirect"]
        await open_or_sent_to_sign_in(page, web.url + "/clerk/")
        await expect(page).to_have_url(re.compile(re.escape(web.url + "/?next=")))
        await expect(page.get_by_role("alert")).to_have_text("账号已停用，请联系管理员")
        await sign_in_with_password(page, username, "Second-pass-2026")
        await expect(page.get_by_role("alert")).to_contain_text("账号已停用")
        account = await web.account(username)
        assert not account.active and account.sessions_revoked_at is not None
    finally:
        await page.context.close()


async def open_or_sent_to_sign_in(page, url: str) -> None:
    """``page.goto(url)`` for a session that has just ended: the queue's live poll may be sending
    the page to sign-in at that moment, which interrupts the goto. Either way the page ends at
    sign-in, which the caller checks."""
    try:
        await page.goto(url)
    except PlaywrightError as exc:
        if "interrupted by another navigation" not in str(exc):
            raise
        await page.wait_for_load_state()


async def test_an_admin_manages_accounts_on_a_page(web, browser):
    username = f"clerk-{uuid.uuid4().hex[:6]}"
    await web.add_staff(
        "Zhou-jiu-2026", role="department", display_name="周九", unit_code=QUIET_UNIT, username=username
    )
    clerk = await new_page(browser, web, viewport=DESKTOP)
    admin = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(admin)
    try:
        await sign_in_with_password(clerk, username, "Zhou-jiu-2026")
        assert clerk.url == web.url + "/clerk/"

        await sign_in_as(admin, "staff:admin")
        await admin.get_by_role("link", name="账号管理").click()
        await admin.get_by_label("查找").fill(username)
        await admin.get_by_role("button", name="搜索").click()
        row = admin.get_by_role("row").filter(has_text=username)
        await expect(row).to_contain_text("广州市黄埔区水务局")  # the unit by name
        await expect(row).to_contain_text("正常")
        await assert_accessible(admin)

        await row.get_by_text("管理").click()
        await row.get_by_label("新密码（至少 10 个字符）").fill("Zhou-jiu-new-1")
        await row.get_by_label("再次输入新密码").fill("Zhou-jiu-new-1")
        await row.get_by_role("button", name="设置新密码").click()
        await expect(admin.get_by_role("status")).to_contain_text("已为 周九")
        # No reload: the clerk's open queue asks again every few seconds and is taken to the
        # sign-in page by itself (a reload raced that navigation: "Not attached to an active page").
        await expect(clerk.get_by_role("alert")).to_have_text("账号的密码已更改，请重新登录", timeout=LIVE_WAIT_MS)
        await sign_in_with_password(clerk, username, "Zhou-jiu-new-1")
        assert clerk.url == web.url + "/clerk/"

        row = admin.get_by_role("row").filter(has_text=username)
        await row.get_by_text("管理").click()
        admin.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await row.get_by_role("button", name="停用").click()
        await expect(admin.get_by_role("status")).to_contain_text("其登录已立即失效")
        await expect(admin.get_by_role("row").filter(has_text=username)).to_contain_text("已停用")
        await expect(clerk.get_by_role("alert")).to_have_text("账号已停用，请联系管理员", timeout=LIVE_WAIT_MS)
        assert blocked == []
    finally:
        await clerk.context.close()
        await admin.context.close()
