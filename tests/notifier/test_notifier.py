"""The notifier on a controllable clock: work-item events with chosen times go over the real
broker, and the test drives the scheduler's ``now``. Notifications reach a real SMTP server,
a real webhook endpoint and a stand-in WeChat server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.notifier import main as notifier_main
from services.notifier.models import Notification, SlaRecord
from shared import events
from shared.clock import SHANGHAI
from tests.support import (
    MINGLUO,
    eventually,
    first_year_without_official_schedule,
    publish_item_event,
    work_item_event,
)

ROOT = Path(__file__).resolve().parents[2]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Item:
    """One synthetic work item of its own unit, moved by publishing the router's events."""

    def __init__(self, system, producer, request_type="compliance_certificate", region="440112"):
        self.system, self.producer = system, producer
        self.id, self.request_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.unit = f"{region}.tax.t{uuid.uuid4().hex[:6]}"
        self.region, self.request_type = region, request_type

    async def send(self, model, when: str, state: str, **extra):
        event = work_item_event(
            model,
            work_item_id=self.id,
            request_id=self.request_id,
            reference_no="XE-20251103-000042",
            request_type=self.request_type,
            unit_code=self.unit,
            unit_name="测试税务所",
            region_code=self.region,
            subject_name="广州明珞",
            state=state,
            occurred_at=at(when),
            **extra,
        )
        await publish_item_event(self.producer, event)

    async def dispatched(self, when: str):
        await self.send(events.WorkItemDispatched, when, "dispatched")
        return await self.record(lambda r: r is not None)

    async def record(self, check=lambda r: True) -> SlaRecord:
        async def look():
            async with self.system.runtimes["notifier"].sessions() as session:
                found = await session.get(SlaRecord, self.id)
                return found if found is not None and check(found) else None

        return await eventually(look)

    async def notifications(self) -> list[Notification]:
        async with self.system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(
                select(Notification).where(Notification.work_item_id == self.id).order_by(Notification.id)
            )
            return list(rows)

    async def recipient(self, kind, channel, address, key=None):
        response = await self.system.notifier.post(
            "/v1/recipients",
            headers=self.system.auth("admin"),
            json={"kind": kind, "key": key or self.unit, "channel": channel, "address": address},
        )
        assert response.status_code == 201


def scheduler(system):
    return system.runtimes["notifier"].scheduler


def local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat()


