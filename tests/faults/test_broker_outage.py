"""A request accepted with 201 survives a broker outage: intake never waits on Kafka, and the
outbox relay delivers the event once the broker is back. A broker that is down when the workers
start, or comes back empty, strands nothing and shows on /readyz. These tests have a broker of
their own, so stopping it leaves the shared one alone."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from cli import main as cli
from cli.devstack import EmbeddedBroker, free_port
from services.intake import main as intake_main
from shared import events
from tests.support import MINGLUO, certificate_request, eventually, header, make_databases, read_topic
from tests.support.system import make_settings

pytestmark = pytest.mark.faults


async def test_post_answers_201_with_the_broker_down_and_the_event_arrives_after_restart(tmp_path):
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    databases = await make_databases(tmp_path, ["intake"])
    settings = make_settings("intake", tmp_path, broker.bootstrap, databases.urls)
    runtime = intake_main.build_runtime(settings)
    runtime.consumers.clear()  # only the relay matters here; no group join to wait for
    await runtime.migrate()
    await runtime.start_workers()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_main.build_app(runtime)), base_url="http://i")
    headers = {"Authorization": f"Bearer {_token(settings)}"}
    try:
        broker.stop()

        response = await client.post("/v1/requests", json=certificate_request(), headers=headers)
        assert response.status_code == 201, response.text
        request_id = response.json()["id"]
        # Reading it back does not need the broker either.
        assert (await client.get(f"/v1/requests/{request_id}", headers=headers)).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"].startswith("error")

        broker.start()  # memory storage: a new, empty broker on the same address
        await runtime.ensure_topics()
        records = await read_topic(
            broker.bootstrap,
            events.REQUESTS_SUBMITTED,
            timeout=30,
            until=lambda rs: any(header(r, "ce_subject") == request_id for r in rs),
        )
        delivered = [r for r in records if header(r, "ce_subject") == request_id]
        assert len(delivered) == 1
        assert header(delivered[0], "ce_type") == events.RequestSubmitted.ce_type
    finally:
        await client.aclose()
        await runtime.stop()
        broker.stop()
        for cleanup in databases.cleanup:
            await cleanup()


def _token(settings) -> str:
    from shared.auth import mint_token

    return mint_token(settings, role="enterprise", usccs=[MINGLUO])


async def test_a_broker_down_at_start_up_and_then_restarted_empty(tmp_path, capsys, monkeypatch):
    """The workers start with no broker: HTTP answers, the consumer keeps retrying and /readyz
    says why. Then the broker restarts empty: with topics missing, /readyz names the consumer
    that owns no partition; once they exist again the consumer finds them by itself, and
    ``xiaoer outbox republish`` sends what the lost broker had held."""
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    databases = await make_databases(tmp_path, ["intake"])
    settings = make_settings("intake", tmp_path, broker.bootstrap, databases.urls)
    runtime = intake_main.build_runtime(settings)
    runtime.topic_check_seconds = 3600  # topics come back only when this test says so
    consumer = runtime.consumers[0]
    consumer.assignment_grace = 1.0
    await runtime.migrate()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_main.build_app(runtime)), base_url="http://i")
    headers = {"Authorization": f"Bearer {_token(settings)}"}
    since = datetime.now(UTC)
    try:
        await runtime.start_workers()  # no broker: returns anyway
        first = await client.post("/v1/requests", json=certificate_request(), headers=headers)
        assert first.status_code == 201, first.text
        await eventually(lambda: consumer.stalled, timeout=30)
        down = (await client.get("/readyz")).json()["checks"]["workers"]
        assert "stalled: intake.read-model" in down and "KafkaConnectionError" in down, down
        assert not any(t.done() for t in runtime.worker_tasks), "no worker gave up"

        broker.start()
        await runtime.ensure_topics()
        await eventually(lambda: consumer.ready.is_set() and not consumer.stalled, timeout=60)
        await eventually(lambda: _workers(client, "ok"), timeout=30)
        assert await _partitions(broker.bootstrap, events.REQUESTS_SUBMITTED) == settings.kafka_topic_partitions
        await _delivered(broker.bootstrap, first.json()["id"])

        broker.stop()
        broker.start()  # empty: no topics, no groups, no messages
        restarted = time.monotonic()
        unassigned = await eventually(lambda: _workers(client, "owns no partition"), timeout=60)
        assert "not on the broker: workitems.events, sla.events" in unassigned, unassigned
        await runtime.ensure_topics()  # what the topic keeper does every few seconds
        await eventually(lambda: _workers(client, "ok"), timeout=60)
        rejoined = time.monotonic() - restarted

        monkeypatch.setenv("XIAOER_INTAKE_DATABASE_URL", databases.urls["intake"])
        capsys.readouterr()
        await asyncio.to_thread(cli.main, ["outbox", "republish", "--service", "intake", "--since", since.isoformat()])
        assert "intake: 1 outbox row(s)" in capsys.readouterr().out
        await _delivered(broker.bootstrap, first.json()["id"])
        print(
            f"\n[broker down at start, restarted empty] readyz_down='{down[:70]}' "
            f"readyz_unassigned='{unassigned[:90]}' consumer_back_after_restart={rejoined:.1f}s republished=1"
        )
    finally:
        await client.aclose()
        await runtime.stop()
        broker.stop()
        for cleanup in databases.cleanup:
            await cleanup()


async def _workers(client: httpx.AsyncClient, expected: str) -> str | None:
    workers = (await client.get("/readyz")).json()["checks"]["workers"]
    return workers if expected in workers else None


async def _partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return next(len(t["partitions"]) for t in await admin.describe_topics() if t["topic"] == topic)
    finally:
        await admin.close()


async def _delivered(bootstrap: str, request_id: str) -> None:
    await read_topic(
        bootstrap,
        events.REQUESTS_SUBMITTED,
        timeout=30,
        until=lambda rs: any(header(r, "ce_subject") == request_id for r in rs),
    )
