"""Test databases: SQLite files, or PostgreSQL databases created and dropped per test."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url


@dataclass
class Databases:
    urls: dict[str, str]
    cleanup: list = field(default_factory=list)


async def _create_postgres_databases(admin_url: str, names: list[str]) -> Databases:
    url = make_url(admin_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    created = {}
    for name in names:
        db_name = f"xiaoer_test_{name}_{uuid.uuid4().hex[:8]}"
        await connection.execute(f'CREATE DATABASE "{db_name}"')
        created[name] = url.set(drivername="postgresql+asyncpg", database=db_name).render_as_string(hide_password=False)
    await connection.close()

    async def drop():
        conn = await asyncpg.connect(url.render_as_string(hide_password=False))
        for sa_url in created.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(sa_url).database}" WITH (FORCE)')
        await conn.close()

    return Databases(created, [drop])


@contextlib.asynccontextmanager
async def postgres_databases(names: list[str]):
    """Fresh PostgreSQL databases (dropped afterwards) whatever the suite runs on, for faults
    that exist on PostgreSQL only; their URLs by name."""
    databases = await _create_postgres_databases(os.environ["XIAOER_TEST_POSTGRES_URL"], names)
    try:
        yield databases.urls
    finally:
        for cleanup in databases.cleanup:
            await cleanup()


def database_backend() -> str:
    return os.environ.get("XIAOER_TEST_DATABASE", "sqlite")


# A race between two transactions exists on PostgreSQL only: SQLite's writers take turns.
RACES_ON_POSTGRES_ONLY = pytest.mark.skipif(
    database_backend() != "postgres", reason="SQLite's writers take turns: BEGIN IMMEDIATE"
)


async def make_databases(tmp: Path, names: list[str]) -> Databases:
    if database_backend() == "postgres":
        admin = os.environ.get("XIAOER_TEST_POSTGRES_URL")
        if not admin:
            raise RuntimeError("XIAOER_TEST_DATABASE=postgres needs XIAOER_TEST_POSTGRES_URL")
        return await _create_postgres_databases(admin, names)
    return Databases({name: f"sqlite+aiosqlite:///{tmp}/{name}.db" for name in names})


class Outage:
    """Refuses new database connections while ``down``, as an unreachable database host does;
    ``begin`` also empties the pool (its connections die with the database)."""

    def __init__(self, engine) -> None:
        self.engine, self.down = engine, False
        event.listen(engine.sync_engine, "do_connect", self._connect)

    async def begin(self) -> None:
        self.down = True
        await self.engine.dispose()

    def _connect(self, *_args):
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused (the test's database outage)")


async def backend_pid(session) -> int:
    """The PostgreSQL server process serving ``session``'s transaction."""
    return await session.scalar(text("SELECT pg_backend_pid()"))


async def waits_for(runtime, holder_pid: int, waiter_pid: int | None = None) -> bool:
    """Whether a PostgreSQL backend (``waiter_pid``, or any) waits for a lock ``holder_pid``'s
    transaction holds: a test holding a change open knows its rival has reached the row. A
    session of its own each time (a transaction sees one picture of pg_stat_activity)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE :holder = any(pg_blocking_pids(pid)) AND (CAST(:waiter AS integer) IS NULL OR pid = :waiter)"
    )
    async with runtime.sessions() as session:
        return bool(await session.scalar(waiting, {"holder": holder_pid, "waiter": waiter_pid}))
