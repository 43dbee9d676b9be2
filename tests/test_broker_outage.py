"""A request accepted with 201 survives a broker outage: intake never waits on Kafka, and the
outbox relay delivers the event once the broker is back. This test has a broker of its own, so
stopping it leaves the shared one alone."""

from __future__ import annotations

import httpx

from services.devstack import EmbeddedBroker, free_port
from services.intake import main as intake_main
from shared import events
from tests.conftest import make_settings
from tests.support import MINGLUO, certificate_request, header, make_databases, read_topic


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
