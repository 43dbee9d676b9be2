"""Issue 25, row 9: live pages. The enterprise's request, the clerk's queue and the supervisors'
board redraw themselves when their data changes — polled with the ETag of what is shown, so an
unchanged page is a 304 — without losing a half-typed form or a ticked box, and a withdrawn
request stops offering uploads. The tests wait for what the pages do by themselves (the polls
run every ``LIVE_SECONDS`` in tests); nobody reloads."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect

from tests.support import MINGLUO, PDF_BYTES, certificate_request, eventually, long_overdue_dispatch, publish_item_event
from tests.support.web import DESKTOP, LIVE_SECONDS, new_page, sign_in_as, submit_for, watch_csp

SOON = LIVE_SECONDS * 1000 * 4  # ms: a few polls
LIVE_UNIT, LIVE_KIND = (
    "440112.housing_construction",
    "housing_construction",
)  # no other test sends work there: one short queue


def enterprise(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")


async def two_items(system) -> tuple[dict, dict, dict]:
    created = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=("statistics", "water_affairs")),
        headers=enterprise(system),
    )
    assert created.status_code == 201, created.text
    request = created.json()

    async def routed():
        body = (await system.intake.get(f"/v1/requests/{request['id']}", headers=enterprise(system))).json()
        items = body["work_items"]
        return items if len(items) == 2 and all(i["due_at"] for i in items) else None

    items = {i["item"]: i for i in await eventually(routed)}
    return request, items["statistics"], items["water_affairs"]


async def in_intake(system, request: dict, item: dict, status: str) -> bool:
    """``item`` shows ``status`` in intake, where the page reads it from (over Kafka, after the router)."""
    body = (await system.intake.get(f"/v1/requests/{request['id']}", headers=enterprise(system))).json()
    return any(i["id"] == item["id"] and i["status"] == status for i in body["work_items"])


async def move(system, item: dict, action: str, **body) -> None:
    clerk = system.auth("department", unit=item["unit_code"])
    moved = await system.router.post(f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk)
    assert moved.status_code == 200, moved.text


async def supplement_asked(system) -> tuple[dict, dict, dict]:
    """A request of two items, the first one asked for a supplement (the page offers an upload)."""
    request, asked, other = await two_items(system)
    await move(system, asked, "acknowledge")
    await move(system, asked, "request-supplement", note="请补充近三年统计报表")

    await eventually(lambda: in_intake(system, request, asked, "awaiting_supplement"))
    return request, asked, other


async def test_the_request_page_follows_the_work_and_keeps_a_half_typed_supplement(system, web, page):
    request, asked, other = await supplement_asked(system)
    polls = []
    page.on("response", lambda r: polls.append(r.status) if r.request.headers.get("hx-target") == "live" else None)
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{request['id']}")
    card = page.locator(f"#item-{asked['id']}")
    typed = "报表正在盖章，明天上传"
    await card.get_by_label("补正说明").fill(typed)
    await page.get_by_role("heading", level=1).click()  # the person looks elsewhere; the text stays typed
    await eventually(lambda: 304 in polls, timeout=SOON / 1000)  # nothing changed: nothing sent again

    await move(system, other, "acknowledge")  # at the water office, meanwhile
    await expect(page.locator(f"#item-{other['id']} .status")).to_have_text("已签收", timeout=SOON)
    await expect(card.get_by_label("补正说明")).to_have_value(typed)

    withdrawn = await system.intake.post(
        f"/v1/requests/{request['id']}/withdraw", json={"reason": "已另行取得"}, headers=enterprise(system)
    )
    assert withdrawn.status_code in (200, 202), withdrawn.text
    await expect(page.locator(".summary .status")).to_have_text("已撤回", timeout=SOON)
    await expect(page.locator("input[type=file]")).to_have_count(0)  # no upload offered any more
    await expect(page.get_by_role("button", name="提交补正")).to_have_count(0)


async def test_a_page_just_opened_is_not_redrawn_while_nothing_changed(system, web, page):
    """The page carries the ETag of what its live region shows: the first poll of an unchanged page
    is a 304. Redrawn anyway, the rating form under a finger was replaced between press and
    release, and the rating never left the phone."""
    request, _, _ = await two_items(system)
    polls = []
    page.on("response", lambda r: polls.append(r) if r.request.headers.get("hx-target") == "live" else None)
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{request['id']}")
    shown = await page.locator("#live").get_attribute("data-etag")
    await eventually(lambda: polls, timeout=SOON / 1000)
    assert shown and polls[0].request.headers.get("if-none-match") == shown
    assert polls[0].status == 304


async def test_a_change_arriving_under_a_finger_waits_and_the_tap_still_sends_the_form(system, web, page):
    """The region is not redrawn while a finger (or the mouse) is pressed in it: redrawn between
    press and release, the button was replaced and the tap that sends the form was lost. The
    change is drawn by the next poll."""
    request, asked, other = await supplement_asked(system)
    polls = []
    page.on("response", lambda r: polls.append(r.status) if r.request.headers.get("hx-target") == "live" else None)
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{request['id']}")

    async def changed_while_pressed(target, action: str, status: str, **body) -> None:
        await target.scroll_into_view_if_needed()
        box = await target.bounding_box()
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await move(system, other, action, **body)
        await eventually(lambda: in_intake(system, request, other, status))
        seen = len(polls)
        await eventually(lambda: 200 in polls[seen:], timeout=SOON / 1000)  # the change came back
        await expect(page.locator("#live")).not_to_have_class(re.compile(r"\bhtmx-request\b"))  # and was handled

    # Pressed on the page's text: the change waits for the release, then the next poll draws it.
    await changed_while_pressed(page.locator(".summary"), "acknowledge", "acknowledged")
    await expect(page.locator(f"#item-{other['id']} .status")).not_to_have_text("已签收")
    await page.mouse.up()
    await expect(page.locator(f"#item-{other['id']} .status")).to_have_text("已签收", timeout=SOON)

    # Pressed on 提交补正: the tap sends the form.
    card = page.locator(f"#item-{asked['id']}")
    await card.get_by_label("补正说明").fill("报表已盖章，附后")
    await page.get_by_role("heading", level=1).click()
    submit = card.get_by_role("button", name="提交补正")
    await changed_while_pressed(submit, "progress", "in_progress", note="正在核查")
    async with page.expect_navigation():
        await page.mouse.up()
    await expect(page.get_by_role("status")).to_contain_text("补正材料已提交")


async def test_the_queue_shows_new_work_and_keeps_what_is_ticked(system, web, browser):
    first = await submit_for(system, kind=LIVE_KIND, unit=LIVE_UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    blocked = watch_csp(page)
    try:
        await sign_in_as(page, f"staff:{LIVE_UNIT}")
        await page.get_by_label(f"选择 {first['reference_no']}").check()
        second = await submit_for(
            system, kind=LIVE_KIND, unit=LIVE_UNIT
        )  # a new item for the unit, while the clerk looks at the queue
        await expect(page.get_by_role("row").filter(has_text=second["reference_no"])).to_be_visible(timeout=SOON)
        await expect(page.get_by_label(f"选择 {first['reference_no']}")).to_be_checked()
        await expect(page.get_by_label(f"选择 {second['reference_no']}")).not_to_be_checked()
        assert blocked == []
    finally:
        await page.context.close()


async def test_a_tab_chosen_in_the_queue_is_not_redrawn_by_the_next_poll(system, web, browser):
    """The queue drawn for a tab the clerk chose carries that answer's ETag: the next poll of the
    unchanged tab is a 304, not a redraw under the clerk's hand."""
    await submit_for(system, kind=LIVE_KIND, unit=LIVE_UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    polls = []  # the region's own polls: htmx names the region (its id) as what triggered them
    page.on("response", lambda r: polls.append(r) if r.request.headers.get("hx-trigger") == "queue" else None)
    try:
        await sign_in_as(page, f"staff:{LIVE_UNIT}")

        def the_tab(r) -> bool:
            return r.request.headers.get("hx-target") == "queue" and r.request.headers.get("hx-trigger") != "queue"

        async with page.expect_response(the_tab) as chosen:
            await page.locator("#queue a[data-tab]:not([aria-current])").first.click()  # another tab
        drawn = (await (await chosen.value).all_headers())["etag"]
        seen = len(polls)
        await eventually(lambda: len(polls) > seen, timeout=SOON / 1000)
        assert polls[seen].request.headers.get("if-none-match") == drawn
        assert polls[seen].status == 304
    finally:
        await page.context.close()


async def test_a_tab_chosen_is_drawn_though_a_finger_is_down_in_the_queue_again(system, web, browser):
    """Only the region's own polls wait for a finger to lift: the answer to a tab the clerk chose
    is drawn at once, pressed or not."""
    await submit_for(system, kind=LIVE_KIND, unit=LIVE_UNIT)
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, f"staff:{LIVE_UNIT}")
        tab = page.locator("#queue a[data-tab]:not([aria-current])").first
        chosen = await tab.get_attribute("data-tab")
        answer_may_go = asyncio.Event()

        async def hold_the_tab(route):
            if route.request.headers.get("hx-trigger") != "queue":  # the tab's answer, not a poll
                await answer_may_go.wait()
            await route.continue_()

        await page.route("**/clerk/**", hold_the_tab)
        await tab.click()
        caption = await page.locator("#queue-caption").bounding_box()
        await page.mouse.move(caption["x"] + 5, caption["y"] + caption["height"] / 2)
        await page.mouse.down()  # in the queue, while its tab's answer is on its way
        answer_may_go.set()
        await expect(page.locator(f'#queue a[data-tab="{chosen}"]')).to_have_attribute("aria-current", "page")
        await page.mouse.up()
    finally:
        await page.context.close()