async def test_clocks_follow_acknowledgement_and_fire_each_reminder_and_escalation_once(system, producer, smtp):
    item = Item(system, producer)
    await item.recipient("unit", "email", f"clerk.{item.unit}@example.gov.cn")
    await item.recipient("leadership", "email", f"leader.{item.unit}@example.gov.cn")
    await item.recipient("supervisor", "email", "dudao.test@example.gov.cn", key="440112")

    record = await item.dispatched("2025-11-03T10:00:00+08:00")
    assert local(record.acknowledge_due_at) == "2025-11-04T18:00:00+08:00"
    assert local(record.resolve_due_at) == "2025-11-10T18:00:00+08:00", "five working days from dispatch"

    await item.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    record = await item.record(lambda r: r.acknowledged_at is not None)
    assert local(record.resolve_due_at) == "2025-11-10T18:00:00+08:00", "签收 does not move the deadline"

    async def kinds():
        return [(n.kind, n.recipient_kind, n.channel) for n in await item.notifications() if n.channel == "email"]

    run = scheduler(system)
    await run.tick(at("2025-11-04T18:00:00+08:00"))  # the old acknowledge deadline: acknowledged, so silent
    await run.tick(at("2025-11-06T09:29:00+08:00"))
    assert await kinds() == []
    # 47 working hours from dispatch at 11-03 10:00; half of them have passed at 11-06 09:30.
    await run.tick(at("2025-11-06T09:30:00+08:00"))
    await run.tick(at("2025-11-06T09:30:00+08:00"))
    assert await kinds() == [("remind_50", "unit", "email")]
    await run.tick(at("2025-11-07T16:36:00+08:00"))  # 80 %
    await run.tick(at("2025-11-10T18:00:00+08:00"))  # due: 催办 to the unit, news to the enterprise

    # One working day late, at 18:00: 督办 is created, but officials are not disturbed after hours.
    await run.fire_due_timers(at("2025-11-11T18:00:00+08:00"))
    escalation = next(
        n for n in await item.notifications() if n.kind == "escalate" and n.recipient_kind == "leadership"
    )
    assert local(escalation.next_attempt_at) == "2025-11-12T09:00:00+08:00"
    leader = f"leader.{item.unit}@example.gov.cn"
    await run.deliver(at("2025-11-11T18:00:00+08:00"))
    assert [m["To"] for m in smtp.messages].count(leader) == 0
    await run.deliver(at("2025-11-12T09:00:00+08:00"))
    assert [m["To"] for m in smtp.messages].count(leader) == 1

    await run.tick(at("2025-11-17T18:00:00+08:00"))  # five working days late: 通报
    await run.tick(at("2025-11-17T18:00:00+08:00"))
    await run.tick(at("2025-11-18T09:00:00+08:00"))
    assert await kinds() == [
        ("remind_50", "unit", "email"),
        ("remind_80", "unit", "email"),
        ("due", "unit", "email"),
        ("escalate", "leadership", "email"),
        ("escalate", "supervisor", "email"),
        ("public_notice", "supervisor", "email"),
    ]
    topic = [n for n in await item.notifications() if n.channel == "topic"]
    assert [n.kind for n in topic].count("due") == 2, "the enterprise's overdue notice goes on the topic too"
    delivered = [m["To"] for m in smtp.messages]
    assert delivered.count(f"clerk.{item.unit}@example.gov.cn") == 3
    assert delivered.count(leader) == 1
    assert all(n.status == "sent" for n in await item.notifications())
    subjects = [m["Subject"] for m in smtp.messages if m["To"] == f"clerk.{item.unit}@example.gov.cn"]
    assert subjects == ["【店小二】办理预警（50%）", "【店小二】办理预警（80%）", "【店小二】催办"]


async def test_an_item_nobody_signs_for_is_chased_escalated_and_noticed_once_each(system, producer):
    region = "440113"  # a district of its own, so no other test's supervisors are told
    item = Item(system, producer, region=region)
    await item.recipient("unit", "email", f"clerk.{item.unit}@example.gov.cn")
    await item.recipient("leadership", "email", f"leader.{item.unit}@example.gov.cn")
    await item.recipient("supervisor", "email", f"dudao.{region}@example.gov.cn", key=region)
    record = await item.dispatched("2025-11-03T10:00:00+08:00")
    assert local(record.acknowledge_due_at) == "2025-11-04T18:00:00+08:00"

    run = scheduler(system)
    for moment in (
        "2025-11-04T17:59:00+08:00",
        "2025-11-04T18:00:00+08:00",  # the acknowledge deadline: 催办
        "2025-11-05T18:00:00+08:00",  # one working day later: 督办
        "2025-11-05T18:00:00+08:00",
        "2025-11-11T18:00:00+08:00",  # five working days later: 通报
        "2025-11-20T09:00:00+08:00",
    ):
        await run.fire_due_timers(at(moment))
    told = [(n.kind, n.recipient_kind) for n in await item.notifications() if n.channel == "email"]
    chase = [(k, who) for k, who in told if k.startswith("acknowledge_")]
    assert chase == [
        ("acknowledge_due", "unit"),
        ("acknowledge_due", "supervisor"),
        ("acknowledge_escalate", "unit"),
        ("acknowledge_escalate", "leadership"),
        ("acknowledge_escalate", "supervisor"),
        ("acknowledge_public_notice", "unit"),
        ("acknowledge_public_notice", "supervisor"),
    ]
    assert not [k for k, _ in told if k in ("remind_50", "remind_80", "due", "escalate")], "chased for 签收 instead"

    # The supervisor sees the chase in the item's notification log and its timer plan.
    supervisor = system.auth("supervisor", region=region)
    log = (await system.notifier.get("/v1/notifications", params={"work_item_id": item.id}, headers=supervisor)).json()
    assert {n["kind"] for n in log} >= {"acknowledge_due", "acknowledge_escalate", "acknowledge_public_notice"}
    plan = (await system.notifier.get(f"/v1/sla/{item.id}", headers=supervisor)).json()["timers"]
    escalation = next(t for t in plan if t["kind"] == "acknowledge_escalate")
    assert escalation == {**escalation, "name": "签收督办", "status": "fired", "fire_at": "2025-11-05T18:00:00+08:00"}


