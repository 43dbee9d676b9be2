"""Where the time goes: py-spy samples a service under load and this prints the top entries.

    .venv/bin/python bench/profile.py intake [--seconds 20]   # intake under wrk -t2 -c32
    .venv/bin/python bench/profile.py router                  # the router draining 1,000 requests
    .venv/bin/python bench/profile.py notifier                # the notifier draining their 8,000 items
    .venv/bin/python bench/profile.py e2e [--rate 50]         # the whole system under bench/e2e.py's load

py-spy (a dev extra) samples every process of the service (``--subprocesses``: the HTTP workers
and the process running its relay and consumers) at 200 Hz; the collapsed stacks are summed
into the functions that were on the CPU themselves ("self") and those that were on the stack
("total"), as a share of all samples. py-spy leaves idle samples (a loop waiting) out.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ITEMS_PER_REQUEST, USCC, fresh_database, raw_dsn, stack, wait_ready, wrk, wrk_script
from e2e import _load, cpu_split, warm_up, whole_system
from router import queue_backlog

from cli.devstack import free_port

PY_SPY = Path(sys.executable).with_name("py-spy")


def record(pid: int, seconds: int, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "200",
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarize(raw: Path, top: int) -> str:
    own, total = Counter(), Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue  # a frame name with a line break in it: not a sample line
        count = int(count_text)
        frames = [f for f in stack_text.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            total[frame] += count
    lines = [f"{samples} busy samples", "", "| self % | function |", "|---:|---|"]
    lines += [f"| {100 * n / samples:.1f} | `{f}` |" for f, n in own.most_common(top)]
    lines += ["", "| total % | function (own code and libraries' entry points) |", "|---:|---|"]
    lines += [f"| {100 * n / samples:.1f} | `{f}` |" for f, n in total.most_common(top * 3) if _interesting(f)][:top]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" → "func (module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        path = "/".join(parts[parts.index("site-packages") + 1 :][:2])
    elif "main" in parts:
        path = "/".join(parts[parts.index("main") + 1 :])
    else:
        path = Path(path).name
    return f"{name} ({path})"


def _interesting(frame: str) -> bool:
    boring = ("<module>", "run (asyncio", "run_until_complete", "_run (asyncio", "run_forever", "_run_once", "main (")
    return not any(b in frame for b in boring)


async def profile_intake(seconds: int, out: Path) -> None:
    async with fresh_database() as db_url:
        with stack() as s:
            s.start_broker()
            s.env["XIAOER_INTAKE_DATABASE_URL"] = db_url
            s.xiaoer("migrate", "intake")
            port = free_port()
            process = s.serve("serve", "intake", port)
            await wait_ready(f"http://127.0.0.1:{port}/readyz")
            await s.register_group(port)
            script = wrk_script(s.token(role="enterprise", usccs=[USCC]))
            url = f"http://127.0.0.1:{port}/v1/requests"
            wrk(url, script, seconds=3)
            spy = record(process.pid, seconds, out)
            result = wrk(url, script, seconds=seconds)
            spy.wait()
            print(f"under wrk: {result['rps']:.0f} req/s (slower than unprofiled: py-spy takes CPU too)")


async def profile_router(requests: int, out: Path) -> None:
    async with fresh_database() as db_url:
        with stack() as s:
            bootstrap = s.start_broker()
            s.env["XIAOER_ROUTER_DATABASE_URL"] = db_url
            s.xiaoer("migrate", "router")
            s.seed_registry(db_url)
            await queue_backlog(bootstrap, requests, 3)
            process = s.serve("worker", "router")
            spy = record(process.pid, 600, out)
            conn = await asyncpg.connect(raw_dsn(db_url))
            query = "SELECT count(*) FROM outbox WHERE topic LIKE 'dept.%' AND sent_at IS NOT NULL"
            while await conn.fetchval(query) < requests * ITEMS_PER_REQUEST:
                await asyncio.sleep(0.2)
            await conn.close()
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            spy.wait()


async def profile_notifier(requests: int, out: Path) -> None:
    """The notifier draining the dispatched items of ``requests`` requests the router routed first."""
    async with fresh_database() as router_url, fresh_database() as notifier_url:
        with stack() as s:
            bootstrap = s.start_broker()
            s.env |= {
                "XIAOER_ROUTER_DATABASE_URL": router_url,
                "XIAOER_NOTIFIER_DATABASE_URL": notifier_url,
                "XIAOER_SCHEDULER_ENABLED": "false",
            }
            s.xiaoer("migrate", "router", "notifier")
            s.seed_registry(router_url)
            await queue_backlog(bootstrap, requests, 3)
            router = s.serve("worker", "router")
            routed = await asyncpg.connect(raw_dsn(router_url))
            query = "SELECT count(*) FROM outbox WHERE topic = 'workitems.events' AND sent_at IS NOT NULL"
            while await routed.fetchval(query) < requests * ITEMS_PER_REQUEST:
                await asyncio.sleep(0.2)
            await routed.close()
            s.stop_process(router)
            process = s.serve("worker", "notifier")
            spy = record(process.pid, 600, out)
            conn = await asyncpg.connect(raw_dsn(notifier_url))
            while (await conn.fetchval("SELECT count(*) FROM sla_records")) < requests * ITEMS_PER_REQUEST:
                await asyncio.sleep(0.2)
            await conn.close()
            spy.send_signal(signal.SIGINT)
            spy.wait()


async def profile_e2e(seconds: int, rate: float, out: Path) -> str:
    """Every service of the whole system under bench/e2e.py's open-loop load (after its warm-up),
    each in its own file beside ``out``; returns the CPU each used (py-spy's own CPU is not in
    them, but is in the machine's)."""
    async with whole_system() as (s, urls, ports, pids):
        token = s.token(role="enterprise", usccs=[USCC])
        await warm_up(token, ports["intake"], urls, rate, seconds=15, drain_seconds=60)
        before = cpu_split(pids)
        spies = [record(pids[name], seconds, out.with_suffix(f".{name}.txt")) for name in ports]
        await _load(token, ports["intake"], rate, seconds)
        after = cpu_split(pids)
        for spy in spies:
            spy.wait()
    return ", ".join(f"{name} {after[name] - before[name]:.1f}" for name in before if name != "wall")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["intake", "router", "notifier", "e2e"])
    parser.add_argument("--rate", type=float, default=50, help="e2e: requests a second")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    out = Path(tempfile.mkstemp(prefix=f"xiaoer-profile-{args.target}-", suffix=".txt")[1])
    if args.target == "e2e":
        cpu = asyncio.run(profile_e2e(args.seconds, args.rate, out))
        print(f"CPU seconds during {args.seconds} s of load: {cpu}\n")
        for name in ("intake", "router", "notifier", "web"):
            print(f"## {name} (collapsed stacks: {out.with_suffix(f'.{name}.txt')})\n")
            print(summarize(out.with_suffix(f".{name}.txt"), args.top) + "\n")
        return
    if args.target == "intake":
        asyncio.run(profile_intake(args.seconds, out))
    elif args.target == "router":
        asyncio.run(profile_router(args.requests, out))
    else:
        asyncio.run(profile_notifier(args.requests, out))
    print(f"collapsed stacks: {out}\n")
    print(summarize(out, args.top))


if __name__ == "__main__":
    main()
