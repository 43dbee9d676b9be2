"""The statistics' reads on PostgreSQL (issue 28): each statement planned for its own values, with
the memory to group in, for that transaction only. A supervisor's region is an IN list of its codes;
the plan PostgreSQL may keep for a statement run again and again (the trend runs each read eight times a
call) holds them as parameters matched one by one against every row — the province's 8-week trend on
a year took 0.67–0.82 s so, 0.20–0.29 s planned each time (docs/benchmarks.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from services.notifier import day_counts
from shared.clock import day_of, utcnow
from tests.support import database_backend

SETTINGS = text("SELECT current_setting('plan_cache_mode'), current_setting('work_mem')")


@pytest.mark.skipif(database_backend() != "postgres", reason="PostgreSQL's planner settings: its pass checks them")
async def test_a_statistics_read_plans_each_statement_for_its_values_in_its_transaction_only(system):
    runtime = system.runtimes["notifier"]
    today = day_of(utcnow())
    weeks = [(today - timedelta(days=7 * n), today - timedelta(days=7 * (n - 1))) for n in range(8, 0, -1)]
    async with runtime.sessions() as session:
        before = (await session.execute(SETTINGS)).one()
        await session.rollback()
        await day_counts.parts_by_period(
            session, runtime.calendar, weeks, "440000", utcnow(), hours=False, by=day_counts.BY_REGION
        )
        during = (await session.execute(SETTINGS)).one()
        await session.rollback()
        after = (await session.execute(SETTINGS)).one()

    assert tuple(during) == ("force_custom_plan", day_counts.SUMS_WORK_MEM)
    assert before[0] != "force_custom_plan" and after == before  # the pooled connection as it was
