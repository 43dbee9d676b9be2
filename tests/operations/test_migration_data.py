"""Migrations that change data or the planner's view of it: notifier 0019 turns the day counts' JSON
lists of hours into packed float64 and marks the open records counted before for counting again,
the settled ones left as they were; notifier 0023 lets PostgreSQL read the moving counts from an
index alone; intake 0012 sets PostgreSQL's estimate of items per request.
Runs on SQLite, and on PostgreSQL too when ``XIAOER_TEST_DATABASE=postgres``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import Column, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql import visitors

from services.intake import main as intake_main
from services.notifier import day_counts
from services.notifier import main as notifier_main
from services.notifier.models import MOVING_READS, SlaRecord
from shared.db import upgrade
from tests.operations.test_migrations import BACKENDS, database_url  # noqa: F401 (a fixture)
from tests.support import database_backend

COUNTS = (
    "received acknowledged_on_time acknowledged_late acknowledge_counted kept resolved resolved_on_time "
    "resolve_counted extended returned transferred urged rated satisfied followed_up solved partly_solved"
).split()


def record(work_item_id: str, state: str) -> dict:
    at = datetime(2026, 3, 2, 2, tzinfo=UTC)
    return {
        "work_item_id": work_item_id,
        "request_id": work_item_id,
        "reference_no": "XE-20260302-000001",
        "request_type": "problem",
        "department_kind": "tax",
        "unit_code": "440106.tax",
        "unit_name": "天河区税务局",
        "region_code": "440106",
        "subject_name": "测试企业",
        "state": state,
        "dispatched_at": at,
        "acknowledge_due_at": at,
        "policy": "{}",
        "version": 1,
        "extended": False,
        "returned_by": "[]",
        "holders": "[]",
        "counted": True,
        "counted_as": "[]",
    }


async def insert(connection, table: str, row: dict) -> None:
    names = ", ".join(row)
    await connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row)


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_0019_packs_the_hours_and_counts_the_open_records_again(database_url):  # noqa: F811
    await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0018")
    engine = create_async_engine(database_url)
    hours = [1.5, 7.25, 0.0, 123.456789]
    try:
        async with engine.begin() as connection:
            for work_item_id, state in (("open-one", "in_progress"), ("settled-one", "closed")):
                await insert(connection, "sla_records", record(work_item_id, state))
            day_row = {
                "day": date(2026, 3, 2),
                "unit_code": "440106.tax",
                "region_code": "440106",
                "unit_name": "天河区税务局",
                "named_at": datetime(2026, 3, 2, 2, tzinfo=UTC),
                **dict.fromkeys(COUNTS, 1),
            }
            for request_type, its_hours in (("problem", hours), ("financing", [])):
                await insert(
                    connection,
                    "unit_day_counts",
                    {**day_row, "request_type": request_type, "hours": json.dumps(its_hours)},
                )
        await engine.dispose()
        await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0019")
        async with engine.connect() as connection:
            packed = dict((await connection.execute(text("SELECT request_type, hours FROM unit_day_counts"))).all())
            open_now = set(await connection.scalars(text("SELECT open_now FROM unit_day_counts")))
            counted = dict((await connection.execute(text("SELECT work_item_id, counted FROM sla_records"))).all())
    finally:
        await engine.dispose()
    assert np.frombuffer(packed["problem"], dtype=day_counts.HOURS_PACKED).tolist() == hours
    assert bytes(packed["financing"]) == b""
    assert open_now == {0}
    assert {k: bool(v) for k, v in counted.items()} == {"open-one": False, "settled-one": True}


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_0023_the_open_records_index_carries_every_column_the_moving_counts_read(database_url):  # noqa: F811
    """Every column of sla_records the moving counts read (day_counts.moving_read) is in
    ix_sla_records_open_dispatched as the models declare it; on PostgreSQL the migrated index
    includes those very columns and the read can be planned from the index alone."""
    now = datetime.now(UTC)
    read = day_counts.moving_read(date(2026, 3, 1), date(2026, 3, 8), "440000", now, day_counts.BY_UNIT)
    read_columns = {c.name for c in visitors.iterate(read) if isinstance(c, Column) and c.table.name == "sla_records"}
    index = next(i for i in SlaRecord.__table__.indexes if i.name == "ix_sla_records_open_dispatched")
    assert {"dispatched_at", "counted_holder_unit", "resolve_due_at"} <= read_columns
    assert read_columns <= {c.name for c in index.columns} | set(index.dialect_options["postgresql"]["include"])
    await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "head")
    if database_url.startswith("sqlite"):
        return  # SQLite has no INCLUDE: its index is the key alone
    engine = create_async_engine(database_url)
    sql = read.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}).string
    try:
        async with engine.begin() as connection:
            made = await connection.scalar(text("SELECT pg_get_indexdef('ix_sla_records_open_dispatched'::regclass)"))
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            await connection.execute(text("SET LOCAL enable_bitmapscan = off"))
            plan = "\n".join(await connection.scalars(text(f"EXPLAIN {sql}")))
    finally:
        await engine.dispose()
    included = made.split(" INCLUDE (")[1].split(")")[0].split(", ")
    assert included == list(MOVING_READS)
    assert "Index Only Scan using ix_sla_records_open_dispatched" in plan, plan


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_0021_counts_the_department_certificate_items_per_chinese_day_and_subject_region(database_url):  # noqa: F811
    """A day starts at 16:00 UTC; withdrawn items and other request types do not count; a record from
    before subject_region counts where its unit is."""
    await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0020")
    engine = create_async_engine(database_url)
    certificate = {**record("", "in_progress"), "request_type": "compliance_certificate", "subject_region": "320505"}
    rows = [
        {**certificate, "work_item_id": "before-midnight", "dispatched_at": datetime(2026, 3, 2, 15, 59, tzinfo=UTC)},
        {**certificate, "work_item_id": "after-midnight", "dispatched_at": datetime(2026, 3, 2, 16, 0, tzinfo=UTC)},
        {**certificate, "work_item_id": "and-another", "dispatched_at": datetime(2026, 3, 3, 1, 0, tzinfo=UTC)},
        {**certificate, "work_item_id": "withdrawn", "state": "cancelled"},
        {**certificate, "work_item_id": "no-subject", "subject_region": None},
        {**record("a-problem", "in_progress"), "subject_region": "320505"},
    ]
    try:
        async with engine.begin() as connection:
            for row in rows:
                await insert(connection, "sla_records", row)
        await engine.dispose()
        await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0021")
        async with engine.connect() as connection:
            counted = await connection.execute(text("SELECT day, subject_region, items FROM certificate_day_counts"))
            counted = {(str(day), region): items for day, region, items in counted}
    finally:
        await engine.dispose()
    assert counted == {("2026-03-02", "320505"): 1, ("2026-03-03", "320505"): 2, ("2026-03-02", "440106"): 1}


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_0022_makes_each_month_row_the_sum_of_its_days_named_as_on_the_latest(database_url):  # noqa: F811
    await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0021")
    engine = create_async_engine(database_url)
    unit = {"unit_code": "440106.tax", "region_code": "440106", "request_type": "problem", "open_now": 1}
    days = [
        (date(2026, 3, 2), "天河区税务局", datetime(2026, 3, 2, 2, tzinfo=UTC), [1.5, 2.0]),
        (date(2026, 3, 31), "天河区税务局（新）", datetime(2026, 3, 31, 2, tzinfo=UTC), [7.25]),
        (date(2026, 4, 1), "天河区税务局（新）", datetime(2026, 4, 1, 2, tzinfo=UTC), []),
    ]
    try:
        async with engine.begin() as connection:
            for day, name, named_at, hours in days:
                packed = np.asarray(hours, dtype=day_counts.HOURS_PACKED).tobytes()
                row = {**unit, "day": day, "unit_name": name, "named_at": named_at, "hours": packed}
                await insert(connection, "unit_day_counts", {**row, **dict.fromkeys(COUNTS, 2)})
        await engine.dispose()
        await asyncio.to_thread(upgrade, notifier_main.MIGRATIONS, database_url, "0022")
        async with engine.connect() as connection:
            read = "SELECT month, unit_name, received, open_now, hours FROM unit_month_counts ORDER BY month"
            months = [(str(m), name, n, o, bytes(h)) for m, name, n, o, h in await connection.execute(text(read))]
    finally:
        await engine.dispose()
    assert [m[:4] for m in months] == [
        ("2026-03-01", "天河区税务局（新）", 4, 2),
        ("2026-04-01", "天河区税务局（新）", 2, 1),
    ]
    assert sorted(np.frombuffer(months[0][4], dtype=day_counts.HOURS_PACKED).tolist()) == [1.5, 2.0, 7.25]
    assert months[1][4] == b""


@pytest.mark.skipif(database_backend() != "postgres", reason="a PostgreSQL planner setting: its pass checks it")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_intake_0012_tells_postgresql_how_many_items_a_request_has(database_url):  # noqa: F811
    """ANALYZE's sample took a request for 62 items on a province's year; the ledger's join then
    read every item (intake 0012). The estimate is set as a share of the rows."""
    await asyncio.to_thread(upgrade, intake_main.MIGRATIONS, database_url, "0012")
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            options = await connection.scalar(
                text(
                    "SELECT attoptions FROM pg_attribute "
                    "WHERE attrelid = 'work_item_views'::regclass AND attname = 'request_id'"
                )
            )
    finally:
        await engine.dispose()
    assert "n_distinct=-0.12" in options
