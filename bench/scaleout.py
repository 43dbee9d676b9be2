"""Benchmark: two replicas of intake and of the router against one PostgreSQL and one broker,
beside one replica of each, in the same run.

- intake: ``xiaoer serve intake`` once, loaded by wrk -t2 -c32; then twice (two ports, one
  database, one broker), each replica loaded by its own wrk -t1 -c16 at the same time. Afterwards
  every ``requests.submitted`` message is read back: as many distinct events as requests stored,
  none twice (the replicas' relays take turns through the outbox lease).
- router: bench/router.py's backlog drain with one ``xiaoer worker router`` and with two (one
  consumer group: the partitions are split between them; one relay publishes at a time).

    .venv/bin/python bench/scaleout.py [--seconds 20] [--requests 1000] [--json FILE]

On a 2-core machine the replicas share the cores with each other, PostgreSQL, the broker and
the load generator: this shows that a second replica adds throughput and doubles nothing, not
what a second machine would add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    USCC,
    fmt,
    fresh_database,
    machine,
    raw_dsn,
    stack,
    wait_ready,
    wrk_args,
    wrk_result,
    wrk_script,
)
from router import drain

from cli.devstack import free_port
from shared import events


def wrk_together(urls: list[str], script: Path, connections: int, seconds: int) -> float:
    """Requests/s (2xx) of one wrk per URL, run at the same time."""
    share = {"threads": max(1, 2 // len(urls)), "connections": connections // len(urls), "seconds": seconds}
    runs = [subprocess.Popen(wrk_args(url, script, **share), stdout=subprocess.PIPE, text=True) for url in urls]
    return sum(wrk_result(run.communicate(timeout=seconds + 60)[0])["rps"] for run in runs)


async def submitted_events(bootstrap: str) -> Counter:
    """ce_id → how often it is on requests.submitted."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(events.REQUESTS_SUBMITTED, p)
            for p in sorted(consumer.partitions_for_topic(events.REQUESTS_SUBMITTED) or ())
        ]
        if not partitions:
            await consumer.topics()
            partitions = [
                TopicPartition(events.REQUESTS_SUBMITTED, p)
                for p in sorted(consumer.partitions_for_topic(events.REQUESTS_SUBMITTED) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen = Counter()
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    seen[dict(record.headers)["ce_id"].decode()] += 1
        return seen
    finally:
        await consumer.stop()


async def intake(replicas: int, seconds: int, connections: int, code: Path) -> dict:
    async with fresh_database() as db_url:
        with stack(code) as s:
            bootstrap = s.start_broker()
            s.env["XIAOER_INTAKE_DATABASE_URL"] = db_url
            s.xiaoer("migrate", "intake")
            ports = [free_port() for _ in range(replicas)]
            for port in ports:
                s.serve("serve", "intake", port)
            for port in ports:
                await wait_ready(f"http://127.0.0.1:{port}/readyz")
            await s.register_group(ports[0])
            script = wrk_script(s.token(role="enterprise", usccs=[USCC]))
            urls = [f"http://127.0.0.1:{port}/v1/requests" for port in ports]
            wrk_together(urls, script, connections, 3)  # warm-up
            rps = wrk_together(urls, script, connections, seconds)
            conn = await asyncpg.connect(raw_dsn(db_url))
            for _ in range(300):  # every event relayed
                if not await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
                    break
                await asyncio.sleep(0.1)
            stored = await conn.fetchval("SELECT count(*) FROM requests")
            await conn.close()
            seen = await submitted_events(bootstrap)
    return {
        "replicas": replicas,
        "rps": rps,
        "requests_stored": stored,
        "events_distinct": len(seen),
        "events_doubled": sum(1 for n in seen.values() if n > 1),
    }


async def measure(seconds: int, connections: int, requests: int, code: Path) -> dict:
    intake_runs = [await intake(n, seconds, connections, code) for n in (1, 2)]
    router_runs = [await drain(requests, n, 3, code, raw_rounds=1) for n in (1, 2)]
    return {"machine": machine(), "intake": intake_runs, "router": router_runs}


def report(r: dict) -> str:
    i1, i2 = r["intake"]
    r1, r2 = r["router"]
    return "\n".join(
        [
            f"one replica against two, same run; {r['machine']}",
            "",
            "| service | 1 replica | 2 replicas | gain | lost | doubled |",
            "|---|---:|---:|---:|---:|---:|",
            f"| intake POST /v1/requests, req/s (wrk, 32 connections in all) | {fmt(i1['rps'])} | {fmt(i2['rps'])} | "
            f"{i2['rps'] / i1['rps'] - 1:+.0%} | "
            f"{(i1['requests_stored'] - i1['events_distinct']) + (i2['requests_stored'] - i2['events_distinct'])} | "
            f"{i1['events_doubled'] + i2['events_doubled']} |",
            f"| router backlog drain, items/s | {fmt(r1['router_items_per_s'])} | {fmt(r2['router_items_per_s'])} | "
            f"{r2['router_items_per_s'] / r1['router_items_per_s'] - 1:+.0%} | "
            f"{(r1['items_expected'] - r1['distinct_items']) + (r2['items_expected'] - r2['distinct_items'])} | "
            f"{r1['doubled'] + r2['doubled']} |",
            "",
            "lost: requests stored without their requests.submitted event, or work items missing from the "
            "inboxes; doubled: an event or item on its topic more than once.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.seconds, args.connections, args.requests, args.code.resolve()))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