async def test_a_late_signature_keeps_the_deadline_and_counts_as_late(system, producer):
    item = Item(system, producer, region="440114")
    record = await item.dispatched("2025-11-03T10:00:00+08:00")
    due = local(record.resolve_due_at)
    await item.send(events.WorkItemAcknowledged, "2025-11-07T10:00:00+08:00", "acknowledged")  # day 4 of 5
    record = await item.record(lambda r: r.acknowledged_at is not None)
    assert local(record.resolve_due_at) == due == "2025-11-10T18:00:00+08:00"
    stats = (
        await system.notifier.get(
            "/v1/stats/units",
            params={"from": "2025-11-01", "to": "2025-12-01", "region": "440114"},
            headers=system.auth("supervisor", region="440114"),
        )
    ).json()
    [unit] = [u for u in stats["units"] if u["unit_code"] == item.unit]
    assert unit["acknowledged_late"] == 1 and unit["acknowledged_on_time"] == 0 and unit["response_rate"] == 0


async def test_two_notifier_instances_never_double_a_notification(system, producer, smtp):
    item = Item(system, producer)
    await item.recipient("unit", "email", f"clerk.{item.unit}@example.gov.cn")
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await item.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    await item.record(lambda r: r.acknowledged_at is not None)

    second = notifier_main.build_runtime(system.runtimes["notifier"].settings)  # another process on the same database
    try:
        import asyncio

        now = at("2025-11-10T18:00:00+08:00")
        first_run, second_run = scheduler(system), second.scheduler
        await asyncio.gather(first_run.fire_due_timers(now), second_run.fire_due_timers(now))
        await asyncio.gather(first_run.fire_due_timers(now), second_run.fire_due_timers(now))
        emails = [n for n in await item.notifications() if n.channel == "email"]
        assert sorted(n.kind for n in emails) == ["due", "remind_50", "remind_80"]
        before = len(smtp.messages)
        opening = at("2025-11-11T09:00:00+08:00")  # fired after hours: officials hear at the next opening
        await asyncio.gather(first_run.deliver(opening), second_run.deliver(opening))
        await asyncio.gather(first_run.deliver(opening), second_run.deliver(opening))
        mine = [m for m in smtp.messages[before:] if m["To"] == f"clerk.{item.unit}@example.gov.cn"]
        assert len(mine) == 3
    finally:
        await second.stop()


async def test_pause_for_a_supplement_across_national_day_keeps_the_time_left(system, producer):
    item = Item(system, producer)
    await item.dispatched("2025-09-26T10:00:00+08:00")
    await item.send(events.WorkItemAcknowledged, "2025-09-26T10:00:00+08:00", "acknowledged")
    record = await item.record(lambda r: r.acknowledged_at is not None)
    # 09-28 is a make-up Sunday: 28, 29, 30, then 10-09 and 10-10.
    assert local(record.resolve_due_at) == "2025-10-10T18:00:00+08:00"

    await item.send(events.WorkItemSupplementRequested, "2025-09-29T10:00:00+08:00", "awaiting_supplement")
    record = await item.record(lambda r: r.paused_at is not None)
    assert record.remaining_seconds == 31 * 3600  # 7 h on the 29th, 8 h on each of three days
    await scheduler(system).tick(at("2025-10-10T18:00:00+08:00"))
    assert [n for n in await item.notifications() if n.kind in ("remind_50", "remind_80", "due")] == []

    await item.send(events.WorkItemSupplemented, "2025-10-13T09:00:00+08:00", "in_progress")
    record = await item.record(lambda r: r.paused_at is None)
    assert local(record.resolve_due_at) == "2025-10-16T17:00:00+08:00"


