"""Kafka plumbing: CloudEvents binary-mode encoding, topic creation, the outbox relay and the
idempotent consumer loop with its dead-letter topic.

Delivery guarantees, end to end:
- A producer never publishes directly from a request handler. State and the event describing it
  are written in one database transaction (the outbox); ``OutboxRelay`` publishes afterwards and
  marks rows sent, so a broker outage delays events but never loses them.
- ``EventConsumer`` records each handled ``ce_id`` in the same transaction as the state change it
  made, and commits offsets only after that transaction, so a redelivered event changes nothing.
- A message that can never be applied (not a CloudEvent, unknown type, bad body, or refused by a
  handler with ``PoisonMessage``) goes to ``<topic>.dlq`` with the error in the ``x-error``
  header, and the consumer goes on with the next one. Any other failure is transient: the
  consumer keeps its place, backs off and retries the same record, and reports itself stalled.
- One relay per outbox publishes at a time (``OutboxLease``), so one key's events keep their
  order with several replicas; topics are created with the configured partitions before use
  (``TopicKeeper``), also after a broker came back empty, and consumers subscribe by pattern.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import Table, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared import db
from shared.clock import utcnow
from shared.events import EVENT_TYPES, Event, dlq

if TYPE_CHECKING:
    from shared.settings import Settings

log = structlog.get_logger(__name__)
_JSON = JSONFormat()

EVENTS_CONSUMED = Counter("xiaoer_events_consumed_total", "Events handled", ["consumer", "outcome"])
EVENTS_PUBLISHED = Counter("xiaoer_events_published_total", "Events published by the outbox relay", ["topic"])
CONSUMER_TRANSIENT_FAILURES = Counter(
    "xiaoer_consumer_transient_failures_total", "Records retried after a transient failure", ["consumer"]
)
OUTBOX_RELAY_ACTIVE = Gauge(
    "xiaoer_outbox_relay_active", "1 while this relay holds its outbox's lease and publishes it", ["relay"]
)
CONSUMER_REJOINS = Counter(
    "xiaoer_consumer_rejoins_total", "Consumers that joined their group afresh, and why", ["consumer", "reason"]
)
CONSUMER_STALLED = Gauge(
    "xiaoer_consumer_stalled", "1 while a consumer retries a record after a transient failure", ["consumer"]
)


# --- Broker access ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BrokerAccess:
    """Where the broker is and who this process is to it; every client below is made with it.

    On the embedded development broker nobody logs in (PLAINTEXT). On the production broker each
    service logs in as its own SASL/SCRAM user over TLS (``XIAOER_KAFKA_USERNAME`` set per
    container), and the broker's ACLs give that user only the topics and groups the service uses
    (services/kafka_acls.py, written by ``xiaoer schemas``). A plain ``"host:port"`` string means PLAINTEXT."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None  # the CA that signed the broker's certificate; None: the system's

    @classmethod
    def of(cls, broker: BrokerAccess | str) -> BrokerAccess:
        return broker if isinstance(broker, BrokerAccess) else cls(broker)

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAccess:
        """Raises when a SASL protocol is set without a login. Checked here, when a process is
        about to use the broker, not in the settings: the pages (services/web) and ``migrate``
        share the settings of a deployment but never connect to Kafka."""
        password = settings.kafka_password.get_secret_value() if settings.kafka_password else None
        if settings.kafka_security_protocol.startswith("SASL_") and not (settings.kafka_username and password):
            raise ValueError(
                f"XIAOER_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs XIAOER_KAFKA_USERNAME "
                "and XIAOER_KAFKA_PASSWORD (each service its own)"
            )
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=password,
            ssl_cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        )

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client (producer, consumer, admin) takes."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL_"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        return options


# --- CloudEvents ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes


def encode(
    event: Event,
    *,
    topic: str,
    source: str,
    subject: str | None = None,
    key: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> OutgoingMessage:
    """One CloudEvent in Kafka binary mode: attributes as ``ce_*`` headers, the model as JSON.

    The headers are written here as the CloudEvents SDK's ``to_binary`` writes them (a test holds
    the two equal), not through it: building and validating the SDK's event object for each of
    the router's 16 messages a request was a sixth of routing's CPU. Decoding stays the SDK's."""
    at = (time or utcnow()).isoformat()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_type": event.ce_type,
        "ce_source": source,
        "ce_time": at[:-6] + "Z" if at.endswith("+00:00") else at,
        "content-type": "application/json",
    }
    if subject:
        headers["ce_subject"] = subject
    # The body serialised by pydantic (in Rust) once.
    return OutgoingMessage(topic, key, headers, event.model_dump_json().encode())


