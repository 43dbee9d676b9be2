"""Faults a consumer must ride out without losing or dead-lettering anything: its database away
for a while, one record failing in the middle of a batch, a withdrawal arriving before the
submission it withdraws, the broker killed mid-load and restarted empty while every service runs
two outbox relays. Only a message that can never be applied goes to the DLQ. (Two relays racing
over one outbox table are in tests/messaging/test_relay_order.py, dead-letter replay in tests/messaging/test_dlq.py.)

The first three tests run a consumer of their own, in a runtime of their own, on a fresh topic
of the real broker and a real database (SQLite or PostgreSQL, as the suite runs). Its database
"outage" refuses every new connection (as an unreachable host does) while it lasts; the engine
keeps no pool, so no connection outlives it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from cli.devstack import EmbeddedBroker, free_port
from services.notifier.models import SlaRecord
from services.router.models import RoutedRequest, WorkItem
from shared import events
from shared.auth import mint_token
from shared.messaging.dead_letters import dead_letters
from shared.messaging.relay import OutboxRelay
from shared.runtime import ServiceRuntime
from shared.settings import SERVICES
from tests.support import (
    MINGLUO,
    certificate_request,
    eventually,
    header,
    make_databases,
    read_topic,
    unit_topic_deliveries,
)
from tests.support.consumers import Harness, Outage, at_least, own_consumer, record_applied
from tests.support.system import BUILDERS, settings_fields, start_system

pytestmark = pytest.mark.faults


async def topic_size(bootstrap: str, topic: str) -> int:
    """How many messages a topic holds (end minus beginning offsets over its partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        numbers = await eventually(lambda: consumer.partitions_for_topic(topic))
        partitions = [TopicPartition(topic, p) for p in numbers]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await consumer.stop()


async def readiness(runtime) -> str:
    """What /readyz shows under "workers"."""
    try:
        await runtime.check_workers()
        return "ok"
    except Exception as exc:
        return f"error: {exc}"


def metric(name: str, consumer: str) -> float:
    return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0


# --- the tests ----------------------------------------------------------------------------------------
async def test_a_database_outage_loses_nothing_and_dead_letters_nothing(broker, producer, tmp_path):
    count = 60
    async with own_consumer(broker, tmp_path, record_applied) as h:
        name = h.consumer.name
        assert await readiness(h.runtime) == "ok"
        h.outage.down = True
        await h.produce(producer, range(count))

        await eventually(lambda: h.consumer.stalled)
        during = await readiness(h.runtime)
        assert during.startswith("error") and name in during and "ConnectionRefusedError" in during
        assert metric("xiaoer_consumer_stalled", name) == 1
        # Let it back off a few times against the dead database (the outage lasts "a while").
        await eventually(lambda: metric("xiaoer_consumer_transient_failures_total", name) >= 5, timeout=30)
        assert await h.applied() == []

        h.outage.down = False
        back = time.monotonic()
        rows = await eventually(lambda: at_least(h.applied, count), timeout=30)
        recovery = time.monotonic() - back
        await eventually(lambda: not h.consumer.stalled)
        assert await readiness(h.runtime) == "ok" and metric("xiaoer_consumer_stalled", name) == 0

        assert sorted(seq for _, seq in rows) == list(range(count)), "every message applied exactly once"
        assert len({event_id for event_id, _ in rows}) == count
        dead = await topic_size(h.bootstrap, events.dlq(h.topic))
        assert dead == 0
        print(
            f"\n[db outage] messages={count} applied={len(rows)} dead_letters={dead} "
            f"retries={metric('xiaoer_consumer_transient_failures_total', name):.0f} "
            f"recovery_after_db_back={recovery:.2f}s readyz_during='{during[:80]}'"
        )


async def test_a_record_failing_mid_batch_holds_its_place(broker, producer, tmp_path):
    count, bad = 30, 12
    release = asyncio.Event()
    attempts = 0

    async def flaky(session, received) -> None:
        nonlocal attempts
        if int(received.data.reason) == bad and not release.is_set():
            attempts += 1
            raise ConnectionResetError("connection reset by peer (the test's flaky dependency)")
        await record_applied(session, received)

    async with own_consumer(broker, tmp_path, flaky) as h:
        # One key, so one partition and one fetched batch with the failing record in its middle.
        placed = await h.produce(producer, range(count), key="one-partition")
        partition, bad_offset = placed[bad]
        tp = TopicPartition(h.topic, partition)

        await eventually(lambda: attempts >= 3, timeout=30)
        assert h.consumer.stalled
        assert [seq for _, seq in await h.applied()] == list(range(bad)), "nothing after it applied ahead of it"
        committed = await h.consumer.committed(tp)
        assert committed is None or committed <= bad_offset, "the committed offset never passes it"

        release.set()
        rows = await eventually(lambda: at_least(h.applied, count), timeout=30)
        assert [seq for _, seq in rows] == list(range(count)), "all applied, in order, exactly once"
        await eventually(lambda: not h.consumer.stalled)
        final = await eventually(lambda: _committed(h, tp, bad_offset))
        dead = await topic_size(h.bootstrap, events.dlq(h.topic))
        assert dead == 0
        print(
            f"\n[mid-batch failure] messages={count} failing_seq={bad} attempts={attempts} "
            f"committed_while_stuck={committed} (failing offset {bad_offset}) final_committed={final} "
            f"applied={len(rows)} dead_letters={dead}"
        )


async def test_a_malformed_message_goes_to_the_dlq_and_the_next_is_applied(broker, producer, tmp_path):
    async with own_consumer(broker, tmp_path, record_applied) as h:
        garbage = await producer.send_and_wait(h.topic, b"not a cloud event", key=b"same")
        await h.produce(producer, [1], key="same")
        rows = await eventually(lambda: at_least(h.applied, 1))
        dead = await read_topic(h.bootstrap, events.dlq(h.topic), until=lambda rs: len(rs) >= 1)
        assert len(dead) == 1 and "ce_id or ce_type header missing" in header(dead[0], "x-error")
        assert header(dead[0], "x-original-offset") == str(garbage.offset)
        assert not h.consumer.stalled
        print(
            f"\n[malformed] dead_letters={len(dead)} x-error={header(dead[0], 'x-error')!r} applied_after={len(rows)}"
        )


async def test_withdrawals_right_after_submission_are_all_applied(system):
    rounds = 30
    headers = system.auth("enterprise", usccs=[MINGLUO], sub="faults-tests")
    updates_dlq = events.dlq(events.REQUESTS_UPDATES)
    bootstrap = system.settings.kafka_bootstrap_servers
    dead_before = await topic_size(bootstrap, updates_dlq)
    retries_before = metric("xiaoer_consumer_transient_failures_total", "router.actions")
    started = time.monotonic()

    ids = []
    for _ in range(rounds):
        created = await system.intake.post("/v1/requests", json=certificate_request(), headers=headers)
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        withdrawn = await system.intake.post(f"/v1/requests/{request_id}/withdraw", json={}, headers=headers)
        assert withdrawn.status_code == 202, withdrawn.text
        ids.append(request_id)

    async def all_cancelled():
        async with system.runtimes["router"].sessions() as session:
            withdrawn = await session.scalar(
                select(func.count())
                .select_from(RoutedRequest)
                .where(RoutedRequest.request_id.in_(ids), RoutedRequest.status == "withdrawn")
            )
            states = (
                await session.execute(select(WorkItem.request_id, WorkItem.state).where(WorkItem.request_id.in_(ids)))
            ).all()
        if withdrawn == rounds and {r for r, _ in states} == set(ids) and {s for _, s in states} == {"cancelled"}:
            return len(states)
        return None

    items = await eventually(all_cancelled, timeout=60)
    elapsed = time.monotonic() - started
    dead = await topic_size(bootstrap, updates_dlq) - dead_before
    assert dead == 0
    retries = metric("xiaoer_consumer_transient_failures_total", "router.actions") - retries_before
    print(
        f"\n[submit-then-withdraw] requests={rounds} work_items_cancelled={items} dead_letters={dead} "
        f"not_yet_known_retries={retries:.0f} all_applied_in={elapsed:.2f}s"
    )


async def _committed(h: Harness, tp: TopicPartition, past: int):
    committed = await h.consumer.committed(tp)
    return committed if committed is not None and committed > past else None


# --- (c) the broker killed mid-load, restarted empty; two relays per service ----------------------------
async def test_the_broker_killed_mid_load_and_restarted_empty_repairs_itself(tmp_path):
    """Three services on a broker of their own, each with a second outbox relay (a second replica;
    the router's runs its consumers too, so two per group), under load (5 requests/s, or what the
    machine makes of it) from before the kill until after the restart: the broker is killed
    (SIGKILL) once 25 requests are accepted and restarted after 20 s down and 60 more accepted,
    empty, as the embedded broker keeps nothing (and as an unclean leader election or a lost
    disk leaves a real Kafka). Nobody steps in: each relay finds the events the broker
    acknowledged and lost, and publishes exactly those again (issue 26, row 2). Expected: every
    201 becomes exactly one work item per unit on the unit's topic, seen by intake's read model and
    with one SLA record; no dead letter; the loss counted on ``xiaoer_broker_loss_detected_total``;
    and no flood of copies."""
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    stack = await own_system(tmp_path, broker.bootstrap)
    headers = {"Authorization": f"Bearer {mint_token(stack.settings, role='enterprise', usccs=[MINGLUO])}"}
    accepted: list[str] = []
    detected_before = {s: _counter("xiaoer_broker_loss_detected_total", service=s) for s in SERVICES}
    republished_before = {s: _counter("xiaoer_events_republished_total", service=s) for s in SERVICES}
    stop_loading, loading = asyncio.Event(), None
    try:

        async def load() -> None:
            while not stop_loading.is_set():
                body = certificate_request(items=("tax", "commerce"))
                response = await stack.clients["intake"].post("/v1/requests", json=body, headers=headers)
                assert response.status_code == 201, response.text
                accepted.append(response.json()["id"])
                await asyncio.sleep(0.2)  # the load's rate: 5 requests/s

        def accepted_at_least(n: int) -> bool:
            # Counted, not timed: a slower machine takes longer, not fewer. A failed 201 shows here.
            return (loading.done() and loading.result()) or len(accepted) >= n

        loading = asyncio.create_task(load())
        await eventually(lambda: accepted_at_least(25), timeout=60)
        broker.kill()
        killed, killed_at = time.monotonic(), len(accepted)
        during = await eventually(lambda: _not_ready(stack.clients["router"]), timeout=60)
        # The 20 s of outage, under load all the while.
        await eventually(lambda: time.monotonic() - killed >= 20 and accepted_at_least(killed_at + 60), timeout=120)
        broker.start()  # empty: no topics, no groups, no messages
        restarted, restarted_at = time.monotonic(), len(accepted)
        await eventually(lambda: accepted_at_least(restarted_at + 25), timeout=60)  # and on after the restart
        stop_loading.set()
        await asyncio.wait_for(loading, timeout=30)

        items = await eventually(lambda: _routed(stack, accepted), timeout=120)
        await eventually(lambda: _in_read_model(stack, accepted, headers, len(items)), timeout=120)
        await eventually(lambda: _sla_records(stack, items), timeout=60)
        recovery = time.monotonic() - restarted
        assigned, per_item = await unit_topic_deliveries(broker.bootstrap, items)
        dead = await dead_letters(broker.bootstrap)
        for runtime in [*stack.runtimes.values(), stack.second_router]:
            await eventually(lambda r=runtime: _ready(r), timeout=60)
        detected = {s: _counter("xiaoer_broker_loss_detected_total", service=s) - detected_before[s] for s in SERVICES}
        republished = {
            s: int(_counter("xiaoer_events_republished_total", service=s) - republished_before[s]) for s in SERVICES
        }
        copies = len(assigned) - len(per_item)
        print(
            f"\n[broker killed mid-load and back empty, 2 relays per service, 2 router consumers per group] "
            f"requests_accepted={len(accepted)} accepted_while_down={len(accepted) - killed_at} "
            f"outage={restarted - killed:.1f}s work_items={len(items)} unit_topic_messages={len(assigned)} "
            f"distinct={len(per_item)} same_ce_id_copies={copies} dead_letters={len(dead)} "
            f"all_through_after_restart={recovery:.1f}s losses_detected={detected} republished_by_itself="
            f"{republished} readyz_during_outage='{during[:90]}'"
        )
        assert len(items) == 2 * len(accepted), "one work item per unit of every accepted request"
        assert set(per_item) == set(items) and set(per_item.values()) == {1}, "exactly one per unit's topic"
        assert {r.topic for r in assigned} <= {events.dept_inbox(unit) for unit in items.values()}
        assert dead == [], [d.summary() for d in dead]
        assert all(detected[s] >= 1 for s in ("intake", "router")), "the loss is seen and counted (the alert)"
        # No flood: a copy only of what was in flight when the broker died (one relay batch at most).
        assert copies <= stack.settings.outbox_batch_size
    finally:
        stop_loading.set()  # a wait that failed: the load stops before the system it loads
        if loading is not None:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
        await stack.stop()
        broker.stop()


def _counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class OwnSystem:
    settings: object
    urls: dict[str, str]
    runtimes: dict
    clients: dict
    replicas: list[asyncio.Task]  # intake's and the notifier's second relays
    second_router: ServiceRuntime  # the router's second replica: its relay and consumers
    cleanup: list
    seen: set[str] = field(default_factory=set)  # requests whose work items intake shows

    async def stop(self) -> None:
        for task in self.replicas:
            task.cancel()
        await asyncio.gather(*self.replicas, return_exceptions=True)
        for client in self.clients.values():
            await client.aclose()
        for runtime in [*self.runtimes.values(), self.second_router]:
            await runtime.stop()
        for cleanup in self.cleanup:
            await cleanup()


async def own_system(tmp_path, bootstrap: str) -> OwnSystem:
    """The three services as the session's ``system`` runs them, on the given broker, each with a
    second outbox relay on its outbox (another replica's); the router's second replica also runs
    its consumers, in the same groups (two consumers per group)."""
    databases = await make_databases(tmp_path, list(SERVICES))
    fields = settings_fields(tmp_path, bootstrap, databases.urls, scheduler_enabled=False)
    system = await start_system(fields)
    second_router = BUILDERS["router"].build_runtime(BUILDERS["router"].load_settings(**fields))
    await second_router.start_workers()
    replicas = []
    for runtime in system.runtimes.values():
        if runtime.name == "router":
            continue
        relay = runtime.relay
        second = OutboxRelay(
            name=relay.name,
            sessions=runtime.sessions,
            outbox=runtime.outbox,
            broker=bootstrap,
            poll_seconds=relay.poll_seconds,
            batch_size=relay.batch_size,
            partitions=runtime.settings.kafka_topic_partitions,
        )
        replicas.append(asyncio.create_task(second.run(), name=f"{relay.name}.relay-2"))
    for consumer in second_router.consumers:
        await asyncio.wait_for(consumer.ready.wait(), timeout=60)
    return OwnSystem(
        system.settings, databases.urls, system.runtimes, system.clients, replicas, second_router, databases.cleanup
    )


async def _routed(stack: OwnSystem, ids: list[str]) -> dict[str, str] | None:
    """work item id → unit, once every request has its two work items."""
    async with stack.runtimes["router"].sessions() as session:
        rows = (
            await session.execute(
                select(WorkItem.id, WorkItem.request_id, WorkItem.unit_code).where(WorkItem.request_id.in_(ids))
            )
        ).all()
    per_request = Counter(request_id for _, request_id, _ in rows)
    if set(per_request) == set(ids) and set(per_request.values()) == {2}:
        return {item: unit for item, _, unit in rows}
    assert max(per_request.values(), default=0) <= 2, "a request routed twice"
    return None


async def _in_read_model(stack: OwnSystem, ids: list[str], headers, expected: int) -> bool:
    """Every request shows its two work items to the enterprise (intake's read model)."""
    for request_id in [i for i in ids if i not in stack.seen]:
        body = (await stack.clients["intake"].get(f"/v1/requests/{request_id}", headers=headers)).json()
        if len(body["work_items"]) == 2:
            stack.seen.add(request_id)
    return len(stack.seen) * 2 == expected


async def _sla_records(stack: OwnSystem, items: dict[str, str]) -> bool:
    async with stack.runtimes["notifier"].sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(SlaRecord).where(SlaRecord.work_item_id.in_(list(items)))
        )
    return count == len(items)


