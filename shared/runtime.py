"""One service's moving parts, started and stopped together: its database engine, its outbox
relay and its event consumers. The HTTP app and the background workers of a service share one
runtime when they run in one process (``xiaoer serve``), or each has its own (``xiaoer api`` /
``xiaoer worker``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from sqlalchemy import MetaData

from shared import db, tracing
from shared.events import dlq
from shared.messaging.applying import BatchHandler, Handler
from shared.messaging.broker import BrokerAccess, ping
from shared.messaging.consumer import EventConsumer
from shared.messaging.metrics import DEPENDENCY_UP
from shared.messaging.relay import OutboxRelay
from shared.messaging.topics import TopicKeeper, ensure_topics
from shared.settings import Service, Settings

log = structlog.get_logger(__name__)


class ServiceRuntime:
    def __init__(self, name: Service, settings: Settings, metadata: MetaData, migrations_dir: Path) -> None:
        self.name = name
        self.settings = settings
        tracing.setup(settings, name)
        self.migrations_dir = migrations_dir
        self.database_url = settings.database_url
        self.engine = db.create_engine(
            self.database_url, pool_size=settings.database_pool_size, pool_overflow=settings.database_pool_overflow
        )
        self.sessions = db.session_factory(self.engine)
        self.outbox = metadata.tables["outbox"]
        self.broker = BrokerAccess.from_settings(settings)
        self.processed = metadata.tables["processed_events"]
        self.relay = OutboxRelay(
            name=name,
            sessions=self.sessions,
            outbox=self.outbox,
            broker=self.broker,
            poll_seconds=settings.outbox_poll_seconds,
            batch_size=settings.outbox_batch_size,
            partitions=settings.kafka_topic_partitions,
            replication=settings.kafka_replication_factor,
            fence_every=settings.outbox_fence_every,
            loss_check_seconds=settings.outbox_loss_check_seconds,
        )
        self.topic_keeper = TopicKeeper(self.broker, settings.kafka_topic_partitions, settings.kafka_replication_factor)
        self.topic_check_seconds = 5.0  # how soon topics lost with the broker are created again
        self.consumers: list[EventConsumer] = []
        self.topics: set[str] = set()  # topics this service needs to exist at start
        self._tasks: list[asyncio.Task] = []

    def add_consumer(
        self, *, name: str, topics: list[str], handlers: dict[str, Handler | BatchHandler]
    ) -> EventConsumer:
        consumer = EventConsumer(
            name=name,
            topics=topics,
            group_id=f"{self.settings.kafka_group_prefix}.{name}",
            broker=self.broker,
            sessions=self.sessions,
            processed=self.processed,
            handlers=handlers,
            after_commit=self.relay.notify,
            partitions=self.settings.kafka_topic_partitions,
            replication=self.settings.kafka_replication_factor,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
        )
        self.consumers.append(consumer)
        self.topics.update(topics)
        self.topics.update(dlq(t) for t in topics)
        return consumer

    def require_topics(self, topics: Iterable[str]) -> None:
        self.topics.update(topics)

    async def migrate(self) -> None:
        await db.upgrade_async(self.migrations_dir, self.database_url)

    async def start_workers(self) -> None:
        """Creates this service's topics, then starts the relay, the consumers and the task that
        keeps the topics there (a broker restarted empty has none). With the broker away this
        does not wait for it: the HTTP side answers (events wait in the outbox), the consumers
        retry and report themselves on /readyz, and the topics are created once it answers."""
        try:
            await self.topic_keeper.ensure(self.topics)
        except Exception as exc:
            log.warning("topics.broker_unavailable", service=self.name, error=f"{type(exc).__name__}: {exc}")
        self._spawn(self.relay.run(), f"{self.name}.relay")
        for consumer in self.consumers:
            self._spawn(consumer.run(), consumer.name)
        self._spawn(self.keep_topics(), f"{self.name}.topics")

    async def keep_topics(self) -> None:
        """Every ``topic_check_seconds``: creates the service's topics the broker lacks, with the
        configured partitions, so that consumers (which subscribe by pattern) find them again."""
        try:
            while True:
                await asyncio.sleep(self.topic_check_seconds)
                try:
                    created = await self.topic_keeper.ensure(self.topics)
                    DEPENDENCY_UP.labels(self.name, "broker").set(1)
                    if created:
                        log.warning("topics.recreated", service=self.name, topics=created)
                except Exception as exc:  # broker away: the consumers and /readyz say so already
                    DEPENDENCY_UP.labels(self.name, "broker").set(0)
                    log.info("topics.check_failed", service=self.name, error=f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(Exception):  # the gauge says it; the workers retry anyway
                    await self.check_database()
        finally:
            await self.topic_keeper.close()

    async def ensure_topics(self) -> None:
        delay = 0.5
        while True:
            try:
                await ensure_topics(
                    self.broker,
                    self.topics,
                    self.settings.kafka_topic_partitions,
                    self.settings.kafka_replication_factor,
                )
                return
            except Exception as exc:  # the broker may still be starting (compose, make run)
                log.warning("topics.broker_unavailable", service=self.name, error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    @property
    def worker_tasks(self) -> list[asyncio.Task]:
        """The relay, consumer and scheduler tasks started in this process, in start order."""
        return list(self._tasks)

    def _spawn(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)

    @staticmethod
    def _report_crash(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("worker.crashed", task=task.get_name(), error=repr(task.exception()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.engine.dispose()

    async def check_database(self) -> None:
        await self._check("database", db.ping(self.engine))

    async def check_broker(self) -> None:
        await self._check("broker", ping(self.broker))

    async def _check(self, dependency: str, check) -> None:
        """Runs a dependency's check and keeps ``xiaoer_dependency_up`` in step with its answer."""
        try:
            await check
        except Exception:
            DEPENDENCY_UP.labels(self.name, dependency).set(0)
            raise
        DEPENDENCY_UP.labels(self.name, dependency).set(1)

    def warnings(self) -> list[str]:
        """Degraded but serving: shown on /readyz, never failing it. The relay republishing what
        the broker lost, and consumers far behind their partitions' ends."""
        found = [w for w in [self.relay.landings.warning()] if w]
        for consumer in self.consumers:
            behind = sum(consumer.lag.values())
            if behind >= self.settings.consumer_lag_warning:
                found.append(f"{consumer.name}: {behind} events behind (xiaoer_consumer_lag)")
        return found

    def lag(self) -> dict[str, dict[str, int]]:
        """Each consumer's lag per partition (``topic/partition``), as its last fetch saw it."""
        return {c.name: {f"{tp.topic}/{tp.partition}": n for tp, n in sorted(c.lag.items())} for c in self.consumers}

    async def check_workers(self) -> None:
        """Fails when a relay, consumer or scheduler started here has stopped, a consumer is
        stuck retrying a record (its database away, say), or a consumer owns no partition of a
        topic it reads (not joined yet, or the topic gone with a broker that restarted empty):
        the HTTP side would otherwise look healthy while nothing moves."""
        problems = []
        dead = [t.get_name() for t in self._tasks if t.done()]
        if dead:
            problems.append(f"stopped: {', '.join(dead)}")
        problems += [f"stalled: {c.name} ({c.last_error})" for c in self.consumers if c.stalled]
        running = [c for c in self.consumers if not c.stalled and self._running(c.name)]
        problems += [f"unassigned: {c.name} ({p})" for c in running if (p := c.assignment_problem())]
        if problems:
            raise RuntimeError("; ".join(problems))

    def _running(self, task_name: str) -> bool:
        return any(t.get_name() == task_name and not t.done() for t in self._tasks)

    def readiness(self) -> dict:
        return {"database": self.check_database, "broker": self.check_broker, "workers": self.check_workers}

    def lifespan(self, *, workers: bool):
        @asynccontextmanager
        async def lifespan(_app):
            if workers:
                await self.start_workers()
            try:
                yield
            finally:
                await self.stop()

        return lifespan