@dataclass(frozen=True)
class ReceivedEvent:
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: Event
    record: ConsumerRecord = field(repr=False)


class PoisonMessage(Exception):
    """A message that no retry can fix: not a CloudEvent, an unknown type, or a bad body."""


def decode(record: ConsumerRecord) -> ReceivedEvent:
    headers = {name: value for name, value in (record.headers or ()) if value is not None}
    if "ce_id" not in headers or "ce_type" not in headers:
        raise PoisonMessage("not a CloudEvent in binary mode: ce_id or ce_type header missing")
    try:
        cloud_event = from_binary(KafkaMessage(headers, record.key, record.value or b""), _JSON)
    except Exception as exc:  # the SDK raises several kinds for malformed attributes or JSON
        raise PoisonMessage(f"malformed CloudEvent: {exc}") from exc
    ce_type = cloud_event.get_type()
    if ce_type not in EVENT_TYPES:
        raise PoisonMessage(f"unknown event type {ce_type!r}")
    try:
        data = EVENT_TYPES[ce_type].model_validate(cloud_event.get_data())
    except ValidationError as exc:
        raise PoisonMessage(f"{ce_type} body does not match its schema: {exc}") from exc
    return ReceivedEvent(
        id=cloud_event.get_id(),
        type=ce_type,
        source=cloud_event.get_source(),
        subject=cloud_event.get_subject(),
        time=cloud_event.get_time(),
        data=data,
        record=record,
    )


# --- Topics -----------------------------------------------------------------------------------
class TopicKeeper:
    """Creates the topics that are missing, with the configured partitions, before anything uses
    them. A client that asks the broker for one named topic's metadata (a producer about to send,
    a consumer subscribed by name) makes a broker with auto-creation create it with the broker's
    own default partition count (Tansu: 4), which silently changes which partition a key lands
    on. So topics are looked up by a metadata request that forbids auto-creation
    (``allow_auto_topic_creation=False``, Metadata v4+, honoured by Kafka and Tansu) and created
    here; consumers subscribe by pattern for the same reason. The lookup names only the topics
    asked about: the relay asks before every batch, and an all-topics request (what
    ``describe_topics()`` sends) cost ~7 times as much CPU with 40 topics, growing with every
    unit's inbox (docs/benchmarks.md)."""

    def __init__(self, broker: BrokerAccess | str, partitions: int, replication: int = 1) -> None:
        self.broker = BrokerAccess.of(broker)
        self.partitions = partitions
        self.replication = replication
        self._admin: AIOKafkaAdminClient | None = None
        self._warned: set[str] = set()

    async def ensure(self, topics: Iterable[str]) -> list[str]:
        """Creates those of ``topics`` the broker does not have; returns their names."""
        wanted = set(topics)
        if not wanted:
            return []
        try:
            admin = await self._admin_client()
            lookup = MetadataRequest(sorted(wanted), allow_auto_topic_creation=False)
            answer = await admin._send_request(lookup)  # aiokafka has no public form of this request
            if answer.API_VERSION < 4:  # the flag exists from v4 (Kafka 1.0); Tansu and Kafka 3/4 speak it
                raise KafkaError("the broker is too old to look topics up without creating them (Metadata < v4)")
            described = answer.to_object()["topics"]
            existing = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
            missing = sorted(wanted - set(existing))
            if missing:
                # A topic created meanwhile by another process answers TOPIC_ALREADY_EXISTS: fine.
                # Any other answer (no Create grant on a broker with ACLs, say) is an error: aiokafka
                # returns it per topic rather than raising it.
                response = await admin.create_topics([NewTopic(t, self.partitions, self.replication) for t in missing])
                refused = [
                    f"{topic} (error {code})"
                    for topic, code, *_message in response.topic_errors
                    if code not in (0, TopicAlreadyExistsError.errno)
                ]
                if refused:
                    raise KafkaError(f"the broker refused to create topics: {', '.join(refused)}")
                log.info("topics.created", topics=missing, partitions=self.partitions)
        except BaseException:
            await self.close()
            raise
        for topic in sorted(wanted & set(existing)):
            if existing[topic] != self.partitions and topic not in self._warned:
                self._warned.add(topic)
                log.warning(
                    "topics.partitions_differ", topic=topic, partitions=existing[topic], configured=self.partitions
                )
        return missing

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self.broker.client_options(), request_timeout_ms=10_000)
            try:
                await admin.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin = admin
        return self._admin

    async def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()


