"""Slow clients against a real uvicorn server (shared.slow_clients): a request head that trickles
and a body that stalls are answered 408 problem+json and the connection is closed, while normal,
keep-alive and slow-but-steady requests pass. The server is intake's real app on 127.0.0.1, spoken
to with raw sockets; limits of one second (three for the steady body) keep it short."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket

import pytest
import structlog
import uvicorn

from services.intake import main as intake_main
from shared.slow_clients import configured_limits, guarded_protocol
from tests.support import eventually

HEAD_SECONDS = 1.0
BODY_SECONDS = 1.0
SLACK = 2.0  # how much later than its limit a refusal may come on a busy two-core machine (make test's lanes)
# The steady body's server allows longer pauses: client and server share this process, so when a
# busy machine leaves the process unscheduled for a second, the client's bytes come late too.
STEADY_BODY_SECONDS = 3.0


class _Server(uvicorn.Server):
    """uvicorn inside the test session's loop: pytest keeps its own signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class _Recorder:
    """What the app receives, by path: shows a route cut off by a timeout read http.disconnect."""

    def __init__(self, app) -> None:
        self.app = app
        self.received: dict[str, list[str]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = self.received.setdefault(scope["path"], [])

        async def recorded():
            message = await receive()
            seen.append(message["type"])
            return message

        await self.app(scope, recorded, send)


@pytest.fixture(scope="module")
async def served(tmp_path_factory):
    """intake's app served with the guarded protocol; no database or broker is reached by what
    these tests send (health, and submissions refused 401 after their body is read)."""
    async with _serving(tmp_path_factory, BODY_SECONDS) as port_and_app:
        yield port_and_app


@pytest.fixture(scope="module")
async def served_patiently(tmp_path_factory):
    """The same app with a 3 s body limit (STEADY_BODY_SECONDS)."""
    async with _serving(tmp_path_factory, STEADY_BODY_SECONDS) as port_and_app:
        yield port_and_app


@contextlib.asynccontextmanager
async def _serving(tmp_path_factory, body_seconds: float):
    var_dir = tmp_path_factory.mktemp("slow-clients")
    settings = intake_main.load_settings(
        _env_file=None,
        var_dir=var_dir,
        files_dir=var_dir / "files",
        intake_database_url=f"sqlite+aiosqlite:///{var_dir}/intake.db",
        kafka_bootstrap_servers="127.0.0.1:9",
        jwt_secret="test-signing-key-not-for-production",
        log_json=False,
    )
    runtime = intake_main.build_runtime(settings)
    app = _Recorder(intake_main.build_app(runtime))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    protocol = guarded_protocol(HEAD_SECONDS, body_seconds)
    config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None, access_log=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started or task.done(), timeout=30)
    if task.done():
        task.result()
    yield sock.getsockname()[1], app
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)
    await runtime.engine.dispose()


