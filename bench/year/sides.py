"""The two sides every figure is measured on, in the same run: the kept year, and empty databases
of the same schema (migrated and given the same department registry). Each side runs the four
services as operators do (``xiaoer serve intake|router|notifier|web``, bench/common.py's
``Stack``) with its own embedded broker, and the pages with a small database of their own holding
the staff accounts the measurements sign in with.

A watchdog reads every service's resident memory from /proc: one that grows past ``RSS_LIMIT``
(the unit statistics load every SLA record of the period into Python) is killed and started
again, so a measurement can fail but the machine's other users keep their memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import PYTHON, Stack, free_port, wait_ready

from . import loader

SERVICES = ("intake", "router", "notifier", "web")
RSS_LIMIT = 4 * 2**30
DEMO_PASSWORD = "xiaoer-bench-year"


def rss(pid: int) -> int:
    """Resident bytes of a process and its children (uvicorn's, if any)."""
    total = 0
    for p in [pid, *children(pid)]:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


@dataclass
class Side:
    name: str  # year | empty
    databases: dict[str, str]  # service → database name (web included)
    stack: Stack = field(default_factory=Stack)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed: list[dict] = field(default_factory=list)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def pid(self, service: str) -> int:
        return self.processes[service].pid

    async def start(self) -> None:
        self.stack.start_broker()
        self.ports = {s: free_port() for s in SERVICES}
        self.stack.env.update(
            {f"XIAOER_{s.upper()}_PORT": str(p) for s, p in self.ports.items()}
            | {f"XIAOER_{s.upper()}_DATABASE_URL": loader.sqlalchemy_url(d) for s, d in self.databases.items()}
            | {"XIAOER_ENV": "development", "XIAOER_LOG_LEVEL": "WARNING"}
        )
        for service in SERVICES:
            await self.start_service(service)

    async def start_service(self, service: str) -> None:
        self.processes[service] = self.stack.serve("serve", service)
        await wait_ready(f"{self.url(service)}/healthz", timeout=180)

    async def restart(self, service: str, why: str) -> None:
        process = self.processes[service]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        self.stack.processes.remove(process)
        self.killed.append({"service": service, "why": why, "at": time.time()})
        await self.start_service(service)

    def stop(self) -> None:
        self.stack.stop()


class Watchdog:
    """Kills a service whose memory passes ``limit`` (the side restarts it when its call fails)."""

    def __init__(self, sides: list[Side], limit: int = RSS_LIMIT) -> None:
        self.sides, self.limit = sides, limit
        self.peaks: dict[tuple[str, str], int] = {}
        self.kills: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for side in self.sides:
                for service, process in list(side.processes.items()):
                    if process.poll() is not None:
                        continue
                    used = rss(process.pid)
                    key = (side.name, service)
                    self.peaks[key] = max(self.peaks.get(key, 0), used)
                    if used > self.limit:
                        with contextlib.suppress(OSError):
                            os.kill(process.pid, signal.SIGKILL)
                        self.kills.append({"side": side.name, "service": service, "rss": used, "at": time.time()})


class MemoryProbe:
    """Peak resident memory of one process while a block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> MemoryProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.before


# --- the pages' staff accounts and signing in ---------------------------------------------------------
async def staff_accounts(database: str, accounts: list[dict]) -> None:
    """Demo staff accounts (the /demo sign-in of development) in the pages' database."""
    from cli.common import in_transaction
    from services.web import accounts as web_accounts
    from services.web.models import StaffAccount

    staff = [StaffAccount(**a) for a in accounts]
    await in_transaction(loader.sqlalchemy_url(database), lambda s: web_accounts.seed_demo(s, staff, DEMO_PASSWORD))


async def signed_in(web: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(600.0))
    demo = await client.get("/demo")
    token = re.search(r'name="csrftoken" value="([^"]+)"', demo.text).group(1)
    signed = await client.post("/demo", data={"csrftoken": token, "persona": f"staff:{username}"})
    if signed.status_code != 303:
        raise RuntimeError(f"could not sign in as {username}: {signed.status_code} {signed.text[:300]}")
    return client


def migrate_web(database: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(loader.ROOT), "XIAOER_WEB_DATABASE_URL": loader.sqlalchemy_url(database)}
    subprocess.run([PYTHON, "-m", "cli", "migrate", "web"], env=env, cwd=loader.ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


async def ready_all(side: Side) -> None:
    await asyncio.gather(*(wait_ready(f"{side.url(s)}/healthz", timeout=180) for s in SERVICES))