async def ensure_topics(
    broker: BrokerAccess | str, topics: Iterable[str], partitions: int, replication: int = 1
) -> None:
    """Creates the topics that do not exist yet; existing ones are left as they are."""
    keeper = TopicKeeper(broker, partitions, replication)
    try:
        await keeper.ensure(topics)
    finally:
        await keeper.close()


def subscription_pattern(topics: Iterable[str]) -> str:
    """A regular expression matching exactly ``topics``: a pattern subscription reads all-topics
    metadata, so a missing topic is not auto-created by the consumer at the broker's defaults."""
    return "^(?:" + "|".join(re.escape(t) for t in sorted(set(topics))) + ")$"


def new_producer(broker: BrokerAccess | str) -> AIOKafkaProducer:
    # acks=all: a send counts only once every in-sync replica has it. The idempotent producer
    # would be better still but Tansu cannot grant producer ids; consumers dedupe by ce_id anyway.
    # zstd, not gzip: aiokafka compresses gzip at level 9, which was 9 % of the router's CPU;
    # zstd produced as fast as no compression here (docs/benchmarks.md).
    return AIOKafkaProducer(
        **BrokerAccess.of(broker).client_options(),
        acks="all",
        compression_type="zstd",
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


# --- Outbox -------------------------------------------------------------------------------------
class Outbox:
    """The one way a service emits an event: encoded as a CloudEvent from the service's source and
    added to its outbox table in the caller's transaction, so the event exists exactly when the
    state it describes does. ``OutboxRelay`` publishes it after the commit."""

    def __init__(self, table: Table, source: str) -> None:
        self.table = table
        self.source = source

    def message(
        self, event: Event, *, topic: str, key: str, subject: str | None = None, time: datetime | None = None
    ) -> OutgoingMessage:
        return encode(event, topic=topic, source=self.source, subject=subject, key=key, time=time)

    async def emit(
        self,
        session: AsyncSession,
        event: Event,
        *,
        topic: str,
        key: str,
        subject: str | None = None,
        time: datetime | None = None,
    ) -> None:
        await self.emit_all(session, [self.message(event, topic=topic, key=key, subject=subject, time=time)])

    async def emit_all(self, session: AsyncSession, messages: Iterable[OutgoingMessage]) -> None:
        """Several messages in one INSERT, in the order given (the relay publishes by id)."""
        rows = [
            {
                "topic": m.topic,
                "key": m.key,
                "headers": json.dumps(m.headers, ensure_ascii=False),
                "value": m.value.decode(),
                "created_at": utcnow(),
            }
            for m in messages
        ]
        if rows:
            session.info[_OUTBOX_WRITTEN] = True  # so a consumer wakes the relay after the commit
            # On the session's connection, not through the ORM's execute: the rows need no flush
            # of the session's objects before them (they are flushed by the commit), and the ORM's
            # path cost more CPU than the INSERT.
            await (await session.connection()).execute(insert(self.table), rows)


_OUTBOX_WRITTEN = "xiaoer.outbox_written"


def wrote_outbox(session: AsyncSession) -> bool:
    """Whether anything was added to the outbox in ``session``."""
    return session.info.get(_OUTBOX_WRITTEN, False)


class OutboxLease:
    """The right to publish one outbox: only its holder relays (see ``OutboxRelay``)."""

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
        self._conn: AsyncConnection | None = None

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
        except BaseException:
            await self.release()
            raise
        return self.held

    @contextlib.asynccontextmanager
    async def connection(self):
        assert self.held and self._conn is not None, "work only while holding the lease"
        yield self._conn

    async def release(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
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
    came back empty), with the configured partitions. Sent rows are kept for ``retention`` (so
    ``xiaoer outbox republish`` can send a time range again), then pruned by the active relay.

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
                    try:
                        await asyncio.wait_for(self.wakeup.wait(), timeout=wait)
                    except TimeoutError:
                        pass
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
        OUTBOX_RELAY_ACTIVE.labels(self.name).set(0)

    async def relay_once(self) -> int:
        """Publishes the lowest unsent rows (one batch) and marks them sent; the lease's holder only."""
        producer = await self._get_producer()
        assert self._lease is not None
        async with self._lease.connection() as conn:
            async with conn.begin():
                query = select(self.outbox).where(self.outbox.c.sent_at.is_(None)).order_by(self.outbox.c.id)
                rows = (await conn.execute(query.limit(self.batch_size))).mappings().all()
            if not rows:
                return 0
            await self.topics.ensure({row["topic"] for row in rows})
            # Send the whole batch, then wait for every acknowledgement; per-key order holds
            # because one producer sends to one partition per key in order.
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
            await asyncio.gather(*futures)
            async with conn.begin():
                ids = [row["id"] for row in rows]
                await conn.execute(update(self.outbox).where(self.outbox.c.id.in_(ids)).values(sent_at=utcnow()))
        for row in rows:
            EVENTS_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

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


# --- Consumer -----------------------------------------------------------------------------------
Handler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]


