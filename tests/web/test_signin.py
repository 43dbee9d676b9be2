"""Signing in to the pages, in a real Chromium: staff passwords (made by ``xiaoer user add``),
the lockout, CSRF on every form, the development-only demo sign-in, WeChat login, and a page
refusing a role it is not for."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import uuid

import httpx
from playwright.async_api import expect

from services.web import main as web_main
from tests.support import MINGLUO
from tests.support.web import assert_accessible, sign_in_as, sign_in_with_password, web_settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_clerk_signs_in_with_a_password_made_by_xiaoer_user_add(web, page):
    username = unique("lisi")
    command = [sys.executable, "-m", "cli", "user", "add", "--role", "department", "--unit", "440112.tax"]
    command += ["--name", "李四", "--username", username, "--password-stdin"]
    environment = {**os.environ, "XIAOER_WEB_DATABASE_URL": web.settings.database_url, "XIAOER_ENV": "development"}
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=environment
    )
    output, _ = await process.communicate(b"correct horse battery\n")
    assert process.returncode == 0, output
    assert f"username {username}" in output.decode()

    await sign_in_with_password(page, username, "correct horse battery")
    assert page.url == web.url + "/clerk/"
    await expect(page.get_by_text("李四 · 部门")).to_be_visible()
    await expect(page.get_by_role("heading", name="工作台")).to_contain_text("广州市黄埔区税务局")  # its name
    account = await web.account(username)
    assert account.failed_attempts == 0 and account.last_sign_in_at is not None

    async with page.expect_navigation():
        await page.get_by_role("button", name="退出").click()
    await expect(page.get_by_role("status")).to_have_text("您已退出登录")
    await page.goto("/clerk/")
    assert page.url.startswith(web.url + "/?next="), "signed out: the workbench asks for a sign-in again"


async def test_a_wrong_password_is_refused_in_chinese_and_counted_until_the_account_locks(web, page):
    username = unique("wangwu")
    await web.add_staff(
        "right password 1", role="department", display_name="王五", unit_code="440112.tax", username=username
    )
    limit = web.settings.web_max_failed_sign_ins

    await sign_in_with_password(page, username, "wrong password")
    await expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    await expect(page.get_by_label("用户名")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    assert (await web.account(username)).failed_attempts == 1

    await sign_in_with_password(page, "nobody-" + username, "wrong password")
    await expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")  # an unknown name reads the same

    for _ in range(limit - 1):
        await sign_in_with_password(page, username, "wrong password")
    await expect(page.get_by_role("alert")).to_contain_text("账号已锁定")
    locked = await web.account(username)
    assert locked.failed_attempts == limit and locked.locked_until is not None

    await sign_in_with_password(page, username, "right password 1")
    await expect(page.get_by_role("alert")).to_contain_text("账号已锁定")  # even the right password waits
    assert page.url == web.url + "/signin"


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(web, page):
    username = unique("zhaoliu")
    await web.add_staff(
        "right password 2", role="supervisor", display_name="赵六", region_code="440112", username=username
    )

    await page.goto("/")  # the browser holds its CSRF cookie now, as a real visitor would
    refused = await page.request.post("/signin", form={"username": username, "password": "wrong password"})
    assert refused.status == 403
    assert "未做任何更改" in await refused.text()
    assert (await web.account(username)).failed_attempts == 0, "the refused sign-in was not counted"

    await sign_in_with_password(page, username, "right password 2")
    assert page.url == web.url + "/board/"
    forged = await page.request.post("/signout", form={"csrftoken": "forged-token"})
    assert forged.status == 403
    await page.goto("/board/")
    assert page.url == web.url + "/board/", "still signed in: the sign-out without a valid token did nothing"


async def test_the_demo_sign_in_exists_in_development_only(system, web, page, tmp_path):
    await page.goto("/")
    await page.get_by_role("link", name="以演示角色登录").click()
    await expect(page.get_by_role("heading", name="以演示角色登录")).to_be_visible()
    for persona in ("enterprise", "liaison", "staff:440112.tax", "staff:440112.coordinator", "staff:dudao.440112"):
        assert await page.locator(f'button[name="persona"][value="{persona}"]').count() == 1, persona
    await assert_accessible(page)
    await sign_in_as(page, "enterprise")
    assert page.url == web.url + "/enterprise/"
    await expect(page.get_by_text("广州明珞装备股份有限公司 · 企业")).to_be_visible()

    production = web_settings(
        system, tmp_path, f"sqlite+aiosqlite:///{tmp_path}/web.db", web.api_urls, env="production"
    )
    app = web_main.build_app(web_main.build_runtime(production))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pages") as client:
        signin = await client.get("/")
        assert signin.status_code == 200 and "/demo" not in signin.text
        assert "secure" in signin.headers["set-cookie"].lower(), "production cookies travel over HTTPS only"
        assert (await client.get("/demo")).status_code == 404
    await app.state.http.aclose()
    await app.state.runtime.stop()


async def test_a_clerk_opening_an_enterprise_page_gets_a_clear_403_page(web, page):
    await sign_in_as(page, "staff:440112.tax")
    response = await page.goto("/enterprise/")
    assert response.status == 403
    await expect(page.get_by_role("heading", name="无权访问此页面")).to_be_visible()
    await expect(page.get_by_text("此页面供以下角色使用：企业, 驻企联络员")).to_be_visible()
    await assert_accessible(page)


async def test_an_enterprise_signs_in_with_wechat_once_bound(system, web, page):
    code = f"good-{uuid.uuid4().hex[:8]}"
    refused = await page.goto(f"/auth/wechat?code={code}")
    assert refused.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("该微信尚未绑定企业账号")

    # Bound once from the mini-program with the enterprise's own token, as intake requires.
    bound = await system.intake.post(
        "/v1/auth/wechat", json={"code": code}, headers=system.auth("enterprise", usccs=[MINGLUO], name="明珞证券部")
    )
    assert bound.status_code == 200
    await page.goto(f"/auth/wechat?code={code}")
    assert page.url == web.url + "/enterprise/"
    await expect(page.get_by_text("明珞证券部 · 企业")).to_be_visible()


def test_xiaoer_user_demo_makes_demo_staff_in_development_only(tmp_path, monkeypatch, capsys):
    from cli import main as cli
    from services.router import registry
    from services.web import demo
    from shared.db import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/web.db"
    upgrade(web_main.MIGRATIONS, url)
    monkeypatch.setenv("XIAOER_WEB_DATABASE_URL", url)
    monkeypatch.setenv("XIAOER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("XIAOER_JWT_SECRET", "a-production-key-of-at-least-32-characters")

    def staff() -> list[tuple]:
        with sqlite3.connect(tmp_path / "web.db") as connection:
            return connection.execute("SELECT username, demo FROM staff_accounts ORDER BY username").fetchall()

    monkeypatch.setenv("XIAOER_ENV", "production")
    cli.main(["user", "demo"])
    assert staff() == [], "no account with a published password in production"

    monkeypatch.setenv("XIAOER_ENV", "development")
    cli.main(["user", "demo"])
    expected = {a.username for a in demo.demo_accounts(registry.demo_registry())}
    assert {username for username, _ in staff()} == expected and all(flag for _, flag in staff())
    assert {"440112.tax", "440112.coordinator", "dudao.440112", "admin"} <= expected
    cli.main(["user", "demo"])  # again: the table has accounts, nothing is added
    assert len(staff()) == len(expected)
    printed = capsys.readouterr().out
    assert "password: xiaoer-demo" in printed and "demo accounts skipped" in printed
