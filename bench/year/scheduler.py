"""The SLA scheduler's tick over the year's open items against a tick over 1,000 of them, the way
bench/scheduler.py measures ticks: each round adds ``due`` timers due now to open, signed-for
items, and ``Scheduler.tick`` fires them, notifies every recipient (the registry's e-mail
contacts and the topic) and delivers what is ready. The 1,000 are the year's own open items,
copied with their timers into a fresh notifier database with the same recipients, so both ticks
do the same work on different amounts of open items.

The tick runs in this process on the notifier's own runtime (``services.notifier.main``), with
the services stopped; what it adds to the year (its timers, notifications and outbox rows) is
deleted afterwards. E-mail goes to a real SMTP server on loopback (aiosmtpd) that accepts
everything, as the tests' fake does: delivery costs what a mail server that answers costs. The
tick's first round also recounts the SLA gauges (``metrics.refresh``,
two GROUP BYs over the open items, at most every 30 s); that recount is timed on its own too."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import asyncpg

from shared.clock import SHANGHAI

from . import loader

DUE = 100
ROUNDS = 5
REFERENCE_OPEN = 1000
OPEN = ("dispatched", "acknowledged", "in_progress", "awaiting_supplement", "returned")


async def copy_rows(source: asyncpg.Connection, target: asyncpg.Connection, table: str, query: str, *args) -> int:
    rows = await source.fetch(query, *args)
    if rows:
        columns = [c for c in rows[0].keys() if c != "id" or table in ("known_units", "recipients")]
        await target.copy_records_to_table(table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns)
    return len(rows)


async def reference(year: str) -> tuple[str, int]:
    """A fresh notifier database with the year's recipients and 1,000 of its open items (their
    records and timers)."""
    name = f"xiaoer_yearsched_{uuid.uuid4().hex[:6]}"
    await loader.create_database(name)
    loader.migrate({"notifier": name})
    source = await asyncpg.connect(loader.dsn(year))
    target = await asyncpg.connect(loader.dsn(name))
    try:
        for table in ("known_units", "recipients"):
            await target.execute(f"DELETE FROM {table}")
            await copy_rows(source, target, table, f"SELECT * FROM {table}")
        ids = [r["work_item_id"] for r in await source.fetch(
            "SELECT work_item_id FROM sla_records WHERE state = ANY($1::text[]) ORDER BY md5(work_item_id) LIMIT $2",
            list(OPEN), REFERENCE_OPEN)]  # fmt: skip
        await copy_rows(source, target, "sla_records", "SELECT * FROM sla_records WHERE work_item_id = ANY($1::text[])",
                        ids)  # fmt: skip
        await copy_rows(source, target, "sla_timers", "SELECT * FROM sla_timers WHERE work_item_id = ANY($1::text[])",
                        ids)  # fmt: skip
        await target.execute("VACUUM ANALYZE")
    finally:
        await source.close()
        await target.close()
    return name, len(ids)


def tick_instant(end: datetime) -> datetime:
    """A working morning before the year's end (officials are notified at once, not at the next
    opening), before every pending timer of the year (those fire after its end)."""
    from services.notifier.workcal import WorkingCalendar

    calendar = WorkingCalendar()
    day = end.astimezone(SHANGHAI).date() - timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, clock_time(10), SHANGHAI).astimezone(UTC)


class SmtpSink:
    """An SMTP server on loopback that accepts every message and keeps none."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from common import free_port

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


async def ticks(database: str, at: datetime, smtp_port: int) -> dict:
    from services.notifier import main as notifier_main
    from services.notifier import metrics

    url = loader.sqlalchemy_url(database)
    settings = notifier_main.load_settings(
        _env_file=None,
        notifier_database_url=url,
        scheduler_batch_size=500,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        log_level="WARNING",
    )
    runtime = notifier_main.build_runtime(settings)
    conn = await asyncpg.connect(loader.dsn(database))
    marks = {t: await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {t}") for t in
             ("sla_timers", "notifications", "outbox")}  # fmt: skip
    try:
        open_items = await conn.fetchval("SELECT count(*) FROM sla_records WHERE state = ANY($1::text[])", list(OPEN))
        pending = await conn.fetchval("SELECT count(*) FROM sla_timers WHERE fired_at IS NULL AND cancelled_at IS NULL")
        working = [r["work_item_id"] for r in await conn.fetch(
            "SELECT work_item_id FROM sla_records WHERE state IN ('acknowledged', 'in_progress') AND paused_at IS NULL "
            "ORDER BY md5(work_item_id) LIMIT $1", DUE * ROUNDS)]  # fmt: skip
        metrics._last_refresh = float("-inf")  # this database's first tick recounts the gauges, as a fresh process's
        durations, counts = [], []
        for n in range(ROUNDS):
            tick_at = at + timedelta(minutes=n + 1)
            chosen = [working[(n * DUE + k) % len(working)] for k in range(DUE)]
            await conn.copy_records_to_table(
                "sla_timers", columns=["work_item_id", "kind", "fire_at"],
                records=[(i, "remind_50", tick_at - timedelta(seconds=1)) for i in chosen],
            )  # fmt: skip
            started = time.perf_counter()
            fired, sent = await runtime.scheduler.tick(tick_at)
            durations.append(time.perf_counter() - started)
            counts.append((fired, sent))
        started = time.perf_counter()
        await metrics.refresh(runtime.sessions, at, force=True)
        refresh = time.perf_counter() - started
        return {
            "open": open_items, "pending_timers": pending, "median_ms": statistics.median(durations) * 1000,
            "max_ms": max(durations) * 1000, "fired_sent": counts, "gauges_refresh_ms": refresh * 1000,
        }  # fmt: skip
    finally:
        await runtime.stop()
        for table, mark in marks.items():
            await conn.execute(f"DELETE FROM {table} WHERE id > $1", mark)
        await conn.close()


async def measure(year: dict[str, str], end: datetime) -> dict:
    name, _copied = await reference(year["notifier"])
    try:
        at = tick_instant(end)
        with SmtpSink() as smtp:
            small = await ticks(name, at, smtp.port)
            large = await ticks(year["notifier"], at, smtp.port)
    finally:
        await loader.drop_database(name)
    ratio = large["median_ms"] / small["median_ms"]
    print(f"  scheduler: {large['open']:,} open {large['median_ms']:.1f} ms, {small['open']:,} open "
          f"{small['median_ms']:.1f} ms: {ratio:.2f}×", flush=True)  # fmt: skip
    return {"due": DUE, "rounds": ROUNDS, "at": at.isoformat(), "year": large, "reference": small, "ratio": ratio}
