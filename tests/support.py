"""Helpers the tests share: known enterprises, polling, plain Kafka reads, test databases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.engine import make_url

from shared import events
from shared.validation import make_uscc

# Enterprises used across tests (valid USCCs with their check characters).
MINGLUO = make_uscc("91440112MA59C5XK0")  # 广州明珞装备股份有限公司, 黄埔区
MINGLUO_SH = make_uscc("91310115MA1H7A8K5")  # its subsidiary in 浦东新区
MINGLUO_YY = make_uscc("91430624MA4L12340")  # its subsidiary in 湘阴县 (no demo units: falls back)
OTHER_CO = make_uscc("91440112190353246")  # an unrelated enterprise in 黄埔区


async def eventually(check: Callable, timeout: float = 15.0, interval: float = 0.05):
    """Polls ``check`` (sync or async) until it returns a truthy value; fails after ``timeout``.
    Waiting for an asynchronous outcome, not standing in for one: the assertion is the check."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def first_year_without_official_schedule() -> int:
    """The first year from now with no State Council schedule in chinese-calendar (2027 with
    version 1.11; later when a new version ships one), so tests never pin a year."""
    from services.notifier.workcal import WorkingCalendar

    calendar, year = WorkingCalendar(), date.today().year
    while calendar.schedule_source(year) != "fallback":
        year += 1
    return year


# --- databases ------------------------------------------------------------------------------------
@dataclass
class Databases:
    urls: dict[str, str]
    cleanup: list = field(default_factory=list)


async def _create_postgres_databases(admin_url: str, names: list[str]) -> Databases:
    url = make_url(admin_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    created = {}
    for name in names:
        db_name = f"xiaoer_test_{name}_{uuid.uuid4().hex[:8]}"
        await connection.execute(f'CREATE DATABASE "{db_name}"')
        created[name] = url.set(drivername="postgresql+asyncpg", database=db_name).render_as_string(hide_password=False)
    await connection.close()

    async def drop():
        conn = await asyncpg.connect(url.render_as_string(hide_password=False))
        for sa_url in created.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(sa_url).database}" WITH (FORCE)')
        await conn.close()

    return Databases(created, [drop])


@contextlib.asynccontextmanager
async def postgres_databases(names: list[str]):
    """Fresh PostgreSQL databases (dropped afterwards) whatever the suite runs on, for faults
    that exist on PostgreSQL only; their URLs by name."""
    databases = await _create_postgres_databases(os.environ["XIAOER_TEST_POSTGRES_URL"], names)
    try:
        yield databases.urls
    finally:
        for cleanup in databases.cleanup:
            await cleanup()


def database_backend() -> str:
    return os.environ.get("XIAOER_TEST_DATABASE", "sqlite")


async def make_databases(tmp: Path, names: list[str]) -> Databases:
    if database_backend() == "postgres":
        admin = os.environ.get("XIAOER_TEST_POSTGRES_URL")
        if not admin:
            raise RuntimeError("XIAOER_TEST_DATABASE=postgres needs XIAOER_TEST_POSTGRES_URL")
        return await _create_postgres_databases(admin, names)
    return Databases({name: f"sqlite+aiosqlite:///{tmp}/{name}.db" for name in names})


async def read_topic(bootstrap: str, topic: str, *, until: Callable[[list], bool], timeout: float = 15.0) -> list:
    """Reads a topic from the beginning with a plain consumer (no group) until ``until(records)``."""
    return await read_topics(bootstrap, [topic], until=until, timeout=timeout)


