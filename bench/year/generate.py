"""Generating the year: fresh databases for intake, router and notifier, migrated by the services'
own migrations, the province's registry loaded by the router's own code (and announced to the
notifier's recipients by the notifier's own code), then every day of the year made in worker
processes and COPYed in, the indexes and keys made again, every SLA record counted for the unit
statistics by the notifier's own counting (as its worker would have through the year), VACUUM
ANALYZE, and the sizes and timings noted in the state file.

What the year holds, and what it leaves out:

- every request, work item, SLA record (with its holders), read-model view and deadline, rating
  and extension — the rows every list, statistic, export and the scheduler read;
- the history of moves — the router's ``work_item_log``, intake's ``timeline_entries`` and the
  notifier's ``notifications`` — for the items dispatched in the last ``--history-days`` (30);
  older requests keep their submission (and withdrawal) entry. Measured on a 1/50 year, the
  services write about 3.3 KB per work item into the tables above and 3.5 KB more of history, so
  the issue's 8 million items would take about 26 GB without history and 50 GB with all of it;
- timers (``sla_timers``) only for the items still open at the end — fired and cancelled timers
  of finished items are history nobody reads;
- no files (attachments, item_files: a certificate's resolution names no document), no 信用代证
  covered items (every bundle asks the departments for every certificate: ``certificate_anyway``),
  no processed_events and no sent outbox rows (the services' idempotency and relay bookkeeping).

The scale is ``--requests`` (default 450,000 ≈ 3.6 million work items, about 13 GB: what this
shared machine's disk could spare, 23–34 GB free while other work filled it);
``--requests 1000000 --history-days 365`` is the issue's whole year where 50 GB are free. The
generator refuses to start when the disk would keep less than ``DISK_MARGIN`` free, and stops
when it gets there.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.clock import SHANGHAI

from . import loader, texts
from .clock import BusinessTime
from .context import Context
from .day import COLUMNS, TABLES, DayBuilder, days_of
from .world import World

REQUESTS = 450_000
BYTES_PER_ITEM = 3.3e3  # measured: the rows every item brings (tables and indexes), history aside
HISTORY_BYTES_PER_ITEM = 3.6e3  # the log, timeline and notifications of one item's moves
ITEMS_PER_REQUEST = 8.0
COUNTING_ROUNDS = 50  # day_counts' rounds of records between two lines of progress
DISK_MARGIN = 8 * 2**30  # what the disk must keep free for everyone else
NON_WORKING_DAY_SHARE = 0.12  # a weekend or holiday brings this share of a working day's requests


def day_counts(bt: BusinessTime, start: datetime, end: datetime, total: int) -> dict:
    """How many requests each local day of [start, end) brings (largest remainder)."""
    first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
    weights = {}
    for day in days_of(first, last):
        day_start = datetime.combine(day, datetime.min.time(), SHANGHAI)
        inside = (min(day_start + timedelta(days=1), end) - max(day_start, start)).total_seconds() / 86400
        weights[day] = max(inside, 0) * (1.0 if bt.calendar.is_working_day(day) else NON_WORKING_DAY_SHARE)
    scale = total / sum(weights.values())
    exact = {d: w * scale for d, w in weights.items()}
    counts = {d: int(x) for d, x in exact.items()}
    for d in sorted(exact, key=lambda d: exact[d] - counts[d], reverse=True)[: total - sum(counts.values())]:
        counts[d] += 1
    return counts


# --- set-up --------------------------------------------------------------------------------------------
async def load_registry(world: World, databases: dict[str, str]) -> tuple[list[dict], list]:
    """The province's units, coverage, rules and 信用代证 coverage into the router (its own
    code), the units' and offices' contacts into the notifier (its own code); the rules and the
    coverage versions as loaded."""
    from sqlalchemy import delete, select

    from cli.common import in_transaction
    from services.notifier import recipients
    from services.router import credit, registry
    from services.router.models import CreditCoverage, RoutingRule
    from services.router.models import outbox as router_outbox
    from shared import events

    async def router_side(session):
        await registry.load_registry(session, world.registry)
        await credit.seed(session)
        await session.execute(delete(router_outbox))  # the announcements: the notifier learns them below
        rules = [
            {"id": r.id, "request_type": r.request_type, "item": r.item, "department_kind": r.department_kind,
             "version": r.version}
            for r in await session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True)))
        ]  # fmt: skip
        coverage = list(await session.scalars(select(CreditCoverage)))
        session.expunge_all()
        return rules, coverage

    rules, coverage = await in_transaction(loader.sqlalchemy_url(databases["router"]), router_side)
    now = datetime.now(UTC)

    async def notifier_side(session):
        for unit in world.registry["units"]:
            contacts = [events.Contact.model_validate(c) for c in unit["contacts"]]
            await recipients.unit_registered(
                session,
                events.UnitRegistered(
                    unit_code=unit["unit_code"], name=unit["name"], kind=unit["kind"],
                    region_code=unit["region_code"], active=True, supervising_office=unit["supervising_office"],
                    contacts=contacts, occurred_at=now,
                ),
            )  # fmt: skip
        for office in world.registry["supervisors"]:
            await recipients.supervisor_registered(
                session,
                events.SupervisingOfficeRegistered(
                    region_code=office["region_code"], name=office["name"],
                    contacts=[events.Contact.model_validate(c) for c in office["contacts"]], occurred_at=now,
                ),
            )  # fmt: skip

    await in_transaction(loader.sqlalchemy_url(databases["notifier"]), notifier_side)
    return rules, coverage


# --- the workers ----------------------------------------------------------------------------------------
_worker: dict = {}


def _start_worker(ctx: Context, databases: dict[str, str], layouts: dict) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def connect():
        conns = {}
        for service, name in databases.items():
            conn = await asyncpg.connect(loader.dsn(name))
            await conn.execute("SET synchronous_commit = off")
            conns[service] = conn
        return conns

    _worker.update(ctx=ctx, loop=loop, conns=loop.run_until_complete(connect()), layouts=layouts)


def _make_day(task: tuple) -> dict:
    day, count = task
    ctx = _worker["ctx"]
    started = time.perf_counter()
    builder = DayBuilder(ctx, day, count, 1)
    rows = builder.build()
    built = time.perf_counter() - started
    copy_seconds = _worker["loop"].run_until_complete(_copy(rows))
    return {
        "day": day.isoformat(),
        "requests": len(rows["intake.requests"]),
        "items": builder.items,
        "open": builder.open_items,
        "rows": {table: len(r) for table, r in rows.items()},
        "build_s": built,
        "copy_s": copy_seconds,
        "pid": os.getpid(),
    }


async def _copy(rows: dict[str, list[tuple]]) -> dict[str, float]:
    spent = {}
    for table in TABLES:
        if not rows[table]:
            continue
        service, name = table.split(".")
        layout = _worker["layouts"][table]
        started = time.perf_counter()
        await _worker["conns"][service].copy_records_to_table(
            name, records=layout.convert(rows[table]), columns=layout.columns
        )
        spent[table] = time.perf_counter() - started
    return spent


# --- the whole year --------------------------------------------------------------------------------------
def estimate(requests: int, history_days: int) -> float:
    items = requests * ITEMS_PER_REQUEST
    return items * (BYTES_PER_ITEM + HISTORY_BYTES_PER_ITEM * min(history_days, 365) / 365)


def free_disk() -> int:
    """Free bytes where PostgreSQL keeps its data (this machine's one disk; df of /)."""
    found = os.statvfs("/")
    return found.f_bavail * found.f_frsize


async def generate(requests: int = REQUESTS, jobs: int = 2, history_days: int = 30, seed: int = 2026) -> dict:
    needed = estimate(requests, history_days)
    if free_disk() - needed < DISK_MARGIN:
        raise SystemExit(
            f"the year would take about {needed / 2**30:.0f} GiB and leave less than {DISK_MARGIN / 2**30:.0f} GiB "
            f"free ({free_disk() / 2**30:.0f} GiB free now): fewer --requests or --history-days"
        )
    texts.check()  # the history's words are still the services' own
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=365)
    tag = uuid.uuid4().hex[:6]
    databases = {service: f"xiaoer_year_{service}_{tag}" for service in loader.SERVICES}
    state = {
        "databases": databases,
        "requests_asked": requests,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "history_days": history_days,
        "estimated_bytes": needed,
        "complete": False,
        "started_at": datetime.now(UTC).isoformat(),
        "load_average_at_start": os.getloadavg(),
    }
    loader.write_state(state)  # written first: --drop finds the databases of an interrupted run
    timings: dict = {}
    began = time.perf_counter()
    for name in databases.values():
        await loader.create_database(name)
    timings["migrate_s"] = loader.migrate(databases)
    world = World(seed)
    bt = BusinessTime((start - timedelta(days=10)).date(), (end + timedelta(days=120)).date())
    t = time.perf_counter()
    rules, coverage = await load_registry(world, databases)
    timings["registry_s"] = time.perf_counter() - t
    ctx = Context(world, bt, start.timestamp(), end.timestamp(), rules, coverage,
                  (end - timedelta(days=history_days)).timestamp(), seed)  # fmt: skip
    ctx.registry, ctx.book  # noqa: B018 (built before the workers fork)
    conns = {s: await asyncpg.connect(loader.dsn(n)) for s, n in databases.items()}
    try:
        layouts = {table: await loader.layout_of(conns[table.split(".")[0]], table.split(".")[1], COLUMNS[table])
                   for table in TABLES}  # fmt: skip
        state["layout"] = {t: {"missing": lay.missing, "filled_plain": lay.unknown} for t, lay in layouts.items()}
        schemas = {s: await loader.schema_of(conns[s], _tables_of(s)) for s in databases}
        for service, conn in conns.items():
            await loader.drop_schema(conn, schemas[service])
        state["relations"] = await _relations(conns["intake"], world, start)
        counts = day_counts(bt, start, end, requests)
        state["load"] = await asyncio.to_thread(_run_days, ctx, databases, layouts, counts, jobs)
        timings["load_s"] = state["load"]["seconds"]
        timings["restore"] = await _restore(databases, schemas)
        timings["certificates_s"] = await _certificates(conns["notifier"])
        timings["counting_s"] = await _count(databases["notifier"])
        timings["vacuum_s"] = await _vacuum(databases)
        await _numbering(conns["intake"], state["load"]["per_day_requests"])
        for service, conn in conns.items():
            after = await loader.schema_of(conn, _tables_of(service))
            if after.names() != schemas[service].names():
                raise RuntimeError(f"{service}: the schema after the load differs from the migrations' own")
        state["sizes"] = {s: await loader.table_sizes(c) for s, c in conns.items()}
        state["database_bytes"] = {
            s: await c.fetchval("SELECT pg_database_size(current_database())") for s, c in conns.items()
        }
        state["revisions"] = {s: await c.fetchval("SELECT version_num FROM alembic_version") for s, c in conns.items()}
    finally:
        for conn in conns.values():
            await conn.close()
    timings["total_s"] = time.perf_counter() - began
    state |= {"timings": timings, "complete": True, "finished_at": datetime.now(UTC).isoformat(),
              "load_average_at_end": os.getloadavg()}  # fmt: skip
    loader.write_state(state)
    return state


