"""Issue 25, row 1: one submission per form. The new-bundle form gets its idempotency key from the
server, in its address; Back, reload, a second send of the same form (a double click, a retry
after a lost answer, the form edited after Back) give the request already made — 已提交，查看诉求
XE-… — never a second one, and the files chosen stay with the form across Back."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support import MINGLUO, PDF_BYTES
from tests.support.web import assert_accessible, assert_fits_phone, sign_in_as


def enterprise(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")


async def requests_described(system, marker: str) -> list[dict]:
    """The enterprise's requests whose description is ``marker`` (newest first)."""
    listed = (await system.intake.get("/v1/requests", params={"limit": 50}, headers=enterprise(system))).json()
    found = []
    for one in listed["items"]:
        detail = (await system.intake.get(f"/v1/requests/{one['id']}", headers=enterprise(system))).json()
        if detail["description"] == marker:
            found.append(detail)
    return found


async def fill_the_form(page, marker: str) -> None:
    await page.get_by_label("统计局", exact=True).check()
    await page.get_by_label("情况说明").fill(marker)
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")


async def test_back_reload_and_sending_again_give_the_request_already_made(system, web, page):
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    marker = f"一次提交 {uuid.uuid4().hex[:8]}"
    await fill_the_form(page, marker)
    await page.get_by_label("上传材料").set_input_files(
        {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(page.locator("#new-files-list")).to_contain_text("已上传")
    # The form as the browser sends it, kept to send again later (a retry, a second tab).
    sent_again = await page.evaluate(
        "() => new URLSearchParams(new FormData(document.querySelector('form.bundle'))).toString()"
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交，受理编号 XE-")
    request_url = page.url
    made = await requests_described(system, marker)
    assert len(made) == 1
    reference = made[0]["reference_no"]

    # Back: the form's page now says where the request is, and offers nothing to send again.
    await page.go_back()
    link = page.get_by_role("link", name=f"已提交，查看诉求 {reference}")
    await expect(link).to_be_visible()
    await expect(page.locator("form.bundle")).to_have_count(0)
    await assert_fits_phone(page)
    await assert_accessible(page)
    await page.reload()
    await expect(page.get_by_role("link", name=f"已提交，查看诉求 {reference}")).to_be_visible()

    # The same form sent again (a retry), and sent again edited (Back, a change, 提交): the request
    # already made, never a second one and never an error.
    edited = re.sub(r"contact\.name=[^&]*", "contact.name=%E6%9D%8E%E5%9B%9B", sent_again)
    for body in (sent_again, edited):
        answer = await page.evaluate(
            """async (body) => {
                const token = document.querySelector("input[name=csrftoken]").value;
                const r = await fetch("/enterprise/new", {method: "POST", body: new URLSearchParams(body),
                                                          headers: {"x-csrftoken": token}});
                return {url: r.url, text: await r.text()};
            }""",
            body,
        )
        assert answer["url"] == request_url
        assert f"已提交，查看诉求 {reference}" in answer["text"]
    await link.click()
    await expect(page.get_by_role("heading", name=reference)).to_be_visible()
    assert len(await requests_described(system, marker)) == 1
    assert {f["name"] for f in made[0]["files"]} == {"营业执照.pdf"}


async def test_a_double_click_makes_one_request(system, web, page):
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    marker = f"双击提交 {uuid.uuid4().hex[:8]}"
    await fill_the_form(page, marker)
    await page.get_by_role("button", name="提交", exact=True).dblclick()
    # The second click's submission replaces the first's navigation in the browser (the first is
    # aborted, as a browser does): where the page ends, not which navigation, is what counts.
    await page.wait_for_url(re.compile(r"/enterprise/requests/"))
    await expect(page.get_by_role("status")).to_contain_text(re.compile("诉求已提交|已提交，查看诉求"))
    assert len(await requests_described(system, marker)) == 1


async def test_the_files_and_the_typing_stay_with_the_form_across_back(system, web, page):
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    form_url = page.url
    marker = f"返回不丢 {uuid.uuid4().hex[:8]}"
    await fill_the_form(page, marker)
    await page.get_by_role("button", name="添加子公司").click()
    await page.locator("#subject-0").get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    await page.get_by_label("上传材料").set_input_files(
        {"name": "章程.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(page.locator("#new-files-list")).to_contain_text("已上传")

    await page.get_by_role("link", name="我的诉求", exact=True).click()
    await expect(page.get_by_role("heading", name="我的诉求", exact=True)).to_be_visible()
    await page.go_back()
    assert page.url == form_url
    await expect(page.locator("#new-files-list")).to_contain_text("章程.pdf")
    await expect(page.get_by_label("情况说明")).to_have_value(marker)
    await expect(page.get_by_label("统计局", exact=True)).to_be_checked()
    await expect(page.locator("#subject-0").get_by_label("企业名称")).to_have_value("明珞（上海）智能装备有限公司")
    await page.locator("#subject-0").get_by_role("button", name="删除此子公司").click()  # this time: itself only

    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交")
    made = await requests_described(system, marker)
    assert len(made) == 1
    assert [f["name"] for f in made[0]["files"]] == ["章程.pdf"], "the file went with the request"
