"""Database plumbing shared by the services: engines for SQLite and PostgreSQL, a UTC timestamp
type, the two infrastructure tables every service has (outbox, processed_events), and Alembic.

Each service owns its own database and migration history (``services/<name>/migrations``); this
module only provides the mechanics.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    event,
    insert,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from shared.clock import utcnow

T = TypeVar("T")
S = TypeVar("S", bound=Select)  # a statement, and what to_change returns of it
M = TypeVar("M")  # a mapped class

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no 64-bit autoincrement type; BIGINT only autoincrements there as INTEGER.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Stores instants in UTC and always returns aware datetimes, on SQLite (which keeps no
    time zone) and PostgreSQL alike. Naive values are refused: they are a bug upstream."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def infrastructure_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox (events written in the same transaction as the state they describe, published
    later by the relay) and processed_events (ids of consumed events, for idempotency).

    A sent row keeps where the broker acknowledged it (partition and offset), and
    ``outbox_high_water`` the highest offset acknowledged per partition, so the relay can tell
    when the broker lost acknowledged events (shared.messaging.relay)."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("topic", String(249), nullable=False),
        Column("key", String(200)),
        Column("headers", Text, nullable=False),  # JSON object of header name → value
        Column("value", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False, default=utcnow),
        Column("sent_at", UTCDateTime, index=True),
        Column("sent_partition", Integer),
        Column("sent_offset", BigInteger),
        Index("ix_outbox_landed", "topic", "sent_partition", "sent_offset"),
    )
    Table(
        "outbox_high_water",
        metadata,
        Column("topic", String(249), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("high_offset", BigInteger, nullable=False),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(200), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False, default=utcnow),
        UniqueConstraint("consumer", "event_id", name="uq_processed_events_consumer_event"),
    )
    return outbox, processed


def service_base() -> type[DeclarativeBase]:
    """A new declarative base for one service's own database: its own metadata with the naming
    convention (so migrations name constraints alike on SQLite and PostgreSQL), UTC instants,
    JSON for dicts and lists, and the outbox and processed_events tables."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)
        type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}

    infrastructure_tables(Base.metadata)
    return Base


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _make_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


# A pooled PostgreSQL connection is pinged before use once it has sat unused this long.
PING_AFTER_IDLE_SECONDS = 1.0


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    pool_overflow: int = 10,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    **kwargs,
) -> AsyncEngine:
    """An engine for ``url``; on PostgreSQL with a pool of ``pool_size`` connections kept open
    and up to ``pool_overflow`` more in a burst (settings ``database_pool_size``/``_overflow``),
    each pinged before use after ``ping_after_idle`` seconds unused (``ping_idle_connections``)."""
    if not is_sqlite(url):
        if make_url(url).get_driver_name() == "asyncpg":
            # No JIT compilation: it pays for long analytical queries, not for these. On a year of
            # a province it added 0.4–0.6 s to a clerk's tab counts that ran in 0.4 s without it
            # (docs/benchmarks.md, issue 28).
            settings = kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
            settings.setdefault("jit", "off")
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_overflow, **kwargs)
        ping_idle_connections(engine, ping_after_idle)
        return engine

    _make_sqlite_directory(url)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn):
        # Take the write lock up front: two deferred transactions that both upgrade to writing
        # deadlock in SQLite instead of waiting for each other.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def ping_idle_connections(engine: AsyncEngine, after: float) -> None:
    """SQLAlchemy's ``pool_pre_ping``, made cheap: a connection the database dropped while it sat
    in the pool (a restart, a failover, an idle timeout) is found before a request uses it, and
    the pool is refreshed, so the request does not fail. ``pool_pre_ping`` pings every checkout,
    and on asyncpg its ping is three round trips (BEGIN, an empty statement, ROLLBACK): under load
    that showed in intake's profile (docs/benchmarks.md). Here a connection is pinged by one
    ``SELECT 1``, and only when it sat unused for ``after`` seconds: one back from a request a
    moment ago was just working. (Requests already running on a connection that breaks fail
    their statement; SQLAlchemy then discards every pooled connection older than the failure.)"""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()  # .info lives as long as the DBAPI connection

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < after:
            return  # new, or back a moment ago
        try:
            dbapi_connection.run_async(lambda driver: driver.fetchval("SELECT 1"))
        except Exception as exc:
            # As pool_pre_ping does: every pooled connection as old as this one is discarded (the
            # database went away under all of them), and the pool checks out a fresh one.
            raise InvalidatePoolError(f"pooled connection dropped: {type(exc).__name__}") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_for(dialect: str) -> Callable[..., Any]:
    """The INSERT construct with ``on_conflict_do_*`` for a database of ``dialect`` (PostgreSQL or
    SQLite)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def in_written(column: ColumnElement[str], values) -> ColumnElement[bool]:
    """``column IN (values)`` with the values written into the SQL rather than bound. PostgreSQL uses
    a partial index, or an index on an expression, only where it sees the index's own condition or
    expression in the query, and a prepared statement's bound values hide it. For a service's own
    fixed vocabularies (states), never a caller's input; in sorted order, as the indexes write them."""
    return column.in_([literal_column(_quoted(value)) for value in sorted(values)])


