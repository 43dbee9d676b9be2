"""Assembles notifier: its runtime (database, outbox relay, consumer) and its HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared import events
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web import create_app
from shared.workcal import WorkingCalendar

from . import api, worker
from .models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("notifier", settings, Base.metadata, MIGRATIONS)
    runtime.calendar = WorkingCalendar()
    runtime.require_topics([events.NOTIFICATIONS])
    runtime.add_consumer(
        name="notifier.sla", topics=[events.WORKITEMS_EVENTS], handlers=worker.handlers(runtime.calendar)
    )
    return runtime


def build_app(runtime: ServiceRuntime, *, workers: bool = False) -> FastAPI:
    app = create_app(
        service="notifier",
        settings=runtime.settings,
        title="xiaoer notifier",
        description=(
            "按中国工作日计时、催办、督办与统计。"
            "SLA clocks in Chinese working days, reminders, escalation and statistics."
        ),
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan(workers=workers),
    )
    app.state.runtime = runtime
    app.include_router(api.router)
    return app
