"""The notifier's clockwork. Each tick fires the timers that are due and delivers the
notifications that are ready; both claim rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
SQLite every write transaction is serialised), so two notifier instances never fire a timer or
send a notification twice. ``now`` is a parameter: tests drive the clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow

from . import calendar as work_calendar
from . import day_counts, messages, metrics, notify
from .channels import Channels
from .models import Notification, SlaRecord, SlaTimer
from .settings import NotifierSettings
from .workcal import WorkingCalendar

log = structlog.get_logger(__name__)
TIMERS_FIRED = Counter("xiaoer_sla_timers_fired_total", "SLA timers fired", ["kind"])
NOTIFICATIONS = Counter("xiaoer_notifications_total", "Notification attempts", ["channel", "outcome"])
TICK_SECONDS = Histogram("xiaoer_scheduler_tick_seconds", "Duration of one scheduler tick")


def _locking(session: AsyncSession, query):
    return query.with_for_update(skip_locked=True) if session.bind.dialect.name == "postgresql" else query


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: WorkingCalendar,
        settings: NotifierSettings,
        channels: Channels,
        on_outbox=None,
    ) -> None:
        self.sessions = sessions
        self.calendar = calendar
        self.settings = settings
        self.channels = channels
        self.on_outbox = on_outbox or (lambda: None)
        self.counted_at = float("-inf")  # time.monotonic() of the last day_counts.count_records

    async def fire_due_timers(self, now: datetime) -> int:
        """Turns every due timer into notifications, once. Costs what is due, not what is open:
        the query walks the partial index on pending timers' fire_at."""
        async with self.sessions() as session, session.begin():
            await work_calendar.refresh(session, self.calendar)  # officials' business hours, holidays
            query = (
                select(SlaTimer)
                .where(SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None), SlaTimer.fire_at <= now)
                .order_by(SlaTimer.fire_at, SlaTimer.id)
                .limit(self.settings.scheduler_batch_size)
            )
            timers = list(await session.scalars(_locking(session, query)))
            ids = {t.work_item_id for t in timers}
            records = (
                {
                    r.work_item_id: r
                    for r in await session.scalars(select(SlaRecord).where(SlaRecord.work_item_id.in_(ids)))
                }
                if ids
                else {}
            )
            made, known = [], {}  # the tick's notifications, one INSERT; recipients looked up once each
            for timer in timers:
                timer.fired_at = now
                record = records.get(timer.work_item_id)
                if record is None or not notify.timer_still_applies(record, timer.kind):
                    continue
                TIMERS_FIRED.labels(timer.kind).inc()
                messages = notify.timer_messages(record, timer.kind)
                made += await notify.rows(
                    session, self.calendar, record, timer.kind, messages, f"timer:{timer.id}", now, known
                )
            await notify.insert(session, made)
        return len(timers)

    async def deliver(self, now: datetime) -> int:
        """Sends ready notifications, all channels at once so a slow or failing one holds back
        no other; failures are retried with doubling back-off, then marked failed."""
        async with self.sessions() as session, session.begin():
            query = (
                select(Notification)
                .where(Notification.status == "pending", Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(self.settings.scheduler_batch_size)
            )
            ready = list(await session.scalars(_locking(session, query)))
            outside = [n for n in ready if n.channel != "topic"]
            outcomes = await self._send_all(outside)
            published = []
            for notification, error in [
                *zip(outside, outcomes, strict=True),
                *((n, None) for n in ready if n.channel == "topic"),
            ]:
                notification.attempts += 1
                if error is None:
                    notification.status, notification.sent_at, notification.last_error = "sent", now, None
                    if notification.channel == "topic":
                        published.append(notification)
                else:
                    notification.last_error = error
                    if notification.attempts >= self.settings.notification_max_attempts:
                        notification.status = "failed"
                    else:
                        delay = self.settings.notification_retry_seconds * 2 ** (notification.attempts - 1)
                        notification.next_attempt_at = now + timedelta(seconds=delay)
                NOTIFICATIONS.labels(notification.channel, "sent" if error is None else "failed").inc()
            await messages.notifications_published(session, published, now)
        if published:
            self.on_outbox()
        return len(ready)

    async def _send_all(self, notifications: list[Notification]) -> list[str | None]:
        """Recipients are served side by side (a slow mail server delays no webhook), and each
        recipient's messages in the order they were created."""
        by_recipient: dict[tuple[str, str], list[int]] = {}
        for index, n in enumerate(notifications):
            by_recipient.setdefault((n.channel, n.address), []).append(index)
        outcomes: list[str | None] = [None] * len(notifications)

        async def in_order(indexes: list[int]) -> None:
            for index in indexes:
                outcomes[index] = await self._attempt(notifications[index])

        await asyncio.gather(*(in_order(indexes) for indexes in by_recipient.values()))
        return outcomes

    async def _attempt(self, notification: Notification) -> str | None:
        try:
            await self.channels.send(notification)
            return None
        except Exception as exc:  # any channel failure is recorded and retried, never raised
            log.warning("notification.failed", id=notification.id, channel=notification.channel, error=str(exc))
            return f"{type(exc).__name__}: {exc}"

    async def tick(self, now: datetime | None = None) -> tuple[int, int]:
        now = now or utcnow()
        with TICK_SECONDS.time():
            fired = await self.fire_due_timers(now)
            sent = await self.deliver(now)
        await metrics.refresh(self.sessions, now)  # the SLA gauges, at most every 30 s
        if time.monotonic() - self.counted_at >= self.settings.stats_count_seconds:
            counted = await day_counts.count_records(self.sessions, self.calendar)
            # A backlog (after an upgrade, a new calendar year) is counted on at every tick.
            self.counted_at = float("-inf") if counted >= day_counts.BACKLOG else time.monotonic()
        return fired, sent

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup must not stop the clocks for good
                log.error("scheduler.tick_failed", error=repr(exc))
            await asyncio.sleep(self.settings.scheduler_tick_seconds)


def notification_out(n: Notification) -> dict:
    return {
        "id": n.id,
        "kind": n.kind,
        "work_item_id": n.work_item_id,
        "recipient_kind": n.recipient_kind,
        "channel": n.channel,
        "address": n.address,
        "title": n.title,
        "body": n.body,
        "urgent": n.urgent,
        "status": n.status,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "created_at": n.created_at.isoformat(),
        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        "next_attempt_at": n.next_attempt_at.isoformat(),
    }


__all__ = ["Scheduler", "notification_out"]
