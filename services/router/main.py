"""Assembles router: its runtime (database, outbox relay, consumer) and its HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared import events
from shared.runtime import ServiceRuntime
from shared.web import create_app

from . import registry, worker
from .api import (
    assignment,
    comments,
    credit_coverage,
    departments,
    documents,
    extensions,
    routing,
    shares,
    templates,
    verifications,
    workitems,
)
from .settings import RouterSettings
from .tables import metadata

MIGRATIONS = Path(__file__).parent / "migrations"


def load_settings(**overrides) -> RouterSettings:
    """router's settings from the environment (``XIAOER_*``), with ``overrides`` on top."""
    return RouterSettings(**overrides)


class RouterRuntime(ServiceRuntime):
    async def start_workers(self) -> None:
        # Every active unit's inbox must exist before the relay publishes to it.
        async with self.sessions() as session:
            self.require_topics(await registry.inbox_topics(session))
        await super().start_workers()


def build_runtime(settings: RouterSettings) -> ServiceRuntime:
    runtime = RouterRuntime("router", settings, metadata, MIGRATIONS)
    runtime.require_topics([events.WORKITEMS_EVENTS, events.REGISTRY_EVENTS, events.DOCUMENTS_EVENTS])
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
    return create_app(
        runtime,
        title="xiaoer router",
        description="派单与工单办理。Routing rules, department units and the work-item life cycle.",
        routers=[
            comments.router,  # before workitems': its POST /workitems/{id}/{action} would take /comments
            assignment.router,  # before workitems': its paths would otherwise match /workitems/{item_id}/{action}
            workitems.router,
            extensions.router,
            routing.router,
            departments.router,
            credit_coverage.router,
            verifications.router,
            documents.router,
            shares.router,
            templates.router,
        ],
        workers=workers,
    )
