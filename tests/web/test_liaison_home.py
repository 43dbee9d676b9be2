"""The liaison officer's home on a phone (驻企联络员, issue 29 item 7): the enterprises served, each
named (a subsidiary that never submitted too), with its overdue, waiting (待企业处理) and open
requests, the overdue first; tapping an enterprise shows its requests, and filing one for it takes
a second tap, the enterprise chosen and named."""

from __future__ import annotations

import uuid
from datetime import timedelta

from playwright.async_api import expect

from services.intake.models import WorkItemDeadline
from shared.clock import fix_reading_now, utcnow
from shared.validation import make_uscc
from tests.support import certificate_request, eventually
from tests.support.web import assert_accessible, assert_fits_phone

LIAISON_NAME = "黄埔区驻企联络员"


def new_uscc(district: str = "440112") -> str:
    return make_uscc(f"91{district}MA{uuid.uuid4().int % 10**8:08d}"[:17])


async def submitted(system, uscc: str, name: str, kind: str) -> dict:
    body = certificate_request(enterprise=uscc, items=(kind,))
    body["enterprise"]["name"] = name
    response = await system.intake.post("/v1/requests", json=body, headers=system.auth("enterprise", usccs=[uscc]))
    assert response.status_code == 201, response.text
    return response.json()


async def served_world(system) -> dict:
    """Three enterprises: one with a request past its 签收 limit (read sixty days on), one asked
    for a 补正, and a subsidiary that never submitted, known from the enterprise-group registry."""
    late, waiting, subsidiary = new_uscc(), new_uscc(), new_uscc("310115")
    overdue = await submitted(system, late, "迟办科技有限公司", "statistics")
    asked = await submitted(system, waiting, "补正装备有限公司", "tax")
    related = await system.intake.put(
        f"/v1/relations/{waiting}/{subsidiary}",
        json={
            "parent_name": "补正装备有限公司",
            "parent_region": "440112",
            "subject_name": "补正装备（上海）有限公司",
            "subject_region": "310115",
        },
        headers=system.auth("admin", sub="liaison-home-pages"),
    )
    assert related.status_code == 200, related.text
    item = (await system.routed_item(asked["id"], "440112.tax"))["id"]
    await system.routed_item(overdue["id"], "440112.statistics")
    tax = system.clerk("440112.tax")
    await tax.act(item, "acknowledge")
    await tax.act(item, "request-supplement", note="请补充近三年社保缴纳证明")
    return {"late": late, "waiting": waiting, "subsidiary": subsidiary, "asked": asked, "asked_item": item}


async def paused_in_intake(system, item_id: str) -> bool:
    """The notifier's pause of the 补正 item has reached intake. Until then its deadlines may still
    be on their way: counted not overdue while none are there, then overdue for a moment when
    the running clock's come, until the pause does (CI once loaded the page in that moment)."""
    async with system.runtimes["intake"].sessions() as session:
        deadline = await session.get(WorkItemDeadline, item_id)
        return deadline is not None and deadline.paused


async def signed_in_liaison(system, page, usccs: list[str]) -> None:
    """A liaison officer bound to WeChat with a token for these enterprises, signed in on the phone."""
    code = f"good-{uuid.uuid4().hex[:8]}"
    token = system.auth("liaison", usccs=usccs, name=LIAISON_NAME, sub=f"liaison-{code}")
    assert (await system.intake.post("/v1/auth/wechat", json={"code": code}, headers=token)).status_code == 200
    await page.goto(f"/auth/wechat?code={code}")


async def test_the_home_shows_the_enterprises_counted_most_urgent_first_and_files_in_two_taps(system, web, page):
    world = await served_world(system)
    usccs = [world["subsidiary"], world["waiting"], world["late"]]
    liaison = system.auth("liaison", usccs=usccs, sub="liaison-home-pages")

    async def counted():
        found = {e["uscc"]: e for e in (await system.intake.get("/v1/enterprises", headers=liaison)).json()}
        late, waiting = found[world["late"]], found[world["waiting"]]
        counts = (late["overdue"], waiting["waiting"], waiting["overdue"])
        return counts == (1, 1, 0) and await paused_in_intake(system, world["asked_item"])

    fix_reading_now(utcnow() + timedelta(days=60))  # the statistics item is long past its 签收 limit
    try:
        await eventually(counted, timeout=45)
        await signed_in_liaison(system, page, usccs)
        assert page.url == web.url + "/enterprise/enterprises", "the liaison officer's home"
        await expect(page.get_by_role("heading", name="所服务企业", exact=True)).to_be_visible()
        cards = page.locator("li.card[data-uscc]")
        order = [await c.get_attribute("data-uscc") for c in await cards.all()]
        assert order == [world["late"], world["waiting"], world["subsidiary"]]
        late = cards.nth(0)
        await expect(late.get_by_role("heading")).to_have_text("迟办科技有限公司")
        await expect(late.locator(".count-overdue")).to_have_text("超期 1")
        await expect(late.locator(".count-open")).to_have_text("在办 1")
        waiting = cards.nth(1)
        await expect(waiting.locator(".count-waiting")).to_have_text("待企业处理 1")
        await expect(waiting.locator(".count-overdue")).to_have_text("超期 0")
        subsidiary = cards.nth(2)
        await expect(subsidiary.get_by_role("heading")).to_have_text("补正装备（上海）有限公司")
        await expect(subsidiary).to_contain_text("上海市浦东新区")
        await assert_fits_phone(page)
        await assert_accessible(page)
    finally:
        fix_reading_now(None)

    # Tap one: the enterprise, and its requests (chosen by intake, not filtered from a page of all).
    async with page.expect_navigation():
        await waiting.get_by_role("link", name="补正装备有限公司").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("补正装备有限公司")
    await expect(page.locator("li.card", has_text=world["asked"]["reference_no"])).to_contain_text("待补正")
    await expect(page.locator("li.card")).to_have_count(1)
    await assert_accessible(page)
    # Tap two: a new request, for that enterprise, named.
    async with page.expect_navigation():
        await page.get_by_role("link", name="提交新诉求").click()
    await expect(page.get_by_label("统一社会信用代码")).to_have_value(world["waiting"])
    await expect(page.get_by_label("企业名称")).to_have_value("补正装备有限公司")
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_an_enterprise_not_served_is_refused(system, web, page):
    mine, theirs = new_uscc(), new_uscc()
    await submitted(system, theirs, "别家企业有限公司", "tax")
    await signed_in_liaison(system, page, [mine])
    response = await page.goto(f"/enterprise/?enterprise={theirs}")
    assert response.status == 403
    await expect(page.locator("main")).not_to_contain_text("别家企业有限公司")