def _tables_of(service: str) -> list[str]:
    return [t.split(".")[1] for t in TABLES if t.startswith(service + ".")]


def _run_days(ctx: Context, databases: dict, layouts: dict, counts: dict, jobs: int) -> dict:
    started = time.perf_counter()
    totals: dict = defaultdict(int)
    rows: dict = defaultdict(int)
    copy_s: dict = defaultdict(float)
    per_day = {}
    build_s = 0.0
    tasks = sorted(counts.items())
    with multiprocessing.get_context("fork").Pool(jobs, _start_worker, (ctx, databases, layouts)) as pool:
        for n, done in enumerate(pool.imap_unordered(_make_day, tasks), start=1):
            if free_disk() < DISK_MARGIN:
                pool.terminate()
                raise SystemExit(f"stopped: less than {DISK_MARGIN / 2**30:.0f} GiB free on the disk")
            per_day[done["day"]] = done["requests"]
            for key in ("requests", "items", "open"):
                totals[key] += done[key]
            for table, count in done["rows"].items():
                rows[table] += count
            for table, seconds in done["copy_s"].items():
                copy_s[table] += seconds
            build_s += done["build_s"]
            if n % 10 == 0 or n == len(tasks):
                elapsed = time.perf_counter() - started
                print(
                    f"  {n}/{len(tasks)} days, {totals['requests']:,} requests, {totals['items']:,} items "
                    f"({totals['open']:,} open), {elapsed:.0f} s, about {elapsed / n * (len(tasks) - n):.0f} s to go, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    return {
        "seconds": time.perf_counter() - started,
        "totals": dict(totals),
        "rows": dict(rows),
        "copy_s": dict(copy_s),
        "build_s": build_s,
        "per_day_requests": per_day,
    }