async def _ready(runtime) -> bool:
    return await readiness(runtime) == "ok"


async def _not_ready(client: httpx.AsyncClient) -> str | None:
    """The failing checks of /readyz, while it answers 503."""
    ready = await client.get("/readyz")
    failing = {name: shown for name, shown in ready.json()["checks"].items() if shown != "ok"}
    return str(failing) if ready.status_code == 503 else None


async def test_the_router_and_notifier_databases_away_for_20s_under_load_lose_nothing(tmp_path):
    """Fault (a) at full scale: the three services on a broker of their own under 5 requests/s for
    30 s; 5 s in, the router's and the notifier's databases refuse every new connection for 20 s
    (their pooled connections are dropped first, as a database restart drops them). Intake keeps
    answering 201; the router's and the notifier's consumers stall and wait instead of
    dead-lettering. Expected after the databases return: every 201 is one work item per unit on the
    unit's topic, with its SLA record and on the enterprise's view, and no dead letter."""
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    stack = await own_system(tmp_path, broker.bootstrap)
    headers = {"Authorization": f"Bearer {mint_token(stack.settings, role='enterprise', usccs=[MINGLUO])}"}
    outages = [Outage(stack.runtimes[name].engine) for name in ("router", "notifier")]
    outages += [Outage(stack.second_router.engine)]
    accepted: list[str] = []
    try:

        async def load(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                body = certificate_request(items=("tax", "commerce"))
                response = await stack.clients["intake"].post("/v1/requests", json=body, headers=headers)
                assert response.status_code == 201, response.text
                accepted.append(response.json()["id"])
                await asyncio.sleep(0.2)  # 5 requests/s

        loading = asyncio.create_task(load(30))
        await asyncio.sleep(5)
        for outage in outages:
            outage.down = True
        for runtime in (stack.runtimes["router"], stack.runtimes["notifier"], stack.second_router):
            await runtime.engine.dispose()  # pooled connections go, as with a database restart
        went_down = len(accepted)
        during = await eventually(lambda: _not_ready(stack.clients["router"]), timeout=30)
        await asyncio.sleep(20 - 1)
        for outage in outages:
            outage.down = False
        back = time.monotonic()
        accepted_while_down = len(accepted) - went_down
        await loading

        items = await eventually(lambda: _routed(stack, accepted), timeout=120)
        await eventually(lambda: _in_read_model(stack, accepted, headers, len(items)), timeout=120)
        await eventually(lambda: _sla_records(stack, items), timeout=120)
        recovery = time.monotonic() - back
        assigned, per_item = await unit_topic_deliveries(broker.bootstrap, items)
        dead = await dead_letters(broker.bootstrap)
        print(
            f"\n[router and notifier databases away 20 s under load] requests_accepted={len(accepted)} "
            f"accepted_while_down={accepted_while_down} work_items={len(items)} unit_topic_messages={len(assigned)} "
            f"distinct={len(per_item)} dead_letters={len(dead)} all_through_after_return={recovery:.1f}s "
            f"readyz_during_outage='{during[:90]}'"
        )
        assert accepted_while_down >= 50, "intake answered 201 throughout"
        assert len(items) == 2 * len(accepted), "one work item per unit of every accepted request"
        assert set(per_item) == set(items) and set(per_item.values()) == {1}, "exactly one per unit's topic"
        assert dead == [], [d.summary() for d in dead]
    finally:
        for outage in outages:
            outage.down = False
        await stack.stop()
        broker.stop()