def header(record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


def certificate_request(enterprise=MINGLUO, region="440112", subjects=(), items=("tax",), **extra) -> dict:
    body = {
        "type": "compliance_certificate",
        "enterprise": {"uscc": enterprise, "name": "广州明珞装备股份有限公司", "region_code": region},
        "subjects": list(subjects),
        "items": list(items),
        "period_months": 36,
        "purpose": "ipo",
        "description": "上市申报所需无违法违规证明",
        "contact": {"name": "张三", "mobile": "13800138000"},
    }
    body.update(extra)
    return body


class _FakeServer:
    """A real HTTP server on loopback, in a thread, answering with ``self.answer``."""

    def __init__(self) -> None:
        import http.server
        import threading

        outer = self
        self.calls: list[tuple[str, str, dict, dict, bytes]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self):
                from urllib.parse import parse_qs, urlparse

                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.calls.append((self.command, url.path, query, dict(self.headers), body))
                status, payload = outer.answer(self.command, url.path, query, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method, path, query, body):
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeWechat(_FakeServer):
    """WeChat's jscode2session (codes starting ``good-`` map to an openid), cgi-bin/token and
    subscribe-message send. ``expire_next_send`` makes the next send answer 42001 (token expired)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0
        self.expire_next_send = False
        self.sent: list[dict] = []

    def answer(self, method, path, query, body):
        if path == "/sns/jscode2session":
            if query.get("appid") != "wx-test-app":
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("js_code", "").startswith("good-"):
                return 200, {"openid": "openid-" + query["js_code"][5:], "session_key": "sk"}
            return 200, {"errcode": 40029, "errmsg": "invalid code"}
        if path == "/cgi-bin/token":
            self.tokens_issued += 1
            return 200, {"access_token": f"token-{self.tokens_issued}", "expires_in": 7200}
        if path == "/cgi-bin/message/subscribe/send":
            if query.get("access_token") != f"token-{self.tokens_issued}" or self.expire_next_send:
                self.expire_next_send = False
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            self.sent.append(json.loads(body))
            return 200, {"errcode": 0, "errmsg": "ok"}
        return 404, {"errcode": -1}


class FakeWebhook(_FakeServer):
    """A department system's webhook endpoint; ``failures`` answers 500 that many times first."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def answer(self, method, path, query, body):
        if self.failures > 0:
            self.failures -= 1
            return 500, {"error": "busy"}
        return 200, {"ok": True}


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                import email.policy

                sink.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        from cli.devstack import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def unit_topic_deliveries(bootstrap: str, items: dict[str, str]) -> tuple[list, Counter]:
    """What the fault tests count: the ``WorkItemAssigned`` messages of ``items`` (work item id →
    unit) on their units' inbox topics, read until every item has one, and how many distinct
    messages (by ce_id) each item got."""
    assigned_type = events.WorkItemAssigned.ce_type
    inboxes = sorted({events.dept_inbox(unit) for unit in items.values()})
    records = await read_topics(
        bootstrap,
        inboxes,
        timeout=60,
        until=lambda rs: {r.key.decode() for r in rs if header(r, "ce_type") == assigned_type} >= set(items),
    )
    assigned = [r for r in records if header(r, "ce_type") == assigned_type and r.key.decode() in items]
    return assigned, Counter(r.key.decode() for r in {header(r, "ce_id"): r for r in assigned}.values())


async def read_topics(
    bootstrap: str, topics: list[str], *, until: Callable[[list], bool], timeout: float = 20.0
) -> list:
    """Like ``read_topic`` for many topics at once, with one plain consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = []
        for topic in topics:
            partitions = await eventually(lambda t=topic: consumer.partitions_for_topic(t), timeout=timeout)
            assigned += [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            if until(records):
                return records
        raise AssertionError(f"wanted records not seen within {timeout} s; saw {len(records)}")
    finally:
        await consumer.stop()


# --- department systems on Kafka: signed actions --------------------------------------------------
_DEPARTMENT_KEYS: dict[tuple[int, str], tuple[str, str]] = {}


async def department_key(system, unit_code: str) -> tuple[str, str]:
    """A signing key (key id, secret) for ``unit_code``, issued once per test session, as
    ``xiaoer units credentials`` issues one."""
    from services.router import credentials

    cached = _DEPARTMENT_KEYS.get((id(system), unit_code))
    if cached is None:
        router = system.runtimes["router"]
        async with router.sessions() as session, session.begin():
            issued = await credentials.issue(session, router.settings, unit_code)
        cached = _DEPARTMENT_KEYS[(id(system), unit_code)] = (issued.key_id, issued.secret)
    return cached


async def send_department_action(system, producer, unit_code, *, source=None, key=None, **fields) -> str:
    """Sends a ``cn.xiaoer.department.action`` as a department system does: signed with the key
    of ``unit_code`` (or ``key``, a (key id, secret), or unsigned with ``key=False``); its ce_id."""
    from services.router import credentials
    from shared import events
    from shared.messaging.encoding import encode

    action = events.DepartmentAction(unit_code=unit_code, **fields)
    message = encode(
        action, topic=events.DEPT_RESPONSES, source=source or f"/departments/{unit_code}", key=fields["work_item_id"]
    )
    headers = message.headers
    if key is not False:
        key_id, secret = key or await department_key(system, unit_code)
        headers = credentials.sign(headers, message.value, key_id, secret)
    await producer.send_and_wait(
        message.topic, message.value, key=message.key.encode(), headers=[(k, v.encode()) for k, v in headers.items()]
    )
    return message.headers["ce_id"]


def numbered_event(seq: int, request_id: str | None = None) -> events.RequestWithdrawn:
    """A valid event that carries ``seq`` (its reason), for tests of delivery and order, where the
    event's type does not matter."""
    return events.RequestWithdrawn(
        request_id=request_id or f"r-{seq}",
        reason=str(seq),
        actor=events.Actor(role="enterprise", id=MINGLUO),
        occurred_at=datetime.now(UTC),
    )


class ServiceProcess:
    """One ``xiaoer serve SERVICE`` process that can be killed (SIGKILL) and started again."""

    def __init__(self, name: str, env: dict[str, str], port: int, log: Path) -> None:
        self.name, self.env, self.port, self.log = name, env, port, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve", self.name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # no shutdown of any kind
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False
