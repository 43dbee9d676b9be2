"""Fault (b): each service's process killed with SIGKILL mid-load, as an OOM kill or a crashed host
would, and started again. The three services run as the operators run them (``xiaoer serve``, one
process each with its relay and consumers) on a broker of their own and real databases (SQLite or
PostgreSQL, as the suite runs), under 5 requests/s. Expected: every 201 becomes exactly one work
item per unit on the unit's topic, with its SLA record and on the enterprise's view, no dead letter
and no notification twice — the outbox holds what a killed process had not yet published, and
consumers that lose their place redo only what ``processed_events`` makes harmless."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from cli.devstack import EmbeddedBroker, free_port
from services.notifier.models import Notification, SlaRecord
from services.router.models import WorkItem
from shared.auth import mint_token
from shared.messaging.dead_letters import dead_letters
from shared.settings import SERVICES, Settings
from tests.support import (
    MINGLUO,
    ServiceProcess,
    certificate_request,
    eventually,
    make_databases,
    unit_topic_deliveries,
)

pytestmark = pytest.mark.faults
# Two department certificates per request (asked of the offices even where the province's 专项信用报告
# would cover them, which `xiaoer seed` configures): two work items on two unit topics.
BUNDLE = certificate_request(items=("tax", "commerce"), certificate_anyway=["tax", "commerce"])


async def test_each_service_killed_mid_load_and_restarted_loses_and_doubles_nothing(tmp_path):
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    databases = await make_databases(tmp_path, list(SERVICES))
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "XIAOER_VAR_DIR": str(tmp_path),
        "XIAOER_FILES_DIR": str(tmp_path / "files"),
        "XIAOER_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "XIAOER_KAFKA_TOPIC_PARTITIONS": "3",
        "XIAOER_OUTBOX_POLL_SECONDS": "0.1",
        "XIAOER_JWT_SECRET": "crash-test-signing-key-0123456789abcdef",
        **{f"XIAOER_{name.upper()}_DATABASE_URL": url for name, url in databases.urls.items()},
        **{f"XIAOER_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    services = {name: ServiceProcess(name, env, ports[name], tmp_path / f"{name}.log") for name in SERVICES}
    intake_url = f"http://127.0.0.1:{ports['intake']}"
    try:
        for command in (["migrate"], ["seed"]):
            command_line = [sys.executable, "-m", "cli", *command]
            await asyncio.to_thread(subprocess.run, command_line, env=env, check=True, capture_output=True)
        for service in services.values():
            service.start()
        for service in services.values():
            await eventually(service.ready, timeout=90)
        settings = Settings(_env_file=None, jwt_secret=env["XIAOER_JWT_SECRET"], var_dir=tmp_path)
        headers = {"Authorization": f"Bearer {mint_token(settings, role='enterprise', usccs=[MINGLUO])}"}
        accepted: list[str] = []
        refused = 0

        intake_back: list[int] = []  # how many were accepted when intake was restarted

        def still_loading(end: float, last: float) -> bool:
            """30 s of load, and on until intake (restarted last) has accepted again: a machine
            under load may need longer than the 13 s left to start it."""
            now = time.monotonic()
            if now >= last:
                return False
            return now < end or not intake_back or len(accepted) <= intake_back[0] + 5

        async def load(seconds: float) -> None:
            nonlocal refused
            end = time.monotonic() + seconds
            async with httpx.AsyncClient(base_url=intake_url, timeout=5) as client:
                while still_loading(end, last=end + 90):
                    try:
                        response = await client.post("/v1/requests", json=BUNDLE, headers=headers)
                    except httpx.HTTPError:
                        refused += 1  # intake itself is down: no 201, nothing promised
                    else:
                        if response.status_code == 201:
                            accepted.append(response.json()["id"])
                        else:
                            refused += 1
                    await asyncio.sleep(0.2)  # 5 requests/s

        loading = asyncio.create_task(load(30))
        crashes = []
        for name, down_for in (("router", 3), ("notifier", 3), ("intake", 2)):
            await asyncio.sleep(3)
            services[name].kill()
            crashes.append(f"{name}@{len(accepted)}")
            await asyncio.sleep(down_for)
            services[name].start()
        accepted_before_intake_came_back = len(accepted)
        intake_back.append(accepted_before_intake_came_back)
        await loading
        restarted = time.monotonic()
        for service in services.values():
            await eventually(service.ready, timeout=90)

        router_db = create_async_engine(databases.urls["router"])
        notifier_db = create_async_engine(databases.urls["notifier"])
        try:

            async def routed() -> dict[str, str] | None:
                async with router_db.connect() as connection:
                    rows = (
                        await connection.execute(
                            select(WorkItem.id, WorkItem.request_id, WorkItem.unit_code).where(
                                WorkItem.request_id.in_(accepted)
                            )
                        )
                    ).all()
                per_request = Counter(request_id for _, request_id, _ in rows)
                assert max(per_request.values(), default=0) <= 2, "a request routed twice"
                if set(per_request) == set(accepted) and set(per_request.values()) == {2}:
                    return {item: unit for item, _, unit in rows}
                return None

            items = await eventually(routed, timeout=120)

            async def clocked() -> bool:
                async with notifier_db.connect() as connection:
                    count = await connection.scalar(
                        select(func.count()).select_from(SlaRecord).where(SlaRecord.work_item_id.in_(list(items)))
                    )
                return count == len(items)

            await eventually(clocked, timeout=120)
            async with notifier_db.connect() as connection:
                notified = (
                    await connection.execute(
                        select(Notification.work_item_id, Notification.kind, func.count())
                        .where(Notification.work_item_id.in_(list(items)))
                        .group_by(Notification.work_item_id, Notification.kind, Notification.channel)
                        .group_by(Notification.address)
                        .having(func.count() > 1)
                    )
                ).all()
        finally:
            await router_db.dispose()
            await notifier_db.dispose()

        seen: set[str] = set()

        async def on_the_enterprise_view() -> bool:
            async with httpx.AsyncClient(base_url=intake_url, timeout=5) as client:
                for request_id in [r for r in accepted if r not in seen]:
                    body = (await client.get(f"/v1/requests/{request_id}", headers=headers)).json()
                    if len(body["work_items"]) == 2:
                        seen.add(request_id)
            return len(seen) == len(accepted)

        await eventually(on_the_enterprise_view, timeout=120)
        recovery = time.monotonic() - restarted
        assigned, per_item = await unit_topic_deliveries(broker.bootstrap, items)
        dead = await dead_letters(broker.bootstrap)
        print(
            f"\n[kill -9 of each service mid-load] requests_accepted={len(accepted)} refused_or_unreachable="
            f"{refused} crashes={crashes} work_items={len(items)} unit_topic_messages={len(assigned)} "
            f"distinct={len(per_item)} same_ce_id_duplicates={len(assigned) - len(per_item)} "
            f"doubled_notifications={len(notified)} dead_letters={len(dead)} all_through_after_restart={recovery:.1f}s"
        )
        assert accepted_before_intake_came_back >= 30, "the load ran while the router and the notifier were killed"
        assert len(accepted) > accepted_before_intake_came_back, "intake accepted again after its restart"
        assert len(items) == 2 * len(accepted), "one work item per unit of every accepted request"
        assert set(per_item) == set(items) and set(per_item.values()) == {1}, "exactly one per unit's topic"
        assert notified == [], notified
        assert dead == [], [d.summary() for d in dead]
    finally:
        for service in services.values():
            service.stop()
        broker.stop()
        for cleanup in databases.cleanup:
            await cleanup()