async def test_an_approved_extension_moves_the_deadline(system, producer):
    item = Item(system, producer)
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await item.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    await item.record(lambda r: r.acknowledged_at is not None)
    await item.send(
        events.WorkItemExtensionDecided,
        "2025-11-07T10:00:00+08:00",
        "acknowledged",
        extension_id="x",
        days=3,
        approved=False,
    )
    await item.send(
        events.WorkItemExtensionDecided,
        "2025-11-07T11:00:00+08:00",
        "acknowledged",
        extension_id="y",
        days=3,
        approved=True,
    )
    record = await item.record(lambda r: local(r.resolve_due_at) != "2025-11-10T18:00:00+08:00")
    assert local(record.resolve_due_at) == "2025-11-13T18:00:00+08:00"


async def test_one_failing_channel_holds_back_no_other_and_is_retried(system, producer, smtp, webhook):
    item = Item(system, producer)
    await item.recipient("unit", "email", f"clerk.{item.unit}@example.gov.cn")
    await item.recipient("unit", "webhook", f"{webhook.url}/hooks/{item.unit}")
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await scheduler(system).fire_due_timers(at("2025-11-04T18:00:00+08:00"))
    now = at("2025-11-05T09:00:00+08:00")  # fired after hours: sent at the next opening

    webhook.failures = 2
    await scheduler(system).deliver(now)
    by_channel = {n.channel: n for n in await item.notifications()}
    assert by_channel["email"].status == "sent"
    assert by_channel["webhook"].status == "pending" and by_channel["webhook"].attempts == 1
    assert by_channel["webhook"].last_error == "DeliveryError: webhook answered 500"
    await scheduler(system).deliver(now + timedelta(seconds=59))
    assert {n.channel: n for n in await item.notifications()}["webhook"].attempts == 1, "backs off 60 s"
    await scheduler(system).deliver(now + timedelta(seconds=60))
    await scheduler(system).deliver(now + timedelta(seconds=180))
    hook = {n.channel: n for n in await item.notifications()}["webhook"]
    assert hook.status == "sent" and hook.attempts == 3

    _, _, _, headers, body = [c for c in webhook.calls if c[1] == f"/hooks/{item.unit}"][-1]
    expected = hmac.new(b"webhook-secret-for-tests-0123456789", body, hashlib.sha256).hexdigest()
    assert headers["X-Xiaoer-Signature"] == f"sha256={expected}"
    assert json.loads(body)["kind"] == "acknowledge_due"


async def test_a_channel_that_keeps_failing_is_given_up_and_recorded(system, producer, webhook):
    item = Item(system, producer)
    await item.recipient("unit", "webhook", f"{webhook.url}/hooks/{item.unit}")
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await scheduler(system).fire_due_timers(at("2025-11-04T18:00:00+08:00"))
    now = at("2025-11-05T09:00:00+08:00")
    webhook.failures = 1000
    try:
        for attempt in range(6):
            await scheduler(system).deliver(now + timedelta(hours=attempt))
    finally:
        webhook.failures = 0
    hook = next(n for n in await item.notifications() if n.channel == "webhook")
    assert hook.status == "failed" and hook.attempts == 5
    log = await system.notifier.get(
        "/v1/notifications", params={"work_item_id": item.id, "status": "failed"}, headers=system.auth("admin")
    )
    assert [n["channel"] for n in log.json()] == ["webhook"]


