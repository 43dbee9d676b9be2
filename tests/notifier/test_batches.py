"""A consumer batch of work-item events is applied in one transaction, its records and their
notifications written together at its end (``Clocks.apply_all``): what each event does must be
exactly what it does alone, whichever events share the batch."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from services.notifier.clocks import Clocks
from services.notifier.models import Notification, SlaRecord, SlaTimer
from shared import events
from shared.clock import utcnow
from shared.validation import make_uscc
from tests.support import work_item_event

# An enterprise of this test's own: its e-mail recipient must reach no other test's items.
ENTERPRISE = make_uscc("91440112MA5BATCH0")


def event(model, item: str, request: str, unit: str, state: str, when, version: int, **extra):
    return work_item_event(
        model,
        work_item_id=item,
        request_id=request,
        reference_no="XE-20251103-000077",
        unit_code=unit,
        unit_name="批量税务所",
        subject_uscc=ENTERPRISE,
        subject_name="广州明珞",
        enterprise_uscc=ENTERPRISE,
        state=state,
        occurred_at=when,
        version=version,
        **extra,
    )


def dispatched(item: str, request: str, unit: str, when):
    return event(events.WorkItemDispatched, item, request, unit, "dispatched", when, 1)


async def test_a_batch_writes_each_item_as_its_own_events_leave_it(system):
    runtime = system.runtimes["notifier"]
    unit = f"440112.tax.b{uuid.uuid4().hex[:6]}"
    address = f"batch-{uuid.uuid4().hex[:6]}@example.test"
    response = await system.notifier.post(
        "/v1/recipients",
        headers=system.auth("admin"),
        json={"kind": "enterprise", "key": ENTERPRISE, "channel": "email", "address": address},
    )
    assert response.status_code == 201
    request = str(uuid.uuid4())
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    start = utcnow() - timedelta(hours=2)
    batch = [
        dispatched(first, request, unit, start),
        dispatched(second, request, unit, start),
        event(events.WorkItemAcknowledged, first, request, unit, "acknowledged", start + timedelta(minutes=5), 2),
        event(events.WorkItemAcknowledged, second, request, unit, "acknowledged", start + timedelta(minutes=6), 2),
        dispatched(first, request, unit, start),  # the dispatch replayed within the batch: older, left alone
    ]
    ids = [str(uuid.uuid4()) for _ in batch]

    async with runtime.sessions() as session, session.begin():
        await Clocks(session, runtime.calendar, runtime.settings).apply_all(list(zip(batch, ids, strict=True)))

    async with runtime.sessions() as session:
        records = {
            r.work_item_id: r
            for r in await session.scalars(select(SlaRecord).where(SlaRecord.work_item_id.in_([first, second])))
        }
        notes = list(
            await session.scalars(
                select(Notification).where(Notification.work_item_id.in_([first, second])).order_by(Notification.id)
            )
        )
        open_timers = set(
            await session.execute(
                select(SlaTimer.work_item_id, SlaTimer.kind).where(
                    SlaTimer.work_item_id.in_([first, second]), SlaTimer.cancelled_at.is_(None)
                )
            )
        )

    # Both records as their last event left them: signed for, at the time each was signed.
    for item, minutes in ((first, 5), (second, 6)):
        assert records[item].state == "acknowledged"
        assert records[item].acknowledged_at == start + timedelta(minutes=minutes)
        # the chase for 签收 stopped; the handling reminders stand
        assert {kind for who, kind in open_timers if who == item} == {
            "remind_50",
            "remind_80",
            "due",
            "escalate",
            "public_notice",
        }
    # Each item's news once: 新工单待签收 in the unit's message centre, 已签收 to the enterprise by
    # e-mail (the recipient looked up once for the batch serves both), on the topic and in its centre.
    for item in (first, second):
        mine = [(n.title, n.channel, n.address) for n in notes if n.work_item_id == item]
        assert sorted(mine) == sorted(
            [
                ("新工单待签收", "inbox", unit),
                ("已签收", "email", address),
                ("已签收", "topic", f"enterprise:{ENTERPRISE}"),
                ("已签收", "inbox", ENTERPRISE),
            ]
        )


async def test_each_new_item_of_a_batch_gets_its_own_most_specific_policy(system):
    """The batch's policies are read with one query; each item still gets its nearest region's,
    the kind's own before the type's, and the default where none is stored."""
    runtime = system.runtimes["notifier"]
    admin = system.auth("admin")

    def limits(resolve_days: int) -> dict:
        return {
            "acknowledge_amount": 1,
            "acknowledge_unit": "working_days",
            "resolve_amount": resolve_days,
            "resolve_unit": "working_days",
        }

    # 杭州市 and its 西湖区, each for every kind and for tax
    stored = [("*", "330100", 9), ("tax", "330100", 11), ("*", "330106", 6), ("tax", "330106", 4)]
    for kind, region, days in stored:
        put = await system.notifier.put(
            f"/v1/policies/consultation/{kind}", params={"region": region}, json=limits(days), headers=admin
        )
        assert put.status_code == 200, put.text
    cases = [
        ("tax", "330106", 4),
        ("customs", "330106", 6),  # the district's for any kind before the city's for tax
        ("tax", "330108", 11),  # 滨江区 has none: the city's, the kind's own first
        ("customs", "330108", 9),
        ("tax", "320106", 3),  # 南京: the built-in default
    ]
    start = utcnow() - timedelta(hours=1)
    batch = []
    for kind, region, _ in cases:
        e = dispatched(str(uuid.uuid4()), str(uuid.uuid4()), f"{region}.{kind}.p{uuid.uuid4().hex[:6]}", start)
        where = {"request_type": "consultation", "department_kind": kind, "region_code": region}
        batch.append(e.model_copy(update=where))

    async with runtime.sessions() as session, session.begin():
        clocks = Clocks(session, runtime.calendar, runtime.settings)
        await clocks.apply_all([(e, str(uuid.uuid4())) for e in batch])

    async with runtime.sessions() as session:
        for e, (kind, region, days) in zip(batch, cases, strict=True):
            record = await session.get(SlaRecord, e.work_item_id)
            assert record.policy["resolve_amount"] == days, (kind, region)
