"""Issue 27 on the public pages, on a phone in a real Chromium: a reader types the 核验码 of a
certificate issued through the system, sees 有效 and the record, drops the PDF they hold (一致),
a tampered copy (不一致, not an error); an unknown and a malformed code get the same 404 page;
a revoked document shows 已撤销; a burst of lookups gets the 稍后再试 page (429); a batch of codes
gives a table and a CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from pathlib import Path

import httpx
from playwright.async_api import expect

from services.router import main as router_main
from services.router.documents import codes
from services.router.documents.verification import LookupLimiter
from services.web import main as web_main
from tests.documents.issued import issue_with_own_pdf
from tests.support import OTHER_CO
from tests.support.web import DESKTOP, assert_accessible, assert_fits_phone, new_page, serve, sign_in_as

KIND = "housing_fund"  # 440112.housing_fund: few other tests issue there


async def issued(system):
    """A certificate resolved with the unit's own PDF, for an enterprise no page test signs in as
    (广州明珞's lists stay as the other pages' tests expect them)."""
    return await issue_with_own_pdf(system, kind=KIND, enterprise=system.enterprise(OTHER_CO))


async def test_a_reader_on_a_phone_verifies_a_certificate_by_code_and_by_its_pdf(system, web, page, tmp_path):
    doc, pdf = await issued(system)
    grouped = "-".join(doc.code[i : i + 4] for i in range(0, 16, 4))

    await page.goto("/verify")
    await expect(page.get_by_role("heading", name="证明核验")).to_be_visible()
    await page.get_by_label("核验码").fill(doc.code.lower())  # as a person types it
    async with page.expect_navigation():
        await page.get_by_role("button", name="核验").click()
    await expect(page.locator(".verdict")).to_contain_text("有效")
    await expect(page.locator(".verdict")).to_contain_text(grouped)
    record = page.locator("dl.record")
    await expect(record).to_contain_text(doc.unit_name)
    await expect(record).to_contain_text(doc.document_number)
    await expect(record).to_contain_text(doc.subject_name)
    await expect(record).not_to_contain_text(doc.subject_uscc)  # masked
    await expect(record).to_contain_text(doc.sha256)
    await assert_fits_phone(page)
    await assert_accessible(page)

    # The PDF the reader holds: byte for byte the registered one.
    held = tmp_path / "证明.pdf"
    held.write_bytes(pdf)
    await page.get_by_label("选择 PDF 文件（也可拖到这里）").set_input_files(held)
    async with page.expect_navigation():
        await page.get_by_role("button", name="比对").click()
    await expect(page.get_by_role("heading", name="与登记的文件一致")).to_be_visible()

    # A copy changed by one byte: 不一致, said as a result, not as an error.
    tampered = tmp_path / "改过的.pdf"
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    tampered.write_bytes(bytes(changed))
    await page.get_by_label("选择 PDF 文件（也可拖到这里）").set_input_files(tampered)
    async with page.expect_navigation() as sent:
        await page.get_by_role("button", name="比对").click()
    assert (await sent.value).status == 200
    await expect(page.get_by_role("heading", name="与登记的文件不一致")).to_be_visible()
    await assert_accessible(page)

    # In English through the language switch.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator(".verdict")).to_contain_text("Valid")


async def test_not_a_pdf_is_refused_beside_the_file_field(system, web, page, tmp_path):
    doc, _pdf = await issued(system)
    await page.goto(f"/verify/{doc.code}")
    text = tmp_path / "说明.pdf"
    text.write_bytes(b"just text, not a PDF")
    await page.get_by_label("选择 PDF 文件（也可拖到这里）").set_input_files(text)
    async with page.expect_navigation() as sent:
        await page.get_by_role("button", name="比对").click()
    assert (await sent.value).status == 422
    await expect(page.locator("#error-file")).to_be_visible()
    await expect(page.get_by_label("选择 PDF 文件（也可拖到这里）")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".verdict")).to_contain_text("有效")  # the record is still there


async def test_unknown_and_malformed_codes_get_the_same_404_page(web, page):
    bodies = []
    for typed in ("7KQ4-M2XA-9HTR-C3VB", "not-a-code!", "X" * 200):
        answer = await page.goto(f"/verify/{typed}")
        assert answer.status == 404
        await expect(page.get_by_role("heading", name="未找到该核验码")).to_be_visible()
        bodies.append(await page.locator("main").inner_html())
    assert bodies[0] == bodies[1] == bodies[2]  # no oracle: nothing tells malformed from unknown
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_a_revoked_document_shows_revoked_at_once(system, web, page):
    doc, _pdf = await issued(system)
    await page.goto(f"/verify/{doc.code}")
    await expect(page.locator(".verdict")).to_contain_text("有效")
    revoked = await system.router.post(
        f"/v1/documents/{doc.code}/revocations",
        json={"reason_class": "content_error", "reason": "主体名称有误", "reopen": False},
        headers=system.auth("department", unit=doc.unit_code),
    )
    assert revoked.status_code == 200, revoked.text
    await page.reload()
    await expect(page.locator(".verdict")).to_contain_text("已撤销")
    await expect(page.locator(".verdict")).to_contain_text("内容有误")
    await expect(page.locator(".verdict")).not_to_contain_text("主体名称有误")  # the unit's own words stay inside
    await assert_accessible(page)


async def test_a_batch_of_codes_gives_a_table_and_a_csv(system, web, page):
    first, _ = await issued(system)
    second, _ = await issued(system)
    await page.goto("/verify/batch")
    await page.get_by_label("核验码（每行一个）").fill(f"{first.code}\n{second.code.lower()}\nNOPE-NOPE")
    async with page.expect_navigation():
        await page.get_by_role("button", name="核验", exact=True).click()
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator('tbody tr[data-status="valid"]')).to_have_count(2)
    await expect(page.locator('tbody tr[data-status="not_found"]')).to_contain_text("未找到")
    await assert_fits_phone(page)
    await assert_accessible(page)

    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="核验并下载 CSV").click()
    saved = await (await downloading.value).path()
    text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["输入", "核验码", "状态"]
    assert [row[2] for row in table[1:]].count("有效") == 2


async def test_a_burst_of_lookups_gets_the_try_later_page(system, web, page):
    """The web server asks the router for everyone: over the router's limit, a reader sees 稍后再试
    (429 with Retry-After), never an error page. A router and pages of their own, with a limit of
    three, so the session's shared limit stays untouched."""
    doc, _pdf = await issued(system)
    strict = router_main.build_app(system.runtimes["router"])
    strict.state.verification_limiter = LookupLimiter("3/minute", "3/minute")
    router_url, router_server, router_task = await serve(strict)
    pages = web_main.build_app(web.runtime)
    pages.state.api_urls = {**pages.state.api_urls, "router": router_url}
    pages_url, pages_server, pages_task = await serve(pages)
    try:
        async with httpx.AsyncClient(base_url=pages_url) as reader:
            statuses = [(await reader.get(f"/verify/{doc.code}")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        answer = await page.goto(f"{pages_url}/verify/{doc.code}")
        assert answer.status == 429 and int(answer.headers["retry-after"]) > 0
        await expect(page.get_by_role("heading", name="查询过于频繁，请稍后再试")).to_be_visible()
        await assert_accessible(page)
    finally:
        for server, task in ((pages_server, pages_task), (router_server, router_task)):
            server.should_exit = True
            await asyncio.wait_for(task, 30)


async def test_the_issuing_clerk_revokes_on_the_page_and_the_item_reopens(system, web, browser):
    doc, _pdf = await issued(system)
    clerk = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(clerk, f"staff:{doc.unit_code}")
        # The clerk's item page links each document it issued to its record (and 撤销 there).
        await clerk.goto(f"/clerk/items/{doc.item_id}")
        await clerk.get_by_role("link", name=codes.group(doc.code)).click()
        await expect(clerk).to_have_url(re.compile(r"/verify/"))
        await clerk.goto(f"/verify/{doc.code}")
        await expect(clerk.get_by_role("link", name="查看工单")).to_have_attribute(
            "href", f"/clerk/items/{doc.item_id}"
        )
        await clerk.get_by_label("撤销原因").select_option(label="内容有误")
        await clerk.get_by_label("说明（不公开，只留在本单位记录中）").fill("主体名称写错")
        await clerk.get_by_label("撤销后退回重办（工单重新打开，由本单位重新出具）").check()
        clerk.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        async with clerk.expect_navigation():
            await clerk.get_by_role("button", name="撤销证明").click()
        await expect(clerk.locator(".flash-success")).to_contain_text("已撤销该证明")
        await expect(clerk.locator(".verdict")).to_contain_text("已撤销")
        await expect(clerk.get_by_role("button", name="撤销证明")).to_have_count(0)
        await assert_accessible(clerk)
        item = await system.router.get(
            f"/v1/workitems/{doc.item_id}", headers=system.auth("department", unit=doc.unit_code)
        )
        assert item.json()["state"] == "in_progress"  # 重办

        # A clerk of another unit sees the public record only.
        other = await new_page(browser, web, viewport=DESKTOP)
        try:
            await sign_in_as(other, "staff:440112.tax")
            await other.goto(f"/verify/{doc.code}")
            await expect(other.get_by_role("heading", name="出具单位操作")).to_have_count(0)
        finally:
            await other.context.close()
    finally:
        await clerk.context.close()


async def test_a_zip_of_pdfs_is_matched_file_by_file(system, web, page, tmp_path):
    doc, pdf = await issued(system)
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    bundle = tmp_path / "材料.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("守法证明.pdf", pdf)
        archive.writestr("改过的.pdf", bytes(changed))
    await page.goto("/verify/batch")
    await page.get_by_label("或上传 CSV / ZIP 文件").set_input_files(bundle)
    async with page.expect_navigation():
        await page.get_by_role("button", name="核验", exact=True).click()
    genuine = page.locator("tbody tr").filter(has_text="守法证明.pdf")
    await expect(genuine).to_have_attribute("data-status", "valid")
    await expect(genuine.locator("td").last).to_have_text("一致")
    await expect(genuine.get_by_role("link")).to_have_attribute("href", re.compile(doc.code[:4]))
    altered = page.locator("tbody tr").filter(has_text="改过的.pdf")
    await expect(altered).to_have_attribute("data-status", "not_found")  # no registered file has its bytes
    await expect(altered.locator("td").last).to_have_text("不一致")
    await assert_accessible(page)


async def test_an_empty_batch_is_refused_beside_the_field(web, page):
    await page.goto("/verify/batch")
    async with page.expect_navigation() as sent:
        await page.get_by_role("button", name="核验", exact=True).click()
    assert (await sent.value).status == 422
    await expect(page.locator("#error-codes")).to_have_text("请填写核验码或选择文件")


async def test_an_unknown_share_link_is_404_not_410(web, page):
    answer = await page.goto("/share/no-such-token")
    assert answer.status == 404
    await expect(page.get_by_role("heading", name="未找到该分享链接")).to_be_visible()
