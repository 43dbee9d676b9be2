"""Migrations that change data or the planner's view of it: notifier 0019 turns the day counts' JSON
lists of hours into packed float64 and marks the open records counted before for counting again,
the settled ones left as they were; intake 0012 sets PostgreSQL's estimate of items per request.
Runs on SQLite, and on PostgreSQL too when ``XIAOER_TEST_DATABASE=postgres``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake import main as intake_main
from services.notifier import day_counts
from services.notifier import main as notifier_main
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
