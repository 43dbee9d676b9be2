"""Row 2 of issue 25, the clerk's side: the proof of each subject stands beside it, and a clerk
who finds it wanting returns the item to the enterprise with the reason class 主体授权不符 and a
reason the enterprise reads — over HTTP and Kafka; the item ends there (已退回企业)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.notifier.models import Notification
from shared.validation import make_uscc
from tests.support import PDF_BYTES, certificate_request, eventually, send_department_action

REASON = "授权委托书未加盖子公司公章，请补齐后重新提交"


async def authorised_item(system) -> tuple[dict, str, str, dict]:
    """A request naming a subsidiary with its 授权委托书: (request, the subsidiary's item id, its unit, subject)."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    subject = {
        "uscc": make_uscc(f"91310115MA{digits}"[:17]),
        "name": f"明珞(上海){digits}有限公司",
        "region_code": "310115",
    }
    letter = await system.enterprise().upload(PDF_BYTES, "授权委托书.pdf")
    created = await system.enterprise().submit(
        certificate_request(subjects=[{**subject, "authorization": letter["id"]}], items=("tax",))
    )
    items = await system.routed_items(created["id"], 2)
    [theirs] = [i for i in items if i.subject_uscc == subject["uscc"]]
    return created, theirs.id, theirs.unit_code, subject


async def test_a_clerk_returns_the_item_to_the_enterprise_for_subject_authorisation(system):
    created, item_id, unit, subject = await authorised_item(system)
    clerk = system.clerk(unit)
    assert (await clerk.act(item_id, "return-to-enterprise", reason=REASON)).status_code == 404, "asked through return"
    silent = await clerk.act(item_id, "return", reason_class="subject_authorization")
    assert silent.status_code == 422 and silent.json()["errors"][0]["field"] == "reason"
    returned = await clerk.act(item_id, "return", reason_class="subject_authorization", reason=REASON)
    assert returned.status_code == 200, returned.text
    shown = returned.json()
    assert (shown["state"], shown["state_name"], shown["allowed_actions"]) == (
        "returned_to_enterprise",
        "已退回企业",
        [],
    )
    assert shown["unit_code"] == unit, "it stays with the unit that returned it, at no coordinator"

    seen = await system.enterprise().wait_for_item(created["id"], item_id, "returned_to_enterprise")
    [item] = [i for i in seen["work_items"] if i["id"] == item_id]
    assert item["result"] == {"reason_class": "subject_authorization", "note": REASON}
    [line] = [t["summary"] for t in seen["timeline"] if t["event"] == "workitem.returned_to_enterprise"]
    assert "主体授权不符" in line and REASON in line and subject["name"] in line

    async def told():
        async with system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(
                select(Notification).where(
                    Notification.work_item_id == item_id, Notification.recipient_kind == "enterprise"
                )
            )
            return [n for n in rows if "主体授权不符" in n.title and REASON in n.body] or None

    assert await eventually(told), "the enterprise is told through its channel"


async def test_the_same_return_over_kafka(system, producer):
    created, item_id, unit, _ = await authorised_item(system)
    await send_department_action(
        system,
        producer,
        unit,
        work_item_id=item_id,
        action="return",
        reason_class="subject_authorization",
        reason=REASON,
    )
    seen = await system.enterprise().wait_for_item(created["id"], item_id, "returned_to_enterprise")
    [item] = [i for i in seen["work_items"] if i["id"] == item_id]
    assert item["result"]["note"] == REASON


async def test_a_plain_return_still_goes_to_the_coordinator(system):
    created = await system.enterprise().submit(certificate_request(items=("statistics",)))
    item = await system.routed_item(created["id"], "440112.statistics")
    moved = await system.clerk("440112.statistics").act(
        item["id"], "return", reason_class="not_competent", reason="非本单位职责"
    )
    assert (moved.json()["state"], moved.json()["unit_code"]) == ("returned", "440112.coordinator")
