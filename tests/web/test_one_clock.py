"""Issue 25, row 6: one clock. One item, read at fixed instants (shared.clock.fix_reading_now: the
notifier and the router answer as of that instant; no waiting), shows the same words on every
page that shows it — the enterprise's request, the clerk's queue and item, the coordinator's
queue and item once it was returned there, the supervisor's overdue board and item page — and
they are the notifier's words (services/notifier/countdown.py): which deadline, working days,
paused during 补正 for everyone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.async_api import expect

from shared.clock import fix_reading_now
from tests.support import MINGLUO, certificate_request, eventually
from tests.support.web import DESKTOP, new_page, sign_in_as, watch_csp

UNIT, KIND = "440112.health", "health"  # no other page test sends work there


@pytest.fixture
def reading():
    yield fix_reading_now
    fix_reading_now(None)


def enterprise(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")


async def notifier_row(system, item_id: str) -> dict:
    [row] = (
        await system.notifier.post("/v1/countdowns", json={"work_item_ids": [item_id]}, headers=system.auth("admin"))
    ).json()
    return row


async def notifier_words(system, item_id: str) -> dict:
    return (await notifier_row(system, item_id))["countdown"]


async def shown_everywhere(system, pages: dict, request_id: str, item_id: str, reference: str) -> dict[str, str]:
    """The item's clock as each page shows it."""
    shown = {}
    for name, (page, path, locator) in pages.items():
        await page.goto(path.format(request_id=request_id, item_id=item_id, reference=reference))
        found = page.locator(locator.format(item_id=item_id, reference=reference))
        await expect(found).to_be_visible()
        shown[name] = (await found.inner_text()).strip()
    return shown


async def test_every_page_shows_the_notifiers_words_for_the_item_at_a_fixed_instant(system, web, browser, reading):
    created = await system.intake.post(
        "/v1/requests", json=certificate_request(items=(KIND,)), headers=enterprise(system)
    )
    assert created.status_code == 201, created.text
    request_id, reference = created.json()["id"], created.json()["reference_no"]

    async def timed():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=enterprise(system))).json()
        items = body["work_items"]
        return items[0] if items and items[0]["due_at"] else None

    item = await eventually(timed)
    sla = (await system.notifier.get(f"/v1/sla/{item['id']}", headers=system.auth("admin"))).json()
    acknowledge_due = datetime.fromisoformat(sla["acknowledge_due_at"])

    people = {}
    for who, persona, viewport in (
        ("enterprise", "enterprise", None),
        ("clerk", f"staff:{UNIT}", DESKTOP),
        ("coordinator", "staff:440112.coordinator", DESKTOP),
        ("supervisor", "staff:dudao.440112", DESKTOP),
    ):
        page = await new_page(browser, web, **({"viewport": viewport} if viewport else {}))
        await sign_in_as(page, persona)
        people[who] = page
    blocked = {who: watch_csp(page) for who, page in people.items()}
    try:
        # Three days after its 签收 deadline, nobody has signed: overdue for 签收, the same for all.
        reading(acknowledge_due + timedelta(days=3))
        words = await notifier_words(system, item["id"])
        assert words["deadline"] == "acknowledge" and words["overdue"], words
        at_the_unit = {
            "enterprise": (people["enterprise"], "/enterprise/requests/{request_id}", "#item-{item_id} .deadline"),
            "clerk queue": (people["clerk"], "/clerk/?tab=new&q={reference}", "#row-{item_id} .countdown"),
            "clerk item": (people["clerk"], "/clerk/items/{item_id}", ".summary .countdown"),
            "board": (people["supervisor"], "/board/?q={reference}", "tr:has-text('{reference}') .countdown"),
            "supervisor item": (people["supervisor"], "/board/items/{item_id}", ".summary .countdown"),
        }
        shown = await shown_everywhere(system, at_the_unit, request_id, item["id"], reference)
        assert set(shown.values()) == {words["zh"]}, shown
        assert words["zh"].startswith("签收超期")

        # The clerk returns it: it waits at the coordinating office, whose pages say the same.
        clerk = system.auth("department", unit=UNIT)
        returned = await system.router.post(
            f"/v1/workitems/{item['id']}/return", json={"reason": "不属于本单位职责"}, headers=clerk
        )
        assert returned.status_code == 200, returned.text

        async def at_the_coordinator():
            return (await notifier_row(system, item["id"]))["state"] == "returned"

        await eventually(at_the_coordinator)
        later = await notifier_words(system, item["id"])
        at_the_office = {
            "enterprise": at_the_unit["enterprise"],
            "coordinator queue": (
                people["coordinator"],
                "/clerk/?tab=returned&q={reference}",
                "#row-{item_id} .countdown",
            ),
            "coordinator item": (people["coordinator"], "/clerk/items/{item_id}", ".summary .countdown"),
            "supervisor item": at_the_unit["supervisor item"],
        }
        shown = await shown_everywhere(system, at_the_office, request_id, item["id"], reference)
        assert set(shown.values()) == {later["zh"]}, shown

        # The English pages read the notifier's English words.
        await people["enterprise"].goto("/enterprise/requests/" + request_id)
        async with people["enterprise"].expect_navigation():
            await people["enterprise"].get_by_role("button", name="Switch to English").click()
        await expect(people["enterprise"].locator(f"#item-{item['id']} .deadline")).to_have_text(later["en"])
        assert all(not b for b in blocked.values()), blocked
    finally:
        for page in people.values():
            await page.context.close()


