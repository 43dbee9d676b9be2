"""Benchmark: the notifier draining a backlog of dispatched work items — SLA records created and
their timers planned — beside the router's drain of the same backlog in the same run (the issue's
target: the notifier keeps up with the router, so its items/s is at least the router's).

1,000 queued requests (8 items each) are routed by ``xiaoer worker router``, which publishes the
8,000 ``cn.xiaoer.workitem.dispatched`` events on ``workitems.events``; the router's rate is the
8,000 items over its first routing transaction to the last event acknowledged by the broker. The
router then stops, and ``xiaoer worker notifier`` starts on the backlog: its rate is the 8,000
items over the time from its first SLA record to its last (the ``sla.events`` outbox rows each new
record writes in the same transaction, as its database timed them), start-up and group join
reported aside. Afterwards: one SLA
record per item, and every record's timers planned.

    .venv/bin/python bench/notifier.py [--requests 1000] [--json FILE] [--code DIR]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ITEMS_PER_REQUEST, ROOT, cpu_seconds, fmt, fresh_database, machine, raw_dsn, stack
from router import queue_backlog


async def wait_for(conn, query: str, expected: int, deadline: float) -> int:
    found = 0
    while found < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        found = await conn.fetchval(query)
    return found


async def drain(requests: int, partitions: int, code: Path = ROOT) -> dict:
    expected = requests * ITEMS_PER_REQUEST
    async with fresh_database() as router_url, fresh_database() as notifier_url:
        with stack(code) as s:
            bootstrap = s.start_broker()
            s.env |= {
                "XIAOER_ROUTER_DATABASE_URL": router_url,
                "XIAOER_NOTIFIER_DATABASE_URL": notifier_url,
                "XIAOER_KAFKA_TOPIC_PARTITIONS": str(partitions),
                "XIAOER_SCHEDULER_ENABLED": "false",  # the drain, not the timers' firing
            }
            s.xiaoer("migrate", "router", "notifier")
            s.seed_registry(router_url)
            await queue_backlog(bootstrap, requests, partitions)
            router_db, notifier_db = (
                await asyncpg.connect(raw_dsn(router_url)),
                await asyncpg.connect(raw_dsn(notifier_url)),
            )
            try:
                router = s.serve("worker", "router")
                sent_query = (
                    "SELECT count(*) FROM outbox WHERE topic = 'workitems.events' AND sent_at IS NOT NULL "
                    'AND value LIKE \'%"state":"dispatched"%\''
                )
                await wait_for(router_db, sent_query, expected, time.perf_counter() + 600)
                router_cpu = cpu_seconds(router.pid)
                span = await router_db.fetchrow(
                    "SELECT min(created_at) AS first, max(sent_at) AS last FROM outbox WHERE topic = 'workitems.events'"
                )
                s.stop_process(router)
                started = time.perf_counter()
                notifier = s.serve("worker", "notifier")
                records = await wait_for(
                    notifier_db, "SELECT count(*) FROM sla_records", expected, time.perf_counter() + 600
                )
                notifier_cpu = cpu_seconds(notifier.pid)
                wall = time.perf_counter() - started
                notifier_span = await notifier_db.fetchrow(
                    "SELECT min(created_at) AS first, max(created_at) AS last FROM outbox WHERE topic = 'sla.events'"
                )
                without_timers = await notifier_db.fetchval(
                    "SELECT count(*) FROM sla_records r WHERE NOT EXISTS "
                    "(SELECT 1 FROM sla_timers t WHERE t.work_item_id = r.work_item_id)"
                )
                timers = await notifier_db.fetchval("SELECT count(*) FROM sla_timers")
            finally:
                await router_db.close()
                await notifier_db.close()
    router_seconds = (span["last"] - span["first"]).total_seconds()
    notifier_seconds = (notifier_span["last"] - notifier_span["first"]).total_seconds()
    return {
        "machine": machine(),
        "requests": requests,
        "items_expected": expected,
        "sla_records": records,
        "records_without_timers": without_timers,
        "timers": timers,
        "router_seconds": router_seconds,
        "router_items_per_s": expected / router_seconds,
        "notifier_seconds": notifier_seconds,
        "notifier_items_per_s": expected / notifier_seconds if notifier_seconds else 0.0,
        "notifier_wall_seconds": wall,
        # CPU per item, start-up included (the same for both): less moved by other load than items/s.
        "router_cpu_ms_per_item": 1000 * router_cpu / expected,
        "notifier_cpu_ms_per_item": 1000 * notifier_cpu / expected,
        "ratio": (expected / notifier_seconds) / (expected / router_seconds) if notifier_seconds else 0.0,
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"{r['requests']:,} queued requests → {r['items_expected']:,} dispatched work items; {r['machine']}",
            "",
            "| | items/s | seconds | CPU ms per item | SLA records | without timers | timers |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| notifier drain (first SLA record → last) | {fmt(r['notifier_items_per_s'])} | "
            f"{fmt(r['notifier_seconds'], 1)} | {r['notifier_cpu_ms_per_item']:.2f} | {r['sla_records']:,} | "
            f"{r['records_without_timers']} | {r['timers']:,} |",
            f"| router drain, same backlog (reference) | {fmt(r['router_items_per_s'])} | "
            f"{fmt(r['router_seconds'], 1)} | {r['router_cpu_ms_per_item']:.2f} | | | |",
            "",
            f"the notifier drains at **{r['ratio']:.2f}×** the router's rate; wall time from starting the "
            f"notifier process (start-up and group join included): {fmt(r['notifier_wall_seconds'], 1)} s.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()
    result = asyncio.run(drain(args.requests, args.partitions, args.code.resolve()))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    if result["sla_records"] != result["items_expected"] or result["records_without_timers"]:
        sys.exit("SLA records missing or without timers")


if __name__ == "__main__":
    main()
