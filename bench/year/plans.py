"""The slow queries behind the figures, and their plans. While the measurements run, the year's
databases log every statement slower than ``SLOW_MS`` (``ALTER DATABASE … SET
log_min_duration_statement``, only on those databases); afterwards the server log is read from
where it stood, each distinct statement's slowest instance is run again under ``EXPLAIN (ANALYZE,
BUFFERS)`` with its logged parameters, and the plans are written beside the statement, one file
per statement."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from . import loader

SLOW_MS = 100
# Where the server writes its log: XIAOER_BENCH_POSTGRES_LOG, else Debian's file for the main cluster
# of PostgreSQL 15 (the server these benchmarks run against; logging_collector off).
LOG = Path(os.environ.get("XIAOER_BENCH_POSTGRES_LOG", "/var/log/postgresql/postgresql-15-main.log"))
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \w+ \[(\d+)\] (\S*)@(\S*) (\w+):  (.*)$")
_DURATION = re.compile(r"duration: ([\d.]+) ms  (?:execute [^:]*|statement|parse [^:]*|bind [^:]*): (.*)", re.S)
_PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


@dataclass
class Slow:
    database: str
    ms: float
    sql: str
    params: dict[int, str | None]
    count: int = 1


def log_position() -> int:
    try:
        return LOG.stat().st_size
    except OSError:
        return 0


async def log_slow(databases: list[str], on: bool) -> None:
    for name in databases:
        conn = await asyncpg.connect(loader.dsn())
        try:
            if on:
                await conn.execute(f'ALTER DATABASE "{name}" SET log_min_duration_statement = {SLOW_MS}')
            else:
                await conn.execute(f'ALTER DATABASE "{name}" RESET log_min_duration_statement')
        finally:
            await conn.close()


def read_slow(start: int, databases: set[str]) -> list[Slow]:
    """Every distinct slow statement of ``databases`` logged since ``start``, its slowest instance."""
    try:
        with LOG.open("rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    records: list[list] = []
    for line in text.splitlines():
        found = _RECORD.match(line)
        if found:
            records.append([found.group(3), found.group(4), found.group(5), found.group(1)])
        elif records:
            records[-1][2] += "\n" + line
    slow: dict[tuple[str, str], Slow] = {}
    last: Slow | None = None
    for database, level, message, _pid in records:
        if database not in databases:
            last = None
            continue
        if level == "LOG" and (d := _DURATION.match(message)):
            sql = d.group(2).strip()
            key = (database, sql)
            item = Slow(database, float(d.group(1)), sql, {})
            if key in slow:
                slow[key].count += 1
                if item.ms > slow[key].ms:
                    item.count = slow[key].count
                    slow[key] = item
            else:
                slow[key] = item
            last = slow[key] if slow[key] is item else None
        elif level == "DETAIL" and last is not None and message.startswith("parameters:"):
            last.params = {int(n): (None if v == "NULL" else v) for n, v in _PARAM.findall(message)}
            last = None
    return sorted(slow.values(), key=lambda s: -s.ms)


def with_literals(sql: str, params: dict[int, str | None]) -> str:
    """The statement with its parameters written in as literals (PostgreSQL types them by use)."""
    for n in sorted(params, reverse=True):
        value = params[n]
        sql = re.sub(rf"\${n}(?!\d)", "NULL" if value is None else value, sql)
    return sql


async def explain(slow: list[Slow], directory: Path, names: dict[str, str], limit: int = 40) -> list[dict]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each slow SELECT, written to ``directory``; what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for n, item in enumerate([s for s in slow if s.sql.lstrip().upper().startswith(("SELECT", "WITH"))][:limit]):
        service = names.get(item.database, item.database)
        sql = with_literals(item.sql, item.params)
        conn = await asyncpg.connect(loader.dsn(item.database))
        try:
            await conn.execute("SET statement_timeout = '600s'")
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(r[0] for r in rows)
        except Exception as exc:  # a statement the log cut, or one that needs its session: say so
            plan = f"(not explained: {type(exc).__name__}: {exc})"
        finally:
            await conn.close()
        path = directory / f"{n + 1:02d}-{service}.txt"
        path.write_text(
            f"-- {service} ({item.database}): slowest {item.ms:.0f} ms, logged {item.count} times over "
            f"{SLOW_MS} ms during the measurements\n{sql}\n\n{plan}\n"
        )
        written.append({"file": str(path), "service": service, "ms": item.ms, "count": item.count,
                        "sql": sql[:400], "plan_head": plan.splitlines()[0] if plan else ""})  # fmt: skip
    return written