@dataclass(frozen=True)
class BatchHandler:
    """A handler given every event it handles that comes in a row in one fetched batch, in order,
    in the batch's transaction: it can write their rows with one statement each instead of
    several per event (the router routing a backlog of submissions, intake's timeline entries).
    Register the same instance for several types to be given runs of them all. A single event
    comes as a list of one."""

    apply: Callable[[AsyncSession, list[ReceivedEvent]], Awaitable[None]]


class NotYetKnown(Exception):
    """The event refers to something this service has not seen yet, which another topic (read by
    another consumer, so in no guaranteed order) will bring: retried like any transient failure,
    never dead-lettered."""


class EventConsumer:
    """Consumes topics in a consumer group and applies each event exactly once to the database.

    ``handlers`` maps ``ce_type`` to a coroutine (or a ``BatchHandler``) run inside the
    transaction that also records the event id; types with no handler are recorded and skipped
    (a consumer reads only what it needs). The records a fetch brings for one partition are applied in one transaction
    (``_apply_together``), falling back to one transaction per record when any of them fails.
    Offsets are committed after the batch's transactions, never before.

    Failures come in two kinds. A ``PoisonMessage`` (from ``decode`` or a handler) can never be
    applied: it goes to the DLQ and the consumer goes on. Anything else (database or broker away,
    timeouts, deadlocks, ``NotYetKnown``) is transient: the consumer seeks back to the first record
    not yet applied, backs off and tries that record again until it goes through, reporting itself
    stalled (``stalled``, ``last_error``, the ``xiaoer_consumer_stalled`` gauge) meanwhile.
    """

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        group_id: str,
        broker: BrokerAccess | str,
        sessions: async_sessionmaker[AsyncSession],
        processed: Table,
        handlers: dict[str, Handler | BatchHandler],
        after_commit: Callable[[], None] | None = None,
        initial_backoff: float = 0.2,
        max_backoff: float = 10.0,
        partitions: int = 3,
        replication: int = 1,
        metadata_max_age_ms: int = 5_000,
        assignment_grace: float = 15.0,
        reconnect_after: int = 5,
        fetch_max_wait_ms: int = 50,
    ) -> None:
        self.name = name
        self.topics = topics
        # How long a fetch waits for records when there are none. Apache Kafka answers a waiting
        # fetch as soon as a record arrives; the embedded broker (Tansu) answers only when this
        # runs out, so aiokafka's default of 500 ms would add up to half a second to every hop.
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.group_id = group_id
        self.broker = BrokerAccess.of(broker)
        self.sessions = sessions
        self.processed = processed
        self.handlers = handlers
        # Called after a commit that added outbox rows (the relay's wake-up); a batch that only
        # updated a read model wakes nothing.
        self.after_commit = after_commit
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.metadata_max_age_ms = metadata_max_age_ms  # how soon new or re-created topics are seen
        self.assignment_grace = assignment_grace  # a rebalance may leave it without partitions this long
        self.reconnect_after = reconnect_after  # consecutive broker errors before a fresh consumer
        self.topic_keeper = TopicKeeper(self.broker, partitions, replication)  # for its DLQ topics
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.stalled = False  # True from a transient failure until the record it hit is applied
        self.last_error: str | None = None
        self._stuck_at: tuple[TopicPartition, int] | None = None  # the record that failed, if known
        self._failures = 0  # consecutive transient failures: the backoff's exponent
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._covered_at = time.monotonic()  # last seen owning a partition of every topic it reads
        self._partition_counts: dict[str, int] = {}  # of the topics it reads: the most seen since connecting
        CONSUMER_STALLED.labels(name).set(0)

    @property
    def healthy(self) -> bool:
        return not self.stalled

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset of ``partition`` (None before anything is committed)."""
        assert self._consumer is not None, "the consumer is not running"
        return await self._consumer.committed(partition)

    def assignment_problem(self) -> str | None:
        """Why this consumer reads less than it should, or None: it never joined its group, or for
        longer than ``assignment_grace`` it has owned no partition of a topic it reads (the topic
        missing on the broker, or the group not settled). Runs with more members than a topic has
        partitions leave some without one: run at most as many as the topics' partitions."""
        consumer = self._consumer
        if consumer is None or not self.ready.is_set():
            return "not joined to its group yet"
        owned = {tp.topic for tp in consumer.assignment()}
        unowned = [t for t in self.topics if t not in owned]
        if not unowned or time.monotonic() - self._covered_at < self.assignment_grace:
            return None
        absent = [t for t in unowned if t not in consumer.subscription()]
        return f"owns no partition of {', '.join(unowned)}" + (
            f" (not on the broker: {', '.join(absent)})" if absent else ""
        )

    async def run(self) -> None:
        try:
            while True:
                consumer = await self._connect()
                try:
                    while True:
                        try:
                            await self._poll_once(consumer)
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:  # whatever it is, the task lives on: back off, try again
                            await self._back_off(exc)
                            if isinstance(exc, KafkaError) and self._failures % self.reconnect_after == 0:
                                # The broker keeps failing us: start afresh (a new connection and
                                # group membership; the committed offsets say where to resume).
                                log.warning("consumer.reconnecting", consumer=self.name, failures=self._failures)
                                CONSUMER_REJOINS.labels(self.name, "broker_errors").inc()
                                break
                        if self._partitions_grew(consumer):
                            # aiokafka sees it and rejoins, but Tansu (0.6) answers a member that rejoins
                            # unchanged with the old assignment: a new member makes the group assign afresh.
                            log.info("consumer.partitions_added", consumer=self.name)
                            CONSUMER_REJOINS.labels(self.name, "partitions_added").inc()
                            break
                finally:
                    await self._disconnect()
        finally:
            CONSUMER_STALLED.labels(self.name).set(0)
            await self.topic_keeper.close()

    def _partitions_grew(self, consumer: AIOKafkaConsumer) -> bool:
        """Whether a topic it reads has more partitions than it ever had since this consumer
        connected: partitions added, or the topic re-created larger (also when the consumer saw
        it gone in between: the largest count seen is kept, not the last)."""
        grew = False
        for topic in self.topics:
            now, before = len(consumer.partitions_for_topic(topic) or ()), self._partition_counts.get(topic, 0)
            grew = grew or 0 < before < now
            self._partition_counts[topic] = max(before, now)
        return grew

    async def _connect(self) -> AIOKafkaConsumer:
        """Starts a consumer and the DLQ producer, retrying with back-off while the broker is
        away (at start-up too): the task never ends for that, it reports itself stalled."""
        while True:
            consumer = AIOKafkaConsumer(
                **self.broker.client_options(),
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=200,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                metadata_max_age_ms=self.metadata_max_age_ms,
            )
            self._consumer, self._producer = consumer, new_producer(self.broker)
            try:
                await consumer.start()
                # By pattern, not by name: see TopicKeeper. Re-created topics and added partitions
                # are seen at the next metadata refresh and rebalance the group.
                consumer.subscribe(pattern=subscription_pattern(self.topics))
                await self._producer.start()
                self._covered_at = time.monotonic()
                self._partition_counts = {}  # a new consumer's first look sets them
                return consumer
            except asyncio.CancelledError:
                await self._disconnect()
                raise
            except Exception as exc:
                await self._disconnect()
                await self._back_off(exc)

    async def _disconnect(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        for client in (consumer, producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=500)
        if consumer.assignment():
            self.ready.set()
        if {tp.topic for tp in consumer.assignment()} >= set(self.topics):
            self._covered_at = time.monotonic()
        # Where each partition must be read from again if this batch stops early: its first
        # record not yet applied (or dead-lettered). getmany has already moved the fetch positions
        # past the whole batch, so without a seek back the rest would be skipped for good.
        resume_at = {tp: records[0].offset for tp, records in batch.items()}
        try:
            for tp, records in batch.items():
                if tp not in consumer.assignment():
                    del resume_at[tp]
                    continue  # revoked by a rebalance: its new owner reads these again
                if await self._apply_together(records):
                    resume_at[tp] = records[-1].offset + 1
                else:
                    for record in records:
                        await self._apply(record)
                        resume_at[tp] = record.offset + 1
                await self._commit(consumer, tp, resume_at.pop(tp))
        except Exception:
            # Partitions are handled in order: the first one left is where it failed.
            self._stuck_at = next(iter(resume_at.items()), None)
            await self._keep_place(consumer, resume_at, batch)
            raise
        self._note_progress(consumer, batch)

    async def _apply_together(self, records: list[ConsumerRecord]) -> bool:
        """Applies a partition's fetched records in one transaction: one commit (and one relay
        wake-up) for the lot instead of one per event. Events already processed (a redelivery)
        are skipped by id, as ``handle`` skips them one at a time. All or nothing: if anything
        fails — a record that is not a CloudEvent, a handler refusing one (``PoisonMessage``), or
        anything transient — nothing of the batch is kept and False says so; the caller then
        applies the records one by one, which dead-letters exactly the poison ones and stops at
        exactly the record a transient failure is about."""
        if len(records) < 2:
            return False
        try:
            received = [decode(record) for record in records]
        except PoisonMessage:
            return False
        outcomes: list[str] = []
        try:
            async with self.sessions() as session, session.begin():
                # Recorded and told apart from those processed before in one statement.
                now = utcnow()
                rows = [{"consumer": self.name, "event_id": e.id, "processed_at": now} for e in received]
                new = {
                    event_id
                    for _, event_id in await db.insert_new(session, self.processed, rows, ["consumer", "event_id"])
                }
                fresh: list[ReceivedEvent] = []
                for event in received:
                    if event.id in new:
                        new.discard(event.id)  # the same event twice in one batch: applied once
                        fresh.append(event)
                    else:
                        outcomes.append("duplicate")
                outcomes += await self._run_handlers(session, fresh)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one by one, each failure gets its usual treatment
            log.info("consumer.batch_retried_one_by_one", consumer=self.name, records=len(records), error=repr(exc))
            return False
        if self.after_commit is not None and wrote_outbox(session):
            self.after_commit()
        for outcome in outcomes:
            EVENTS_CONSUMED.labels(self.name, outcome).inc()
        return True

    async def _run_handlers(self, session: AsyncSession, received: list[ReceivedEvent]) -> list[str]:
        """Runs each event's handler in order (a ``BatchHandler`` once for each run of events it
        handles); the outcome of each event."""
        outcomes: list[str] = []
        for handler, run in itertools.groupby(received, key=lambda event: self.handlers.get(event.type)):
            in_a_row = list(run)
            if isinstance(handler, BatchHandler):
                await handler.apply(session, in_a_row)
            elif handler is not None:
                for event in in_a_row:
                    await handler(session, event)
            outcomes += ["handled" if handler else "ignored"] * len(in_a_row)
        return outcomes

    async def _apply(self, record: ConsumerRecord) -> None:
        """Applies one record or dead-letters it if it is poison; any other error propagates."""
        try:
            outcome = await self.handle(record)
        except PoisonMessage as exc:
            await self._dead_letter(record, str(exc))  # if this send fails, that is transient too
            outcome = "dead_letter"
        EVENTS_CONSUMED.labels(self.name, outcome).inc()

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # The partition moved during the batch. Its new owner re-reads from the last
            # committed offset; processed_events makes that redelivery change nothing.
            log.info("consumer.commit_skipped_rebalance", consumer=self.name, partition=str(tp), error=repr(exc))

    async def _keep_place(self, consumer: AIOKafkaConsumer, resume_at: dict[TopicPartition, int], batch: dict) -> None:
        """After a failure: commit what the failing partition did apply (so dead letters are not
        sent twice), and seek every unfinished partition back to its first unapplied record."""
        for tp, offset in resume_at.items():
            if offset > batch[tp][0].offset:
                with contextlib.suppress(Exception):  # best effort: re-reading is harmless anyway
                    await consumer.commit({tp: offset})
            try:
                consumer.seek(tp, offset)
            except IllegalStateError:
                pass  # no longer ours: its new owner starts from the last committed offset

    async def _back_off(self, exc: Exception) -> None:
        self._failures += 1
        delay = min(self.max_backoff, self.initial_backoff * 2 ** (self._failures - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: instances hit by one outage do not retry in step
        self.stalled = True
        self.last_error = f"{type(exc).__name__}: {exc}"
        CONSUMER_STALLED.labels(self.name).set(1)
        CONSUMER_TRANSIENT_FAILURES.labels(self.name).inc()
        log.warning(
            "consumer.transient_failure",
            consumer=self.name,
            partition=f"{self._stuck_at[0].topic}-{self._stuck_at[0].partition}" if self._stuck_at else None,
            offset=self._stuck_at[1] if self._stuck_at else None,
            failures=self._failures,
            error=self.last_error,
            retry_in=round(delay, 2),
        )
        await asyncio.sleep(delay)

    def _note_progress(self, consumer: AIOKafkaConsumer, batch: dict) -> None:
        """A batch went through. The consumer has recovered once the record it was stuck on has
        been applied: its partition came back in a batch, or is no longer this consumer's."""
        if not self.stalled:
            return
        stuck = self._stuck_at[0] if self._stuck_at else None
        if stuck is not None and stuck in consumer.assignment() and stuck not in batch:
            return  # not read again yet (the broker may be away too)
        log.info("consumer.recovered", consumer=self.name, failures=self._failures)
        self.stalled = False
        self.last_error = None
        self._stuck_at = None
        self._failures = 0
        CONSUMER_STALLED.labels(self.name).set(0)

    async def handle(self, record: ConsumerRecord) -> str:
        received = decode(record)
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    insert(self.processed).values(consumer=self.name, event_id=received.id, processed_at=utcnow())
                )
                [outcome] = await self._run_handlers(session, [received])
        except IntegrityError:
            if await self._already_processed(received.id):
                return "duplicate"
            raise
        if self.after_commit is not None and wrote_outbox(session):
            self.after_commit()
        return outcome

    async def _already_processed(self, event_id: str) -> bool:
        async with self.sessions() as session:
            found = await session.execute(
                select(self.processed.c.id).where(
                    self.processed.c.consumer == self.name, self.processed.c.event_id == event_id
                )
            )
            return found.first() is not None

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        log.error("consumer.dead_letter", consumer=self.name, topic=record.topic, offset=record.offset, error=error)
        headers = [
            *list(record.headers or ()),
            ("x-error", error[:4000].encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer", self.name.encode()),
        ]
        assert self._producer is not None
        await self.topic_keeper.ensure([dlq(record.topic)])  # never auto-created at the broker's defaults
        await self._producer.send_and_wait(dlq(record.topic), record.value, key=record.key, headers=headers)


async def ping(broker: BrokerAccess | str) -> None:
    """Raises unless the broker answers a metadata request (after logging in, where it asks to)."""
    admin = AIOKafkaAdminClient(**BrokerAccess.of(broker).client_options(), request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=3)
        await asyncio.wait_for(admin.list_topics(), timeout=3)
    finally:
        await admin.close()
