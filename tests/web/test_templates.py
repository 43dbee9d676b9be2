"""Issue 29: reply templates on the workbench. The unit's lead (科长) adds a 补正 template on
/clerk/templates (a placeholder the router does not know is refused beside the field), a clerk of
the unit chooses it on an item, which fills the text with that item's enterprise, item and
number, and the enterprise reads the filled text; a clerk who is not the lead only reads the list."""

from __future__ import annotations

import json
import re
from base64 import b64decode, b64encode

import itsdangerous
import jwt
from playwright.async_api import Page, expect

from tests.support import MINGLUO, eventually
from tests.support.web import (
    DESKTOP,
    SESSION_COOKIE,
    WebStack,
    assert_accessible,
    new_page,
    sign_in_as,
    submit_for,
    watch_csp,
)

UNIT, KIND = "440112.foreign_exchange", "foreign_exchange"
KIND_NAME = "国家外汇管理局分局"


async def sign_in_as_lead(page: Page, web: WebStack, unit: str) -> None:
    """The unit's demo clerk, signed in as its lead: the session and its token carry ``lead`` (as
    the staff account of a 科长 makes them), signed again as the web service signs sessions."""
    await sign_in_as(page, f"staff:{unit}")
    context = page.context
    cookie = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)
    signer = itsdangerous.TimestampSigner(web.settings.derived_secret("session"))
    data = json.loads(b64decode(signer.unsign(cookie["value"].encode())))
    claims = jwt.decode(data["viewer"]["token"], options={"verify_signature": False})
    data["viewer"]["token"] = jwt.encode({**claims, "lead": True}, web.settings.signing_key, algorithm="HS256")
    data["viewer"]["lead"] = True
    value = signer.sign(b64encode(json.dumps(data).encode())).decode()
    keep = ("name", "domain", "path", "expires", "httpOnly", "secure", "sameSite")
    await context.add_cookies([{**{k: cookie[k] for k in keep}, "value": value}])


async def test_the_lead_adds_a_template_a_clerk_uses_it_and_the_enterprise_reads_it_filled(system, web, browser):
    item = await submit_for(system, kind=KIND, unit=UNIT)
    await system.router.post(
        f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=system.auth("department", unit=UNIT)
    )
    lead = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(lead)
    try:
        await sign_in_as_lead(lead, web, UNIT)
        await lead.goto("/clerk/")
        await lead.get_by_role("link", name="回复模板").click()
        await expect(lead.get_by_role("heading", name="添加模板")).to_be_visible()
        await lead.get_by_label("用于").select_option("supplement")
        await lead.get_by_label("标题").fill("缺外汇登记证")
        await lead.get_by_label("内容").fill("请{公司}补交外汇登记证")
        await lead.get_by_role("button", name="添加").click()
        body_field = lead.get_by_label("内容")
        await expect(lead.locator("#error-body")).to_contain_text("未知的占位符：{公司}")
        await expect(body_field).to_have_attribute("aria-invalid", "true")
        await expect(body_field).to_have_value("请{公司}补交外汇登记证")  # what was typed stays
        await assert_accessible(lead)

        await body_field.fill("请{企业名称}就{事项}（{诉求编号}）补交外汇登记证复印件。")
        await lead.get_by_role("button", name="添加").click()
        await expect(lead.get_by_role("status")).to_have_text("已添加模板“缺外汇登记证”")
        supplements = lead.get_by_role("region", name="补正")
        await expect(supplements.get_by_role("row", name=re.compile("缺外汇登记证"))).to_be_visible()
        await assert_accessible(lead)
        assert blocked == []
    finally:
        await lead.context.close()

    clerk = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(clerk)
    try:
        await sign_in_as(clerk, f"staff:{UNIT}")
        await clerk.goto("/clerk/templates")
        await expect(clerk.get_by_role("row", name=re.compile("缺外汇登记证"))).to_be_visible()
        current = clerk.get_by_role("navigation", name="主导航").locator("[aria-current=page]")
        await expect(current).to_have_text("回复模板")  # not 工作台 too, whose address it lies under
        await expect(clerk.get_by_role("heading", name="添加模板")).to_have_count(0)  # the lead's alone
        await expect(clerk.get_by_role("link", name=re.compile("编辑"))).to_have_count(0)

        await clerk.goto(f"/clerk/items/{item['id']}")
        await clerk.get_by_text("要求补正", exact=True).click()
        await clerk.get_by_label("选用模板").select_option(label="缺外汇登记证")
        filled = f"请广州明珞装备股份有限公司就{KIND_NAME}（{item['reference_no']}）补交外汇登记证复印件。"
        note = clerk.get_by_label("需要企业补正的材料")
        await expect(note).to_have_value(filled)
        await expect(note).to_be_focused()
        await assert_accessible(clerk)
        await clerk.get_by_role("button", name="提交：要求补正").click()
        await expect(clerk.get_by_role("status")).to_have_text("已要求企业补正")
        assert blocked == []
    finally:
        await clerk.context.close()

    owner = system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")

    async def waiting():
        body = (await system.intake.get(f"/v1/requests/{item['request_id']}", headers=owner)).json()
        return body["status"] == "awaiting_supplement"

    await eventually(waiting)
    enterprise = await new_page(browser, web)
    try:
        await sign_in_as(enterprise, "enterprise")
        await enterprise.goto(f"/enterprise/requests/{item['request_id']}")
        await expect(enterprise.locator(f"#item-{item['id']}")).to_contain_text(filled)
    finally:
        await enterprise.context.close()


