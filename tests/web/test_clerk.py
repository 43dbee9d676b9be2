"""The clerk workbench in a real Chromium at desktop size, through the whole running system: a
clerk with a password finds an item by reference number and works it (签收, 要求补正, 办结 with a
document number and a PDF); a refused move shows the router's reason; bulk 签收; another unit's
item is a 404 page and nothing changes; a coordinator re-dispatches a returned item. Also the
router's list filters the queue is built on (search, several states, deadline order, paging)."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from tests.support import MINGLUO, PDF_BYTES, eventually
from tests.support.web import (
    DESKTOP,
    QUIET_UNIT,
    assert_accessible,
    new_page,
    sign_in_as,
    sign_in_with_password,
    submit_for,
)


async def item_state(system, item_id: str, unit: str = QUIET_UNIT) -> str:
    found = await system.router.get(f"/v1/workitems/{item_id}", headers=system.auth("department", unit=unit))
    return found.json()["state"]


async def clerk_page(browser, web, password_account: bool = False):
    page = await new_page(browser, web, viewport=DESKTOP)
    if password_account:
        username = f"water-{uuid.uuid4().hex[:6]}"
        await web.add_staff(
            "Shui-wu-2026!", role="department", display_name="王五", unit_code=QUIET_UNIT, username=username
        )
        await sign_in_with_password(page, username, "Shui-wu-2026!")
    else:
        await sign_in_as(page, f"staff:{QUIET_UNIT}")
    return page


async def test_the_queue_filters_of_the_router(system):
    first, second = await submit_for(system), await submit_for(system)
    clerk = system.auth("department", unit=QUIET_UNIT)
    found = (await system.router.get("/v1/workitems", params={"q": first["reference_no"]}, headers=clerk)).json()
    assert [i["id"] for i in found] == [first["id"]]
    by_uscc = (await system.router.get("/v1/workitems", params={"q": MINGLUO, "limit": 500}, headers=clerk)).json()
    assert {first["id"], second["id"]} <= {i["id"] for i in by_uscc}
    assert (await system.router.get("/v1/workitems", params={"q": "没有这家企业"}, headers=clerk)).json() == []

    await system.router.post(f"/v1/workitems/{first['id']}/acknowledge", json={}, headers=clerk)
    both = {"state": ["dispatched", "acknowledged"], "order": "deadline", "limit": 500}
    listed = (await system.router.get("/v1/workitems", params=both, headers=clerk)).json()
    assert {first["id"], second["id"]} <= {i["id"] for i in listed}
    dues = [i["resolve_due_at"] for i in listed if i["resolve_due_at"]]
    assert dues == sorted(dues)
    only_new = await system.router.get("/v1/workitems", params={"state": "dispatched", "limit": 500}, headers=clerk)
    assert first["id"] not in {i["id"] for i in only_new.json()}

    async def page_of_a_still_list():
        # Deadlines arrive from the notifier a moment after routing (sla.events) and move items in
        # deadline order, so page against a list that did not change around the paged call.
        before = (await system.router.get("/v1/workitems", params=both, headers=clerk)).json()
        paged = await system.router.get("/v1/workitems", params={**both, "offset": 1, "limit": 1}, headers=clerk)
        after = (await system.router.get("/v1/workitems", params=both, headers=clerk)).json()
        return (after, paged.json()) if before == after else None

    listed, paged = await eventually(page_of_a_still_list)
    assert [i["id"] for i in paged] == [listed[1]["id"]]

    supervisor = system.auth("supervisor", region="440112")
    unit_only = (
        await system.router.get("/v1/workitems", params={"unit": QUIET_UNIT, "limit": 500}, headers=supervisor)
    ).json()
    assert {i["unit_code"] for i in unit_only} == {QUIET_UNIT}
    await system.router.post(
        f"/v1/workitems/{first['id']}/extension", json={"days": 3, "reason": "需外调材料"}, headers=clerk
    )
    pending = (
        await system.router.get("/v1/workitems", params={"extension": "pending", "limit": 500}, headers=supervisor)
    ).json()
    assert first["id"] in {i["id"] for i in pending}
    assert second["id"] not in {i["id"] for i in pending}


async def test_a_clerk_works_an_item_from_sign_in_to_resolution(system, web, browser):
    item = await submit_for(system)
    reference = item["reference_no"]
    page = await clerk_page(browser, web, password_account=True)
    try:
        assert page.url == web.url + "/clerk/"
        await expect(page.get_by_role("heading", name="工作台")).to_be_visible()
        await expect(page.get_by_role("link", name="待签收")).to_have_attribute("aria-current", "page")

        await page.get_by_label("查找").fill(reference)
        await page.get_by_role("button", name="搜索").click()
        row = page.get_by_role("row").filter(has_text=reference)
        await expect(row).to_contain_text("待签收")
        await expect(row).to_contain_text("广州明珞装备股份有限公司")
        await expect(row.locator(".countdown")).to_contain_text("签收剩余")
        await expect(page.get_by_role("row")).to_have_count(2)  # the heading row and the one found
        await assert_accessible(page)

        await row.get_by_role("link", name=reference).click()
        await expect(page.get_by_role("heading", name=reference)).to_be_visible()
        await expect(page.locator(".facts")).to_contain_text("近 36 个月")
        await expect(page.locator(".facts")).to_contain_text("上市申报所需无违法违规证明")
        await expect(page.locator(".facts")).to_contain_text("上市")
        # exactly the moves a 待签收 item allows (router: acknowledge, return, transfer)
        await expect(page.get_by_role("button", name="签收", exact=True)).to_be_visible()
        await expect(page.locator("details.move summary")).to_have_text(["退回", "转办"])
        await assert_accessible(page)

        await page.get_by_role("button", name="签收", exact=True).click()
        await expect(page.get_by_role("status")).to_have_text("已签收")
        await expect(page.locator(".summary .status")).to_have_text("已签收")
        await expect(page.locator("details.move summary")).to_have_text(
            ["进展", "要求补正", "办结", "退回", "转办", "会办", "申请延期"]
        )

        # 办结 as 出具证明 without its document number: the router's reason beside the field
        await page.get_by_text("办结", exact=True).click()
        await page.get_by_role("button", name="提交：办结").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.locator("#error-document_no")).to_have_text("出具证明时请填写文号")
        await expect(page.locator("body")).not_to_contain_text("Traceback")
        assert await item_state(system, item["id"]) == "acknowledged"
        await assert_accessible(page)

        await page.get_by_text("要求补正", exact=True).click()
        await page.get_by_label("需要企业补正的材料").fill("请补充近三年的纳税证明复印件")
        await page.get_by_role("button", name="提交：要求补正").click()
        await expect(page.get_by_role("status")).to_have_text("已要求企业补正")
        await expect(page.locator(".summary .status")).to_have_text("待补正")
        await expect(page.locator(".history")).to_contain_text("请补充近三年的纳税证明复印件")

        answered = await system.intake.post(
            f"/v1/requests/{item['request_id']}/supplements",
            json={"work_item_id": item["id"], "text": "已补充"},
            headers=system.auth("enterprise", usccs=[MINGLUO]),
        )
        assert answered.status_code == 202, answered.text
        await eventually(lambda: _state_is(system, item["id"], "in_progress"))

        await page.reload()
        await expect(page.locator(".summary .status")).to_have_text("办理中")
        await page.get_by_text("办结", exact=True).click()
        await page.get_by_label("办理结果").select_option("issued")
        document_no = f"穗水证〔{uuid.uuid4().hex[:4]}〕1号"
        await page.get_by_label("文号（出具证明时必填）").fill(document_no)
        await page.get_by_label("证明文件（PDF）").set_input_files(
            {"name": "守法证明.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await page.get_by_role("button", name="提交：办结").click()
        await expect(page.get_by_role("status")).to_have_text("已办结")
        await expect(page.locator(".summary .status")).to_have_text("已办结")
        await expect(page.locator(".facts")).to_contain_text(document_no)
        await expect(page.locator("details.move")).to_have_count(0)
        href = await page.get_by_role("link", name="守法证明.pdf").get_attribute("href")
        certificate = await page.request.get(href)  # the browser's own session, through the web service
        assert certificate.ok and await certificate.body() == PDF_BYTES
        assert certificate.headers["content-type"] == "application/pdf"
        await assert_accessible(page)

        # the 已办结 tab lists it
        await page.goto("/clerk/?tab=done&q=" + reference)
        await expect(page.get_by_role("row").filter(has_text=reference)).to_contain_text("已办结")
    finally:
        await page.context.close()


async def _state_is(system, item_id: str, state: str) -> bool:
    return await item_state(system, item_id) == state


async def test_a_stale_page_shows_the_routers_reason(system, web, browser):
    item = await submit_for(system)
    page = await clerk_page(browser, web)
    try:
        await page.goto(f"/clerk/items/{item['id']}")
        # Someone else at the unit signs for it meanwhile: this page still offers 签收.
        clerk = system.auth("department", unit=QUIET_UNIT)
        await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
        await page.get_by_role("button", name="签收", exact=True).click()
        alert = page.get_by_role("alert")
        await expect(alert).to_be_visible()
        assert (await alert.inner_text()).strip(), "the router's title is shown"
        await expect(page.locator("body")).not_to_contain_text("Traceback")
        await expect(page.locator(".summary .status")).to_have_text("已签收")  # the page shows the truth now
        await assert_accessible(page)
    finally:
        await page.context.close()


async def test_bulk_acknowledge(system, web, browser):
    first, second = await submit_for(system), await submit_for(system)
    page = await clerk_page(browser, web)
    try:
        await page.goto("/clerk/?tab=new")
        for item in (first, second):
            await page.get_by_label(f"选择 {item['reference_no']}").check()
        await page.get_by_role("button", name="批量签收").click()
        await expect(page.get_by_role("status")).to_have_text("已签收 2 件")
        assert [await item_state(system, i["id"]) for i in (first, second)] == ["acknowledged", "acknowledged"]
        await page.get_by_role("link", name="办理中").click()  # htmx tab switch
        await expect(page).to_have_url(web.url + "/clerk/?tab=working")
        await expect(page.get_by_role("link", name="办理中")).to_have_attribute("aria-current", "page")
        await expect(page.get_by_role("row").filter(has_text=first["reference_no"])).to_contain_text("已签收")
        await assert_accessible(page)
    finally:
        await page.context.close()


async def test_another_units_item_is_not_found_and_nothing_changes(system, web, browser):
    item = await submit_for(system)
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, "staff:440112.tax")
        response = await page.goto(f"/clerk/items/{item['id']}")
        assert response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await expect(page.locator("body")).not_to_contain_text("Traceback")
        await assert_accessible(page)
        # A forged 签收 with a valid CSRF token of this clerk's own session: refused, nothing moves.
        await page.goto("/clerk/")
        status = await page.evaluate(
            """async (id) => {
                const token = document.querySelector('input[name=csrftoken]').value;
                const body = new URLSearchParams({csrftoken: token});
                const r = await fetch(`/clerk/items/${id}/acknowledge`, {method: 'POST', body});
                return r.status;
            }""",
            item["id"],
        )
        assert status == 404
        assert await item_state(system, item["id"]) == "dispatched"
    finally:
        await page.context.close()


async def test_a_coordinator_redispatches_a_returned_item(system, web, browser):
    item = await submit_for(system)
    page = await clerk_page(browser, web)
    try:
        await page.goto(f"/clerk/items/{item['id']}")
        await page.get_by_text("退回", exact=True).click()
        await page.get_by_label("退回理由").fill("不属于本单位职责")
        await page.get_by_role("button", name="提交：退回").click()
        await expect(page.get_by_role("status")).to_have_text("已退回")
        await expect(page).to_have_url(web.url + "/clerk/")
    finally:
        await page.context.close()

    coordinator = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(coordinator, "staff:440112.coordinator")
        await expect(coordinator.get_by_role("link", name="已退回")).to_have_attribute("aria-current", "page")
        await coordinator.get_by_label("查找").fill(item["reference_no"])
        await coordinator.get_by_role("button", name="搜索").click()
        row = coordinator.get_by_role("row").filter(has_text=item["reference_no"])
        await expect(row).to_contain_text("不属于本单位职责")
        await assert_accessible(coordinator)
        await row.get_by_role("link", name=item["reference_no"]).click()
        await expect(coordinator.locator(".returned")).to_contain_text("不属于本单位职责")
        await coordinator.get_by_label("分拨给").select_option("440100.water_affairs")
        await coordinator.get_by_role("button", name="提交：分拨").click()
        await expect(coordinator.get_by_role("status")).to_have_text("已分拨")
        await assert_accessible(coordinator)
        city = system.auth("department", unit="440100.water_affairs")
        moved = await system.router.get(f"/v1/workitems/{item['id']}", headers=city)
        assert moved.status_code == 200 and moved.json()["state"] == "dispatched"
    finally:
        await coordinator.context.close()