# --- raw HTTP/1.1 ---------------------------------------------------------------------------------
async def _read_response(reader: asyncio.StreamReader, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One response (status, headers, body), read within ``timeout`` seconds."""

    async def read():
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines if line)}
        return int(status_line.split()[1]), headers, await reader.readexactly(int(headers["content-length"]))

    return await asyncio.wait_for(read(), timeout)


async def _closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` seconds (sending nothing more)."""
    try:
        rest = await asyncio.wait_for(reader.read(), timeout)
    except TimeoutError:
        return False
    except ConnectionResetError:  # closed while the client still sent bytes: the kernel answers RST
        return True
    return rest == b""


async def _connect(port: int):
    return await asyncio.open_connection("127.0.0.1", port)


async def _trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """A slow client: one byte every ``every`` seconds, until the server hangs up."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)


async def _assert_healthy(port: int) -> None:
    reader, writer = await _connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
    status, _, body = await _read_response(reader, 5)
    writer.close()
    assert (status, json.loads(body)["status"]) == (200, "ok")


def _problem(status: int, headers: dict[str, str], body: bytes, code: str) -> dict:
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert (problem["status"], problem["code"], problem["type"]) == (408, code, f"https://xiaoer.cn/problems/{code}")
    assert "超时" in problem["title"] and "timed out" in problem["title"]  # Chinese first, then English
    return problem


# --- the head -------------------------------------------------------------------------------------
async def test_a_head_trickling_in_is_refused_408_and_closed(served):
    port, _ = served
    loop = asyncio.get_running_loop()
    reader, writer = await _connect(port)
    opened = loop.time()
    writer.write(b"POST /v1/requests HTTP/1.1\r\nHost: intake\r\n")
    slow = asyncio.create_task(_trickle(writer, b"X-Slow: " + b"a" * 100, every=0.3))

    status, headers, body = await _read_response(reader, HEAD_SECONDS + SLACK)
    waited = loop.time() - opened

    problem = _problem(status, headers, body, "header_timeout")
    assert "上限 1 秒" in problem["title"]
    assert HEAD_SECONDS - 0.1 <= waited <= HEAD_SECONDS + SLACK  # each byte does not restart the clock
    assert await _closed(reader, SLACK)
    slow.cancel()
    writer.close()
    await _assert_healthy(port)


async def test_a_connection_that_sends_nothing_is_closed_silently(served):
    port, _ = served
    reader, writer = await _connect(port)
    assert await _closed(reader, HEAD_SECONDS + SLACK)  # no 408 to a client that asked nothing
    writer.close()
    await _assert_healthy(port)


# --- the body -------------------------------------------------------------------------------------
async def test_a_stalled_body_is_refused_408_and_the_route_sees_a_disconnect(served, caplog):
    port, app = served
    loop = asyncio.get_running_loop()
    reader, writer = await _connect(port)
    with structlog.testing.capture_logs() as logs, caplog.at_level(logging.INFO):
        writer.write(
            b"POST /v1/requests HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"items": ['
        )
        sent = loop.time()
        status, headers, body = await _read_response(reader, BODY_SECONDS + SLACK)
        waited = loop.time() - sent
        assert await _closed(reader, SLACK)
        # The route's answer (FastAPI's 400 for a body it could not read) is dropped, not sent.
        await eventually(lambda: app.received.get("/v1/requests", [])[-1:] == ["http.disconnect"], timeout=5)

    _problem(status, headers, body, "body_timeout")
    assert BODY_SECONDS - 0.1 <= waited <= BODY_SECONDS + SLACK
    assert [e for e in logs if e["log_level"] in ("warning", "error", "critical")] == [
        {"event": "http.body_timeout", "log_level": "warning", "client": logs[0]["client"], "seconds": BODY_SECONDS}
    ]
    assert not [e for e in logs if "exc_info" in e or "exception" in e]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]  # uvicorn: no 500
    writer.close()
    await _assert_healthy(port)


async def test_a_slow_but_steady_body_is_read_whole(served_patiently):
    """Bytes every 0.2 s for over twice both limits: never a pause over the limit, so the route
    reads the whole body and answers (401: a submission needs a token, checked after the body)."""
    port, app = served_patiently
    body = b'{"request_type": "compliance_certificate"}'
    assert len(body) * 0.2 > 2 * max(HEAD_SECONDS, STEADY_BODY_SECONDS)
    reader, writer = await _connect(port)
    writer.write(
        b"POST /v1/requests HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    answer = asyncio.create_task(_read_response(reader, 30))
    await _trickle(writer, body, every=0.2)

    status, headers, _ = await answer
    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert app.received["/v1/requests"][-1] == "http.request"  # the last of the body, not a disconnect
    writer.close()
    await _assert_healthy(port)


# --- keep-alive -----------------------------------------------------------------------------------
async def test_normal_and_keep_alive_requests_pass(served):
    port, _ = served
    reader, writer = await _connect(port)
    for _ in range(2):  # the second on the same connection
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
        status, headers, body = await _read_response(reader, 5)
        assert (status, json.loads(body)) == (200, {"status": "ok", "service": "intake"})
        assert headers.get("connection") != "close"
    writer.close()


async def test_a_keep_alive_request_head_trickling_in_is_refused_too(served):
    """uvicorn's keep-alive timer stops at the first byte of the next request; from there the
    head has its own limit."""
    port, _ = served
    loop = asyncio.get_running_loop()
    reader, writer = await _connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
    assert (await _read_response(reader, 5))[0] == 200
    began = loop.time()
    slow = asyncio.create_task(_trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n", every=0.3))

    status, headers, body = await _read_response(reader, HEAD_SECONDS + SLACK)
    _problem(status, headers, body, "header_timeout")
    assert loop.time() - began <= HEAD_SECONDS + SLACK
    assert await _closed(reader, SLACK)
    slow.cancel()
    writer.close()
    await _assert_healthy(port)


# --- settings -------------------------------------------------------------------------------------
def test_the_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("XIAOER_HTTP_HEADER_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("XIAOER_HTTP_BODY_TIMEOUT_SECONDS", "7")
    configured_limits.cache_clear()
    try:
        assert configured_limits() == (2.5, 7.0)
    finally:
        configured_limits.cache_clear()