async def test_enterprise_hears_progress_on_wechat_with_a_cached_token(system, producer, fake_wechat):
    item = Item(system, producer)
    openid = f"openid-{uuid.uuid4().hex[:8]}"
    await item.recipient("enterprise", "wechat", openid, key=MINGLUO)
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await item.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    await item.send(
        events.WorkItemSupplementRequested,
        "2025-11-04T11:00:00+08:00",
        "awaiting_supplement",
        note="请补充社保缴纳证明",
    )

    async def both():
        rows = [n for n in await item.notifications() if n.address == openid]
        return rows if len(rows) == 2 else None

    await eventually(both)
    tokens_before = fake_wechat.tokens_issued
    await scheduler(system).deliver(at("2025-11-04T11:00:00+08:00"))
    mine = [m for m in fake_wechat.sent if m["touser"] == openid]
    assert [m["data"]["thing1"]["value"] for m in mine] == ["已签收", "请补正材料"]
    assert fake_wechat.tokens_issued - tokens_before <= 1, "one token serves many sends"

    fake_wechat.expire_next_send = True
    await item.send(
        events.WorkItemResolved,
        "2025-11-05T11:00:00+08:00",
        "resolved",
        resolution={"outcome": "issued", "document_no": "穗税证〔2025〕1号"},
    )
    await eventually(lambda: _count(item, openid, 3))
    issued = fake_wechat.tokens_issued
    await scheduler(system).deliver(at("2025-11-05T11:00:00+08:00"))
    assert fake_wechat.tokens_issued == issued + 1, "an expired token is refreshed and the send retried"
    assert [m["data"]["thing1"]["value"] for m in fake_wechat.sent if m["touser"] == openid][-1] == "已办结"
    # 回访: the next working morning the enterprise is asked to rate it.
    await scheduler(system).tick(at("2025-11-06T09:00:00+08:00"))
    assert [n.kind for n in await item.notifications() if n.address == openid][-1] == "follow_up"


async def _count(item, address, wanted):
    return len([n for n in await item.notifications() if n.address == address]) == wanted


async def test_statistics_and_the_overdue_list(system, producer):
    region = "310115"
    good, late = Item(system, producer, region=region), Item(system, producer, region=region)
    late.unit = good.unit
    await good.dispatched("2025-11-03T10:00:00+08:00")
    await late.dispatched("2025-11-03T10:30:00+08:00")
    await good.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    await good.send(
        events.WorkItemResolved,
        "2025-11-04T11:00:00+08:00",
        "resolved",
        resolution={"outcome": "issued", "document_no": "1"},
    )
    await good.send(events.WorkItemClosed, "2025-11-05T11:00:00+08:00", "closed", score=5)
    await good.record(lambda r: r.score == 5)

    supervisor = system.auth("supervisor", region="310000")
    response = await system.notifier.get(
        "/v1/stats/units", params={"from": "2025-11-01", "to": "2025-12-01", "region": region}, headers=supervisor
    )
    assert response.status_code == 200
    row = next(u for u in response.json()["units"] if u["unit_code"] == good.unit)
    assert row["received"] == 2 and row["acknowledged_on_time"] == 1 and row["response_rate"] == 0.5
    # 按时办结率 counts the resolved item and the one past its limit (not resolved): one of two.
    assert row["resolved"] == 1 and row["resolution_rate"] == 0.5 and row["on_time_rate"] == 0.5
    assert row["median_handling_hours"] == 9.0  # 11-03 10:00 → 11-04 11:00 in working hours
    assert row["median_handling_days"] == 1.12  # 9 h of 8-hour working days
    assert row["open_now"] == 1 and row["overdue_now"] == 1
    assert row["satisfaction_rate"] == 1.0
    assert any(r["region_code"] == region for r in response.json()["regions"])

    csv_text = (
        await system.notifier.get("/v1/stats/units", params={"region": region, "format": "csv"}, headers=supervisor)
    ).content.decode()
    assert csv_text.startswith("\ufeff单位代码,单位名称,收件数") and good.unit in csv_text

    overdue = (await system.notifier.get("/v1/overdue", params={"region": region}, headers=supervisor)).json()
    ids = [o["work_item_id"] for o in overdue]
    assert late.id in ids and good.id not in ids
    assert [o["resolve_due_at"] for o in overdue] == sorted(o["resolve_due_at"] for o in overdue)

    elsewhere = system.auth("supervisor", region="440000")
    assert (
        await system.notifier.get("/v1/stats/units", params={"region": region}, headers=elsewhere)
    ).status_code == 404
    clerk = system.auth("department", unit=good.unit)
    assert (await system.notifier.get("/v1/stats/units", headers=clerk)).status_code == 403


