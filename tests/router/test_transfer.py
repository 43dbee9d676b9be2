"""Row 10 of issue 25: 转办 needs a reason (422 without it, over HTTP and Kafka), and the receiving
unit sees who sent the item and why — on the item (``transferred``) and in its inbox message
(``transfer``). Row 11, the router's side: unit names beside unit codes."""

from __future__ import annotations

import json

from shared import events
from tests.support import certificate_request, eventually, header, read_topic, send_department_action

SENDER, RECEIVER = "440112.commerce", "440100.commerce"


async def dispatched(system, kind: str = "commerce") -> tuple[dict, str]:
    created = await system.enterprise().submit(certificate_request(items=(kind,)))
    item = await system.routed_item(created["id"], f"440112.{kind}")
    return created, item["id"]


async def test_a_transfer_without_a_reason_is_refused_and_changes_nothing(system):
    _, item_id = await dispatched(system)
    clerk = system.clerk(SENDER)
    silent = await clerk.act(item_id, "transfer", to_unit=RECEIVER)
    assert silent.status_code == 422, silent.text
    [error] = silent.json()["errors"]
    assert (error["field"], error["message"]) == ("reason", "转办须说明理由")
    english = await system.router.post(
        f"/v1/workitems/{item_id}/transfer",
        json={"to_unit": RECEIVER, "note": "not a reason"},
        headers={**clerk.headers, "Accept-Language": "en"},
    )
    assert english.json()["errors"][0]["message"] == "A transfer needs a reason"
    item = (await clerk.item(item_id)).json()
    assert item["unit_code"] == SENDER and item["state"] == "dispatched" and item["history"] == []


async def test_the_receiving_unit_sees_who_transferred_it_and_why(system):
    _, item_id = await dispatched(system)
    sender = system.auth("department", unit=SENDER, sub="clerk-wang", name="王五")
    reason = "涉及全市范围的经营许可，由市局办理"
    moved = await system.router.post(
        f"/v1/workitems/{item_id}/transfer", json={"to_unit": RECEIVER, "reason": reason}, headers=sender
    )
    assert moved.status_code == 200, moved.text
    seen = (await system.clerk(RECEIVER).item(item_id)).json()
    assert (seen["unit_code"], seen["unit_name"]) == (RECEIVER, "广州市商务局")
    transferred = seen["transferred"]
    assert (transferred["from_unit"], transferred["from_unit_name"]) == (SENDER, "广州市黄埔区商务局")
    assert (transferred["by"], transferred["reason"]) == ("王五", reason)
    [entry] = [h for h in seen["history"] if h["action"] == "transfer"]
    assert (entry["unit_code"], entry["unit_name"], entry["note"]) == (SENDER, "广州市黄埔区商务局", reason)

    def assigned(records):
        return [
            json.loads(r.value)
            for r in records
            if header(r, "ce_subject") == item_id and header(r, "ce_type") == events.WorkItemAssigned.ce_type
        ]

    inbox = await read_topic(system.settings.kafka_bootstrap_servers, events.dept_inbox(RECEIVER), until=assigned)
    [message] = assigned(inbox)
    assert message["transfer"] == {
        "from_unit": SENDER,
        "from_unit_name": "广州市黄埔区商务局",
        "by": "王五",
        "reason": reason,
    }
    queue = (await system.router.get("/v1/workitems", headers=system.clerk(RECEIVER).headers)).json()
    [listed] = [i for i in queue if i["id"] == item_id]
    assert listed["transferred"]["reason"] == reason and listed["unit_name"] == "广州市商务局"


async def test_a_transfer_over_kafka_needs_a_reason_too(system, producer):
    _, item_id = await dispatched(system, "urban_management")
    code = "440112.urban_management"
    silent = await send_department_action(
        system, producer, code, work_item_id=item_id, action="transfer", to_unit="440100.urban_management"
    )
    dead = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dlq(events.DEPT_RESPONSES),
        until=lambda rs: silent in {header(r, "ce_id") for r in rs},
    )
    [reason] = [header(r, "x-error") for r in dead if header(r, "ce_id") == silent]
    assert "422" in reason and "reason" in reason

    await send_department_action(
        system,
        producer,
        code,
        work_item_id=item_id,
        action="transfer",
        to_unit="440100.urban_management",
        reason="市级权限",
    )

    async def moved():
        item = (await system.clerk("440100.urban_management").item(item_id)).json()
        return item if item.get("transferred") else None

    item = await eventually(moved)
    assert item["transferred"]["reason"] == "市级权限" and item["transferred"]["by"] == "部门业务系统"
