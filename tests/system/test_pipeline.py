"""The whole path on a real broker and real databases: intake → requests.submitted → router →
department inboxes and workitems.events → intake's read model and the notifier's SLA records."""

from __future__ import annotations

import json
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.notifier.models import SlaRecord
from services.router.models import WorkItem
from shared import events
from shared.messaging.encoding import encode
from tests.intake.groups import related
from tests.support import MINGLUO, MINGLUO_SH, certificate_request, eventually, header, read_topic

FOUR_KINDS = ("tax", "customs", "development_reform", "commerce")
SUBSIDIARY_SH = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}


async def submit(system, body: dict) -> dict:
    response = await system.intake.post("/v1/requests", json=body, headers=system.auth("enterprise", usccs=[MINGLUO]))
    assert response.status_code == 201, response.text
    return response.json()


async def work_items_in_intake(system, request_id: str, count: int) -> list[dict]:
    async def check():
        response = await system.intake.get(
            f"/v1/requests/{request_id}", headers=system.auth("enterprise", usccs=[MINGLUO])
        )
        items = response.json()["work_items"]
        return items if len(items) >= count else None

    return await eventually(check)


async def count_router_work_items(system, request_id: str) -> int:
    async with system.runtimes["router"].sessions() as session:
        return await session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.request_id == request_id))


def consumed(consumer: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("xiaoer_events_consumed_total", {"consumer": consumer, "outcome": outcome}) or 0


async def test_one_subsidiary_four_kinds_gives_eight_work_items_on_eight_topics(system):
    await related(system, SUBSIDIARY_SH)  # who may ask about whom: the registry relates them
    created = await submit(system, certificate_request(subjects=[SUBSIDIARY_SH], items=FOUR_KINDS))
    assert created["reference_no"].startswith("XE-")

    items = await work_items_in_intake(system, created["id"], 8)
    assert len(items) == 8
    assert {(i["subject_uscc"], i["unit_code"]) for i in items} == {
        (uscc, f"{region}.{kind}")
        for uscc, region in ((MINGLUO, "440112"), (MINGLUO_SH, "310115"))
        for kind in FOUR_KINDS
    }
    assert {i["status"] for i in items} == {"dispatched"}

    # Each unit's own topic carries its item, read back by a plain Kafka consumer as a
    # department system would read it.
    for item in items:
        topic = events.dept_inbox(item["unit_code"])
        records = await read_topic(
            system.settings.kafka_bootstrap_servers,
            topic,
            until=lambda rs: any(header(r, "ce_subject") == item["id"] for r in rs),  # noqa: B023
        )
        mine = [
            r
            for r in records
            if json.loads(r.value)["request_id"] == created["id"]
            and header(r, "ce_type") == events.WorkItemAssigned.ce_type
        ]
        assert len(mine) == 1, f"{topic} should carry exactly one item of this request"
        body = json.loads(mine[0].value)
        assert header(mine[0], "ce_specversion") == "1.0"
        assert body["unit_code"] == item["unit_code"] and body["subject"]["uscc"] == item["subject_uscc"]
        assert "13800138000" not in mine[0].value.decode(), "departments get no contact mobile"

    # The notifier started one SLA clock per work item.
    async def sla_count():
        async with system.runtimes["notifier"].sessions() as session:
            n = await session.scalar(
                select(func.count()).select_from(SlaRecord).where(SlaRecord.request_id == created["id"])
            )
            return n if n == 8 else None

    assert await eventually(sla_count) == 8

    # Deadlines come back to the enterprise's view and to each unit's inbox.
    async def all_due():
        items = await work_items_in_intake(system, created["id"], 8)
        return items if all(i["acknowledge_due_at"] and i["due_at"] for i in items) else None

    assert await eventually(all_due)
    tax = next(i for i in items if i["unit_code"] == "440112.tax")
    records = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dept_inbox("440112.tax"),
        until=lambda rs: any(
            header(r, "ce_subject") == tax["id"] and json.loads(r.value).get("notice") == "deadlines" for r in rs
        ),
    )
    notice = next(
        json.loads(r.value)
        for r in records
        if header(r, "ce_subject") == tax["id"] and json.loads(r.value).get("notice") == "deadlines"
    )
    assert notice["acknowledge_due_at"] and notice["resolve_due_at"]


