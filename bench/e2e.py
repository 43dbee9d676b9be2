"""Benchmark: submit → work item on its unit's inbox topic, open loop.

Intake and the router run as operators run them (``xiaoer serve``), each on a fresh PostgreSQL
database, with the embedded broker. bench/openloop.py POSTs the 8-item bundle at a fixed rate
(default 50 requests/s = 400 items/s for 60 s) while this process reads every unit inbox topic.
Each item's latency runs from the moment its request was due to be sent to the moment its
``WorkItemAssigned`` message was read here. Every accepted request must show 8 distinct items,
each once: anything lost or doubled is reported (and fails the run).

    .venv/bin/python bench/e2e.py [--rate 50] [--seconds 60] [--json FILE]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ITEMS_PER_REQUEST,
    PYTHON,
    ROOT,
    USCC,
    fmt,
    fresh_database,
    machine,
    stack,
    wait_ready,
)
from openloop import percentile

from services.devstack import free_port


async def inbox_reader(bootstrap: str) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    # fetch_max_wait_ms: the embedded broker answers a waiting fetch only when this runs out.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    topics = [t for t in await consumer.topics() if t.startswith("dept.") and t.endswith(".inbox")]
    partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    return consumer, partitions


async def measure(rate: float, seconds: float, code: Path = ROOT, drain_seconds: float = 60) -> dict:
    async with fresh_database() as intake_db, fresh_database() as router_db:
        with stack(code) as s:
            bootstrap = s.start_broker()
            s.env["XIAOER_INTAKE_DATABASE_URL"] = intake_db
            s.env["XIAOER_ROUTER_DATABASE_URL"] = router_db
            s.xiaoer("migrate", "intake", "router")
            s.seed_registry(router_db)
            intake_port, router_port = free_port(), free_port()
            s.serve("serve", "intake", intake_port)
            s.serve("serve", "router", router_port)
            await wait_ready(f"http://127.0.0.1:{intake_port}/readyz")
            await wait_ready(f"http://127.0.0.1:{router_port}/readyz")
            consumer, _ = await inbox_reader(bootstrap)
            seen: dict[str, list[tuple[str, float]]] = defaultdict(list)  # request id → (item id, seen at)
            stop = asyncio.Event()

            async def read() -> None:
                while not stop.is_set():
                    for records in (await consumer.getmany(timeout_ms=100)).values():
                        now = time.time()
                        for record in records:
                            body = json.loads(record.value)
                            seen[body["request_id"]].append((body["work_item_id"], now))

            reader = asyncio.create_task(read())
            out = Path(tempfile.mkstemp(prefix="xiaoer-e2e-", suffix=".jsonl")[1])
            token = s.token(role="enterprise", usccs=[USCC])
            generator = await asyncio.create_subprocess_exec(
                PYTHON,
                str(Path(__file__).with_name("openloop.py")),
                f"http://127.0.0.1:{intake_port}/v1/requests",
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--token",
                token,
                "--out",
                str(out),
                stdout=asyncio.subprocess.PIPE,
            )
            stdout, _ = await generator.communicate()
            submitted = json.loads(stdout.decode().strip().splitlines()[-1])
            sent = [json.loads(line) for line in out.read_text().splitlines()]
            accepted = {r["id"]: r["due"] for r in sent if r["status"] == 201}
            deadline = time.monotonic() + drain_seconds
            while time.monotonic() < deadline and any(
                len({i for i, _ in seen.get(rid, ())}) < ITEMS_PER_REQUEST for rid in accepted
            ):
                await asyncio.sleep(0.2)
            stop.set()
            await reader
            await consumer.stop()
    latencies, lost, doubled = [], 0, 0
    for request_id, due in accepted.items():
        items = seen.get(request_id, [])
        first_seen: dict[str, float] = {}
        for item_id, at in items:
            first_seen.setdefault(item_id, at)
        lost += max(0, ITEMS_PER_REQUEST - len(first_seen))
        doubled += len(items) - len(first_seen)
        latencies += [(at - due) * 1000 for at in first_seen.values()]
    latencies.sort()
    return {
        "machine": machine(),
        "rate": rate,
        "seconds": seconds,
        "requests_sent": len(sent),
        "requests_accepted": len(accepted),
        "submit": submitted,
        "items": len(latencies),
        "lost": lost,  # items of accepted requests never seen on their unit's topic
        "not_accepted": len(sent) - len(accepted),  # answered other than 201, or not within 60 s
        "doubled": doubled,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"open loop {fmt(r['rate'])} requests/s ({fmt(r['rate'] * ITEMS_PER_REQUEST)} items/s) for "
            f"{fmt(r['seconds'])} s; {r['machine']}",
            "",
            "| submit → item on its unit's topic | p50 ms | p99 ms | max ms | items seen | lost | doubled |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| {r['requests_accepted']:,} of {r['requests_sent']:,} requests accepted | {fmt(r['p50_ms'], 1)} | "
            f"{fmt(r['p99_ms'], 1)} | {fmt(r['max_ms'], 1)} | {r['items']:,} | {r['lost']} | {r['doubled']} |",
            "",
            "lost: items of accepted (201) requests never seen on their unit's topic; a request not accepted "
            "(an error, or no answer within the generator's 60 s) has no id to follow and is counted apart.",
            "",
            f"the POST itself: p50 {fmt(r['submit']['p50_ms'], 1)} ms, p99 {fmt(r['submit']['p99_ms'], 1)} ms, "
            f"generator late p99 {fmt(r['submit']['generator_late_p99_ms'], 1)} ms.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.rate, args.seconds, args.code.resolve()))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if result["lost"] or result["doubled"] or result["not_accepted"]:
        sys.exit("requests refused, or items lost or doubled")


if __name__ == "__main__":
    main()
