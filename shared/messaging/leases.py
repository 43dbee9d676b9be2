"""Who may publish an outbox: one holder at a time, so each key's rows reach Kafka in id order.

Database code, not Kafka: a PostgreSQL session-level advisory lock, or an ``flock`` on a file
beside a SQLite database.

A holder can lose its lease without knowing: its database session ends (a network cut, an
operator terminating it, a database failover), the lock goes with it, and a standby takes over.
So the holder does its publishing ``fenced``: the moment the lease's connection is gone, work in
the fence is cancelled (a send stalled waiting for the broker never goes out) and ``LeaseLost``
raised; and ``verify`` asks the database before each chunk it sends."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")


class LeaseLost(Exception):
    """The lease went while its holder worked: it must stop publishing at once."""


class OutboxLease:
    """The right to publish one outbox: only its holder relays (see ``OutboxRelay``)."""

    async def fenced(self, work: Awaitable[T]) -> T:
        """Runs ``work`` while the lease is held; ``LeaseLost`` (and ``work`` cancelled) the
        moment it is not. A lease that cannot be lost while its holder lives runs it as it is."""
        return await work

    async def verify(self) -> None:
        """Raises ``LeaseLost`` unless the lease is still held (asks the database if it must)."""

    async def acquire(self) -> bool:
        """Takes the lease if it is free, without waiting; True while this relay holds it."""
        raise NotImplementedError

    def connection(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """The connection the holder works on."""
        raise NotImplementedError

    async def release(self) -> None:
        raise NotImplementedError


class PostgresLease(OutboxLease):
    """A session-level advisory lock on a connection of its own, which the holder also does all
    its outbox work on. The server drops the lock when that session ends, so a relay whose
    process dies (or whose connection breaks) hands over at once, and a relay that lost its
    session cannot go on working: its next statement fails with the connection."""

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self.engine = engine
        self.key = key
        self.held = False
        self.lost = False  # the session holding the lock ended under us
        self._conn: AsyncConnection | None = None
        self._fenced: set[asyncio.Future] = set()

    async def acquire(self) -> bool:
        if self.held:
            return True
        try:
            if self._conn is None:
                # Autocommit: the relay's statements are each whole on their own (the SELECT of a
                # batch, the UPDATE marking it sent), so BEGIN and COMMIT around each would only
                # double its round trips. The lock is the session's either way.
                conn = await self.engine.connect()
                self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            self.held = bool(await self._conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await self._conn.commit()  # ends SQLAlchemy's own (autobegun) transaction; sends nothing
            if self.held:
                self.lost = False
                raw = (await self._conn.get_raw_connection()).driver_connection
                raw.add_termination_listener(self._on_session_end)
        except BaseException:
            await self.release()
            raise
        return self.held

    def _on_session_end(self, _connection) -> None:
        """asyncpg calls this as soon as the lease's session ends: whatever is fenced stops."""
        if self.held:
            self.lost = True
            for work in self._fenced:
                work.cancel()

    async def fenced(self, work: Awaitable[T]) -> T:
        if self.lost:
            raise LeaseLost("the outbox lease's database session ended")
        task = asyncio.ensure_future(work)
        self._fenced.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.lost and not (current and current.cancelling()):
                raise LeaseLost("the outbox lease's database session ended while publishing") from None
            raise
        finally:
            self._fenced.discard(task)

    async def verify(self) -> None:
        if self.lost or self._conn is None:
            raise LeaseLost("the outbox lease's database session ended")
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()  # ends SQLAlchemy's autobegun transaction; sends nothing
        except Exception as exc:
            raise LeaseLost(f"the outbox lease's database session does not answer: {exc}") from exc

    @contextlib.asynccontextmanager
    async def connection(self):
        assert self.held and self._conn is not None, "work only while holding the lease"
        yield self._conn

    async def release(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        for work in self._fenced:
            work.cancel()
        if conn is not None:
            # Invalidate rather than return it to a pool: the lock would stay with the pooled session.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


class FileLease(OutboxLease):
    """SQLite: an exclusive ``flock`` on a file beside the database, released by the kernel when
    the holder closes it or its process dies. SQLite is for one host; this keeps two relays
    (two processes, or two in one process) from racing over one outbox there too."""

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self.engine = engine
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    @contextlib.asynccontextmanager
    async def connection(self):
        assert self._fd is not None, "work only while holding the lease"
        async with self.engine.connect() as conn:
            yield conn

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file releases the lock


def outbox_lease(engine: AsyncEngine, relay: str, table: str) -> OutboxLease:
    """The lease for ``relay``'s outbox in the database ``engine`` points at."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            raise ValueError("an outbox relay needs a SQLite file, not an in-memory database")
        return FileLease(engine, f"{database}.{table}.relay-lock")
    digest = hashlib.sha256(f"xiaoer.outbox-relay:{relay}:{table}".encode()).digest()
    return PostgresLease(engine, int.from_bytes(digest[:8], "big", signed=True))
