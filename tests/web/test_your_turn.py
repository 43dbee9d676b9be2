"""Issue 25, row 5 on the pages: "your turn" is visible. A request waiting for its enterprise (a
补正 here) says so in its status (待补正), carries a 待您处理 badge in the list and comes first
there; the request opens with its step bar (提交 → 受理 → 办理 → 办结), the summary of its items
(3 项：待签收 1 · 办理中 1 · 待您补正 1, as intake counts them) and what waits for the
enterprise, linked to the item, whose card comes first."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support import MINGLUO, certificate_request, eventually
from tests.support.web import assert_accessible, assert_fits_phone, sign_in_as


def owner(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")


async def test_a_request_waiting_for_the_enterprise_says_so_first(system, web, page):
    created = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=("commerce", "customs", "statistics")),
        headers=owner(system),
    )
    assert created.status_code == 201, created.text
    request_id, reference = created.json()["id"], created.json()["reference_no"]

    async def routed():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner(system))).json()
        items = body["work_items"]
        return {i["item"]: i for i in items} if len(items) == 3 and all(i["due_at"] for i in items) else None

    items = await eventually(routed)

    async def move(item, action, **body):
        clerk = system.auth("department", unit=item["unit_code"])
        moved = await system.router.post(f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk)
        assert moved.status_code == 200, moved.text

    await move(items["customs"], "acknowledge")
    asked = items["statistics"]
    await move(asked, "acknowledge")
    await move(asked, "request-supplement", note="请补充统计报表")

    async def waiting():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner(system))).json()
        return body if body["status"] == "awaiting_supplement" and body["summary"]["total"] == 3 else None

    body = await eventually(waiting)
    # A newer request that waits for no one: the waiting one still comes first.
    newer = await system.intake.post("/v1/requests", json=certificate_request(items=("tax",)), headers=owner(system))
    assert newer.status_code == 201, newer.text

    await sign_in_as(page, "enterprise")
    cards = page.locator("ul.cards > li.card")
    first = cards.first
    await expect(first).to_contain_text(reference)
    await expect(first.locator(".badge")).to_have_text("待您处理")
    await expect(first.locator(".status")).to_have_text("待补正")
    await expect(page.locator("li.card", has_text=newer.json()["reference_no"]).locator(".badge")).to_have_count(0)
    await assert_fits_phone(page)
    await assert_accessible(page)

    await first.get_by_role("link", name=reference).click()
    await expect(page.locator(".summary .status")).to_have_text("待补正")
    await expect(page.locator(".items-summary")).to_have_text(body["summary"]["zh"])
    assert body["summary"]["zh"].startswith("3 项：")
    steps = page.get_by_role("list", name="办理进度")
    await expect(steps.locator("li")).to_have_text(["提交", "受理", "办理", "办结"])
    await expect(steps.locator('li[aria-current="step"]')).to_have_text("办理")
    turn = page.get_by_role("region", name="待您处理 1 项等您办理")
    await expect(turn).to_contain_text("补正")
    await turn.get_by_role("link").click()
    assert await page.evaluate("location.hash") == f"#item-{asked['id']}"
    await expect(page.locator("li.item").first).to_have_id(f"item-{asked['id']}")  # its card comes first
    await expect(page.locator("li.item").first.get_by_label("补正说明")).to_be_visible()
    await assert_fits_phone(page)
    await assert_accessible(page)
