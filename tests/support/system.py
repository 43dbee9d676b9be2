"""The running system the tests talk to (the services' real apps and workers), the settings a
test service runs with, and the people who use it: ``system.enterprise().submit(...)``,
``system.clerk("440112.tax").act(item_id, "acknowledge")``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from services.intake import main as intake_main
from services.notifier import main as notifier_main
from services.router import main as router_main
from services.router import registry
from services.router.models import WorkItem
from shared.auth import mint_token
from shared.settings import SERVICES, Settings
from tests.support.actors import Admin, Clerk, Enterprise, Supervisor
from tests.support.data import MINGLUO
from tests.support.waiting import eventually

BUILDERS = {"intake": intake_main, "router": router_main, "notifier": notifier_main}


def settings_fields(var_dir: Path, bootstrap: str, urls: dict[str, str], **extra) -> dict:
    """What the tests set, for every service alike (each takes the fields it knows)."""
    return dict(
        _env_file=None,
        var_dir=var_dir,
        kafka_bootstrap_servers=bootstrap,
        kafka_group_prefix=f"test-{uuid.uuid4().hex[:6]}",
        kafka_topic_partitions=3,
        outbox_poll_seconds=0.1,
        # One test process runs every service and the browser on one event loop: a group member
        # held up by a heavy test step must not lose its partitions (the production default is
        # 2 s, for a fast takeover after a crash: tests/faults/test_router_takeover.py).
        kafka_session_timeout_ms=10_000,
        kafka_heartbeat_interval_ms=1_000,
        jwt_secret="test-signing-key-not-for-production",
        log_json=False,
        files_dir=var_dir / "files",
        **{f"{name}_database_url": url for name, url in urls.items()},
        **extra,
    )


def make_settings(service: str, var_dir: Path, bootstrap: str, urls: dict[str, str], **extra) -> Settings:
    return BUILDERS[service].load_settings(**settings_fields(var_dir, bootstrap, urls, **extra))


@dataclass
class System:
    settings: Settings
    runtimes: dict
    clients: dict[str, httpx.AsyncClient]

    @property
    def intake(self) -> httpx.AsyncClient:
        return self.clients["intake"]

    @property
    def router(self) -> httpx.AsyncClient:
        return self.clients["router"]

    @property
    def notifier(self) -> httpx.AsyncClient:
        return self.clients["notifier"]

    def token(self, role: str, **claims) -> str:
        return mint_token(self.settings, role=role, **claims)

    def auth(self, role: str, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    # --- the people ------------------------------------------------------------------------------
    def enterprise(self, uscc: str = MINGLUO) -> Enterprise:
        return Enterprise(self, uscc)

    def clerk(self, unit: str) -> Clerk:
        return Clerk(self, unit)

    def supervisor(self, region: str) -> Supervisor:
        return Supervisor(self, region)

    def admin(self, region: str | None = None) -> Admin:
        return Admin(self, region)

    # --- what the router holds (read from its database, as no person's API shows it whole) -------
    async def routed_items(self, request_id: str, count: int) -> list[WorkItem]:
        """The request's work items in the router, once there are ``count``."""

        async def routed():
            async with self.runtimes["router"].sessions() as session:
                rows = list(await session.scalars(select(WorkItem).where(WorkItem.request_id == request_id)))
                return rows if len(rows) == count else None

        return await eventually(routed)

    async def routed_item(self, request_id: str, unit_code: str) -> dict:
        """The one work item of a one-item request, checked to be at ``unit_code``: its id."""
        [item] = await self.routed_items(request_id, 1)
        assert item.unit_code == unit_code
        return {"id": item.id}


async def start_system(fields: dict, consumer_timeout: float = 60) -> System:
    """The three services in this process, as ``settings_fields`` configures them: migrated, the
    demo registry loaded (its supervising offices left to the tests that count them), workers
    started and every consumer joined, each app behind an HTTP client."""
    runtimes = {name: BUILDERS[name].build_runtime(BUILDERS[name].load_settings(**fields)) for name in SERVICES}
    for runtime in runtimes.values():
        await runtime.migrate()
    async with runtimes["router"].sessions() as session, session.begin():
        await registry.load_registry(session, {**registry.demo_registry(), "supervisors": []})
    for runtime in runtimes.values():
        await runtime.start_workers()
    for runtime in runtimes.values():
        for consumer in runtime.consumers:
            await asyncio.wait_for(consumer.ready.wait(), timeout=consumer_timeout)
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=BUILDERS[name].build_app(r)), base_url=f"http://{name}"
        )
        for name, r in runtimes.items()
    }
    return System(Settings(**fields), runtimes, clients)  # Settings: what every service shares


async def stop_system(system: System) -> None:
    for client in system.clients.values():
        await client.aclose()
    for runtime in system.runtimes.values():
        await runtime.stop()