async def test_policy_changes_apply_to_new_items_only(system, producer):
    before = Item(system, producer, request_type="consultation")
    record = await before.dispatched("2025-11-03T10:00:00+08:00")
    assert record.policy["resolve_amount"] == 3
    changed = await system.notifier.put(
        "/v1/policies/consultation/*",
        headers=system.auth("admin"),
        json={
            "acknowledge_amount": 4,
            "acknowledge_unit": "working_hours",
            "resolve_amount": 2,
            "resolve_unit": "working_days",
        },
    )
    assert changed.status_code == 200
    try:
        after = Item(system, producer, request_type="consultation")
        record = await after.dispatched("2025-11-03T10:00:00+08:00")
        assert record.policy["resolve_amount"] == 2
        assert local(record.acknowledge_due_at) == "2025-11-03T15:00:00+08:00"  # 10–12, 13–15
        assert (await before.record()).policy["resolve_amount"] == 3
    finally:
        await system.notifier.put(
            "/v1/policies/consultation/*",
            headers=system.auth("admin"),
            json={
                "acknowledge_amount": 1,
                "acknowledge_unit": "working_days",
                "resolve_amount": 3,
                "resolve_unit": "working_days",
            },
        )


async def test_a_regions_admin_sets_policies_for_its_region_only(system, producer):
    policy = {
        "acknowledge_amount": 2,
        "acknowledge_unit": "working_hours",
        "resolve_amount": 7,
        "resolve_unit": "working_days",
    }
    district_admin = system.auth("admin", region="310110")
    for region in ("310115", "310000", "*"):  # a neighbour, its municipality, the whole country
        refused = await system.notifier.put(
            "/v1/policies/problem/tax", params={"region": region}, json=policy, headers=district_admin
        )
        assert refused.status_code == 403 and refused.json()["code"] == "region_forbidden", region
    stored = (await system.notifier.get("/v1/policies", headers=district_admin)).json()["policies"]
    assert not [p for p in stored if p["request_type"] == "problem" and p["department_kind"] == "tax"]

    own = await system.notifier.put("/v1/policies/problem/tax", json=policy, headers=district_admin)
    assert own.status_code == 200 and own.json()["region_code"] == "310110"
    inside = Item(system, producer, request_type="problem", region="310110")
    outside = Item(system, producer, request_type="problem", region="310115")
    assert (await inside.dispatched("2025-11-03T10:00:00+08:00")).policy["resolve_amount"] == 7
    assert (await outside.dispatched("2025-11-03T10:00:00+08:00")).policy["resolve_amount"] == 15, "the default"


async def test_emergencies_are_acknowledged_in_thirty_calendar_minutes(system, producer):
    item = Item(system, producer, request_type="emergency")
    record = await item.dispatched("2025-10-01T23:50:00+08:00")  # a holiday night
    assert local(record.acknowledge_due_at) == "2025-10-02T00:20:00+08:00"


async def test_a_year_without_a_schedule_shows_on_readyz_until_it_is_loaded(system):
    year = first_year_without_official_schedule()
    admin = system.auth("admin")
    shown = (await system.notifier.get(f"/v1/calendar/{year}", headers=admin)).json()
    assert shown["source"] == "fallback"  # and now the clocks have used that year
    ready = (await system.notifier.get("/readyz")).json()
    assert ready["status"] == "ok"
    assert any(str(year) in w for w in ready["warnings"])
    metrics = (await system.notifier.get("/metrics")).text
    assert f'xiaoer_calendar_schedule_missing{{year="{year}"}} 1.0' in metrics

    wrong = await system.notifier.put(f"/v1/calendar/{year}", headers=admin, json={"holidays": ["2026-10-01"]})
    assert wrong.status_code == 422
    clerk = system.auth("department", unit="440112.tax")
    assert (await system.notifier.put(f"/v1/calendar/{year}", headers=clerk, json={"holidays": []})).status_code == 403
    loaded = await system.notifier.put(
        f"/v1/calendar/{year}", headers=admin, json={"holidays": [f"{year}-01-01"], "workdays": []}
    )
    assert loaded.status_code == 200
    assert not any(str(year) in w for w in (await system.notifier.get("/readyz")).json()["warnings"])
    shown = (await system.notifier.get(f"/v1/calendar/{year}", headers=admin)).json()
    assert shown["source"] == "loaded" and shown["holidays"] == [f"{year}-01-01"]
    spring = (await system.notifier.get("/v1/calendar/2026", headers=admin)).json()
    assert spring["source"] == "chinese_calendar" and "2026-02-14" in spring["workdays"]