async def test_the_board_shows_a_newly_overdue_item(system, web, browser, producer):
    page = await new_page(browser, web, viewport=DESKTOP)
    try:
        await sign_in_as(page, "staff:dudao.440112")
        reference = f"XE-LIVE-{uuid.uuid4().hex[:8]}"
        dispatched = long_overdue_dispatch(reference, "justice", "440112.justice", "广州市黄埔区司法局")
        await publish_item_event(producer, dispatched)
        row = page.get_by_role("row").filter(has_text=reference)
        await expect(row).to_contain_text("广州市黄埔区司法局", timeout=SOON * 3)
    finally:
        await page.context.close()


async def test_an_upload_lands_in_its_list_though_a_redraw_was_on_its_way(system, web, page):
    """A CI run lost an upload: the region's poll, sent just before the file was chosen and answered
    while it uploaded, drew the region anew over the list the upload's answer then went to. Here the
    poll is held until the upload is on its way, let go, and the upload answered after it."""
    request, asked, other = await supplement_asked(system)
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{request['id']}")
    poll_held, let_poll, upload_held, let_upload = (asyncio.Event() for _ in range(4))
    polls_fate: list[str] = []

    async def hold(route, held: asyncio.Event, let: asyncio.Event) -> None:
        if held.is_set():  # only the first one
            await route.continue_()
            return
        held.set()
        await let.wait()
        with contextlib.suppress(PlaywrightError):  # the page may have given the request up meanwhile
            await route.continue_()

    polls_sent = 0  # from the held one on

    async def hold_poll(route) -> None:
        nonlocal polls_sent
        if route.request.headers.get("hx-target") != "live":
            await route.continue_()
        else:
            polls_sent += 1
            await hold(route, poll_held, let_poll)

    def fate(what: str):
        return lambda r: polls_fate.append(what) if r.headers.get("hx-target") == "live" else None

    page.on("requestfinished", fate("answered"))
    page.on("requestfailed", fate("given up"))
    await page.route(f"**/enterprise/requests/{request['id']}", hold_poll)
    await page.route("**/enterprise/attachments", lambda route: hold(route, upload_held, let_upload))
    await asyncio.wait_for(poll_held.wait(), SOON / 1000)
    await move(system, other, "acknowledge")  # what the held poll brings is a region drawn anew
    await eventually(lambda: in_intake(system, request, other, "acknowledged"))
    # The next poll falls due while the first is held: htmx queues it behind the first.
    await page.evaluate(
        "() => { window.pollsDue = 0; document.getElementById('live')"
        ".addEventListener('htmx:confirm', () => { window.pollsDue += 1; }); }"
    )
    await eventually(lambda: page.evaluate("() => window.pollsDue >= 1"), timeout=SOON / 1000)

    card = page.locator(f"#item-{asked['id']}")
    await card.get_by_label("补正文件").set_input_files(
        {"name": "补正材料.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await asyncio.wait_for(upload_held.wait(), SOON / 1000)
    let_poll.set()
    if await eventually(lambda: polls_fate[:1]) == ["answered"]:  # then drawn before the upload is answered
        await expect(page.locator(f"#item-{other['id']} .status")).to_have_text("已签收")
    assert polls_sent == 1, "the queued poll is held back while the upload runs"
    let_upload.set()
    await expect(card.locator(".uploads")).to_contain_text("补正材料.pdf")
    await expect(page.locator(f"#item-{other['id']} .status")).to_have_text("已签收", timeout=SOON)  # drawn later
    await expect(card.locator(".uploads")).to_contain_text("补正材料.pdf")  # and the upload kept
