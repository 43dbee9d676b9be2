"""Assembles notifier: its runtime (database, outbox relay, consumer, scheduler) and its app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared import events
from shared.clock import SHANGHAI, utcnow
from shared.runtime import ServiceRuntime
from shared.web import create_app

from . import api, api_countdowns, api_messages, api_overdue, api_supervisions, worker
from .calendar import new_calendar, refresh, warnings
from .channels import Channels
from .models import Base
from .scheduler import Scheduler
from .settings import NotifierSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def load_settings(**overrides) -> NotifierSettings:
    """notifier's settings from the environment (``XIAOER_*``), with ``overrides`` on top."""
    return NotifierSettings(**overrides)


class NotifierRuntime(ServiceRuntime):
    def __init__(self, settings: NotifierSettings) -> None:
        super().__init__("notifier", settings, Base.metadata, MIGRATIONS)
        self.calendar = new_calendar(settings)
        self.scheduler = Scheduler(self.sessions, self.calendar, settings, Channels(settings), self.relay.notify)

    async def load_calendar(self) -> None:
        async with self.sessions() as session:
            await refresh(session, self.calendar)

    async def start_workers(self) -> None:
        await self.load_calendar()
        await super().start_workers()
        if self.settings.scheduler_enabled:
            self._spawn(self.scheduler.run(), "notifier.scheduler")

    def warnings(self) -> list[str]:
        return warnings(self.calendar, utcnow().astimezone(SHANGHAI).date())


def build_runtime(settings: NotifierSettings) -> NotifierRuntime:
    runtime = NotifierRuntime(settings)
    runtime.require_topics([events.NOTIFICATIONS, events.SLA_EVENTS])
    runtime.add_consumer(
        name="notifier.sla",
        topics=[events.WORKITEMS_EVENTS, events.USERS_EVENTS, events.REGISTRY_EVENTS],
        handlers=worker.handlers(runtime.calendar, settings),
    )
    return runtime


def build_app(runtime: ServiceRuntime, *, workers: bool = False) -> FastAPI:
    return create_app(
        runtime,
        title="xiaoer notifier",
        description=(
            "按中国工作日计时、催办、督办与统计。"
            "SLA clocks in Chinese working days, reminders, escalation and statistics."
        ),
        routers=[api.router, api_countdowns.router, api_overdue.router, api_supervisions.router, api_messages.router],
        workers=workers,
        warnings=runtime.warnings,
    )


__all__ = ["NotifierRuntime", "build_app", "build_runtime"]
