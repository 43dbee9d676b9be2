"""One embedded broker, one set of databases and one running system per test session.

The three services run in this process on the session's event loop with their real workers
(outbox relays, consumers) against a real Kafka-protocol broker (Tansu) and real databases:
SQLite files, or PostgreSQL databases when ``XIAOER_TEST_DATABASE=postgres`` (the URL of a
server to create them on comes from ``XIAOER_TEST_POSTGRES_URL``). HTTP goes through httpx's
ASGI transport to the real FastAPI apps. Consumer groups take ~5 s to join on Tansu, so the
system is started once and shared.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from moto.server import ThreadedMotoServer

from cli.devstack import EmbeddedBroker, free_port
from shared.settings import SERVICES
from tests.support import FakeWebhook, FakeWechat, SmtpSink, database_backend, make_databases
from tests.support.system import settings_fields, start_system, stop_system

pytest_plugins = ["tests.support.web"]  # the pages' fixtures: web (APIs and pages on real HTTP), browser, page


# --- broker and system ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("broker")
    embedded = EmbeddedBroker(port=free_port(), log_path=log_dir / "broker.log")
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def fake_wechat():
    server = FakeWechat()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp():
    server = SmtpSink()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def webhook():
    server = FakeWebhook()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def object_storage():
    """A real S3-compatible server on 127.0.0.1 (moto's server mode), as MinIO is in production."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {
        "s3_endpoint_url": f"http://{host}:{port}",
        "s3_access_key_id": "xiaoer-test",
        "s3_secret_access_key": "xiaoer-test-secret",
        "s3_bucket": f"xiaoer-{uuid.uuid4().hex[:8]}",
    }
    server.stop()


@pytest.fixture(scope="session")
async def system(broker, fake_wechat, smtp, object_storage, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("var")
    databases = await make_databases(var_dir, list(SERVICES))
    # The production-like run (PostgreSQL) keeps files in S3-compatible storage, the embedded one
    # in a local directory: CI runs both, so every file test covers both backends.
    files = {"files_backend": "s3", **object_storage} if database_backend() == "postgres" else {}
    fields = settings_fields(
        var_dir,
        broker.bootstrap,
        databases.urls,
        wechat_api_base_url=fake_wechat.url,
        wechat_appid="wx-test-app",
        wechat_secret="wx-test-secret",
        smtp_port=smtp.port,
        webhook_secret="webhook-secret-for-tests-0123456789",
        scheduler_enabled=False,  # the tests drive the scheduler's clock
        notification_retry_seconds=60,
        **files,
    )
    system = await start_system(fields, consumer_timeout=30)
    yield system
    await stop_system(system)
    for cleanup in databases.cleanup:
        await cleanup()


# --- plain Kafka clients, as a department's own system would use -----------------------------------
@pytest.fixture(scope="session")
async def producer(broker):
    plain = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await plain.start()
    yield plain
    await plain.stop()
