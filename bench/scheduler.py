"""Benchmark: one scheduler tick with 1,000,000 open work items against one with 1,000.

Each open item has a pending timer in the future; each measured tick finds the same number of
due timers (``--due``, default 100), fires them (notifications on the topic channel) and
delivers them. Timers are rows with an indexed fire time, so the two ticks should cost about
the same: what is due, not what is open.

    .venv/bin/python bench/scheduler.py [--open 1000 1000000] [--due 100] [--rounds 5]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.notifier import main as notifier_main  # noqa: E402

POLICY = json.dumps(
    {"acknowledge_amount": 1, "acknowledge_unit": "working_days", "resolve_amount": 5, "resolve_unit": "working_days"}
)


PLAIN_VALUES = {"boolean": False, "integer": 1, "bigint": 1, "json": "[]", "jsonb": "[]", "text": ""}


async def required_columns(conn: asyncpg.Connection, table: str, given: set[str]) -> dict:
    """Plain values for the NOT NULL columns without a default that the fill below does not name
    (columns added since this benchmark was written)."""
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = $1 AND is_nullable = 'NO' AND column_default IS NULL",
        table,
    )
    return {r["column_name"]: PLAIN_VALUES.get(r["data_type"], "") for r in rows if r["column_name"] not in given}


async def fill(conn: asyncpg.Connection, count: int, now: datetime) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    named = {
        "work_item_id", "request_id", "reference_no", "request_type", "department_kind", "unit_code", "unit_name",
        "region_code", "enterprise_uscc", "subject_name", "state", "dispatched_at", "acknowledge_due_at",
        "acknowledged_at", "resolve_started_at", "resolve_due_at", "policy", "counted",
    }  # fmt: skip
    extra = await required_columns(conn, "sla_records", named)
    await conn.copy_records_to_table(
        "sla_records",
        columns=[
            "work_item_id",
            "request_id",
            "reference_no",
            "request_type",
            "department_kind",
            "unit_code",
            "unit_name",
            "region_code",
            "enterprise_uscc",
            "subject_name",
            "state",
            "dispatched_at",
            "acknowledge_due_at",
            "acknowledged_at",
            "resolve_started_at",
            "resolve_due_at",
            "policy",
            "counted",
            *extra,
        ],
        records=(
            (
                i,
                i,
                "XE-20261122-000001",
                "compliance_certificate",
                "tax",
                f"440112.tax.{n % 500}",
                "税务所",
                "440112",
                "91440112MA59C5XK03",
                "某公司",
                "acknowledged",
                now,
                now + timedelta(days=1),
                now,
                now,
                now + timedelta(days=7),
                POLICY,
                # Counted in the day counts, as every record is within an hour of its dispatch: a
                # million records never counted are the backlog of an upgrade, which each tick would
                # count on (day_counts.count_records; timed with the year's migrations instead).
                True,
                *extra.values(),
            )
            for n, i in enumerate(ids)
        ),
    )
    far = now + timedelta(days=3650)
    await conn.copy_records_to_table(
        "sla_timers",
        columns=["work_item_id", "kind", "fire_at"],
        records=((i, "due", far + timedelta(seconds=n)) for n, i in enumerate(ids)),
    )
    await conn.execute("ANALYZE")
    return ids


async def measure(admin, open_items: int, due: int, rounds: int) -> dict:
    db_name = f"xiaoer_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    await conn.execute(f'CREATE DATABASE "{db_name}"')
    await conn.close()
    url = admin.set(drivername="postgresql+asyncpg", database=db_name).render_as_string(hide_password=False)
    settings = notifier_main.load_settings(
        _env_file=None, notifier_database_url=url, scheduler_batch_size=max(due, 500)
    )
    runtime = notifier_main.build_runtime(settings)
    try:
        await runtime.migrate()
        raw = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        # A Monday morning: notifications to officials go out at once, not at the next opening.
        now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        started = time.perf_counter()
        ids = await fill(raw, open_items, now)
        filled = time.perf_counter() - started
        durations = []
        for round_ in range(rounds):
            tick_at = now + timedelta(minutes=round_ + 1)
            await raw.copy_records_to_table(
                "sla_timers",
                columns=["work_item_id", "kind", "fire_at"],
                records=(
                    (ids[(round_ * due + k) % len(ids)], "remind_50", tick_at - timedelta(seconds=1))
                    for k in range(due)
                ),
            )
            started = time.perf_counter()
            fired, sent = await runtime.scheduler.tick(tick_at)
            durations.append(time.perf_counter() - started)
            assert fired == due and sent == due, (fired, sent)
        await raw.close()
        return {
            "open": open_items,
            "fill_s": filled,
            "median_ms": statistics.median(durations) * 1000,
            "max_ms": max(durations) * 1000,
        }
    finally:
        await runtime.stop()
        conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
        await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON too")
    args = parser.parse_args()
    admin = make_url(os.environ.get("XIAOER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    results = [await measure(admin, n, args.due, args.rounds) for n in args.open]
    if args.json:
        ratio = results[-1]["median_ms"] / results[0]["median_ms"]
        args.json.write_text(json.dumps({"due": args.due, "rounds": args.rounds, "results": results, "ratio": ratio}))
    print(f"\nscheduler tick, {args.due} due timers per tick, median of {args.rounds} ticks, PostgreSQL\n")
    print("| open items (pending timers) | tick median ms | tick max ms | set-up s |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['open']:,} | {r['median_ms']:.1f} | {r['max_ms']:.1f} | {r['fill_s']:.0f} |")
    print(f"\nratio (largest / smallest): {results[-1]['median_ms'] / results[0]['median_ms']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