async def test_a_reminder_fires_once_even_when_an_extension_moves_the_deadline(system, producer):
    item = Item(system, producer)
    await item.recipient("unit", "email", f"clerk.{item.unit}@example.gov.cn")
    await item.dispatched("2025-11-03T10:00:00+08:00")
    await item.send(events.WorkItemAcknowledged, "2025-11-03T11:00:00+08:00", "acknowledged")
    record = await item.record(lambda r: r.acknowledged_at is not None)
    await scheduler(system).fire_due_timers(at("2025-11-06T10:00:00+08:00"))  # 50 % of 46 h

    # Five more working days: 50 % of the new 86 h would fall on 11-10 14:00, after this moment.
    await item.send(
        events.WorkItemExtensionDecided,
        "2025-11-07T11:00:00+08:00",
        "acknowledged",
        extension_id="e",
        days=5,
        approved=True,
    )
    before = local(record.resolve_due_at)
    record = await item.record(lambda r: local(r.resolve_due_at) != before)  # the extension has been applied
    assert local(record.resolve_due_at) == "2025-11-17T18:00:00+08:00"
    await scheduler(system).fire_due_timers(at("2025-11-17T18:00:00+08:00"))
    kinds = [n.kind for n in await item.notifications() if n.channel == "email"]
    assert kinds == ["remind_50", "remind_80", "due"]


VALID_POLICY = {
    "acknowledge_amount": 1,
    "acknowledge_unit": "working_days",
    "resolve_amount": 1,
    "resolve_unit": "working_days",
}


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        (
            "/v1/recipients",
            {"kind": "unit", "key": "440112.tax", "channel": "email", "address": "not-an-email"},
            422,
            "address",
        ),
        (
            "/v1/recipients",
            {"kind": "unit", "key": "440112.tax", "channel": "webhook", "address": "ftp://x.cn/h"},
            422,
            "address",
        ),
        ("/v1/policies/wishes/*", VALID_POLICY, 404, None),
        ("/v1/policies/consultation/wizardry", VALID_POLICY, 404, None),
        ("/v1/policies/consultation/*", {**VALID_POLICY, "resolve_unit": "fortnights"}, 422, "resolve_unit"),
    ],
)
async def test_admin_input_is_checked(system, path, body, status, field):
    method = system.notifier.post if path == "/v1/recipients" else system.notifier.put
    response = await method(path, json=body, headers=system.auth("admin"))
    assert response.status_code == status, response.text
    if field:
        assert response.json()["errors"][0]["field"] == field