def written_in(column: str, values) -> str:
    """``column IN ('a', 'b')`` as ``in_written`` writes it: a partial index's condition that
    PostgreSQL then finds in the queries made with ``in_written``."""
    return f"{column} IN (" + ", ".join(_quoted(value) for value in sorted(values)) + ")"


def _quoted(value: str) -> str:
    return f"'{value}'"


class InSubquery(ColumnElement[bool]):
    """``column IN (subquery)``; on PostgreSQL written ``column = ANY(ARRAY(subquery))``: the same
    rows, but a condition PostgreSQL can look up in an index and OR with another one (a BitmapOr),
    where ``IN (subquery)`` beside an OR is a filter tried on every row of the table."""

    inherit_cache = True
    _is_implicitly_boolean = True  # a comparison already: no "= 1" after it where booleans are numbers
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("subquery", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], subquery: Any) -> None:
        self.column = column
        self.subquery = subquery.scalar_subquery()
        self.type = Boolean()


@compiles(InSubquery)
def _in_subquery(element: InSubquery, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.subquery, **kw)}"


@compiles(InSubquery, "postgresql")
def _equal_to_any_of_array(element: InSubquery, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY{compiler.process(element.subquery, **kw)})"


async def insert_rows(conn: AsyncConnection, writes: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    """Every row into its table, each table's rows in the order given. On PostgreSQL in one
    statement, so one round trip: the INSERTs of all but the last table become data-modifying
    CTEs of the last one (PostgreSQL runs each of them, in no promised order, and checks foreign
    keys at the end of the statement, so a row may reference a parent inserted beside it).
    SQLite has no INSERT inside WITH: one INSERT per table there. For the busiest writes, where
    each round trip costs the database and the driver more than the rows themselves
    (docs/benchmarks.md)."""
    writes = [(table, rows) for table, rows in writes if rows]
    if not writes:
        return
    if conn.dialect.name != "postgresql":
        for table, rows in writes:
            await conn.execute(insert(table), rows)
        return
    shape = tuple((table, len(rows), tuple(rows[0])) for table, rows in writes)
    values = {
        f"p{i}_{j}_{column}": value
        for i, (_table, rows) in enumerate(writes)
        for j, row in enumerate(rows)
        for column, value in row.items()
    }
    await conn.execute(_inserts_together(shape), values)


@functools.lru_cache(maxsize=128)
def _inserts_together(shape: tuple[tuple[Table, int, tuple[str, ...]], ...]) -> Any:
    """The one statement of ``insert_rows`` for rows of this shape (tables, row counts, columns),
    with a named parameter per value, built once: the same statement object each time lets
    SQLAlchemy's compiled cache answer instead of compiling the INSERT for every submission."""

    def inserting(i: int, table: Table, count: int, columns: tuple[str, ...]) -> Any:
        rows = [{c: bindparam(f"p{i}_{j}_{c}", type_=table.c[c].type) for c in columns} for j in range(count)]
        # One row as plain values: SQLAlchemy caches that statement's compiled form, not a
        # multi-row VALUES (correct still, only compiled each time).
        return insert(table).values(rows[0] if count == 1 else rows)

    *before, (last, count, columns) = shape
    ctes = [inserting(i, *part).cte(f"insert_{i}") for i, part in enumerate(before)]
    return inserting(len(before), last, count, columns).add_cte(*ctes)


async def insert_new(session: AsyncSession, table: Table, rows: list[dict[str, Any]], key: list[str]) -> list[tuple]:
    """Inserts the rows whose ``key`` is not in ``table`` yet (``INSERT … ON CONFLICT DO
    NOTHING``, on PostgreSQL and SQLite alike) in one statement; returns the keys that went in."""
    if not rows:
        return []
    statement = (
        insert_for(session.bind.dialect.name)(table)
        .on_conflict_do_nothing(index_elements=key)
        .returning(*(table.c[column] for column in key))
    )
    # Rows as parameters, not in the statement: compiled once and cached, whatever their number
    # (SQLAlchemy sends many in one INSERT … VALUES … RETURNING, its "insertmanyvalues").
    return [tuple(row) for row in await session.execute(statement, rows)]


async def once_per_session(session: AsyncSession, key: Hashable, load: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``load(session)``, loaded once per session and kept in ``session.info``. A consumer applies a
    whole fetched batch of events in one session (one transaction): what every event of the batch
    would read again (the router's registry) is read once."""
    if key not in session.info:
        session.info[key] = await load(session)
    return session.info[key]


def to_change(query: S) -> S:
    """``query``'s rows locked until the transaction ends, as an UPDATE locks them (PostgreSQL's
    FOR NO KEY UPDATE, which inserts referring to the rows do not wait for; SQLite's writers take
    turns anyway), and read afresh even if the session holds them. Whatever is checked and then
    written from a row read this way cannot be overwritten by a change that committed meanwhile:
    that change is read instead, or waits for this one.

    Rows one query locks are locked in its order (give it an ``order_by``). A consumer's batch
    locks event after event, so two transactions may still wait for each other: PostgreSQL then
    rolls one back, which counts as unavailable (:func:`is_unavailable`: 503, or retried).
    Read afresh means changes not yet flushed are lost: not inside ``session.no_autoflush``."""
    return query.with_for_update(key_share=True).execution_options(populate_existing=True)


async def get_to_change(session: AsyncSession, model: type[M], key: Any) -> M | None:
    """One row by its primary key, locked and read afresh as :func:`to_change` says."""
    return await session.get(model, key, with_for_update={"key_share": True}, populate_existing=True)


def hold(session: AsyncSession, objects: Iterable[Any]) -> None:
    """Keeps ``objects`` until the session ends. A consumer batch reads its rows ahead, one query
    per table, for its events to find with ``session.get``; the identity map holds them only
    weakly, and an object nothing else holds would be read again."""
    session.info.setdefault("db.held", []).extend(objects)


async def snapshot(session: AsyncSession) -> None:
    """The session's reads from now on see one moment of the database (PostgreSQL's REPEATABLE
    READ, read only): the first thing a session does. A page made of several reads — a request
    and its items, a period's statistics — then never shows half of a change committed between
    two of them. SQLite's transactions see one moment already (BEGIN IMMEDIATE)."""
    if session.bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# --- Alembic ------------------------------------------------------------------------------------
def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    if is_sqlite(url):
        _make_sqlite_directory(url)
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def upgrade_async(migrations_dir: Path, url: str) -> None:
    # Alembic's env.py runs its own event loop (it drives the async engine), so run it aside.
    await asyncio.to_thread(upgrade, migrations_dir, url)


def run_migrations_online(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")

    def do_run(connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())


# The kinds of exception a database that cannot be reached raises (``is_unavailable`` decides).
UNAVAILABILITY_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    PoolTimeoutError,
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached or used now: a
    refused or dropped connection, a timeout, a pool with no connection to give, a server
    starting or shutting down, a transaction PostgreSQL rolled back to break a deadlock, SQLite's
    locked or unopenable file. Such a failure is transient: a request gets 503 with Retry-After,
    a consumer retries, nothing is dead-lettered."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError | PoolTimeoutError | OperationalError | InterfaceError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(
            current,
            asyncpg.PostgresConnectionError
            | asyncpg.OperatorInterventionError
            | asyncpg.TooManyConnectionsError
            | asyncpg.TransactionRollbackError,  # rolled back to break a deadlock (40P01) or the like
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
