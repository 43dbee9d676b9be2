"""回访 on the pages (issue 29 item 8): after 办结 the enterprise answers whether its problem was
solved beside the rating; its liaison officer records a phone 回访 instead; the unit's clerk reads
it on the item's record; and the supervisor's unit statistics show the unit's 解决率 beside 满意率."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support import MINGLUO, certificate_request, eventually
from tests.support.web import DESKTOP, assert_accessible, assert_fits_phone, new_page, sign_in_as, watch_csp

UNIT, KIND = "440112.human_resources", "human_resources"  # no other page test sends work here
ENTERPRISE = {"usccs": [MINGLUO], "sub": "demo:enterprise"}


async def resolved_request(system) -> tuple[str, str]:
    """A request of 广州明珞 whose one item the unit has resolved (办结), as intake shows it."""
    created = await system.intake.post(
        "/v1/requests", json=certificate_request(items=(KIND,)), headers=system.auth("enterprise", **ENTERPRISE)
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    item = (await system.routed_item(request_id, UNIT))["id"]
    clerk = system.clerk(UNIT)
    assert (await clerk.act(item, "acknowledge")).status_code == 200
    assert (await clerk.act(item, "resolve", outcome="not_issued", note="存在一起劳动保障监察处罚")).status_code == 200

    async def resolved():
        body = (
            await system.intake.get(f"/v1/requests/{request_id}", headers=system.auth("enterprise", **ENTERPRISE))
        ).json()
        return [i["status"] for i in body["work_items"]] == ["resolved"]

    await eventually(resolved)
    return request_id, item


async def unit_row(system) -> dict:
    stats = (await system.notifier.get("/v1/stats/units", headers=system.auth("supervisor", region="440112"))).json()
    return next((r for r in stats["units"] if r["unit_code"] == UNIT), {"followed_up": 0, "solved": 0})


async def test_the_enterprise_answers_the_follow_up_and_the_unit_and_the_board_see_it(system, web, page, browser):
    before = await unit_row(system)
    request_id, item = await resolved_request(system)
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{request_id}")
    row = page.locator(f"#item-{item}")
    form = row.locator("form", has=page.get_by_role("button", name="提交回访"))
    await expect(form.get_by_role("group", name="回访：问题是否解决")).to_be_visible()
    for result in ("已解决", "部分解决", "未解决"):
        await expect(form.get_by_label(result, exact=True)).to_be_visible()
    await expect(row.get_by_role("button", name="提交评价")).to_be_visible()  # beside the rating
    await assert_fits_phone(page)
    await assert_accessible(page)

    await form.get_by_label("已解决", exact=True).check()
    await form.get_by_label("回访意见").fill("已按说明办妥")
    async with page.expect_navigation():
        await form.get_by_role("button", name="提交回访").click()
    await expect(page.get_by_role("status")).to_contain_text("已记录回访：已解决")
    row = page.locator(f"#item-{item}")
    await expect(row.locator(".follow-up .given")).to_have_text("回访：已解决 · 线上回访 · 已按说明办妥")
    await expect(row.get_by_role("button", name="提交回访")).to_have_count(0)
    await expect(row.get_by_role("button", name="提交评价")).to_be_visible()  # the rating is still to give

    desk = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(desk)
    try:
        await sign_in_as(desk, f"staff:{UNIT}")

        async def logged():
            await desk.goto(f"/clerk/items/{item}")
            return await desk.locator(".history li", has_text="线上回访：已解决").count() == 1

        await eventually(logged, timeout=30)
        await expect(desk.locator(".history li", has_text="线上回访：已解决")).to_contain_text("回访")
        await assert_accessible(desk)

        async def counted():
            found = await unit_row(system)
            return found if found["followed_up"] == before["followed_up"] + 1 else None

        after = await eventually(counted, timeout=30)
        assert after["solved"] == before["solved"] + 1
        await sign_in_as(desk, "staff:dudao.440112")
        await desk.goto("/board/units")
        unit = desk.locator(f'tr[data-unit="{UNIT}"]')
        rate = f"{100 * after['solved'] / after['followed_up']:.1f}%"
        await expect(unit.locator('td[data-field="followed_up"]')).to_have_text(str(after["followed_up"]))
        await expect(unit.locator('td[data-field="solution_rate"]')).to_have_text(rate)
        await expect(desk.locator('th:has-text("解决率")')).to_have_count(1)
        headers = await desk.locator("thead th").all_inner_texts()
        assert headers.index("解决率") > headers.index("满意率"), "解决率 stands beside 满意率"
        definitions = desk.get_by_role("region", name="指标说明")
        await expect(definitions).to_contain_text("已解决 ÷ 回访数")
        await assert_accessible(desk)
    finally:
        await desk.context.close()
    assert blocked == []


async def test_a_liaison_officer_records_a_phone_follow_up(system, web, page):
    request_id, item = await resolved_request(system)
    await sign_in_as(page, "liaison")
    await page.goto(f"/enterprise/requests/{request_id}")
    row = page.locator(f"#item-{item}")
    form = row.locator("form", has=page.get_by_role("button", name="记录回访"))
    await expect(form.get_by_role("group", name="回访：问题是否解决")).to_be_visible()
    # A call unless the officer says it was a visit (上门回访).
    await expect(form.get_by_role("group", name="回访方式").get_by_label("电话回访")).to_be_checked()
    await expect(form.get_by_role("group", name="回访方式").get_by_label("上门回访")).not_to_be_checked()
    await assert_accessible(page)
    await form.get_by_label("未解决", exact=True).check()
    await form.get_by_label("回访意见").fill("电话联系企业，仍需协调")
    async with page.expect_navigation():
        await form.get_by_role("button", name="记录回访").click()
    await expect(page.get_by_role("status")).to_contain_text("已记录回访：未解决")
    await expect(page.locator(f"#item-{item} .follow-up .given")).to_have_text(
        "回访：未解决 · 电话回访 · 电话联系企业，仍需协调"
    )
    # The enterprise sees the call recorded and is not asked again.
    given = await system.intake.get(
        f"/v1/requests/{request_id}/follow-ups", headers=system.auth("enterprise", **ENTERPRISE)
    )
    [shown] = given.json()
    assert (shown["may_follow_up"], shown["follow_up"]["method"]) == (False, "phone")


async def test_a_liaison_officer_records_a_visit(system, web, page):
    request_id, item = await resolved_request(system)
    await sign_in_as(page, "liaison")
    await page.goto(f"/enterprise/requests/{request_id}")
    form = page.locator(f"#item-{item}").locator("form", has=page.get_by_role("button", name="记录回访"))
    await form.get_by_role("group", name="回访方式").get_by_label("上门回访").check()
    await form.get_by_label("已解决", exact=True).check()
    async with page.expect_navigation():
        await form.get_by_role("button", name="记录回访").click()
    await expect(page.locator(f"#item-{item} .follow-up .given")).to_have_text("回访：已解决 · 上门回访")
    given = await system.intake.get(
        f"/v1/requests/{request_id}/follow-ups", headers=system.auth("enterprise", **ENTERPRISE)
    )
    assert [f["follow_up"]["method"] for f in given.json() if f["work_item_id"] == item] == ["visit"]
