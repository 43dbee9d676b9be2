"""Issue 27, 我的证明 on the enterprise's phone: the documents issued to it grouped by subject with
their validity (有效 / 即将到期 / 已过期 / 已撤销), a download, and a share link for a 保荐机构 —
opened by someone without an account, each document linked to its verification page; withdrawn
or past its expiry, the link is a 410 page (已失效)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.async_api import expect

from shared.clock import fix_reading_now
from tests.documents.issued import issue_with_own_pdf
from tests.support.web import assert_accessible, assert_fits_phone, new_page, sign_in_as

KIND = "housing_fund"


@pytest.fixture
def fixed_clock():
    yield fix_reading_now
    fix_reading_now(None)


def grouped(code: str) -> str:
    """A 核验码 as the pages show it: four groups of four."""
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def noon(day) -> datetime:
    return datetime.combine(day, time(4, 0), tzinfo=UTC)  # 12:00 in Asia/Shanghai


async def share_link(page, doc_code: str, days: str, note: str) -> str:
    await page.goto("/wallet/")
    await page.locator(f'li[data-code="{grouped(doc_code)}"] input[type="checkbox"]').check()
    await page.get_by_label("有效天数").select_option(days)
    await page.get_by_label("备注（如对方名称）").fill(note)
    async with page.expect_navigation():
        await page.get_by_role("button", name="生成分享链接").click()
    flashed = await page.locator(".flash-success").inner_text()
    return re.search(r"https?://\S+/share/\S+", flashed).group(0)


async def test_the_wallet_lists_downloads_and_shares_until_the_link_is_withdrawn(system, web, page, browser):
    doc, pdf = await issue_with_own_pdf(system, kind=KIND, enterprise=system.enterprise())
    withdrawn, _ = await issue_with_own_pdf(system, kind=KIND, enterprise=system.enterprise())
    revoked = await system.router.post(
        f"/v1/documents/{withdrawn.code}/revocations",
        json={"reason_class": "duplicate", "reason": "重复", "reopen": False},
        headers=system.auth("department", unit=withdrawn.unit_code),
    )
    assert revoked.status_code == 200, revoked.text

    await sign_in_as(page, "enterprise")
    await page.get_by_role("link", name="我的证明").click()
    await expect(page.get_by_role("heading", name="我的证明", level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name=doc.subject_name, level=2)).to_be_visible()
    row = page.locator(f'li[data-code="{grouped(doc.code)}"]')
    await expect(row.locator(".doc-status")).to_have_text("有效")
    gone_row = page.locator(f'li[data-code="{grouped(withdrawn.code)}"]')
    await expect(gone_row.locator(".doc-status")).to_have_text("已撤销")
    await expect(gone_row.locator('input[type="checkbox"]')).to_be_disabled()  # a revoked one is not shared
    await assert_fits_phone(page)
    await assert_accessible(page)

    href = await row.get_by_role("link", name=re.compile("^下载")).first.get_attribute("href")
    downloaded = await page.request.get(href)
    assert downloaded.ok and await downloaded.body() == pdf

    link = await share_link(page, doc.code, "7", "某某证券")
    reader = await new_page(browser, web)  # the 保荐机构: no account
    try:
        await reader.goto(link)
        await expect(reader.get_by_role("heading", name="分享的证明")).to_be_visible()
        await expect(reader.locator(".shared-doc")).to_have_count(1)
        await expect(reader.locator(".shared-doc .doc-status")).to_have_text("有效")
        await expect(reader.locator(".muted").first).to_contain_text("某某证券")
        await assert_fits_phone(reader)
        await assert_accessible(reader)
        async with reader.expect_navigation():
            await reader.locator(".shared-doc a").click()
        await expect(reader.locator(".verdict")).to_contain_text(doc.code[:4])

        # The enterprise withdraws the link: the reader's next visit is 410.
        await page.goto("/wallet/#shares")
        share = page.locator(".share-row").filter(has_text="某某证券")
        async with page.expect_navigation():
            await share.get_by_role("button", name=re.compile("撤销")).click()
        await expect(page.locator(".flash-success")).to_contain_text("分享链接已撤销")
        answer = await reader.goto(link)
        assert answer.status == 410
        await expect(reader.get_by_role("heading", name="分享链接已失效")).to_be_visible()
        await assert_accessible(reader)
    finally:
        await reader.context.close()


async def test_validity_and_a_links_expiry_follow_the_clock(system, web, page, fixed_clock):
    doc, _pdf = await issue_with_own_pdf(system, kind=KIND, enterprise=system.enterprise())
    await sign_in_as(page, "enterprise")
    link = await share_link(page, doc.code, "7", "到期测试")
    valid_until = datetime.fromisoformat(
        (await system.router.get(f"/v1/verifications/{doc.code}")).json()["valid_until"]
    ).date()

    fixed_clock(noon(valid_until - timedelta(days=5)))
    await page.goto("/wallet/")
    await expect(page.locator(f'li[data-code="{grouped(doc.code)}"] .doc-status')).to_have_text("即将到期")
    fixed_clock(noon(valid_until + timedelta(days=2)))
    await page.reload()
    await expect(page.locator(f'li[data-code="{grouped(doc.code)}"] .doc-status')).to_have_text("已过期")

    answer = await page.goto(link)  # seven days have long passed
    assert answer.status == 410
    await expect(page.get_by_role("heading", name="分享链接已失效")).to_be_visible()
