"""Issue 25's "day in the life": four people — the enterprise (phone), the clerk of the unit first
given the item, the coordinator of the district, a supervisor of the city — take one request
through its working days, each on their own pages, and at every step every page that shows the
item says the same thing: its state, its clock (the notifier's words at fixed instants of the
simulated days, shared.clock.fix_reading_now), the counts of the tabs and of the unit table.

Day 1: the enterprise submits; nobody signs. Three days after the 签收 limit: overdue for 签收 on
the enterprise's page, the clerk's queue and item, the overdue board and the supervisor's item
page alike. The clerk returns it (not this unit's); the coordinator sends it to the city's unit,
whose clerk signs and asks for a 补正: paused for everyone, however late the reading. The
enterprise answers with a file; the clerk issues the certificate with its file; the enterprise
downloads it; the unit table counts the return on the first unit and the resolution on the second."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from playwright.async_api import expect

from shared.clock import fix_reading_now
from tests.support import MINGLUO, PDF_BYTES, eventually
from tests.support.web import DESKTOP, new_page, sign_in_as, sign_in_with_password, watch_csp

FIRST_UNIT, FIRST_NAME = "440112.housing_fund", "住房公积金管理中心"
CITY_UNIT = "440100.housing_fund"


@pytest.fixture
def reading():
    yield fix_reading_now
    fix_reading_now(None)


def owner(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")


async def words(system, item_id: str) -> dict:
    [row] = (
        await system.notifier.post("/v1/countdowns", json={"work_item_ids": [item_id]}, headers=system.auth("admin"))
    ).json()
    return row


async def shown(page, path: str, selector: str) -> str:
    await page.goto(path)
    found = page.locator(selector)
    await expect(found).to_be_visible()
    return (await found.inner_text()).strip()


async def unit_figures(page, unit: str) -> dict[str, str]:
    await page.goto("/board/units")
    cells = page.locator(f'tr[data-unit="{unit}"] td[data-field]')
    fields = await cells.evaluate_all("cells => cells.map(c => [c.dataset.field, c.innerText.trim()])")
    return dict(fields)


async def test_one_request_through_its_working_days_reads_the_same_on_every_page(system, web, browser, reading):
    enterprise = await new_page(browser, web)
    clerk = await new_page(browser, web, viewport=DESKTOP)
    coordinator = await new_page(browser, web, viewport=DESKTOP)
    city_clerk = await new_page(browser, web, viewport=DESKTOP)
    supervisor = await new_page(browser, web, viewport=DESKTOP)
    everyone = (enterprise, clerk, coordinator, city_clerk, supervisor)
    blocked = [watch_csp(p) for p in everyone]
    try:
        username = f"gjj-{uuid.uuid4().hex[:6]}"
        await web.add_staff("Gong-ji-jin-2026", role="department", display_name="吴十", unit_code=FIRST_UNIT,
                            username=username)  # fmt: skip
        await sign_in_with_password(clerk, username, "Gong-ji-jin-2026")
        await sign_in_as(coordinator, "staff:440112.coordinator")
        await sign_in_as(city_clerk, f"staff:{CITY_UNIT}")
        await sign_in_as(supervisor, "staff:dudao.440100")  # the city: both units are under it
        before = {unit: await unit_figures(supervisor, unit) for unit in (FIRST_UNIT, CITY_UNIT)}

        # --- Day 1: the enterprise submits on its phone.
        await sign_in_as(enterprise, "enterprise")
        await enterprise.goto("/enterprise/new")
        await enterprise.get_by_label(FIRST_NAME, exact=True).check()
        await enterprise.get_by_label("情况说明").fill("办理上市申报，需近三年住房公积金缴存守法证明")
        await enterprise.get_by_label("联系人").fill("张三")
        await enterprise.get_by_label("联系电话").fill("13800138000")
        async with enterprise.expect_navigation():
            await enterprise.get_by_role("button", name="提交", exact=True).click()
        reference = re.search(r"XE-[\w-]+", await enterprise.get_by_role("status").inner_text()).group(0)
        request_id = enterprise.url.rsplit("/", 1)[1]

        async def timed():
            body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner(system))).json()
            return body["work_items"][0] if body["work_items"] and body["work_items"][0]["due_at"] else None

        item = await eventually(timed)
        item_id = item["id"]
        sla = (await system.notifier.get(f"/v1/sla/{item_id}", headers=system.auth("admin"))).json()

        # --- Three days after the 签收 limit, nobody has signed.
        reading(datetime.fromisoformat(sla["acknowledge_due_at"]) + timedelta(days=3))
        late = (await words(system, item_id))["countdown"]
        assert late["overdue"] and late["deadline"] == "acknowledge"
        pages = {
            "enterprise": await shown(enterprise, f"/enterprise/requests/{request_id}", f"#item-{item_id} .deadline"),
            "clerk queue": await shown(clerk, f"/clerk/?tab=new&q={reference}", f"#row-{item_id} .countdown"),
            "clerk item": await shown(clerk, f"/clerk/items/{item_id}", ".summary .countdown"),
            "board": await shown(supervisor, f"/board/?q={reference}", f"tr:has-text('{reference}') .countdown"),
            "supervisor item": await shown(supervisor, f"/board/items/{item_id}", ".summary .countdown"),
        }
        assert set(pages.values()) == {late["zh"]}, pages
        counts = (
            await system.router.get("/v1/workitems/counts", headers=system.auth("department", unit=FIRST_UNIT))
        ).json()
        await clerk.goto("/clerk/")
        for tab in counts["tabs"]:
            await expect(clerk.locator(f'a[data-tab="{tab["code"]}"] .count')).to_have_text(str(tab["count"]))

        # --- The clerk returns it: not this unit's. The coordinator's pages say the same clock.
        await clerk.goto(f"/clerk/items/{item_id}")
        await clerk.get_by_text("退回", exact=True).click()
        await clerk.get_by_label("退回理由").fill("应由市住房公积金管理中心办理")
        await clerk.get_by_role("button", name="提交：退回").click()
        await expect(clerk.get_by_role("status")).to_have_text("已退回")

        async def at_the_office():
            return (await words(system, item_id))["state"] == "returned"

        await eventually(at_the_office)
        waiting = (await words(system, item_id))["countdown"]
        pages = {
            "enterprise": await shown(enterprise, f"/enterprise/requests/{request_id}", f"#item-{item_id} .deadline"),
            "coordinator queue": await shown(
                coordinator, f"/clerk/?tab=returned&q={reference}", f"#row-{item_id} .countdown"
            ),
            "coordinator item": await shown(coordinator, f"/clerk/items/{item_id}", ".summary .countdown"),
            "supervisor item": await shown(supervisor, f"/board/items/{item_id}", ".summary .countdown"),
        }
        assert set(pages.values()) == {waiting["zh"]}, pages
        await expect(coordinator.locator(".returned")).to_contain_text("应由市住房公积金管理中心办理")
        await coordinator.get_by_label("分拨给").select_option(CITY_UNIT)
        await coordinator.get_by_role("button", name="提交：分拨").click()
        await expect(coordinator.get_by_role("status")).to_have_text("已分拨")

        # --- The city's clerk signs and asks for a 补正: paused for everyone, however late.
        reading(None)

        async def at_the_city():
            found = await system.router.get(
                f"/v1/workitems/{item_id}", headers=system.auth("department", unit=CITY_UNIT)
            )
            return found.status_code == 200 and found.json()["state"] == "dispatched"

        await eventually(at_the_city)
        await city_clerk.goto(f"/clerk/items/{item_id}")
        await city_clerk.get_by_role("button", name="签收", exact=True).click()
        await expect(city_clerk.get_by_role("status")).to_have_text("已签收")
        await city_clerk.get_by_text("要求补正", exact=True).click()
        await city_clerk.get_by_label("需要企业补正的材料").fill("请补充近三年住房公积金缴存明细")
        await city_clerk.get_by_role("button", name="提交：要求补正").click()
        await expect(city_clerk.get_by_role("status")).to_have_text("已要求企业补正")

        async def paused():
            return (await words(system, item_id))["countdown"]["paused"]

        await eventually(paused)
        reading(datetime.fromisoformat(sla["acknowledge_due_at"]) + timedelta(days=30))
        still = (await words(system, item_id))["countdown"]
        pages = {
            "enterprise": await shown(enterprise, f"/enterprise/requests/{request_id}", f"#item-{item_id} .deadline"),
            "clerk queue": await shown(
                city_clerk, f"/clerk/?tab=supplement&q={reference}", f"#row-{item_id} .countdown"
            ),
            "clerk item": await shown(city_clerk, f"/clerk/items/{item_id}", ".summary .countdown"),
            "supervisor item": await shown(supervisor, f"/board/items/{item_id}", ".summary .countdown"),
        }
        assert set(pages.values()) == {still["zh"]} and still["zh"].startswith("暂停计时"), pages
        await supervisor.goto(f"/board/?q={reference}")
        await expect(supervisor.get_by_role("row").filter(has_text=reference)).to_have_count(0)  # paused: not overdue
        reading(None)

        # --- The enterprise answers with a file; the clerk issues the certificate with its file.
        await enterprise.goto(f"/enterprise/requests/{request_id}")
        card = enterprise.locator(f"#item-{item_id}")
        await card.get_by_label("补正说明").fill("已上传缴存明细")
        await card.get_by_label("补正文件").set_input_files(
            {"name": "缴存明细.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await expect(card.locator(".uploads")).to_contain_text("缴存明细.pdf")
        async with enterprise.expect_navigation():
            await card.get_by_role("button", name="提交补正").click()
        await expect(enterprise.get_by_role("status")).to_have_text("补正材料已提交")

        async def answered():
            return (await words(system, item_id))["state"] == "in_progress"

        await eventually(answered)
        await city_clerk.goto(f"/clerk/items/{item_id}")
        await expect(city_clerk.get_by_role("link", name="缴存明细.pdf")).to_be_visible()
        await city_clerk.get_by_text("办结", exact=True).click()
        await city_clerk.get_by_label("办理结果").select_option("issued")
        await city_clerk.get_by_label("文号（出具证明时必填）").fill(f"穗公积金证〔{uuid.uuid4().hex[:4]}〕号")
        await city_clerk.get_by_label("证明文件（PDF）").set_input_files(
            {"name": "公积金守法证明.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await city_clerk.get_by_role("button", name="提交：办结").click()
        await expect(city_clerk.get_by_role("status")).to_have_text("已办结")

        # --- Done: the same words everywhere, the certificate downloads, the figures count it.
        async def finished():
            return (await words(system, item_id))["countdown"]["finished"]

        await eventually(finished)
        done = (await words(system, item_id))["countdown"]
        pages = {
            "enterprise": await shown(enterprise, f"/enterprise/requests/{request_id}", f"#item-{item_id} .deadline"),
            "clerk item": await shown(city_clerk, f"/clerk/items/{item_id}", ".summary .countdown"),
        }
        assert set(pages.values()) == {done["zh"]}, pages
        link = enterprise.locator(f"#item-{item_id}").get_by_role("link", name=re.compile("公积金守法证明.pdf"))
        downloaded = await enterprise.request.get(await link.get_attribute("href"))
        assert downloaded.ok and await downloaded.body() == PDF_BYTES

        async def counted():
            after = {unit: await unit_figures(supervisor, unit) for unit in (FIRST_UNIT, CITY_UNIT)}
            first, city = after[FIRST_UNIT], after[CITY_UNIT]
            was_first, was_city = before[FIRST_UNIT], before[CITY_UNIT]
            return (
                int(first.get("returned", 0)) == int(was_first.get("returned", 0)) + 1
                and int(city.get("resolved", 0)) == int(was_city.get("resolved", 0)) + 1
            )

        await eventually(counted, timeout=30)
        stats = (
            await system.notifier.get("/v1/stats/units", headers=system.auth("supervisor", region="440100"))
        ).json()
        on_page = await unit_figures(supervisor, CITY_UNIT)
        in_api = next(r for r in stats["units"] if r["unit_code"] == CITY_UNIT)
        assert on_page["received"] == str(in_api["received"]) and on_page["resolved"] == str(in_api["resolved"])
        assert all(b == [] for b in blocked), blocked
    finally:
        for page in everyone:
            await page.context.close()
