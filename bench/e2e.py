"""Benchmark: submit → work item on its unit's inbox topic, and submit → its SLA record, open loop.

The whole system runs as operators run it (``xiaoer serve`` of intake, router, notifier and the
pages), each on a fresh PostgreSQL database, with the embedded broker. bench/openloop.py POSTs the
8-item bundle at a fixed rate (default 50 requests/s = 400 items/s for 60 s). Each item's latency
runs from the moment its request was due to be sent to the moment the broker had acknowledged its
``WorkItemAssigned`` message on the unit's topic: the router's relay records that moment
(``sent_at`` of the outbox row, written after the acknowledgement, so it is if anything late).
Afterwards every inbox topic is read back: every accepted request must show its 8 distinct items
there, each once; anything lost or doubled is reported (and fails the run). Each item's SLA record
is timed by the notifier's first ``sla.events`` outbox row of the item, written in the record's own
transaction.

Nothing reads the topics while the load runs: a reader polling every unit's inbox partitions often
enough to time arrivals itself cost the embedded broker half a core and itself a third of one on
this 2-core machine, at idle (docs/benchmarks.md), which is load the measured system would not have.

    .venv/bin/python bench/e2e.py [--rate 50] [--seconds 60] [--warmup 15] [--json FILE] [--code DIR]

Before the measured load, the same load runs for ``--warmup`` seconds, is drained, and the
databases are analysed (``warm_up``): the measured minute is that of a system that has been
running, not of empty tables (``--warmup 0``: from fresh databases).

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ITEMS_PER_REQUEST,
    PYTHON,
    ROOT,
    USCC,
    cpu_seconds,
    fmt,
    fresh_database,
    machine,
    raw_dsn,
    stack,
    wait_ready,
)
from openloop import percentile
from router import read_inboxes

from cli.devstack import free_port

# The work items as assigned to their units (the inboxes also carry notices: deadlines and news).
ASSIGNED = "cn.xiaoer.workitem.assigned"
INBOX_ROWS = (
    "SELECT value, sent_at FROM outbox WHERE topic LIKE 'dept.%.inbox' AND sent_at IS NOT NULL "
    f"AND (headers::json)->>'ce_type' = '{ASSIGNED}'"
)


@contextlib.asynccontextmanager
async def whole_system(code: Path = ROOT):
    """The four services as ``make run`` and compose run them, each on a fresh PostgreSQL database,
    with the embedded broker: yields the stack, the databases, the ports and the pids (the four
    services' and the broker's)."""
    async with (
        fresh_database() as intake_db,
        fresh_database() as router_db,
        fresh_database() as notifier_db,
        fresh_database() as web_db,
    ):
        with stack(code) as s:
            s.start_broker()
            urls = {"intake": intake_db, "router": router_db, "notifier": notifier_db, "web": web_db}
            s.env |= {f"XIAOER_{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
            s.xiaoer("migrate")
            s.seed_registry(router_db)
            ports = {name: free_port() for name in urls}
            processes = {name: s.serve("serve", name, port) for name, port in ports.items()}
            for name, port in ports.items():
                await wait_ready(f"http://127.0.0.1:{port}/" + ("healthz" if name == "web" else "readyz"))
            await s.register_group(ports["intake"])
            yield (
                s,
                urls,
                ports,
                {name: process.pid for name, process in processes.items()} | {"broker": s.broker.process.pid},
            )


async def measure(
    rate: float, seconds: float, code: Path = ROOT, drain_seconds: float = 60, warmup_seconds: float = 15
) -> dict:
    """The whole system, as ``make run`` and compose run it (intake, router, notifier and the
    pages), under the open-loop load; then what each accepted request became. The load is measured
    after ``warmup_seconds`` of the same load, once that has drained and the databases are analysed
    (``warm_up``)."""
    async with whole_system(code) as (s, urls, ports, pids):
        token = s.token(role="enterprise", usccs=[USCC])
        warmed = await warm_up(token, ports["intake"], urls, rate, warmup_seconds, drain_seconds)
        before = cpu_split(pids)
        submitted, sent = await _load(token, ports["intake"], rate, seconds)
        after = cpu_split(pids)
        cpu = {name: after[name] - before[name] for name in before}
        accepted = {r["id"]: r["due"] for r in sent if r["status"] == 201}
        router = await asyncpg.connect(raw_dsn(urls["router"]))
        items = (warmed + len(accepted)) * ITEMS_PER_REQUEST
        for service in ("router", "notifier"):  # every item on its topic and clocked, or the drain's time up
            await _count_when_reached(urls[service], DRAINED[service], items, drain_seconds)
        acknowledged = await _on_topics(router)
        clocked = await _clocked(urls["notifier"])
        stages = await where_the_time_went(urls["intake"], router, accepted, acknowledged)
        await router.close()
        on_topics: dict[str, Counter] = defaultdict(Counter)  # request → item → assignments on its topic
        seen: set[str] = set()  # a copy with the same ce_id is skipped by its reader, as consumers do
        for record in await read_inboxes(s.broker.bootstrap):
            ce_id, ce_type = dict(record.headers)["ce_id"].decode(), dict(record.headers)["ce_type"].decode()
            if ce_type == ASSIGNED and ce_id not in seen:
                seen.add(ce_id)
                body = json.loads(record.value)
                on_topics[body["request_id"]][body["work_item_id"]] += 1
    return _result(rate, seconds, submitted, sent, accepted, acknowledged, on_topics, clocked, stages) | {
        "cpu": cpu,
        "warmup_seconds": warmup_seconds,
        "warmup_requests": warmed,
        "cores": os.cpu_count(),
    }


async def warm_up(
    token: str, intake_port: int, urls: dict[str, str], rate: float, seconds: float, drain_seconds: float
) -> int:
    """The same load for ``seconds`` before the measured one, drained (every item on its topic,
    its SLA record made, and its deadlines in intake's timeline), then ``ANALYZE`` of every
    database: a running system's state. From fresh databases, statements planned while their
    tables held a page or a few kept those plans: in a cold 30 s run a sample of the plans
    (auto_explain) showed a fifth of intake's UPDATEs of a work item's view, and some of the
    notifier's and the router's lookups by id, as sequential scans (docs/benchmarks.md, twelfth
    pass). A running system's autovacuum analyses a table after 50 rows and a tenth of it have
    changed, and sessions then plan again. Returns how many requests were accepted (their items
    are on the topics too)."""
    if seconds <= 0:
        return 0
    _, sent = await _load(token, intake_port, rate, seconds)
    warmed = sum(1 for r in sent if r["status"] == 201)
    items = warmed * ITEMS_PER_REQUEST
    for service, query in DRAINED.items():
        if (count := await _count_when_reached(urls[service], query, items, drain_seconds)) < items:
            sys.exit(f"the warm-up did not drain in {drain_seconds:.0f} s: {service} has {count} of {items} items")
    for url in urls.values():
        connection = await asyncpg.connect(raw_dsn(url))
        try:
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
    return warmed


# Where each service shows an item done with: on its unit's topic, its SLA record made, its
# deadlines in intake's timeline.
DRAINED = {
    "router": f"SELECT count(*) FROM ({INBOX_ROWS}) AS sent",
    "notifier": "SELECT count(*) FROM sla_records",
    "intake": "SELECT count(*) FROM work_item_views WHERE due_at IS NOT NULL",
}


async def _count_when_reached(url: str, query: str, target: int, seconds: float) -> int:
    """``query``'s count once it reaches ``target``, or when ``seconds`` have passed."""
    connection = await asyncpg.connect(raw_dsn(url))
    try:
        deadline = time.monotonic() + seconds
        while (count := await connection.fetchval(query)) < target and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        return count
    finally:
        await connection.close()


def cpu_split(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process named, by PostgreSQL's processes together and by
    the whole machine, and the clock."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()} | {
        "postgres": postgres_seconds(),
        "machine": machine_busy_seconds(),
        "wall": time.monotonic(),  # the difference: how long the load ran, its start and end included
    }


def postgres_seconds() -> float:
    """CPU seconds of the PostgreSQL server: every process alive now, and the ones that have
    ended (the postmaster's reaped children: connections closed, autovacuum workers). It is the
    whole server's: anything else using it meanwhile counts too."""
    total, clock_ticks = 0.0, os.sysconf("SC_CLK_TCK")
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            name, fields = stat.read_text().split(" (", 1)[1].split(") ", 1)
            processes[int(stat.parent.name)] = (name, fields.split())
    for name, fields in processes.values():
        if name == "postgres":
            total += (int(fields[11]) + int(fields[12])) / clock_ticks
            if processes.get(int(fields[1]), ("",))[0] != "postgres":  # the postmaster
                total += (int(fields[13]) + int(fields[14])) / clock_ticks
    return total


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (``/proc/stat``: user, system and
    interrupts; not idle, iowait or the hypervisor's steal), so that PostgreSQL, the broker and the
    load generator are counted beside the services."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


async def _load(token: str, intake_port: int, rate: float, seconds: float) -> tuple[dict, list[dict]]:
    """The open-loop generator's summary, and each request it sent (its id, status, due time)."""
    descriptor, name = tempfile.mkstemp(prefix="xiaoer-e2e-", suffix=".jsonl")
    os.close(descriptor)
    out = Path(name)
    generator = await asyncio.create_subprocess_exec(
        PYTHON,
        str(Path(__file__).with_name("openloop.py")),
        f"http://127.0.0.1:{intake_port}/v1/requests",
        *("--rate", str(rate), "--seconds", str(seconds), "--token", token, "--out", str(out)),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await generator.communicate()
    sent = [json.loads(x) for x in out.read_text().splitlines()]
    out.unlink()
    return json.loads(stdout.decode().strip().splitlines()[-1]), sent


async def _on_topics(router: asyncpg.Connection) -> dict[str, dict[str, float]]:
    """request → item → when the broker acknowledged it on its unit's topic."""
    acknowledged: dict[str, dict[str, float]] = defaultdict(dict)
    for row in await router.fetch(INBOX_ROWS):
        body = json.loads(row["value"])
        acknowledged[body["request_id"]][body["work_item_id"]] = row["sent_at"].timestamp()
    return acknowledged


async def _clocked(notifier_db: str) -> dict[str, float]:
    """work item → when its SLA record was made (the notifier's first sla.events row of it, written
    in the same transaction)."""
    notifier = await asyncpg.connect(raw_dsn(notifier_db))
    try:
        rows = await notifier.fetch(
            "SELECT (headers::json)->>'ce_subject' AS item, min(created_at) AS at FROM outbox "
            "WHERE topic = 'sla.events' GROUP BY 1"
        )
        return {row["item"]: row["at"].timestamp() for row in rows}
    finally:
        await notifier.close()


def _result(rate, seconds, submitted, sent, accepted, acknowledged, on_topics, clocked, stages) -> dict:
    latencies, to_sla, lost, doubled, unclocked = [], [], 0, 0, 0
    for request_id, due in accepted.items():
        items = acknowledged.get(request_id, {})
        on_topic = on_topics.get(request_id, Counter())
        lost += max(0, ITEMS_PER_REQUEST - len(on_topic))
        doubled += sum(n - 1 for n in on_topic.values())
        latencies += [(at - due) * 1000 for item, at in items.items() if item in on_topic]
        unclocked += sum(1 for item in on_topic if item not in clocked)
        to_sla += [(clocked[item] - due) * 1000 for item in on_topic if item in clocked]
    latencies.sort()
    to_sla.sort()
    return {
        "machine": machine(),
        "rate": rate,
        "seconds": seconds,
        "requests_sent": len(sent),
        "requests_accepted": len(accepted),
        "submit": submitted,
        "items": len(latencies),
        "lost": lost,  # items of accepted requests not on their unit's topic
        "not_accepted": len(sent) - len(accepted),  # answered other than 201, or not within 60 s
        "doubled": doubled,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "sla_p50_ms": percentile(to_sla, 50),
        "sla_p99_ms": percentile(to_sla, 99),
        "without_sla_record": unclocked,
        "stages": stages,
    }


STAGES = [
    ("due → stored by intake (the POST)", "due", "stored"),
    ("→ requests.submitted acknowledged (intake's relay)", "stored", "published"),
    ("→ routed (the router's consumer)", "published", "routed"),
    ("→ items acknowledged on unit topics (routing, the router's relay)", "routed", "on_topic"),
]


async def where_the_time_went(
    intake_db: str, router: asyncpg.Connection, accepted: dict[str, float], acknowledged: dict[str, dict[str, float]]
) -> dict:
    """Median of each stage a request passes, from the times the services recorded."""
    intake = await asyncpg.connect(raw_dsn(intake_db))
    stored = {r["id"]: r["created_at"].timestamp() for r in await intake.fetch("SELECT id, created_at FROM requests")}
    published = {
        r["key"]: r["sent_at"].timestamp()
        for r in await intake.fetch("SELECT key, sent_at FROM outbox WHERE topic = 'requests.submitted'")
        if r["sent_at"]
    }
    await intake.close()
    routed = {
        r["request_id"]: r["received_at"].timestamp()
        for r in await router.fetch("SELECT request_id, received_at FROM routed_requests")
    }
    on_topic = {request_id: max(items.values()) for request_id, items in acknowledged.items()}
    times = {"due": accepted, "stored": stored, "published": published, "routed": routed, "on_topic": on_topic}
    stages = {}
    for name, start, end in STAGES:
        spans = sorted(
            (times[end][rid] - times[start][rid]) * 1000
            for rid in accepted
            if rid in times[start] and rid in times[end]
        )
        stages[name] = percentile(spans, 50)
    return stages


def report(r: dict) -> str:
    return "\n".join(
        [
            f"open loop {fmt(r['rate'])} requests/s ({fmt(r['rate'] * ITEMS_PER_REQUEST)} items/s) for "
            f"{fmt(r['seconds'])} s, "
            + (
                f"after {fmt(r['warmup_seconds'])} s of the same load and ANALYZE"
                if r.get("warmup_seconds")
                else "from fresh databases"
            )
            + f"; {r['machine']}",
            "",
            "| submit → item acknowledged on its unit's topic | p50 ms | p99 ms | max ms | items seen | lost | "
            "doubled |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| {r['requests_accepted']:,} of {r['requests_sent']:,} requests accepted | {fmt(r['p50_ms'], 1)} | "
            f"{fmt(r['p99_ms'], 1)} | {fmt(r['max_ms'], 1)} | {r['items']:,} | {r['lost']} | {r['doubled']} |",
            "",
            "lost: items of accepted (201) requests not on their unit's topic when read back after the run; "
            "a request not accepted (an error, or no answer within the generator's 60 s) has no id to follow "
            "and is counted apart.",
            "",
            f"the POST itself: p50 {fmt(r['submit']['p50_ms'], 1)} ms, p99 {fmt(r['submit']['p99_ms'], 1)} ms, "
            f"generator late p99 {fmt(r['submit']['generator_late_p99_ms'], 1)} ms.",
            "",
            f"submit → SLA record exists (the notifier): p50 {fmt(r['sla_p50_ms'], 1)} ms, "
            f"p99 {fmt(r['sla_p99_ms'], 1)} ms; items without one: {r['without_sla_record']}.",
            "",
            "CPU seconds used during the load (each service is one process; machine: every process, "
            f"PostgreSQL's and the load generator's too, of {r.get('cores', os.cpu_count())} cores × "
            f"{r['cpu'].get('wall', r['seconds']):.1f} s): "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in r["cpu"].items() if name != "wall")
            + ".",
            "",
            "Where the time went (median of each stage, from the times intake and the router recorded; a "
            "request's last item counts):",
            "",
            "| stage | p50 ms |",
            "|---|---:|",
            *(f"| {name} | {fmt(ms, 1)} |" for name, ms in r["stages"].items()),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15, help="seconds of the same load before, not measured")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.rate, args.seconds, args.code.resolve(), warmup_seconds=args.warmup))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if result["lost"] or result["doubled"] or result["not_accepted"] or result["without_sla_record"]:
        sys.exit("requests refused, or items lost, doubled or without an SLA record")


if __name__ == "__main__":
    main()