async def test_the_lead_changes_and_deletes_a_template(system, web, browser):
    lead = system.auth("department", unit=UNIT, lead=True, sub="lead-web")
    added = await system.router.post(
        f"/v1/units/{UNIT}/templates",
        json={"kind": "return", "title": "非本单位职责", "body": "{事项}不属本单位职责。"},
        headers=lead,
    )
    assert added.status_code == 201, added.text
    template = added.json()
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as_lead(page, web, UNIT)
        await page.goto("/clerk/templates")
        row = page.locator(f"#template-{template['id']}")
        await row.get_by_role("link", name=re.compile("编辑")).click()
        await expect(page.get_by_role("heading", name="编辑模板")).to_be_visible()
        await expect(page.get_by_label("标题")).to_have_value("非本单位职责")
        await page.get_by_label("内容").fill("{事项}不属本单位职责，请向市场监督管理局申请。")
        await page.get_by_role("button", name="保存").click()
        await expect(page.get_by_role("status")).to_have_text("已保存模板“非本单位职责”")
        await expect(row.locator(".template-body")).to_have_text("{事项}不属本单位职责，请向市场监督管理局申请。")

        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name=re.compile("删除")).click()
        await expect(page.get_by_role("status")).to_have_text("已删除模板")
        await expect(page.locator(f"#template-{template['id']}")).to_have_count(0)
        assert blocked == []
    finally:
        await page.context.close()
    listed = await system.router.get(f"/v1/units/{UNIT}/templates", headers=system.auth("department", unit=UNIT))
    assert template["id"] not in [t["id"] for t in listed.json()]


async def test_a_clerk_who_is_not_the_lead_cannot_open_the_edit_page(system, web, browser):
    lead = system.auth("department", unit=UNIT, lead=True, sub="lead-web")
    body = {"kind": "return", "title": "重复申请", "body": "重复申请。"}
    template = (await system.router.post(f"/v1/units/{UNIT}/templates", json=body, headers=lead)).json()
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, f"staff:{UNIT}")
        response = await page.goto(f"/clerk/templates/{template['id']}")
        assert response.status == 403
        refused = await page.request.post(
            f"/clerk/templates/{template['id']}/delete",
            form={"csrftoken": await page.locator("input[name=csrftoken]").first.input_value()},
        )
        assert refused.status == 403, "the router refuses a clerk's delete, not only the page"
    finally:
        await page.context.close()
    listed = await system.router.get(f"/v1/units/{UNIT}/templates", headers=system.auth("department", unit=UNIT))
    assert template["id"] in [t["id"] for t in listed.json()]
