"""Benchmark: the router draining a backlog — 1,000 queued requests (8 items each) turned into
8,000 work items on their units' inbox topics — beside raw aiokafka produce of the same 8,000
messages (same bytes, acks=all, the relay's producer settings) to the same embedded broker.

The backlog is 1,000 ``requests.submitted`` events, produced before the router starts. The router
runs as ``xiaoer worker router`` (its consumers and relay; ``--replicas 2`` starts two). Its rate
is 8,000 items over the time from its first routing transaction to the last inbox message
acknowledged by the broker (the relay's ``sent_at``); start-up and group join are reported aside.
Afterwards every inbox topic is read back: 8,000 distinct work items, each exactly once.

    .venv/bin/python bench/router.py [--requests 1000] [--replicas 1] [--json FILE]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BODY, ITEMS_PER_REQUEST, ROOT, fmt, fresh_database, machine, raw_dsn, stack

from shared import events
from shared.clock import utcnow
from shared.messaging.broker import new_producer
from shared.messaging.encoding import encode
from shared.messaging.topics import TopicKeeper


def submitted(n: int) -> events.RequestSubmitted:
    enterprise = events.Subject(**BODY["enterprise"])
    now = utcnow()
    return events.RequestSubmitted(
        request_id=str(uuid.uuid4()),
        reference_no=f"XE-{now:%Y%m%d}-{n:06d}",
        request_type=BODY["type"],
        enterprise=enterprise,
        subjects=[enterprise, *(events.Subject(**s) for s in BODY["subjects"])],
        items=BODY["items"],
        certificate_anyway=BODY["certificate_anyway"],
        purpose=BODY["purpose"],
        contact_name=BODY["contact"]["name"],
        contact_mobile=BODY["contact"]["mobile"],
        submitted_by=events.Actor(role="enterprise", id="bench", name="bench"),
        submitted_at=now,
    )


async def queue_backlog(bootstrap: str, count: int, partitions: int) -> None:
    keeper = TopicKeeper(bootstrap, partitions)
    await keeper.ensure([events.REQUESTS_SUBMITTED])
    await keeper.close()
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        futures = []
        for n in range(count):
            event = submitted(n + 1)
            m = encode(event, topic=events.REQUESTS_SUBMITTED, source=events.SOURCE_INTAKE, key=event.request_id)
            headers = m.kafka_headers()
            futures.append(await producer.send(m.topic, m.value, key=m.key.encode(), headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_inboxes(bootstrap: str) -> list:
    """Every record on every unit inbox topic, from the beginning to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith("dept.") and t.endswith(".inbox")]
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def raw_produce(bootstrap: str, records: list, partitions: int) -> float:
    """Messages/s producing ``records`` again (same key, headers, value) to a fresh topic."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    keeper = TopicKeeper(bootstrap, partitions)
    await keeper.ensure([topic])
    await keeper.close()
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def drain(requests: int, replicas: int, partitions: int, code: Path = ROOT, raw_rounds: int = 2) -> dict:
    expected = requests * ITEMS_PER_REQUEST
    async with fresh_database() as db_url:
        with stack(code) as s:
            bootstrap = s.start_broker()
            s.env["XIAOER_ROUTER_DATABASE_URL"] = db_url
            s.env["XIAOER_KAFKA_TOPIC_PARTITIONS"] = str(partitions)
            s.xiaoer("migrate", "router")
            s.seed_registry(db_url)
            await queue_backlog(bootstrap, requests, partitions)
            conn = await asyncpg.connect(raw_dsn(db_url))
            started = time.perf_counter()
            for _ in range(replicas):
                s.serve("worker", "router")
            sent = 0
            deadline = started + 600
            while sent < expected and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
                sent = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE topic LIKE 'dept.%' AND sent_at IS NOT NULL"
                )
            wall = time.perf_counter() - started
            span = await conn.fetchrow(
                "SELECT min(created_at) AS first, max(sent_at) AS last FROM outbox WHERE topic LIKE 'dept.%'"
            )
            work_items = await conn.fetchval("SELECT count(*) FROM work_items")
            await conn.close()
            for process in list(s.processes):
                s.stop_process(process)
            records = await read_inboxes(bootstrap)
            raw = [await raw_produce(bootstrap, records[:expected], partitions) for _ in range(raw_rounds)]
    ids = Counter(json.loads(r.value)["work_item_id"] for r in records)
    seconds = (span["last"] - span["first"]).total_seconds()
    router_rate = expected / seconds
    raw_rate = statistics.mean(raw)
    return {
        "machine": machine(),
        "requests": requests,
        "replicas": replicas,
        "items_expected": expected,
        "items_sent": sent,
        "work_item_rows": work_items,
        "inbox_messages": len(records),
        "distinct_items": len(ids),
        "doubled": sum(1 for c in ids.values() if c > 1),
        "router_seconds": seconds,
        "wall_seconds": wall,
        "router_items_per_s": router_rate,
        "raw_msgs_per_s": raw,
        "ratio": router_rate / raw_rate,
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"{r['requests']:,} queued requests → {r['items_expected']:,} work items; "
            f"{r['replicas']} router worker process(es); {r['machine']}",
            "",
            "| | items (messages)/s | seconds | inbox messages | distinct items | doubled |",
            "|---|---:|---:|---:|---:|---:|",
            f"| router drain (first routing → last inbox ack) | {fmt(r['router_items_per_s'])} | "
            f"{fmt(r['router_seconds'], 1)} | {r['inbox_messages']:,} | {r['distinct_items']:,} | {r['doubled']} |",
            f"| raw aiokafka produce, acks=all, same messages | "
            f"{' / '.join(fmt(x) for x in r['raw_msgs_per_s'])} | | | | |",
            "",
            f"router reaches **{r['ratio']:.1%}** of raw produce; wall time from starting the router process "
            f"(start-up and group join included): {fmt(r['wall_seconds'], 1)} s.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()
    result = asyncio.run(drain(args.requests, args.replicas, args.partitions, args.code.resolve()))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    if result["distinct_items"] != result["items_expected"] or result["doubled"]:
        sys.exit("items lost or doubled")


if __name__ == "__main__":
    main()
