"""The year's databases: created from XIAOER_BENCH_POSTGRES_URL and kept (their names in
``var/bench-year.json``), migrated by the services' own Alembic histories (``xiaoer migrate``),
filled by COPY, and given back exactly the schema the migrations made.

Loading 150 million rows through the tables' indexes and foreign keys would cost several times
the COPY itself, so before the load every index, unique and primary key constraint and foreign
key of the tables filled is noted (``pg_get_indexdef``, ``pg_get_constraintdef``) and dropped, and
after it they are created again from those very definitions, under their own names, and the
schema is compared with the one noted: the year ends with the migrations' schema, not a copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("XIAOER_BENCH_YEAR_STATE", ROOT / "var" / "bench-year.json"))
SERVICES = ("intake", "router", "notifier")
PLAIN_VALUES = {"boolean": False, "integer": 0, "bigint": 0, "json": "[]", "jsonb": "[]", "text": ""}


def admin_url():
    return make_url(os.environ.get("XIAOER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))


def dsn(database: str | None = None) -> str:
    url = admin_url()
    if database:
        url = url.set(database=database)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(database: str) -> str:
    return admin_url().set(drivername="postgresql+asyncpg", database=database).render_as_string(hide_password=False)


def read_state() -> dict | None:
    return json.loads(STATE.read_text()) if STATE.exists() else None


def write_state(state: dict) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, ensure_ascii=False, indent=2))


async def create_database(name: str) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(databases: dict[str, str]) -> float:
    """``xiaoer migrate`` with each service's database URL; the seconds it took."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XIAOER_LOG_LEVEL": "WARNING"}
    env |= {f"XIAOER_{service.upper()}_DATABASE_URL": sqlalchemy_url(db) for service, db in databases.items()}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "migrate", *databases], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


# --- the schema, noted, dropped and made again ------------------------------------------------------
@dataclass
class Schema:
    """The indexes and constraints of some tables, as PostgreSQL defines them."""

    constraints: list[tuple[str, str, str, str]] = field(default_factory=list)  # (table, name, type, definition)
    indexes: list[tuple[str, str, str]] = field(default_factory=list)  # (table, name, CREATE INDEX …)

    def names(self) -> set[tuple]:
        """Each constraint and index by kind, table and name. Not by definition: the restore runs
        the definitions PostgreSQL printed, and PostgreSQL prints one made that way in its own
        normal form (an index's ``state IN (…)`` as ``= ANY (ARRAY[…])`` with other casts)."""
        return {("c", t, n, kind) for t, n, kind, _ in self.constraints} | {("i", t, n) for t, n, _ in self.indexes}


async def schema_of(conn: asyncpg.Connection, tables: list[str]) -> Schema:
    constraints = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype::text, pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c
           WHERE (c.conrelid::regclass::text = ANY($1::text[]) AND c.contype IN ('p', 'u', 'f'))
              OR (c.confrelid::regclass::text = ANY($1::text[]) AND c.contype = 'f')
           ORDER BY 1, 2""",
        tables,
    )
    indexes = await conn.fetch(
        """SELECT i.indrelid::regclass::text AS tbl, x.relname, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
           WHERE i.indrelid::regclass::text = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
           ORDER BY 1, 2""",
        tables,
    )
    return Schema(
        [(r["tbl"], r["conname"], r["contype"], r["def"]) for r in constraints],
        [(r["tbl"], r["relname"], r["def"]) for r in indexes],
    )


async def drop_schema(conn: asyncpg.Connection, schema: Schema) -> None:
    for table, name, _kind, _ in sorted(schema.constraints, key=lambda c: c[2] != "f"):  # foreign keys first
        await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for _table, name, _ in schema.indexes:
        await conn.execute(f'DROP INDEX "{name}"')


async def restore_table(conn: asyncpg.Connection, schema: Schema, table: str, foreign: bool) -> float:
    """Creates ``table``'s keys and indexes (``foreign``: the foreign keys from it, once every
    table has its keys); the seconds it took."""
    started = time.perf_counter()
    for t, name, kind, definition in schema.constraints:
        if t == table and (kind == "f") == foreign:
            await conn.execute(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {definition}')
    if not foreign:
        for t, _name, definition in schema.indexes:
            if t == table:
                await conn.execute(definition)
    return time.perf_counter() - started


def tables_with_foreign_keys(schema: Schema) -> list[str]:
    return sorted({t for t, _name, kind, _ in schema.constraints if kind == "f"})


# --- columns ------------------------------------------------------------------------------------------
async def columns_of(conn: asyncpg.Connection, table: str) -> dict[str, tuple[str, bool, bool]]:
    """Each column: (data type, nullable, has a default)."""
    rows = await conn.fetch(
        "SELECT column_name, data_type, is_nullable = 'YES' AS nullable, column_default IS NOT NULL AS has_default "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        table,
    )
    return {r["column_name"]: (r["data_type"], r["nullable"], r["has_default"]) for r in rows}


@dataclass
class Layout:
    """How the generator's rows of one table become the table's columns: the columns it has of
    ours (in our order), and a plain value for each NOT NULL column without a default that we do
    not know (one added to the schema since the generator was written)."""

    table: str
    columns: list[str]
    picks: list[int]
    fillers: list[object]
    missing: list[str]  # ours that the table lacks
    unknown: list[str]  # the table's that we fill with plain values

    def convert(self, rows: list[tuple]) -> list[tuple]:
        picks, fillers = self.picks, tuple(self.fillers)
        if picks == list(range(len(picks))) and not fillers and not self.missing:
            return rows
        return [tuple(row[i] for i in picks) + fillers for row in rows]


async def layout_of(conn: asyncpg.Connection, table: str, ours: tuple[str, ...]) -> Layout:
    present = await columns_of(conn, table)
    picks = [n for n, c in enumerate(ours) if c in present]
    unknown = [c for c, (_t, nullable, default) in present.items() if c not in ours and not nullable and not default]
    return Layout(
        table,
        [ours[n] for n in picks] + unknown,
        picks,
        [PLAIN_VALUES.get(present[c][0], "") for c in unknown],
        [c for c in ours if c not in present],
        unknown,
    )


async def table_sizes(conn: asyncpg.Connection) -> dict[str, dict]:
    rows = await conn.fetch(
        """SELECT c.relname, c.reltuples::bigint AS rows, pg_table_size(c.oid) AS heap,
                  pg_indexes_size(c.oid) AS indexes, pg_total_relation_size(c.oid) AS total
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY total DESC"""
    )
    return {r["relname"]: {k: r[k] for k in ("rows", "heap", "indexes", "total")} for r in rows}
