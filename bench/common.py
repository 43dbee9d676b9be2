"""What the benchmarks share: fresh PostgreSQL databases, the embedded broker, services started
as operators start them (``xiaoer serve``), wrk runs and the open-loop generator.

Everything listens on 127.0.0.1 and stops when the benchmark ends (also when it fails)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from cli.devstack import EmbeddedBroker, free_port  # noqa: E402
from shared.auth import mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.validation import make_uscc  # noqa: E402

PYTHON = sys.executable
ADMIN_URL = make_url(os.environ.get("XIAOER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
USCC = make_uscc("91440112MA59C5XK0")
ITEMS = ["tax", "customs", "development_reform", "commerce"]
# Two subjects × four kinds: an 8-item bundle. Every kind routed to a department even where a
# 专项信用报告 would cover it (certificate_anyway), so the fan-out does not depend on coverage data.
BODY = {
    "type": "compliance_certificate",
    "enterprise": {"uscc": USCC, "name": "广州明珞装备股份有限公司", "region_code": "440112"},
    "subjects": [{"uscc": make_uscc("91310115MA1H7A8K5"), "name": "明珞(上海)科技有限公司", "region_code": "310115"}],
    "items": ITEMS,
    "certificate_anyway": ITEMS,
    "purpose": "ipo",
    "contact": {"name": "张三", "mobile": "13800138000"},
}
ITEMS_PER_REQUEST = 8


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {system}"


# --- databases ----------------------------------------------------------------------------------
def _admin_dsn() -> str:
    return ADMIN_URL.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def fresh_database():
    """A new PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"xiaoer_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield ADMIN_URL.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(_admin_dsn())
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def raw_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- processes ----------------------------------------------------------------------------------
@dataclass
class Stack:
    """The broker, the environment the services read, and the processes started from it."""

    var_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="xiaoer-bench-")))
    secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    env: dict = field(default_factory=dict)
    processes: list = field(default_factory=list)
    broker: EmbeddedBroker | None = None
    code: Path = ROOT  # the checkout whose services run (another one: a before/after comparison)

    def start_broker(self) -> str:
        self.broker = EmbeddedBroker(port=free_port(), log_path=self.var_dir / "broker.log")
        self.broker.start()
        self.env = {
            **os.environ,
            "XIAOER_JWT_SECRET": self.secret,
            "XIAOER_VAR_DIR": str(self.var_dir),
            "XIAOER_FILES_DIR": str(self.var_dir / "files"),
            "XIAOER_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "XIAOER_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(self.code),
            **self.env,
        }
        return self.broker.bootstrap

    def xiaoer(self, *args: str, **extra_env: str) -> None:
        subprocess.run(
            [PYTHON, "-m", "cli", *args],
            env={**self.env, **extra_env},
            cwd=self.code,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def spawn(self, args: list[str], cwd: Path | None = None, **extra_env: str) -> subprocess.Popen:
        process = subprocess.Popen(args, env={**self.env, **extra_env}, cwd=cwd or self.code)
        self.processes.append(process)
        return process

    def serve(self, command: str, service: str, port: int | None = None, **extra_env: str) -> subprocess.Popen:
        if port is not None:
            extra_env[f"XIAOER_{service.upper()}_PORT"] = str(port)
        return self.spawn([PYTHON, "-m", "cli", command, service], **extra_env)

    def bare(self, port: int, workers: int = 1, app: str = "bare_app:app", **extra_env: str) -> subprocess.Popen:
        """A reference endpoint of bench/ (``bare_app``, ``floor_app``) under uvicorn."""
        args = [PYTHON, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
        env = {"PYTHONPATH": "", **extra_env}
        return self.spawn([*args, "--no-access-log", "--workers", str(workers)], cwd=BENCH, **env)

    def seed_registry(self, url: str) -> None:
        """The demo department registry in the router's database (what ``xiaoer seed`` loads),
        by the checkout under test."""
        subprocess.run([PYTHON, "-c", SEED, url], env=self.env, cwd=self.code, check=True)

    def token(self, **claims) -> str:
        return mint_token(Settings(_env_file=None, jwt_secret=self.secret), **claims)

    async def register_group(self, intake_port: int) -> None:
        """The enterprise-group registry says BODY's enterprise may ask about its subsidiary (as an
        admin keeps it, through intake's API): without it intake refuses the bundle's subject (422)."""
        subject = BODY["subjects"][0]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{intake_port}") as client:
            response = await client.put(
                f"/v1/relations/{USCC}/{subject['uscc']}",
                json={
                    "parent_name": BODY["enterprise"]["name"],
                    "parent_region": BODY["enterprise"]["region_code"],
                    "subject_name": subject["name"],
                    "subject_region": subject["region_code"],
                },
                headers={"Authorization": f"Bearer {self.token(role='admin', sub='bench')}"},
            )
        response.raise_for_status()

    def stop_process(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for process in reversed(self.processes):
            self.stop_process(process)
        self.processes.clear()
        if self.broker is not None:
            self.broker.stop()


SEED = """
import asyncio, sys
from services.router import registry
from shared import db

async def seed(url):
    engine = db.create_engine(url)
    async with db.session_factory(engine)() as session, session.begin():
        await registry.seed_demo(session)
    await engine.dispose()

asyncio.run(seed(sys.argv[1]))
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (what a drain costs, whatever else runs on the machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def stack(code: Path = ROOT):
    s = Stack(code=code)
    try:
        yield s
    finally:
        s.stop()


async def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {timeout} s")


# --- load ---------------------------------------------------------------------------------------
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(auth)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"status_errors\\": %%d, \\"socket_errors\\": %%d, " ..
    "\\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_script(token: str | None, body: dict = BODY) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    path = Path(tempfile.mkstemp(prefix="xiaoer-wrk-", suffix=".lua")[1])
    path.write_text(WRK_SCRIPT % {"body": _lua_string(json.dumps(body, ensure_ascii=False)), "auth": auth})
    return path


def wrk_args(url: str, script: Path, *, threads: int = 2, connections: int = 32, seconds: int = 20) -> list[str]:
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]


def wrk_result(out: str) -> dict:
    """Requests/s (2xx only), p50 and p99 in ms and errors, from wrk's output with our script."""
    found = re.search(r"^WRK-JSON (.*)$", out, re.M)
    if not found:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    r = json.loads(found.group(1))
    ok = r["requests"] - r["status_errors"]
    return {
        "rps": ok / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": r["status_errors"] + r["socket_errors"],
        "requests": r["requests"],
    }


def wrk(url: str, script: Path, *, threads: int = 2, connections: int = 32, seconds: int = 20) -> dict:
    """One closed-loop wrk run."""
    args = wrk_args(url, script, threads=threads, connections=connections, seconds=seconds)
    return wrk_result(subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout)


def open_loop(url: str, token: str | None, rate: float, seconds: float, out: Path | None = None) -> dict:
    """The open-loop generator (bench/openloop.py) in a process of its own, at ``rate`` per second."""
    args = [PYTHON, str(BENCH / "openloop.py"), url, "--rate", str(rate), "--seconds", str(seconds)]
    if token:
        args += ["--token", token]
    if out:
        args += ["--out", str(out)]
    result = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
