"""Issue 25, row 2 on the pages: a subsidiary is named only with proof. Unrelated and without a
授权委托书, the form is refused beside that subsidiary's code (the banner links there) and nothing
is sent; with the letter uploaded in its row, the request goes. The clerk reads the proof beside
the subject, opens the letter, and may return the item for 主体授权不符, whose reason the
enterprise then reads."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from shared.validation import make_uscc
from tests.support import MINGLUO, PDF_BYTES, eventually
from tests.support.web import DESKTOP, assert_accessible, assert_fits_phone, new_page, sign_in_as, watch_csp

KIND = "urban_management"


async def test_an_unrelated_subsidiary_needs_its_letter_and_the_clerk_may_return_it(system, web, page, browser):
    stranger = make_uscc(f"91310115MA{uuid.uuid4().int % 10**7:07d}")
    owner = system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")
    before = (await system.intake.get("/v1/ledger", headers=owner)).json()["count"]

    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    await page.get_by_role("button", name="添加子公司").click()
    row = page.locator("#subject-0")
    await row.get_by_label("统一社会信用代码").fill(stranger)
    await row.get_by_label("企业名称").fill("上海无关第三方有限公司")
    await row.get_by_label("所在地区").fill("310115")
    await page.get_by_label("城市管理和综合执法局", exact=True).check()
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()

    field = page.locator("#subject-0").get_by_label("统一社会信用代码")
    await expect(field).to_have_attribute("aria-invalid", "true")
    said = page.locator("#error-subjects\\.0\\.uscc")
    await expect(said).to_contain_text("上海无关第三方有限公司")
    await expect(said).to_contain_text("授权委托书")
    banner_link = page.get_by_role("alert").get_by_role("link", name=re.compile("子公司 1 · 统一社会信用代码"))
    await expect(banner_link).to_have_attribute("href", "#f-subjects.0.uscc")
    assert (await system.intake.get("/v1/ledger", headers=owner)).json()["count"] == before, "nothing was sent"
    await assert_fits_phone(page)
    await assert_accessible(page)

    # The subsidiary's 授权委托书, uploaded in its own row: now the request goes.
    await (
        page.locator("#subject-0")
        .get_by_label(re.compile("授权委托书"))
        .set_input_files({"name": "授权委托书.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES})
    )
    await expect(page.locator("#subject-letter-0-list")).to_contain_text("授权委托书.pdf")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交")
    request_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator(".summary")).to_contain_text("上海无关第三方有限公司（授权委托书）")

    async def routed():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
        theirs = [i for i in body["work_items"] if i["subject_uscc"] == stranger and i["due_at"]]
        return theirs[0] if theirs else None

    item = await eventually(routed)
    clerk = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(clerk)
    try:
        await sign_in_as(clerk, f"staff:{item['unit_code']}")
        await clerk.goto(f"/clerk/items/{item['id']}")
        proof = clerk.locator(".facts .proof")
        await expect(proof).to_contain_text("授权委托书")
        letter = proof.get_by_role("link", name="授权委托书.pdf")
        opened = await clerk.request.get(await letter.get_attribute("href"))
        assert opened.ok and await opened.body() == PDF_BYTES
        await assert_accessible(clerk)

        await clerk.get_by_text("退回", exact=True).click()
        await clerk.get_by_label(re.compile("主体授权不符")).check()
        await clerk.get_by_label("退回理由").fill("授权委托书未加盖被授权企业公章")
        await clerk.get_by_role("button", name="提交：退回").click()
        await expect(clerk.get_by_role("status")).to_have_text("已退回")
        assert blocked == []
    finally:
        await clerk.context.close()

    async def returned():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
        mine = next(i for i in body["work_items"] if i["id"] == item["id"])
        return mine["status"] == "returned_to_enterprise"

    await eventually(returned)
    await page.reload()
    card = page.locator(f"#item-{item['id']}")
    await expect(card.locator(".status")).to_have_text("已退回企业")
    await expect(card.locator(".returned-reason")).to_contain_text("主体授权不符")
    await expect(card.locator(".returned-reason")).to_contain_text("授权委托书未加盖被授权企业公章")