async def test_a_schedule_loaded_by_another_process_changes_the_next_deadline_without_a_restart(
    system, producer, tmp_path
):
    year = first_year_without_official_schedule()
    weekdays = [d for d in (date(year, 1, 1) + timedelta(days=n) for n in range(7)) if d.weekday() < 5]
    # The official schedule (as an operator would load it): the first week is off but its last weekday.
    schedule = tmp_path / f"{year}.yaml"
    schedule.write_text(f"year: {year}\nholidays: [{', '.join(map(str, weekdays[:-1]))}]\nworkdays: []\n")
    env = {**os.environ, "XIAOER_NOTIFIER_DATABASE_URL": system.runtimes["notifier"].database_url}

    def xiaoer(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
        return done.stdout.strip()

    await asyncio.to_thread(xiaoer, "calendar", "load", str(schedule))
    expected = datetime.combine(weekdays[-1], time(18), SHANGHAI).isoformat()

    item = Item(system, producer)  # the running notifier was not told: it must read the schedule itself
    record = await item.dispatched(f"{year - 1}-12-31T10:00:00+08:00")
    assert local(record.acknowledge_due_at) == expected
    # `xiaoer sla due` computes with the same schedules and business hours.
    assert (
        await asyncio.to_thread(
            xiaoer, "sla", "due", "--from", f"{year - 1}-12-31T10:00:00+08:00", "--working-days", "1"
        )
        == expected
    )


async def test_a_units_own_transfer_keeps_the_deadline_and_a_coordinators_dispatch_restarts_it(system, producer):
    item = Item(system, producer)
    record = await item.dispatched("2025-11-03T10:00:00+08:00")
    first_due, first_unit = record.resolve_due_at, item.unit
    # 转办 by the unit on day 4: the next unit inherits what is left, it does not start afresh.
    item.unit = f"440100.tax.t{uuid.uuid4().hex[:6]}"
    await item.send(
        events.WorkItemDispatched,
        "2025-11-06T10:00:00+08:00",
        "dispatched",
        rule_id=1,
        rule_version=1,
        routing_reason="t",
        previous_unit_code=first_unit,
        restarts_clock=False,
    )
    record = await item.record(lambda r: r.unit_code == item.unit)
    assert record.resolve_due_at == first_due, "a unit's transfer buys no time"
    # A coordinator's dispatch (after a return) is a new start; the router's history says why.
    await item.send(
        events.WorkItemDispatched,
        "2025-11-07T10:00:00+08:00",
        "dispatched",
        rule_id=None,
        rule_version=None,
        routing_reason="协调办人工分拨",
        previous_unit_code=first_unit,
    )
    record = await item.record(lambda r: r.resolve_due_at != first_due)
    assert local(record.resolve_due_at) == "2025-11-14T18:00:00+08:00", "five working days from the new dispatch"


async def test_extension_and_return_rates_count_for_the_unit_that_asked_and_the_unit_that_gave_back(system, producer):
    region = "310115"
    extended, returned = Item(system, producer, region=region), Item(system, producer, region=region)
    returned.unit = extended.unit
    await extended.dispatched("2025-11-03T10:00:00+08:00")
    await returned.dispatched("2025-11-03T10:30:00+08:00")
    await extended.send(
        events.WorkItemExtensionDecided,
        "2025-11-04T10:00:00+08:00",
        "dispatched",
        extension_id="e",
        days=3,
        approved=True,
    )
    await extended.record(lambda r: r.extended)
    giver = returned.unit
    returned.unit = f"{region}.coordinator"  # the item as it stands after 退回: at the coordinator
    await returned.send(events.WorkItemReturned, "2025-11-04T11:00:00+08:00", "returned", returned_by=giver)
    returned.unit = f"{region}.ecology.t{uuid.uuid4().hex[:6]}"  # the coordinator dispatches it on
    await returned.send(
        events.WorkItemDispatched,
        "2025-11-05T09:00:00+08:00",
        "dispatched",
        rule_id=None,
        rule_version=None,
        routing_reason="协调办分拨",
    )
    await returned.record(lambda r: r.unit_code == returned.unit)

    response = await system.notifier.get(
        "/v1/stats/units",
        params={"from": "2025-11-01", "to": "2025-12-01", "region": region},
        headers=system.auth("supervisor", region="310000"),
    )
    units = {u["unit_code"]: u for u in response.json()["units"]}
    # The unit that asked: given two, one left with it, extended; the one it gave back counts as returned by it.
    assert units[giver]["received"] == 2 and units[giver]["kept"] == 1
    assert units[giver]["extended"] == 1 and units[giver]["extension_rate"] == 1.0
    assert units[giver]["returned"] == 1 and units[giver]["return_rate"] == 0.5
    # The unit that got the returned item did not return it.
    assert units[returned.unit]["returned"] == 0 and units[returned.unit]["extension_rate"] == 0.0