async def _restore(databases: dict[str, str], schemas: dict) -> dict:
    """Keys and indexes made again, each database in its own connection at once; foreign keys
    last. Seconds per table."""

    async def one(service: str) -> dict:
        conn = await asyncpg.connect(loader.dsn(databases[service]))
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'")
            spent = {}
            for table in _tables_of(service):
                spent[table] = await loader.restore_table(conn, schemas[service], table, foreign=False)
            for table in loader.tables_with_foreign_keys(schemas[service]):
                spent[table] = spent.get(table, 0.0) + await loader.restore_table(
                    conn, schemas[service], table, foreign=True
                )
            return spent
        finally:
            await conn.close()

    results = await asyncio.gather(*(one(s) for s in databases))
    return {f"{s}.{t}": v for s, spent in zip(databases, results, strict=True) for t, v in spent.items()}


async def _certificates(conn: asyncpg.Connection) -> float:
    """The notifier's certificate counts per day and subject region, as it keeps them at each flush
    (models.CertificateDayCounts): the COPYed records passed no flush. The same SQL as its 0021."""
    started = time.perf_counter()
    day = "(dispatched_at AT TIME ZONE 'Asia/Shanghai')::date"
    await conn.execute(
        "INSERT INTO certificate_day_counts (day, subject_region, items) "
        f"SELECT {day}, coalesce(subject_region, region_code), count(*) FROM sla_records "
        "WHERE request_type = 'compliance_certificate' AND state <> 'cancelled' "
        f"GROUP BY {day}, coalesce(subject_region, region_code)"
    )
    return time.perf_counter() - started


