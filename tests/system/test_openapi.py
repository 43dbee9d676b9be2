"""The OpenAPI documents tell the truth: schemathesis, a property-based API fuzzer, runs every one of
its checks (no 5xx, every status and media type declared, responses matching their schemas,
schema-invalid input refused, schema-valid input accepted — widened only where schemathesis.toml
says why) against intake, router and notifier as ``xiaoer run`` starts them, with a token of each
role that uses the service. WeChat is a fake on 127.0.0.1, so login answers as it would there.

The stack is a process group of its own (broker, three APIs, web), because schemathesis drives
it synchronously from this process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.devstack import free_port
from shared.auth import mint_token
from shared.settings import Settings
from tests.support import MINGLUO

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "st"

CALLERS = {
    "intake": [
        {"role": "enterprise", "usccs": [MINGLUO]},
        {"role": "liaison", "usccs": [MINGLUO]},
        {"role": "supervisor", "region": "440112"},
    ],
    "router": [
        {"role": "department", "unit": "440112.tax"},
        {"role": "admin", "region": "440000"},
    ],
    "notifier": [
        {"role": "supervisor", "region": "440100"},
        {"role": "admin", "region": "440000"},
    ],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fake_wechat):
    var = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("intake", "router", "notifier", "web")}
    env = {
        **os.environ,
        "XIAOER_VAR_DIR": str(var),
        "XIAOER_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "XIAOER_WECHAT_API_BASE_URL": fake_wechat.url,
        "XIAOER_WECHAT_APPID": "wx-test-app",
        "XIAOER_WECHAT_SECRET": "wx-test-secret",
        **{f"XIAOER_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    env = {k: v for k, v in env.items() if not k.endswith("_DATABASE_URL")}  # embedded defaults
    with open(var / "stack.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run"],
            cwd=var,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, ports, var / "stack.log")
        yield Settings(var_dir=var), ports, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_ready(process, ports, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = {name: port for name, port in ports.items() if name != "web"}
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"xiaoer run exited: {log.read_text()[-2000:]}")
        for name, port in list(pending.items()):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"not ready within {timeout} s: {sorted(pending)}; {log.read_text()[-2000:]}")


@pytest.mark.parametrize(
    "service,caller",
    [(service, caller) for service, callers in CALLERS.items() for caller in callers],
    ids=lambda v: v if isinstance(v, str) else v["role"],
)
async def test_every_schemathesis_check_passes(stack, service, caller):
    settings, ports, env = stack
    token = mint_token(settings, **caller)
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"http://127.0.0.1:{ports[service]}/openapi.json",
        "--checks",
        "all",
        "-H",
        f"Authorization: Bearer {token}",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert "passed" in report and "Tested:" in report


async def test_a_huge_header_is_refused_and_the_service_goes_on(stack):
    """uvicorn (h11) refuses a request whose head exceeds its limit before any of our code runs."""
    _settings, ports, _env = stack
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['intake']}", timeout=10) as client:
        refused = await client.get("/v1/catalogue", headers={"X-Padding": "x" * 200_000})
        assert refused.status_code in (400, 431)
        assert (await client.get("/v1/catalogue")).status_code == 200
