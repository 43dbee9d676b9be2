"""Assembles intake: its runtime (database, outbox relay, consumer) and its HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared import events
from shared.runtime import ServiceRuntime
from shared.web import create_app

from . import api, api_enterprises, api_relations, worker
from .models import Base
from .settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def load_settings(**overrides) -> IntakeSettings:
    """intake's settings from the environment (``XIAOER_*``), with ``overrides`` on top."""
    return IntakeSettings(**overrides)


def build_runtime(settings: IntakeSettings) -> ServiceRuntime:
    runtime = ServiceRuntime("intake", settings, Base.metadata, MIGRATIONS)
    runtime.require_topics([events.REQUESTS_SUBMITTED, events.REQUESTS_UPDATES, events.USERS_EVENTS])
    runtime.add_consumer(
        name="intake.read-model", topics=[events.WORKITEMS_EVENTS, events.SLA_EVENTS], handlers=worker.HANDLERS
    )
    return runtime


def build_app(runtime: ServiceRuntime, *, workers: bool = False) -> FastAPI:
    return create_app(
        runtime,
        title="xiaoer intake",
        description=(
            "提交企业诉求，查看各部门办理进度。Submit enterprise requests and follow every department's progress."
        ),
        routers=[api.router, api_relations.router, api_enterprises.router],
        workers=workers,
    )
