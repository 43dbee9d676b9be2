"""Issue 25, row 7 on the supervisor's page: a unit that transferred an item has its row, with the
transfer counted on it; 合计 is the sum of the rows; 签收及时率 leaves out items whose 签收 limit
is still ahead ("—" rather than 0 %); what each column counts is written under the table."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support import eventually
from tests.support.web import DESKTOP, assert_accessible, new_page, sign_in_as, submit_for, watch_csp

SENDER, KIND = "440112.foreign_exchange", "foreign_exchange"  # no other test sends work to either
RECEIVER = "440112.development_reform"


async def cell(page, unit: str, field: str) -> str:
    return (await page.locator(f'tr[data-unit="{unit}"] td[data-field="{field}"]').inner_text()).strip()


async def unit_rows(system, supervisor: dict) -> dict[str, dict]:
    stats = (await system.notifier.get("/v1/stats/units", headers=supervisor)).json()
    return {row["unit_code"]: row for row in stats["units"]}


async def test_a_transferring_unit_has_its_row_and_the_total_adds_up(system, web, browser):
    supervisor = system.auth("supervisor", region="440112")
    # The session's other tests (the OpenAPI fuzzing among them) may have sent work to these units:
    # the page must show what this test adds on top of what was there.
    before = await unit_rows(system, supervisor)
    zero = {"received": 0, "transferred": 0, "kept": 0, "acknowledge_counted": 0}
    sent_before, got_before = before.get(SENDER, zero), before.get(RECEIVER, zero)
    item = await submit_for(system, kind=KIND, unit=SENDER)
    moved = await system.router.post(
        f"/v1/workitems/{item['id']}/transfer",
        json={"to_unit": RECEIVER, "reason": "属发展改革局职责"},
        headers=system.auth("department", unit=SENDER),
    )
    assert moved.status_code == 200, moved.text

    async def counted():
        units = await unit_rows(system, supervisor)
        return (
            SENDER in units
            and RECEIVER in units
            and units[SENDER]["transferred"] > sent_before["transferred"]
            and units[RECEIVER]["received"] > got_before["received"]
        )

    await eventually(counted, timeout=30)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, "staff:dudao.440112")
        await page.goto("/board/units")
        sender = page.locator(f'tr[data-unit="{SENDER}"]')
        await expect(sender.get_by_role("rowheader")).to_have_text("广州市黄埔区国家外汇管理局分局")
        received, transferred = sent_before["received"] + 1, sent_before["transferred"] + 1
        assert await cell(page, SENDER, "received") == str(received)
        assert await cell(page, SENDER, "transferred") == str(transferred)
        assert await cell(page, SENDER, "transfer_rate") == f"{100 * transferred / received:.1f}%"
        assert await cell(page, SENDER, "kept") == str(sent_before["kept"]), "what it passed on it did not keep"
        assert await cell(page, RECEIVER, "received") == str(got_before["received"] + 1)
        # Its 签收 limit is still ahead: not counted for 签收及时率.
        assert await cell(page, RECEIVER, "acknowledge_counted") == str(got_before["acknowledge_counted"])
        if not got_before["acknowledge_counted"]:
            assert await cell(page, RECEIVER, "response_rate") == "—", "nothing to say yet"

        # 合计 is the rows' sum, column by column (for the counts).
        units = await page.locator("tbody tr[data-unit]").count()
        for field in ("received", "transferred", "returned", "kept", "resolved", "open_now"):
            column = await page.locator(f'tbody td[data-field="{field}"]').all_inner_texts()
            assert len(column) == units
            total = await page.locator(f'tfoot td[data-field="{field}"]').inner_text()
            assert int(total) == sum(int(v) for v in column), field

        # Sorted by the notifier, by name too; a page past the last goes back to the first. The
        # district's units fit on one page: no pager.
        await page.goto("/board/units?sort=unit_name&desc=false&page=99")
        assert "page=" not in page.url and "sort=unit_name&desc=false" in page.url
        names = await page.locator("tbody th[scope=row]").all_inner_texts()
        assert names == sorted(names) and len(names) == units
        await expect(page.get_by_role("navigation", name="翻页")).to_have_count(0)

        definitions = page.get_by_role("region", name="指标说明")
        await expect(definitions).to_contain_text("签收及时率")
        await expect(definitions).to_contain_text("按时签收 ÷ 应签收数")
        await expect(definitions).to_contain_text("转给其他单位的，计入转办的单位")
        await assert_accessible(page)
        assert blocked == []
    finally:
        await page.context.close()
