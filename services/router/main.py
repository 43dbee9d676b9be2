"""Assembles router: its runtime (database, outbox relay, consumer) and its HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared import events
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web import create_app

from . import api, registry, worker
from .models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


class RouterRuntime(ServiceRuntime):
    async def start_workers(self) -> None:
        # Every active unit's inbox must exist before the relay publishes to it.
        async with self.sessions() as session:
            self.require_topics(await registry.inbox_topics(session))
        await super().start_workers()


def build_runtime(settings: Settings) -> ServiceRuntime:
    runtime = RouterRuntime("router", settings, Base.metadata, MIGRATIONS)
    runtime.require_topics([events.WORKITEMS_EVENTS])
    runtime.add_consumer(
        name="router.dispatch", topics=[events.REQUESTS_SUBMITTED], handlers=worker.dispatch_handlers(settings)
    )
    runtime.add_consumer(
        name="router.actions",
        topics=[events.REQUESTS_UPDATES, events.DEPT_RESPONSES, events.SLA_EVENTS],
        handlers=worker.action_handlers(settings),
    )
    return runtime


def build_app(runtime: ServiceRuntime, *, workers: bool = False) -> FastAPI:
    app = create_app(
        service="router",
        settings=runtime.settings,
        title="xiaoer router",
        description="派单与工单办理。Routing rules, department units and the work-item life cycle.",
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan(workers=workers),
    )
    app.state.runtime = runtime
    app.include_router(api.router)
    return app
