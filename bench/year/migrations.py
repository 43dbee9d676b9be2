"""How long the newest migration of each service takes on the year's data: on a copy of the
year's database (``CREATE DATABASE … TEMPLATE``, a file-level copy: same rows, same layout), its
newest revision is taken down one step and up again with Alembic, each timed; a table whose
``relfilenode`` changed was rewritten (``ALTER TABLE`` that copies the table, ``VACUUM FULL``, a
type change), which on a big table is what makes a migration slow and locks the table meanwhile.
The kept year is never migrated down."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory

from shared import db

from . import loader
from .generate import DISK_MARGIN, free_disk


async def files(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT c.relname, c.relfilenode, pg_total_relation_size(c.oid) AS size FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
    )
    return {r["relname"]: (r["relfilenode"], r["size"]) for r in rows}


async def one(service: str, database: str) -> dict:
    from cli.common import service_main

    migrations = service_main(service).MIGRATIONS
    conn = await asyncpg.connect(loader.dsn())
    size = await conn.fetchval("SELECT pg_database_size($1)", database)
    await conn.close()
    if free_disk() - size < DISK_MARGIN:
        return {"skipped": f"a copy needs {size / 2**30:.1f} GiB; the disk has {free_disk() / 2**30:.1f} GiB free"}
    copy = f"xiaoer_yearmig_{service}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(loader.dsn())
    started = time.perf_counter()
    await conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{database}"')
    copied = time.perf_counter() - started
    await conn.close()
    try:
        config = db.alembic_config(migrations, loader.sqlalchemy_url(copy))
        script = ScriptDirectory.from_config(config)
        head = script.get_revision(script.get_current_head())
        target = await asyncpg.connect(loader.dsn(copy))
        try:
            before = await files(target)
            started = time.perf_counter()
            await asyncio.to_thread(command.downgrade, config, head.down_revision)
            down = time.perf_counter() - started
            middle = await files(target)
            started = time.perf_counter()
            await asyncio.to_thread(command.upgrade, config, "head")
            up = time.perf_counter() - started
            after = await files(target)
        finally:
            await target.close()
    except Exception as exc:  # a revision without a way down: say so
        return {"revision": locals().get("head") and head.revision, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        await loader.drop_database(copy)

    def rewritten(a: dict, b: dict) -> list[dict]:
        return [{"table": t, "bytes": b[t][1]} for t in b if t in a and a[t][0] != b[t][0]]

    return {
        "revision": head.revision, "doc": (head.doc or "").strip(), "down_to": head.down_revision,
        "copy_s": copied, "downgrade_s": down, "upgrade_s": up, "database_bytes": size,
        "rewritten_down": rewritten(before, middle), "rewritten_up": rewritten(middle, after),
    }  # fmt: skip


async def measure(year: dict[str, str]) -> dict:
    out = {}
    for service, database in year.items():
        out[service] = await one(service, database)
        found = out[service]
        print(f"  migration {service} {found.get('revision')}: down {found.get('downgrade_s', float('nan')):.1f} s, "
              f"up {found.get('upgrade_s', float('nan')):.1f} s {found.get('error', found.get('skipped', ''))}",
              flush=True)  # fmt: skip
    return out
