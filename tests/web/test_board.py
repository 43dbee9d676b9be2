"""The supervisor board in a real Chromium at desktop size, through the whole running system:
what is overdue (filtered by unit, department kind, request type), a unit's figures changing
after a resolution (table, charts, drill-down, CSV), extension requests approved and denied,
and an item's notification log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from playwright.async_api import expect

from tests.support import PDF_BYTES, eventually, long_overdue_dispatch, publish_item_event
from tests.support.web import DESKTOP, assert_accessible, new_page, sign_in_as, submit_for

BOARD_UNIT = "440112.statistics"  # a quiet unit: its row is easy to read


async def supervisor_page(browser, web):
    page = await new_page(browser, web, viewport=DESKTOP)
    await sign_in_as(page, "staff:dudao.440112")
    return page


async def figure_on_page(page, field: str) -> int:
    cell = page.locator(f'tr[data-unit="{BOARD_UNIT}"] td[data-field="{field}"]')
    return int(await cell.inner_text()) if await cell.count() else 0


async def test_a_units_figures_change_after_a_resolution(system, web, browser):
    page = await supervisor_page(browser, web)
    try:
        await page.goto("/board/units")
        await expect(page.get_by_role("heading", name="单位统计")).to_be_visible()
        received_before = await figure_on_page(page, "received")
        resolved_before = await figure_on_page(page, "resolved")

        item = await submit_for(system, kind="statistics", unit=BOARD_UNIT)
        clerk = system.auth("department", unit=BOARD_UNIT)
        await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
        certificate = {"file": ("证明.pdf", PDF_BYTES, "application/pdf")}
        upload = await system.router.post(f"/v1/workitems/{item['id']}/files", files=certificate, headers=clerk)
        assert upload.status_code == 201, upload.text
        resolved = await system.router.post(
            f"/v1/workitems/{item['id']}/resolve",
            json={"outcome": "issued", "document_no": "穗统证〔2026〕7号", "attachments": [upload.json()["id"]]},
            headers=clerk,
        )
        assert resolved.status_code == 200, resolved.text

        async def counted():
            await page.reload()
            row = page.locator(f'tr[data-unit="{BOARD_UNIT}"]')
            on_time = row.locator('td[data-field="on_time_rate"]')  # "—" until something is resolved
            received, resolved = await figure_on_page(page, "received"), await figure_on_page(page, "resolved")
            return received > received_before and resolved > resolved_before and "%" in await on_time.inner_text()

        await eventually(counted, timeout=30)
        row = page.locator(f'tr[data-unit="{BOARD_UNIT}"]')
        await expect(row.get_by_role("rowheader")).to_have_text("广州市黄埔区统计局")
        await expect(row.locator('td[data-field="resolution_rate"]')).not_to_have_text("0.0%")
        for heading in ("延期率", "退回率", "转办率", "应签收数", "办理时长中位数（工作日）", "办理时长 P90（工作日）"):
            await expect(page.get_by_role("columnheader", name=heading)).to_be_visible()
        # 退回率 is the row's own 退回数 ÷ 收件数 (other tests of the session return work here too).
        returned = int(await row.locator('td[data-field="returned"]').inner_text())
        received = int(await row.locator('td[data-field="received"]').inner_text())
        await expect(row.locator('td[data-field="return_rate"]')).to_have_text(f"{100 * returned / received:.1f}%")
        await expect(row.locator('td[data-field="median_handling_days"]')).not_to_have_text("—")
        await expect(page.locator("#units-chart svg")).to_have_count(1)  # ECharts drew the bars
        await expect(page.locator("#trend-chart svg")).to_have_count(1)
        await assert_accessible(page)

        # sortable: by 按时办结率, then the other way round
        await page.get_by_role("link", name="按时办结率").click()
        await expect(page.get_by_role("columnheader", name="按时办结率")).to_have_attribute("aria-sort", "descending")
        await page.get_by_role("link", name="按时办结率").click()
        await expect(page.get_by_role("columnheader", name="按时办结率")).to_have_attribute("aria-sort", "ascending")

        href = await page.get_by_role("link", name="导出 CSV").get_attribute("href")
        exported = await page.request.get(href)
        assert exported.ok and exported.headers["content-type"].startswith("text/csv")
        lines = (await exported.body()).decode("utf-8-sig").splitlines()
        assert lines[0].startswith("单位代码,单位名称,收件数,"), "the table's headings, in Chinese"
        assert any(f"{BOARD_UNIT},广州市黄埔区统计局," in line for line in lines), "each unit with its name"
        assert any(line.startswith("合计,") for line in lines)

        await row.get_by_role("link", name="广州市黄埔区统计局").click()
        await expect(page.get_by_role("heading", name="广州市黄埔区统计局")).to_be_visible()
        await expect(page.get_by_role("row").filter(has_text=item["reference_no"])).to_contain_text("已办结")
        await assert_accessible(page)
    finally:
        await page.context.close()


async def test_a_supervisor_approves_and_denies_extensions(system, web, browser):
    first = await submit_for(system, kind="statistics", unit=BOARD_UNIT)
    second = await submit_for(system, kind="statistics", unit=BOARD_UNIT)
    clerk = system.auth("department", unit=BOARD_UNIT)
    for item, reason in ((first, "需向省统计局调取历年数据"), (second, "材料较多")):
        await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
        asked = await system.router.post(
            f"/v1/workitems/{item['id']}/extension", json={"days": 5, "reason": reason}, headers=clerk
        )
        assert asked.status_code == 200, asked.text

    page = await supervisor_page(browser, web)
    try:
        await page.goto("/board/extensions")
        card = page.locator("li.card", has_text=first["reference_no"])
        await expect(card).to_contain_text("5 个工作日")
        await expect(card).to_contain_text("需向省统计局调取历年数据")
        await assert_accessible(page)
        await card.get_by_role("button", name="批准").click()
        await expect(page.get_by_role("status")).to_have_text("已批准延期")
        await expect(page.locator("li.card", has_text=first["reference_no"])).to_have_count(0)
        detail = (await system.router.get(f"/v1/workitems/{first['id']}", headers=clerk)).json()
        assert [x["state"] for x in detail["extensions"]] == ["approved"]

        # Denying needs a reason: the router's reason is shown, nothing changes.
        card = page.locator("li.card", has_text=second["reference_no"])
        await card.get_by_role("button", name="驳回").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        detail = (await system.router.get(f"/v1/workitems/{second['id']}", headers=clerk)).json()
        assert [x["state"] for x in detail["extensions"]] == ["pending"]
        card = page.locator("li.card", has_text=second["reference_no"])
        await card.get_by_label("驳回理由").fill("理由不充分")
        await card.get_by_role("button", name="驳回").click()
        # Decided in place (htmx): the approval's answer is still shown beside this one.
        await expect(page.get_by_role("status").filter(has_text="已驳回延期申请")).to_be_visible()
        detail = (await system.router.get(f"/v1/workitems/{second['id']}", headers=clerk)).json()
        assert [(x["state"], x["decision_reason"]) for x in detail["extensions"]] == [("denied", "理由不充分")]
    finally:
        await page.context.close()


async def overdue_item(producer, unit_code: str, unit_name: str, kind: str) -> tuple[str, str]:
    """An item the notifier sees dispatched long ago: overdue now (the notifier's own clocks)."""
    reference = f"XE-BOARD-{uuid.uuid4().hex[:8]}"
    dispatched = long_overdue_dispatch(reference, kind, unit_code, unit_name)
    await publish_item_event(producer, dispatched)
    return reference, dispatched.work_item_id


async def test_overdue_filters_and_an_items_notification_log(system, web, browser, producer, smtp):
    told = await system.notifier.post(
        "/v1/recipients",
        headers=system.auth("admin"),
        json={"kind": "unit", "key": "440112.justice", "channel": "email", "address": "clerk.justice@example.gov.cn"},
    )
    assert told.status_code == 201, told.text
    transport, _ = await overdue_item(producer, "440112.transport", "广州市黄埔区交通运输局", "transport")
    justice, justice_id = await overdue_item(producer, "440112.justice", "广州市黄埔区司法局", "justice")
    supervisor = system.auth("supervisor", region="440112")

    async def both_overdue():
        rows = (await system.notifier.get("/v1/overdue", headers=supervisor)).json()
        return {transport, justice} <= {row["reference_no"] for row in rows}

    await eventually(both_overdue)
    page = await supervisor_page(browser, web)
    try:
        assert page.url == web.url + "/board/"
        await expect(page.get_by_role("row").filter(has_text=transport)).to_contain_text("超期")
        await page.get_by_label("承办单位").select_option("440112.justice")
        await page.get_by_role("button", name="筛选").click()
        await expect(page.get_by_role("row").filter(has_text=justice)).to_contain_text("广州市黄埔区司法局")
        await expect(page.get_by_role("row").filter(has_text=transport)).to_have_count(0)
        await page.get_by_label("承办单位").select_option("")
        await page.get_by_label("部门类别").select_option("transport")
        await page.get_by_role("button", name="筛选").click()
        await expect(page.get_by_role("row").filter(has_text=transport)).to_have_count(1)
        await expect(page.get_by_role("row").filter(has_text=justice)).to_have_count(0)
        await expect(page.get_by_label("诉求类型").locator("option", has_text="守法证明")).to_have_count(1)
        await assert_accessible(page)

        # The notification log of an overdue item: the notifier's 催办/督办 as its scheduler sends them.
        await system.runtimes["notifier"].scheduler.fire_due_timers(datetime.now(UTC))

        async def notified():
            found = await system.notifier.get(
                "/v1/notifications", params={"work_item_id": justice_id}, headers=supervisor
            )
            return found.json()

        notices = await eventually(notified, timeout=30)
        await page.goto(f"/board/items/{justice_id}")
        await expect(page.get_by_role("heading", name=justice)).to_be_visible()
        log = page.get_by_role("region", name="通知记录", exact=True)
        await expect(log.get_by_role("row")).to_have_count(len(notices) + 1)
        await expect(log).to_contain_text(notices[0]["title"])
        await expect(log).to_contain_text("签收催办")
        await expect(log).to_contain_text("邮件")
        # Published for department systems: named for people, not as the internal "topic".
        assert any(n["channel"] == "topic" for n in notices)
        await expect(log).to_contain_text("消息总线")
        await expect(log).not_to_contain_text("topic")
        await assert_accessible(page)
    finally:
        await page.context.close()