async def test_a_supplement_pauses_the_clock_for_everyone(system, web, browser, reading):
    created = await system.intake.post(
        "/v1/requests", json=certificate_request(items=(KIND,)), headers=enterprise(system)
    )
    assert created.status_code == 201, created.text
    request_id, reference = created.json()["id"], created.json()["reference_no"]

    async def timed():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=enterprise(system))).json()
        items = body["work_items"]
        return items[0] if items and items[0]["due_at"] else None

    item = await eventually(timed)
    clerk = system.auth("department", unit=UNIT)
    for action, body in (("acknowledge", {}), ("request-supplement", {"note": "请补充体检报告"})):
        moved = await system.router.post(f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk)
        assert moved.status_code == 200, moved.text

    async def paused():
        return (await notifier_words(system, item["id"]))["paused"]

    await eventually(paused)
    sla = (await system.notifier.get(f"/v1/sla/{item['id']}", headers=system.auth("admin"))).json()
    # Long after the deadline as it stood: the clock stands still, for everyone.
    reading(datetime.fromisoformat(sla["resolve_due_at"] or sla["acknowledge_due_at"]) + timedelta(days=10))
    words = await notifier_words(system, item["id"])
    assert words["zh"].startswith("暂停计时（待补正）"), words

    enterprise_page = await new_page(browser, web)
    clerk_page = await new_page(browser, web, viewport=DESKTOP)
    supervisor_page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(enterprise_page, "enterprise")
        await sign_in_as(clerk_page, f"staff:{UNIT}")
        await sign_in_as(supervisor_page, "staff:dudao.440112")
        pages = {
            "enterprise": (enterprise_page, "/enterprise/requests/{request_id}", "#item-{item_id} .deadline"),
            "clerk queue": (clerk_page, "/clerk/?tab=supplement&q={reference}", "#row-{item_id} .countdown"),
            "clerk item": (clerk_page, "/clerk/items/{item_id}", ".summary .countdown"),
            "supervisor item": (supervisor_page, "/board/items/{item_id}", ".summary .countdown"),
        }
        shown = await shown_everywhere(system, pages, request_id, item["id"], reference)
        assert set(shown.values()) == {words["zh"]}, shown
        await supervisor_page.goto(f"/board/?q={reference}")
        await expect(supervisor_page.get_by_role("row").filter(has_text=reference)).to_have_count(0)  # not overdue
    finally:
        for page in (enterprise_page, clerk_page, supervisor_page):
            await page.context.close()
