"""Issue 25, row 12 on the pages: the region field offers GB/T 2260 names as one types and takes a
name (浦东 → 上海市浦东新区 310115); a name that is ambiguous or unknown is said beside its field,
and the banner at the top links to each field it names; a USCC pasted with spaces, in lower case
or full-width is taken."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from tests.support import MINGLUO_SH
from tests.support.web import assert_accessible, assert_fits_phone, sign_in_as


def spaced(uscc: str) -> str:
    """A USCC as people paste it: in groups, lower case, with a full-width space and letter."""
    groups = " ".join(uscc[i : i + 4] for i in range(0, len(uscc), 4)).lower()
    return "\u3000" + groups.replace("m", "ｍ", 1) + " "


async def test_a_region_by_name_and_a_pasted_uscc_are_taken(system, web, page):
    await sign_in_as(page, "liaison")
    await page.goto(f"/enterprise/new?enterprise={MINGLUO_SH}")
    region = page.get_by_label("所在地区")
    await region.fill("")
    await region.press_sequentially("浦东")
    option = page.locator('#region-options option[value="310115"]')
    await expect(option).to_have_count(1)
    await expect(option).to_have_text("上海市浦东新区")

    uscc = page.get_by_label("统一社会信用代码")
    await uscc.fill(spaced(MINGLUO_SH))
    await uscc.blur()
    await expect(uscc).to_have_value(MINGLUO_SH)  # tidied as it is left
    await page.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    marker = f"地区按名称 {uuid.uuid4().hex[:8]}"
    await page.get_by_label("情况说明").fill(marker)
    await page.get_by_label("税务局", exact=True).check()
    await page.get_by_label("联系人").fill("李四")
    await page.get_by_label("联系电话").fill("13900139000")
    await uscc.evaluate("(e, v) => { e.value = v }", spaced(MINGLUO_SH))  # and untidied: the server tidies too
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交")
    request_id = page.url.rsplit("/", 1)[1]
    liaison = system.auth("liaison", usccs=[MINGLUO_SH], sub="demo:liaison")
    body = (await system.intake.get(f"/v1/requests/{request_id}", headers=liaison)).json()
    assert body["enterprise"]["region_code"] == "310115"
    assert body["enterprise"]["uscc"] == MINGLUO_SH


async def test_an_ambiguous_region_is_said_beside_its_field_and_the_banner_links_there(system, web, page):
    await sign_in_as(page, "liaison")
    await page.goto(f"/enterprise/new?enterprise={MINGLUO_SH}")
    await page.get_by_label("所在地区").fill("朝阳")
    await page.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    await page.get_by_label("税务局", exact=True).check()
    await page.get_by_label("联系人").fill("李四")
    await page.get_by_label("联系电话").fill("13900139000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()

    field = page.get_by_label("所在地区")
    await expect(field).to_have_value("朝阳")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#error-enterprise\\.region_code")).to_have_text("“朝阳”对应多个地区，请从列表中选择")
    banner = page.get_by_role("alert")
    link = banner.get_by_role("link", name="申请企业 · 所在地区：“朝阳”对应多个地区，请从列表中选择")
    await expect(link).to_have_attribute("href", "#f-enterprise.region_code")
    await link.click()
    assert await page.evaluate("location.hash") == "#f-enterprise.region_code"
    await expect(field).to_be_in_viewport()
    await expect(page.get_by_label("税务局", exact=True)).to_be_checked()  # nothing else was lost
    await assert_fits_phone(page)
    await assert_accessible(page)
