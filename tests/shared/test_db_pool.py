"""PostgreSQL connections the database dropped while they sat in the pool (a restart, a failover,
an idle timeout) are found before a request uses them and replaced: shared.db pings a pooled
connection that sat unused (``ping_after_idle``). Needs the machine's PostgreSQL
(``XIAOER_TEST_POSTGRES_URL``, set by CI for both runs of the suite); SQLite has no server to drop
a connection."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from shared import db

ADMIN = os.environ.get("XIAOER_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not ADMIN, reason="needs PostgreSQL (XIAOER_TEST_POSTGRES_URL)")


async def _pooled_connection_dropped_by_the_database(ping_after_idle: float):
    """An engine with one pooled connection, which the database has just terminated."""
    url = make_url(ADMIN).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    engine = db.create_engine(url, pool_size=1, pool_overflow=0, ping_after_idle=ping_after_idle)
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    admin = await asyncpg.connect(make_url(ADMIN).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    return engine, pid


async def test_a_pooled_connection_the_database_dropped_is_replaced_before_use():
    engine, dropped = await _pooled_connection_dropped_by_the_database(ping_after_idle=0)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != dropped
    finally:
        await engine.dispose()


async def test_one_back_a_moment_ago_is_not_pinged():
    """The other side of the rule (and the proof the ping above is what saved the request): a
    connection back in the pool for less than ``ping_after_idle`` is used as it is."""
    engine, _ = await _pooled_connection_dropped_by_the_database(ping_after_idle=3600)
    try:
        with pytest.raises(DBAPIError):
            async with engine.connect() as conn:
                await conn.scalar(text("SELECT 1"))
        async with engine.connect() as conn:  # the failure discarded it: the next one is fresh
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_the_services_connections_run_without_jit_compilation():
    """JIT compilation added 0.4–0.6 s to a clerk's tab counts on a year of a province: the
    services' connections turn it off (docs/benchmarks.md)."""
    url = make_url(ADMIN).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    engine = db.create_engine(url, pool_size=1, pool_overflow=0)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SHOW jit")) == "off"
    finally:
        await engine.dispose()


async def test_a_transaction_rolled_back_to_break_a_deadlock_counts_as_unavailable():
    """Two transactions that lock two rows in opposite orders: PostgreSQL rolls one back
    (40P01). Nothing of it was stored, so it is the transient kind: a request answers 503 with
    Retry-After (not 500) and a consumer retries (``db.is_unavailable``)."""
    url = make_url(ADMIN).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    engine = db.create_engine(url, pool_size=2, pool_overflow=0)
    table = f"deadlock_probe_{os.getpid()}"
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (id integer PRIMARY KEY, n integer)"))
            await conn.execute(text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            await second.begin()
            bump = text(f"UPDATE {table} SET n = n + 1 WHERE id = :id")
            await first.execute(bump, {"id": 1})
            await second.execute(bump, {"id": 2})
            outcomes = await asyncio.gather(
                first.execute(bump, {"id": 2}), second.execute(bump, {"id": 1}), return_exceptions=True
            )
            [broken] = [o for o in outcomes if isinstance(o, BaseException)]
            assert isinstance(broken, DBAPIError) and broken.orig.sqlstate == "40P01"
            assert db.is_unavailable(broken)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()
