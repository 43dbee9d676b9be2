"""Row 11 of issue 25, the APIs' side of the words: intake's timeline, outcomes and statuses in
English too (names and what people typed stay as written), and names beside codes — the
notifier's log names its channel (消息总线, not topic), its audience and the item's unit."""

from __future__ import annotations

import re

from tests.support import certificate_request, eventually

CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
UNIT, SUBJECT, NOTE = "广州市黄埔区统计局", "广州明珞装备股份有限公司", "近三年存在统计违法记录"


async def test_the_request_reads_in_english_apart_from_names_and_notes(system):
    enterprise = system.enterprise()
    created = await enterprise.submit(certificate_request(items=("statistics",)))
    item = await system.routed_item(created["id"], "440112.statistics")
    clerk = system.auth("department", unit="440112.statistics", sub="clerk-words", name="林书记")
    for action, body in (("acknowledge", {}), ("resolve", {"outcome": "not_issued", "note": NOTE})):
        moved = await system.router.post(f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk)
        assert moved.status_code == 200, moved.text
    seen = await enterprise.wait_for_item(created["id"], item["id"], "resolved")

    lines = {t["event"]: t for t in seen["timeline"]}
    assert lines["request.submitted"]["summary_en"] == f"Request submitted, reference number {created['reference_no']}"
    assert lines["workitem.resolved"]["summary_en"] == f"{UNIT} resolved it: Not issued ({SUBJECT}): {NOTE}"
    for entry in seen["timeline"]:
        english = entry["summary_en"]
        for name in (UNIT, SUBJECT, NOTE):
            english = english.replace(name, "")
        assert not CHINESE.search(english), entry["summary_en"]
        assert CHINESE.search(entry["summary"])
    [shown] = seen["work_items"]
    assert (shown["status_name"], shown["status_name_en"]) == ("已办结", "Resolved")
    assert (shown["last_actor"], shown["last_actor_en"]) == ("林书记（部门）", "林书记 (Department)")
    assert (seen["status_name"], seen["status_name_en"]) == ("待评价", "Rating awaited")
    assert seen["summary"]["en"] == "1 item: Finished 1"
    assert [s["en"] for s in seen["step"]["steps"]] == ["Submitted", "Accepted", "Handling", "Done"]


async def test_the_notification_log_names_its_channel_audience_and_unit(system):
    created = await system.enterprise().submit(certificate_request(items=("statistics",)))
    item = await system.routed_item(created["id"], "440112.statistics")
    await system.clerk("440112.statistics").act(item["id"], "acknowledge")
    supervisor = system.auth("supervisor", region="440112")

    async def logged():
        rows = await system.notifier.get("/v1/notifications", params={"work_item_id": item["id"]}, headers=supervisor)
        return [n for n in rows.json() if n["channel"] == "topic"] or None

    [told, *_] = await eventually(logged)
    assert (told["channel_name"], told["channel_name_en"]) == ("消息总线", "Event stream")
    assert (told["recipient_kind"], told["recipient_kind_name"]) == ("enterprise", "企业")
    assert (told["unit_code"], told["unit_name"]) == ("440112.statistics", UNIT)
    assert told["kind_name"] == "已签收"
