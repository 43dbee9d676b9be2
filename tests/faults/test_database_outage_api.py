"""Fault (issue 26, row 1): a service's database unavailable while its API is called.

Each service's API runs on a database of its own (SQLite or PostgreSQL, as the suite runs) that
then goes away: the pool is emptied and every new connection refused, as with a database host
that went down. Before, intake answered 104 of 300 submissions in such an outage with 500
``internal_error`` and no Retry-After. Expected now: every call answers 503 problem+json with
Retry-After, in Chinese and English; nothing is stored without a 201; and a client that retries
with its Idempotency-Key after the outage gets exactly one request each.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from services.intake.models import Request
from shared.auth import mint_token
from shared.settings import SERVICES
from tests.support import MINGLUO, Outage, certificate_request, make_databases
from tests.support.system import BUILDERS, make_settings

pytestmark = pytest.mark.faults


async def own_api(tmp_path, service: str, broker_bootstrap: str):
    databases = await make_databases(tmp_path, [service])
    settings = make_settings(service, tmp_path, broker_bootstrap, databases.urls)
    runtime = BUILDERS[service].build_runtime(settings)
    await runtime.migrate()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=BUILDERS[service].build_app(runtime)), base_url="http://s"
    )
    return settings, runtime, client, databases


async def test_submissions_during_an_intake_database_outage_get_503_and_retry_safely(tmp_path, broker):
    settings, runtime, client, databases = await own_api(tmp_path, "intake", broker.bootstrap)
    outage = Outage(runtime.engine)
    token = mint_token(settings, role="enterprise", usccs=[MINGLUO])
    answers: list[tuple[str, httpx.Response]] = []

    async def submit(key: str, english: bool = False) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        if english:
            headers["Accept-Language"] = "en"
        return await client.post("/v1/requests", json=certificate_request(), headers=headers)

    try:
        # 5 requests/s: 10 before the outage, 25 during it (5 s), 10 after.
        for phase, count in (("before", 10), ("during", 25), ("after", 10)):
            if phase == "during":
                await outage.begin()
            if phase == "after":
                outage.down = False
            for n in range(count):
                key = str(uuid.uuid4())
                answers.append((key, await submit(key, english=n % 2 == 1)))
                await asyncio.sleep(0.2)
        refused = [(key, r) for key, r in answers if r.status_code != 201]
        started = time.monotonic()
        retried = [await submit(key) for key, _ in refused]  # the clients try again, same keys
        retry_took = time.monotonic() - started
        again = [await submit(key) for key, r in answers if r.status_code == 201][:5]  # a retry of a 201
        async with runtime.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Request))
    finally:
        await client.aclose()
        await runtime.stop()
        for cleanup in databases.cleanup:
            await cleanup()

    statuses = sorted({r.status_code for _, r in answers})
    print(
        f"\n[intake database away 5 s, 5 req/s] submitted={len(answers)} answered_201="
        f"{sum(r.status_code == 201 for _, r in answers)} answered_503={len(refused)} statuses={statuses} "
        f"retried_201={sum(r.status_code == 201 for r in retried)} stored={stored} retry_took={retry_took:.2f}s"
    )
    assert statuses == [201, 503], "a database away answers 503, never 500"
    assert len(refused) >= 20
    for _key, response in refused:
        assert response.headers["Retry-After"] == "5"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "database_unavailable"
    titles = {r.json()["title"] for _, r in refused}
    assert any("数据库" in t for t in titles) and any("database" in t for t in titles), titles
    assert all(r.status_code == 201 for r in retried), "each retry after the outage is accepted"
    assert all(r.status_code in (200, 201) for r in again)
    assert stored == len(answers), "one request per Idempotency-Key: none lost, none twice"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_api_answers_503_with_retry_after_while_its_database_is_away(tmp_path, broker, service):
    settings, runtime, client, databases = await own_api(tmp_path, service, broker.bootstrap)
    outage = Outage(runtime.engine)
    calls = {
        "intake": ("/v1/requests", mint_token(settings, role="enterprise", usccs=[MINGLUO])),
        "router": ("/v1/workitems", mint_token(settings, role="department", unit="440112.tax")),
        "notifier": ("/v1/overdue", mint_token(settings, role="supervisor", region="440112")),
    }
    path, token = calls[service]
    try:
        healthy = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        await outage.begin()
        away = await client.get(path, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
        ready = await client.get("/readyz")
    finally:
        await client.aclose()
        await runtime.stop()
        for cleanup in databases.cleanup:
            await cleanup()
    assert healthy.status_code == 200, healthy.text
    assert away.status_code == 503, away.text
    assert away.headers["Retry-After"] == "5"
    assert away.json()["code"] == "database_unavailable" and "database" in away.json()["title"]
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
