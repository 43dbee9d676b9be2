"""intake's read model takes the notifier's deadlines a run at a time and reads a run's requests,
views and deadlines ahead (``read_model.apply_sla_updates``, ``apply_work_item_events``): an
item's view must still show its latest deadlines, whether they came before its own news or after."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.intake import read_model
from services.intake.models import Request, WorkItemView
from shared import db, events
from shared.clock import utcnow
from tests.support import (
    MINGLUO,
    OTHER_CO,
    RACES_ON_POSTGRES_ONLY,
    backend_pid,
    certificate_request,
    database_backend,
    eventually,
    waits_for,
    work_item_event,
)


def dispatched(request_id: str, item: str, when) -> events.WorkItemDispatched:
    return work_item_event(
        work_item_id=item,
        request_id=request_id,
        reference_no="XE-20251103-000088",
        unit_name="黄埔区税务局",
        subject_name="广州明珞",
        occurred_at=when,
        version=1,
    )


async def test_deadlines_reach_a_view_whether_they_come_before_or_after_its_items_news(system):
    runtime = system.runtimes["intake"]
    headers = system.auth("enterprise", usccs=[MINGLUO], sub=f"ent-{MINGLUO}")
    answer = await system.intake.post("/v1/requests", json=certificate_request(), headers=headers)
    assert answer.status_code == 201
    request_id = answer.json()["id"]
    early, late = str(uuid.uuid4()), str(uuid.uuid4())  # items of its own, beside those the router makes
    now = utcnow()

    def deadlines(item: str, days: int) -> events.SlaUpdated:
        return events.SlaUpdated(
            work_item_id=item,
            request_id=request_id,
            acknowledge_due_at=now + timedelta(days=1),
            resolve_due_at=now + timedelta(days=days),
        )

    async with runtime.sessions() as session, session.begin():
        await read_model.apply_work_item_events(session, [dispatched(request_id, late, now)])
    async with runtime.sessions() as session, session.begin():  # one run: before one item's news, after the other's
        await read_model.apply_sla_updates(session, [deadlines(early, 5), deadlines(late, 3), deadlines(late, 4)])
    async with runtime.sessions() as session, session.begin():
        await read_model.apply_work_item_events(session, [dispatched(request_id, early, now)])

    async with runtime.sessions() as session:
        views = {item: await session.get(WorkItemView, item) for item in (early, late)}
    assert views[early].due_at == now + timedelta(days=5)
    assert views[late].due_at == now + timedelta(days=4), "the run's last deadline for it"
    assert views[early].acknowledge_due_at == views[late].acknowledge_due_at == now + timedelta(days=1)


@pytest.mark.skipif(database_backend() != "postgres", reason="SQLite's transactions see one moment: BEGIN IMMEDIATE")
async def test_a_requests_page_reads_one_moment_however_its_items_move_meanwhile(system):
    """The request's status and its items' states are read apart (``views.request_out``): the
    page reads them in one snapshot, so a status written with an item's news is never shown
    beside the news before it (the enterprise saw 已办结 items under a 待评价 request)."""
    runtime = system.runtimes["intake"]
    headers = system.auth("enterprise", usccs=[MINGLUO], sub=f"ent-{MINGLUO}")
    answer = await system.intake.post("/v1/requests", json=certificate_request(), headers=headers)
    request_id = answer.json()["id"]
    async with runtime.sessions() as reader:
        await db.snapshot(reader)
        seen = await reader.scalar(select(Request.updated_at).where(Request.id == request_id))
        async with runtime.sessions() as writer, writer.begin():
            moved = utcnow()
            await writer.execute(update(Request).where(Request.id == request_id).values(updated_at=moved))
        assert await reader.scalar(select(Request.updated_at).where(Request.id == request_id)) == seen != moved


async def _settled_request(system) -> str:
    """A request whose routing and deadlines have all reached intake: nothing else of its own is
    on its way to lock its row while a test holds it."""
    created = await system.enterprise().submit(items=("tax",))

    async def settled():
        items = (await system.enterprise().request(created["id"]))["work_items"]
        return items and all(item["due_at"] for item in items)

    await eventually(settled)
    return created["id"]


@RACES_ON_POSTGRES_ONLY
async def test_a_withdrawal_committed_while_a_batch_works_stays_withdrawn(system):
    """An item's news and the enterprise's withdrawal at the same moment: the batch works out the
    request's status after the withdrawal commits and keeps 已撤回 (CI once saw a withdrawn
    request shown 已评价: the batch had read it just before the withdrawal and wrote it back)."""
    runtime = system.runtimes["intake"]
    request_id = await _settled_request(system)
    async with runtime.sessions() as withdrawal, runtime.sessions() as batch:
        await withdrawal.begin()
        await withdrawal.execute(update(Request).where(Request.id == request_id).values(status="withdrawn"))
        await batch.begin()
        holder, waiter = await backend_pid(withdrawal), await backend_pid(batch)

        async def fold_the_news():
            signed_for = work_item_event(events.WorkItemAcknowledged, request_id=request_id, state="acknowledged")
            await read_model.apply_work_item_events(batch, [signed_for])  # 办理中, had it not been withdrawn
            await batch.flush()

        news = asyncio.create_task(fold_the_news())
        await eventually(lambda: waits_for(runtime, holder, waiter))
        await withdrawal.commit()
        await news
        await batch.commit()
    async with runtime.sessions() as session:
        assert await session.scalar(select(Request.status).where(Request.id == request_id)) == "withdrawn"


@RACES_ON_POSTGRES_ONLY
async def test_a_request_withdrawn_twice_at_once_is_withdrawn_once(system):
    """The second withdrawal waits for the first and is refused (409), not sent to the units again."""
    runtime = system.runtimes["intake"]
    request_id = await _settled_request(system)
    async with runtime.sessions() as first:
        await first.begin()
        await first.execute(update(Request).where(Request.id == request_id).values(status="withdrawn"))
        holder = await backend_pid(first)
        second = asyncio.create_task(
            system.intake.post(
                f"/v1/requests/{request_id}/withdraw", json={"reason": "重复提交"}, headers=system.enterprise().headers
            )
        )
        await eventually(lambda: waits_for(runtime, holder))
        await first.commit()
        answer = await second
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "cannot_withdraw"


@RACES_ON_POSTGRES_ONLY
async def test_someone_elses_request_is_a_404_at_once_while_its_owner_changes_it(system):
    """A withdrawal sent for a request the caller may not read answers 404 without locking it: it
    neither waits for the owner's change in progress nor holds up the owner's next one."""
    runtime = system.runtimes["intake"]
    request_id = await _settled_request(system)
    async with runtime.sessions() as owner:
        await owner.begin()
        await owner.execute(update(Request).where(Request.id == request_id).values(status="withdrawn"))
        stranger = system.enterprise(OTHER_CO).headers
        sent = system.intake.post(f"/v1/requests/{request_id}/withdraw", json={"reason": "试探"}, headers=stranger)
        answer = await asyncio.wait_for(sent, timeout=10)  # locked as well, it would wait for the owner
        await owner.rollback()
    assert answer.status_code == 404, answer.text


@RACES_ON_POSTGRES_ONLY
async def test_deadlines_that_come_while_an_items_news_is_written_reach_its_view(system):
    """An item's news and its deadlines are applied by two consumers at once: the deadlines wait
    for the news and are written on its view (else neither saw the other's row, and the view
    stayed without a due date)."""
    runtime = system.runtimes["intake"]
    request_id = await _settled_request(system)
    item = str(uuid.uuid4())
    due = utcnow() + timedelta(days=5)
    deadlines = events.SlaUpdated(
        work_item_id=item, request_id=request_id, acknowledge_due_at=utcnow(), resolve_due_at=due
    )
    async with runtime.sessions() as news:
        await news.begin()
        await read_model.apply_work_item_events(news, [dispatched(request_id, item, utcnow())])
        await news.flush()
        holder = await backend_pid(news)

        async def apply_deadlines():
            async with runtime.sessions() as session, session.begin():
                await read_model.apply_sla_updates(session, [deadlines])

        applying = asyncio.create_task(apply_deadlines())
        await eventually(lambda: applying.done() or waits_for(runtime, holder))
        await news.commit()
        await applying
    async with runtime.sessions() as session:
        assert (await session.get(WorkItemView, item)).due_at == due
