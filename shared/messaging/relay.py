"""``OutboxRelay``: a service's outbox rows to Kafka, in id order, by the holder of its lease."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from sqlalchemy import Table, delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.clock import utcnow
from shared.messaging.broker import BrokerAccess, new_producer
from shared.messaging.landing import Landings
from shared.messaging.leases import OutboxLease, PostgresLease, outbox_lease
from shared.messaging.metrics import EVENTS_PUBLISHED, OUTBOX_OLDEST_UNSENT, OUTBOX_RELAY_ACTIVE
from shared.messaging.topics import TopicKeeper

log = structlog.get_logger(__name__)


def wakeup_channel(relay: str, table: str) -> str:
    """The PostgreSQL LISTEN/NOTIFY channel that wakes ``relay`` when rows were added to ``table``."""
    return f"xiaoer_outbox_{relay}_{table}"


class OutboxRelay:
    """Publishes outbox rows in id order and marks them sent.

    One relay per outbox is active at a time: the holder of the outbox's lease (a PostgreSQL
    advisory lock, or a file lock beside a SQLite database). Any other relay of the same service
    is a standby that tries to take the lease every ``standby_seconds``. A relay that fails gives
    the lease up after stopping its producer, and every holder starts from the lowest unsent id,
    so each key's rows reach Kafka in id order; a row published twice around a hand-over (sent by
    the old holder, not yet marked) is a duplicate with the same ``ce_id``, which consumers
    ignore, and never comes before a later row of its key.

    Before each batch the relay creates the batch's topics that the broker lacks (a broker that
    came back empty), with the configured partitions. Each sent row keeps where it landed, and the
    relay publishes again, by itself, what the broker lost (``landing.Landings``). Sent rows are
    kept for ``retention`` (so ``xiaoer outbox republish`` can send a time range again), then
    pruned by the active relay.

    Fencing: a relay publishes only while it holds the lease. It asks the database before each
    chunk of ``fence_every`` rows, and the moment the lease's session ends every send in the
    chunk still waiting is cancelled (``leases.OutboxLease.fenced``), so a relay that lost its
    lease while stalled sends nothing after its standby took over.

    Wake-ups: after committing outbox rows a writer calls ``notify``. When this process runs the
    active relay, that sets its event; otherwise (HTTP workers beside a worker process, ``xiaoer
    api`` beside ``xiaoer worker``, a standby replica) on PostgreSQL it sends a ``NOTIFY``, which
    the active relay, listening on its lease's connection, receives at once. Notifications asked
    for while one is on its way are folded into one, so a burst of commits costs a few round
    trips, not one each. On SQLite a relay in another process finds the rows at its next poll.
    """

    def __init__(
        self,
        *,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        broker: BrokerAccess | str,
        poll_seconds: float,
        batch_size: int,
        partitions: int = 3,
        replication: int = 1,
        standby_seconds: float = 1.0,
        retention: timedelta = timedelta(days=7),
        prune_every: float = 600.0,
        producer_factory: Callable[[BrokerAccess], AIOKafkaProducer] | None = None,
        fence_every: int = 200,
        loss_check_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.sessions = sessions
        self.outbox = outbox
        self.broker = BrokerAccess.of(broker)
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.standby_seconds = standby_seconds
        self.retention = retention
        self.prune_every = prune_every
        self.producer_factory = producer_factory or new_producer
        self.topics = TopicKeeper(self.broker, partitions, replication)
        self.fence_every = fence_every
        self.landings = Landings(
            name=name,
            outbox=outbox,
            high_water=outbox.metadata.tables["outbox_high_water"],
            topics=self.topics,
            check_seconds=loss_check_seconds,
        )
        self.wakeup = asyncio.Event()
        self.channel = wakeup_channel(name, outbox.name)
        self._notify_pending = False
        self._notifier: asyncio.Task | None = None
        self.active = False  # holds the lease: the one relay publishing this outbox
        self._producer: AIOKafkaProducer | None = None
        self._lease: OutboxLease | None = None
        self._pruned_at = 0.0
        OUTBOX_RELAY_ACTIVE.labels(name).set(0)

    def notify(self) -> None:
        """Called after a commit that added outbox rows, so they go out without waiting a poll."""
        self.wakeup.set()
        if self.active or self._engine.url.get_backend_name() != "postgresql":
            return  # the relay publishing this outbox runs here (or SQLite: it polls)
        self._notify_pending = True
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._send_notifications(), name=f"{self.name}.notify")

    @property
    def _engine(self) -> AsyncEngine:
        return self.sessions.kw["bind"]

    async def _send_notifications(self) -> None:
        """NOTIFY the relay's channel until no commit asked for it meanwhile. Best effort: a lost
        notification only delays the rows until the relay's next poll."""
        try:
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                while self._notify_pending:
                    self._notify_pending = False
                    await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.channel})
        except Exception as exc:
            log.info("outbox.notify_failed", relay=self.name, error=f"{type(exc).__name__}: {exc}")

    async def _listen(self) -> None:
        """On PostgreSQL, LISTEN on the lease's own connection: it lives exactly as long as the
        lease, so a relay that holds the lease always hears the wake-ups."""
        if not isinstance(self._lease, PostgresLease):
            return
        async with self._lease.connection() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.add_listener(self.channel, lambda *_: self.wakeup.set())

    async def run(self) -> None:
        backoff = self.poll_seconds
        try:
            while True:
                # Cleared before looking for rows, not after: a wake-up for rows committed while
                # this round runs is kept, and the wait below returns at once.
                self.wakeup.clear()
                try:
                    if await self._lead():
                        sent = await self.relay_once()
                        await self._prune_now_and_then()
                        wait = backoff = self.poll_seconds
                    else:
                        sent, wait = 0, self.standby_seconds
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database away: keep the rows, try again later
                    log.warning("outbox.relay_failed", relay=self.name, error=f"{type(exc).__name__}: {exc}")
                    await self._resign()
                    self.wakeup.clear()  # commits meanwhile do not cut the back-off short; later ones do
                    sent = 0
                    wait = backoff = min(backoff * 2, 10.0)
                if sent < self.batch_size:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation
                    # that arrives as the wake-up is set (gh-86296), and the relay then never stops.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self.wakeup.wait()
        finally:
            await self._resign()
            await self.topics.close()

    async def _lead(self) -> bool:
        if self._lease is None:
            self._lease = outbox_lease(self._engine, self.name, self.outbox.name)
        active = await self._lease.acquire()
        if active and not self.active:
            await self._listen()
        if active != self.active:
            log.info("outbox.relay_active" if active else "outbox.relay_standby", relay=self.name)
            OUTBOX_RELAY_ACTIVE.labels(self.name).set(1 if active else 0)
        self.active = active
        return active

    async def _resign(self) -> None:
        """Stops the producer (so nothing of ours is still in flight), then frees the lease."""
        await self._drop_producer()
        if self._lease is not None:
            await self._lease.release()
        if self.active:
            log.info("outbox.relay_standby", relay=self.name)
        self.active = False
        self.landings.forget()
        OUTBOX_RELAY_ACTIVE.labels(self.name).set(0)

    async def relay_once(self) -> int:
        """Publishes the lowest unsent rows (one batch) and marks them sent where they landed; the
        lease's holder only. First, now and then, checks the broker still has what it sent."""
        producer = await self._get_producer()
        assert self._lease is not None
        async with self._lease.connection() as conn:
            async with conn.begin():
                await self.landings.check_if_due(conn)
                query = select(self.outbox).where(self.outbox.c.sent_at.is_(None)).order_by(self.outbox.c.id)
                rows = (await conn.execute(query.limit(self.batch_size))).mappings().all()
            self.landings.note_progress(rows[0]["id"] if rows else None)
            OUTBOX_OLDEST_UNSENT.labels(self.name).set(
                (utcnow() - rows[0]["created_at"]).total_seconds() if rows else 0
            )
            if not rows:
                return 0
            await self.topics.ensure({row["topic"] for row in rows})
            for start in range(0, len(rows), self.fence_every):
                chunk = rows[start : start + self.fence_every]
                await self._lease.verify()  # a relay that lost its lease sends nothing more
                landed = await self._lease.fenced(self._send(producer, chunk))
                async with conn.begin():
                    await self.landings.record(conn, chunk, landed)
        for row in rows:
            EVENTS_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

    @staticmethod
    async def _send(producer: AIOKafkaProducer, rows) -> list[RecordMetadata]:
        """Sends the rows, then waits for every acknowledgement; per-key order holds because one
        producer sends to one partition per key in order."""
        futures = []
        for row in rows:
            headers = json.loads(row["headers"])
            futures.append(
                await producer.send(
                    row["topic"],
                    row["value"].encode(),
                    key=row["key"].encode() if row["key"] else None,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
        return list(await asyncio.gather(*futures))

    async def _prune_now_and_then(self) -> None:
        """Deletes rows sent longer than ``retention`` ago, a chunk at a time, every ``prune_every`` s."""
        now = time.monotonic()
        if now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        assert self._lease is not None
        cutoff = utcnow() - self.retention
        async with self._lease.connection() as conn, conn.begin():
            old = select(self.outbox.c.id).where(self.outbox.c.sent_at < cutoff).limit(10_000)
            pruned = (await conn.execute(delete(self.outbox).where(self.outbox.c.id.in_(old)))).rowcount
        if pruned:
            log.info("outbox.pruned", relay=self.name, rows=pruned, sent_before=cutoff.isoformat())

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.producer_factory(self.broker)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await producer.stop()
            except Exception:  # already broken; nothing more to do with it
                pass