async def _count(database: str) -> float:
    """Every record counted into the unit statistics' day and month rows by the notifier's own
    counting (``day_counts.count_records``, as its worker does at each tick): a notifier that ran
    through the year would have counted all but the last hour's, and the COPYed records passed no
    worker. Left uncounted, the statistics would read them all and ``measure``'s notifier would
    count them while it is measured. About 1,700–2,800 records a second on this machine."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from services.notifier import calendar as work_calendar
    from services.notifier import day_counts
    from services.notifier.settings import NotifierSettings

    started = time.perf_counter()
    engine = create_async_engine(loader.sqlalchemy_url(database))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    calendar = work_calendar.new_calendar(NotifierSettings())
    async with sessions() as session:
        await work_calendar.refresh(session, calendar)  # the schedules the registry's load put there
    counted = 0
    try:
        while True:
            done = await day_counts.count_records(sessions, calendar, rounds=COUNTING_ROUNDS)
            counted += done
            spent = time.perf_counter() - started
            print(f"  counted {counted:,} records for the statistics, {spent:.0f} s", flush=True)
            if done < day_counts.RECORDS_PER_ROUND * COUNTING_ROUNDS:
                return time.perf_counter() - started
    finally:
        await engine.dispose()


async def _vacuum(databases: dict[str, str]) -> float:
    """VACUUM ANALYZE, as autovacuum would have left a year-old database (visibility map set)."""
    started = time.perf_counter()

    async def one(name: str) -> None:
        conn = await asyncpg.connect(loader.dsn(name))
        try:
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()

    await asyncio.gather(*(one(n) for n in databases.values()))
    return time.perf_counter() - started


async def _relations(conn: asyncpg.Connection, world: World, start: datetime) -> int:
    """The enterprise-group registry (issue 25), where intake keeps one: every group's subsidiaries,
    the proofs its requests' subsidiaries name."""
    columns = await loader.columns_of(conn, "enterprise_relations")
    if not columns:
        return 0
    rows = [
        {"parent_uscc": parent.uscc, "subject_uscc": s.uscc, "parent_name": parent.name,
         "parent_region": parent.region_code, "subject_name": s.name, "subject_region": s.region_code,
         "kind": "subsidiary", "source": "file", "updated_by": "bench:year", "updated_at": start}
        for index, parent in enumerate(world.enterprises[: world.groups])
        for s in world.subsidiaries(index)
    ]  # fmt: skip
    names = [c for c in rows[0] if c in columns]
    await conn.copy_records_to_table(
        "enterprise_relations", records=[tuple(r[c] for c in names) for r in rows], columns=names
    )
    return len(rows)


async def _numbering(conn: asyncpg.Connection, per_day: dict[str, int]) -> None:
    """intake's 受理编号 sources as the year left them: each day's base in ``reference_days`` and
    the sequence past the last number, so a request submitted now is numbered on from there."""
    base = 0
    rows = []
    for day, count in sorted(per_day.items()):
        rows.append((day.replace("-", ""), base))
        base += count
    await conn.copy_records_to_table("reference_days", records=rows, columns=["day", "base"])
    await conn.execute("SELECT setval('reference_numbers', $1)", base)