async def test_replayed_submission_creates_nothing_new(system, producer):
    created = await submit(system, certificate_request(items=("tax", "customs")))
    await work_items_in_intake(system, created["id"], 2)

    records = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.REQUESTS_SUBMITTED,
        until=lambda rs: any(header(r, "ce_subject") == created["id"] for r in rs),
    )
    original = next(r for r in records if header(r, "ce_subject") == created["id"])

    # 1. The very same message again (as a broker redelivery would bring it).
    duplicates_before = consumed("router.dispatch", "duplicate")
    await producer.send_and_wait(
        events.REQUESTS_SUBMITTED, original.value, key=original.key, headers=list(original.headers)
    )
    await eventually(lambda: consumed("router.dispatch", "duplicate") > duplicates_before)
    assert await count_router_work_items(system, created["id"]) == 2

    # 2. The same request under a new event id (a producer that retried after a timeout).
    handled_before = consumed("router.dispatch", "handled")
    new_id = [(k, str(uuid.uuid4()).encode() if k == "ce_id" else v) for k, v in original.headers]
    await producer.send_and_wait(events.REQUESTS_SUBMITTED, original.value, key=original.key, headers=new_id)
    await eventually(lambda: consumed("router.dispatch", "handled") > handled_before)
    assert await count_router_work_items(system, created["id"]) == 2
    items = (
        await system.intake.get(f"/v1/requests/{created['id']}", headers=system.auth("enterprise", usccs=[MINGLUO]))
    ).json()["work_items"]
    assert len(items) == 2

    # 3. A request not routed yet, twice under two event ids in one record batch, so that one
    # fetch brings both (the router routes a fetched batch of submissions at once): routed once.
    again = events.RequestSubmitted.model_validate_json(original.value).model_copy(
        update={"request_id": str(uuid.uuid4())}
    )
    handled_before = consumed("router.dispatch", "handled")
    batch = producer.create_batch()
    for _ in range(2):
        message = encode(again, topic=events.REQUESTS_SUBMITTED, source=events.SOURCE_INTAKE, key=again.request_id)
        headers = message.kafka_headers()
        batch.append(key=message.key.encode(), value=message.value, timestamp=None, headers=headers)
    await (await producer.send_batch(batch, events.REQUESTS_SUBMITTED, partition=0))
    await eventually(lambda: consumed("router.dispatch", "handled") >= handled_before + 2)
    assert await count_router_work_items(system, again.request_id) == 2


async def test_poison_messages_go_to_the_dlq_and_the_consumer_goes_on(system, producer):
    marker = uuid.uuid4().hex
    # Not a CloudEvent at all.
    await producer.send_and_wait(events.REQUESTS_SUBMITTED, f"garbage {marker}".encode(), key=marker.encode())
    # A CloudEvent whose body does not match its type's schema.
    bad = encode(
        events.RequestSubmitted.model_construct(request_id=marker),
        topic=events.REQUESTS_SUBMITTED,
        source="/test",
        key=marker,
    )
    await producer.send_and_wait(bad.topic, bad.value, key=bad.key.encode(), headers=bad.kafka_headers())
    # The next good request is still handled.
    created = await submit(system, certificate_request(items=("statistics",)))
    items = await work_items_in_intake(system, created["id"], 1)
    assert items[0]["unit_code"] == "440112.statistics"

    dead = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dlq(events.REQUESTS_SUBMITTED),
        until=lambda rs: sum(marker.encode() in (r.key or b"") for r in rs) >= 2,
    )
    mine = [r for r in dead if r.key == marker.encode()]
    assert len(mine) == 2
    errors = sorted(header(r, "x-error") for r in mine)
    assert any("ce_id or ce_type header missing" in e for e in errors)
    assert any("does not match its schema" in e for e in errors)
    assert {header(r, "x-original-topic") for r in mine} == {events.REQUESTS_SUBMITTED}
