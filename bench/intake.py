"""Benchmark: accepted requests per second and latency of ``POST /v1/requests``.

Runs intake for real (uvicorn, its outbox relay publishing to an embedded broker, PostgreSQL)
and, in the same run on the same machine, a bare FastAPI endpoint that only parses the body.
The ratio of the two holds on a noisy machine better than either figure alone.

    .venv/bin/python bench/intake.py [--concurrency 32] [--requests 3000]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test):
a fresh database is created on it and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.devstack import EmbeddedBroker, free_port  # noqa: E402
from shared.auth import mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.validation import make_uscc  # noqa: E402

USCC = make_uscc("91440112MA59C5XK0")
BODY = {
    "type": "compliance_certificate",
    "enterprise": {"uscc": USCC, "name": "广州明珞装备股份有限公司", "region_code": "440112"},
    "subjects": [{"uscc": make_uscc("91310115MA1H7A8K5"), "name": "明珞(上海)科技有限公司", "region_code": "310115"}],
    "items": ["tax", "customs", "development_reform", "commerce"],
    "purpose": "ipo",
    "contact": {"name": "张三", "mobile": "13800138000"},
}


async def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


async def drive(url: str, headers: dict, concurrency: int, total: int) -> dict:
    latencies: list[float] = []
    failures = 0
    remaining = total

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.post(url, json=BODY, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                failures += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # Warm up connections and caches, then measure.
        await asyncio.gather(*(client.post(url, json=BODY, headers=headers) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "failures": failures,
        "count": len(latencies),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    admin = make_url(os.environ.get("XIAOER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    db_name = f"xiaoer_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    await conn.execute(f'CREATE DATABASE "{db_name}"')
    await conn.close()
    db_url = admin.set(drivername="postgresql+asyncpg", database=db_name).render_as_string(hide_password=False)

    var_dir = Path(tempfile.mkdtemp(prefix="xiaoer-bench-"))
    broker = EmbeddedBroker(port=free_port(), log_path=var_dir / "broker.log")
    broker.start()
    intake_port, bare_port = free_port(), free_port()
    secret = uuid.uuid4().hex * 2
    env = {
        **os.environ,
        "XIAOER_JWT_SECRET": secret,
        "XIAOER_VAR_DIR": str(var_dir),
        "XIAOER_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "XIAOER_INTAKE_DATABASE_URL": db_url,
        "XIAOER_INTAKE_PORT": str(intake_port),
        "XIAOER_LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    processes = []
    try:
        subprocess.run([python, "-m", "services.cli", "migrate", "intake"], env=env, cwd=ROOT, check=True)
        processes.append(subprocess.Popen([python, "-m", "services.cli", "serve", "intake"], env=env, cwd=ROOT))
        processes.append(
            subprocess.Popen(
                [python, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port), "--log-level", "warning"],
                cwd=ROOT / "bench",
            )
        )
        await wait_ready(f"http://127.0.0.1:{intake_port}/readyz")
        await wait_ready(f"http://127.0.0.1:{bare_port}/docs")
        settings = Settings(_env_file=None, jwt_secret=secret)
        headers = {"Authorization": f"Bearer {mint_token(settings, role='enterprise', usccs=[USCC])}"}

        bare = await drive(f"http://127.0.0.1:{bare_port}/v1/requests", {}, args.concurrency, args.requests)
        intake = await drive(f"http://127.0.0.1:{intake_port}/v1/requests", headers, args.concurrency, args.requests)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
        broker.stop()
        conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
        await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await conn.close()

    print(f"\n{args.requests} requests, {args.concurrency} concurrent clients, one uvicorn worker each, 2 cores\n")
    print("| endpoint | accepted/s | p50 ms | p99 ms | failures |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("bare FastAPI (parse JSON, 201)", bare), ("intake POST /v1/requests (PostgreSQL)", intake)):
        print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failures']} |")
    print(f"\nintake reaches {intake['rps'] / bare['rps']:.0%} of the bare endpoint's throughput")


if __name__ == "__main__":
    asyncio.run(main())
