"""Issue 29, item 2 on the pages: on a phone, the enterprise presses 催办 on its late item, reads
the confirmation, and finds the button disabled with the next time it may chase (the notifier's
working-day calendar decides); the unit's telephone is on the item; the clerk's item page says the
enterprise chased it, and the supervisor's unit statistics count it (被催办次数). Read at a fixed
instant past the 签收 deadline (fix_reading_now), no waiting."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.async_api import expect

from services.web.pages import shanghai_time
from shared.clock import SHANGHAI, fix_reading_now
from tests.support import MINGLUO, eventually
from tests.support.web import DESKTOP, QUIET_UNIT, assert_accessible, new_page, sign_in_as, submit_for, watch_csp

ADMIN = {"sub": "urge-page-admin"}


@pytest.fixture
def reading():
    yield fix_reading_now
    fix_reading_now(None)


async def give_the_unit_a_phone(system, admin: dict) -> str:
    """The quiet unit as the registry has it, with a public telephone added (nothing else changed)."""
    units = (await system.router.get("/v1/units", params={"region": "440112"}, headers=admin)).json()
    [unit] = [u for u in units if u["unit_code"] == QUIET_UNIT]
    kept = ("unit_code", "name", "kind", "region_code", "contacts", "supervising_office", "active")
    body = {**{k: unit[k] for k in kept}, "phone": "020-8211 6789", "office_hours": "工作日 9:00–18:00"}
    answer = await system.router.put(f"/v1/units/{QUIET_UNIT}", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    return body["phone"]


async def test_the_enterprise_chases_a_late_item_once_and_the_clerk_sees_it(system, web, browser, reading):
    item = await submit_for(system)
    admin = system.auth("admin", **ADMIN)

    async def dated():
        answer = await system.notifier.get(f"/v1/sla/{item['id']}", headers=admin)
        return answer.json() if answer.status_code == 200 else None

    sla = await eventually(dated)
    telephone = await give_the_unit_a_phone(system, admin)

    async def announced():
        asked = {"work_item_ids": [item["id"]]}
        [row] = (await system.notifier.post("/v1/countdowns", json=asked, headers=admin)).json()
        return row["unit_contact"]["phone"] == telephone

    await eventually(announced)
    reading(datetime.fromisoformat(sla["acknowledge_due_at"]) + timedelta(hours=2))  # 签收 is late

    phone = await new_page(browser, web)
    blocked = watch_csp(phone)
    await sign_in_as(phone, "enterprise")
    await phone.goto(f"/enterprise/requests/{item['request_id']}")
    card = phone.locator(f"#item-{item['id']}")
    await expect(card.locator(".unit-contact a")).to_have_attribute("href", "tel:020-82116789")
    await expect(card.locator(".unit-contact")).to_contain_text("工作日 9:00–18:00")
    await card.get_by_role("button", name="催办", exact=True).click()
    await expect(phone.get_by_text("已催办，承办单位和督办人员已收到提醒")).to_be_visible()

    [row] = (
        await system.notifier.post(
            "/v1/countdowns",
            json={"work_item_ids": [item["id"]]},
            headers=system.auth("enterprise", usccs=[MINGLUO]),
        )
    ).json()
    assert row["urge"]["reason"] == "already_today" and row["urge"]["count"] == 1
    card = phone.locator(f"#item-{item['id']}")
    await expect(card.get_by_role("button", name="已催办")).to_be_disabled()
    next_time = shanghai_time(row["urge"]["next_allowed_at"])
    await expect(card.locator(".urge")).to_contain_text(f"下次可催办时间：{next_time}")
    await assert_accessible(phone)
    assert blocked == []

    clerk = await new_page(browser, web, viewport=DESKTOP)
    await sign_in_as(clerk, f"staff:{QUIET_UNIT}")
    await clerk.goto(f"/clerk/items/{item['id']}")
    await expect(clerk.locator(".urged")).to_contain_text("企业已催办 1 次")

    board = await new_page(browser, web, viewport=DESKTOP)  # the supervisor's unit statistics
    await sign_in_as(board, "staff:dudao.440112")
    day = datetime.fromisoformat(sla["dispatched_at"]).astimezone(SHANGHAI).date()
    await board.goto(f"/board/units?from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}")
    await expect(board.get_by_role("columnheader", name="被催办次数")).to_be_visible()
    await expect(board.locator(f'tr[data-unit="{QUIET_UNIT}"] td[data-field="urged"]')).to_have_text("1")
    for opened in (phone, clerk, board):
        await opened.context.close()
