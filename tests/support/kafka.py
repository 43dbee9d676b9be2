"""Plain Kafka clients, as a department's own system would use them: reading topics, signed actions."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import events
from shared.messaging.encoding import encode
from tests.support.waiting import eventually


async def read_topic(bootstrap: str, topic: str, *, until: Callable[[list], bool], timeout: float = 15.0) -> list:
    """Reads a topic from the beginning with a plain consumer (no group) until ``until(records)``."""
    return await read_topics(bootstrap, [topic], until=until, timeout=timeout)


def header(record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


async def unit_topic_deliveries(bootstrap: str, items: dict[str, str]) -> tuple[list, Counter]:
    """What the fault tests count: the ``WorkItemAssigned`` messages of ``items`` (work item id →
    unit) on their units' inbox topics, read until every item has one, and how many distinct
    messages (by ce_id) each item got."""
    assigned_type = events.WorkItemAssigned.ce_type
    inboxes = sorted({events.dept_inbox(unit) for unit in items.values()})
    records = await read_topics(
        bootstrap,
        inboxes,
        timeout=60,
        until=lambda rs: {r.key.decode() for r in rs if header(r, "ce_type") == assigned_type} >= set(items),
    )
    assigned = [r for r in records if header(r, "ce_type") == assigned_type and r.key.decode() in items]
    return assigned, Counter(r.key.decode() for r in {header(r, "ce_id"): r for r in assigned}.values())


async def read_topics(
    bootstrap: str, topics: list[str], *, until: Callable[[list], bool], timeout: float = 20.0
) -> list:
    """Like ``read_topic`` for many topics at once, with one plain consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = []
        for topic in topics:
            partitions = await eventually(lambda t=topic: consumer.partitions_for_topic(t), timeout=timeout)
            assigned += [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            if until(records):
                return records
        raise AssertionError(f"wanted records not seen within {timeout} s; saw {len(records)}")
    finally:
        await consumer.stop()


_DEPARTMENT_KEYS: dict[tuple[int, str], tuple[str, str]] = {}


async def department_key(system, unit_code: str) -> tuple[str, str]:
    """A signing key (key id, secret) for ``unit_code``, issued once per test session, as
    ``xiaoer units credentials`` issues one."""
    from services.router import credentials

    cached = _DEPARTMENT_KEYS.get((id(system), unit_code))
    if cached is None:
        router = system.runtimes["router"]
        async with router.sessions() as session, session.begin():
            issued = await credentials.issue(session, router.settings, unit_code)
        cached = _DEPARTMENT_KEYS[(id(system), unit_code)] = (issued.key_id, issued.secret)
    return cached


async def send_department_action(system, producer, unit_code, *, source=None, key=None, **fields) -> str:
    """Sends a ``cn.xiaoer.department.action`` as a department system does: signed with the key
    of ``unit_code`` (or ``key``, a (key id, secret), or unsigned with ``key=False``); its ce_id."""
    from services.router import credentials

    action = events.DepartmentAction(unit_code=unit_code, **fields)
    message = encode(
        action, topic=events.DEPT_RESPONSES, source=source or f"/departments/{unit_code}", key=fields["work_item_id"]
    )
    headers = message.headers
    if key is not False:
        key_id, secret = key or await department_key(system, unit_code)
        headers = credentials.sign(headers, message.value, key_id, secret)
    await producer.send_and_wait(
        message.topic, message.value, key=message.key.encode(), headers=[(k, v.encode()) for k, v in headers.items()]
    )
    return message.headers["ce_id"]


async def publish_item_event(producer, event: events.WorkItemEvent) -> None:
    """``event`` on workitems.events as the router publishes it (keyed by its request)."""
    message = encode(event, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, key=event.request_id)
    key = message.key.encode()
    await producer.send_and_wait(message.topic, message.value, key=key, headers=message.kafka_headers())
