"""Benchmark: ``POST /v1/requests`` (an 8-item bundle, PostgreSQL) beside a bare FastAPI endpoint
and beside the floor of keeping what is accepted.

Intake runs as operators run it (``xiaoer serve intake`` with one HTTP worker process per core,
``XIAOER_INTAKE_HTTP_WORKERS``, and its outbox relay in a process of its own publishing to the
embedded broker; a fresh PostgreSQL database); the reference is ``bench/bare_app.py``, a FastAPI
endpoint that only parses the same body, started by uvicorn with as many worker processes. The
second reference, ``bench/floor_app.py``, is that endpoint storing the body by one INSERT over raw
asyncpg in the same PostgreSQL: what any endpoint that keeps what it accepts pays at least. All three
are loaded by wrk (closed loop, -t2 -c32, 20 s), in the order bare, floor, intake, bare, floor,
intake. Then latency at half
intake's rate, open loop (bench/openloop.py), against intake and, as a check that the generator
is not the bottleneck, against the bare endpoint at the same rate.

    .venv/bin/python bench/intake.py [--seconds 20] [--connections 32] [--json FILE]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from common import ROOT, fmt, fresh_database, machine, open_loop, raw_dsn, stack, wait_ready, wrk, wrk_script
from floor_app import TABLE

from cli.devstack import free_port


async def measure(seconds: int, connections: int, open_seconds: int, code: Path, http_workers: int) -> dict:
    async with fresh_database() as db_url:
        with stack(code) as s:
            s.start_broker()
            s.env["XIAOER_INTAKE_DATABASE_URL"] = db_url
            s.env["XIAOER_INTAKE_HTTP_WORKERS"] = str(http_workers)
            s.xiaoer("migrate", "intake")
            conn = await asyncpg.connect(raw_dsn(db_url))
            await conn.execute(TABLE)
            await conn.close()
            intake_port, bare_port, floor_port = free_port(), free_port(), free_port()
            s.serve("serve", "intake", intake_port)
            s.bare(bare_port, workers=http_workers)
            s.bare(floor_port, workers=http_workers, app="floor_app:app", FLOOR_DSN=raw_dsn(db_url))
            intake_url = f"http://127.0.0.1:{intake_port}/v1/requests"
            bare_url = f"http://127.0.0.1:{bare_port}/v1/requests"
            floor_url = f"http://127.0.0.1:{floor_port}/v1/requests"
            await wait_ready(f"http://127.0.0.1:{intake_port}/readyz")
            await wait_ready(f"http://127.0.0.1:{bare_port}/docs")
            await wait_ready(f"http://127.0.0.1:{floor_port}/docs")
            await s.register_group(intake_port)
            token = s.token(role="enterprise", usccs=[s_uscc()])
            intake_script, bare_script = wrk_script(token), wrk_script(None)
            wrk(intake_url, intake_script, connections=connections, seconds=3)  # warm-up, not counted
            wrk(bare_url, bare_script, connections=connections, seconds=3)
            wrk(floor_url, bare_script, connections=connections, seconds=3)
            runs = {"bare": [], "floor": [], "intake": []}
            for _ in range(2):  # A B C A B C
                runs["bare"].append(wrk(bare_url, bare_script, connections=connections, seconds=seconds))
                runs["floor"].append(wrk(floor_url, bare_script, connections=connections, seconds=seconds))
                runs["intake"].append(wrk(intake_url, intake_script, connections=connections, seconds=seconds))
            half = statistics.mean(r["rps"] for r in runs["intake"]) / 2
            open_intake = open_loop(intake_url, token, half, open_seconds)
            open_bare = open_loop(bare_url, None, half, open_seconds)
    bare_rps = statistics.mean(r["rps"] for r in runs["bare"])
    floor_rps = statistics.mean(r["rps"] for r in runs["floor"])
    intake_rps = statistics.mean(r["rps"] for r in runs["intake"])
    return {
        "machine": machine(),
        "http_workers": http_workers,
        "seconds": seconds,
        "connections": connections,
        "runs": runs,
        "bare_rps": bare_rps,
        "intake_rps": intake_rps,
        "ratio": intake_rps / bare_rps,
        "floor_rps": floor_rps,
        "floor_ratio": floor_rps / bare_rps,
        "ratio_to_floor": intake_rps / floor_rps,
        "intake_wrk_p99_ms": max(r["p99_ms"] for r in runs["intake"]),
        "open_rate": half,
        "open_intake": open_intake,
        "open_bare": open_bare,
        "errors": sum(r["errors"] for rs in runs.values() for r in rs) + open_intake["failures"],
    }


def s_uscc() -> str:
    from common import USCC

    return USCC


def report(r: dict, seconds: int, connections: int) -> str:
    lines = [
        f"wrk -t2 -c{connections} -d{seconds}s, A B C A B C; {r['http_workers']} HTTP worker process(es) each; "
        f"{r['machine']}",
        "",
        "| run | bare FastAPI req/s | floor (one asyncpg INSERT) req/s | intake req/s | intake p50 ms "
        "| intake p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    runs = zip(r["runs"]["bare"], r["runs"]["floor"], r["runs"]["intake"], strict=True)
    for n, (bare, floor, intake) in enumerate(runs, 1):
        lines.append(
            f"| {n} | {fmt(bare['rps'])} | {fmt(floor['rps'])} | {fmt(intake['rps'])} | {fmt(intake['p50_ms'], 1)} | "
            f"{fmt(intake['p99_ms'], 1)} | {bare['errors'] + floor['errors'] + intake['errors']} |"
        )
    oi, ob = r["open_intake"], r["open_bare"]
    lines += [
        "",
        f"intake reaches **{r['ratio']:.1%}** of the bare endpoint "
        f"({fmt(r['intake_rps'])} / {fmt(r['bare_rps'])} req/s); the floor of keeping the body reaches "
        f"{r['floor_ratio']:.1%} of it, and intake {r['ratio_to_floor']:.1%} of the floor.",
        "",
        f"Open loop at half intake's rate ({fmt(r['open_rate'])} req/s, {oi['sent']} requests):",
        "",
        "| target | achieved req/s | p50 ms | p99 ms | max ms | failures | generator late p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, o in (("intake", oi), ("bare (generator check)", ob)):
        lines.append(
            f"| {name} | {fmt(o['achieved_rps'])} | {fmt(o['p50_ms'], 1)} | {fmt(o['p99_ms'], 1)} | "
            f"{fmt(o['max_ms'], 1)} | {o['failures']} | {fmt(o['generator_late_p99_ms'], 1)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--open-seconds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON too")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    parser.add_argument(
        "--http-workers", type=int, default=os.cpu_count(), help="intake's and the bare app's (default: one per core)"
    )
    args = parser.parse_args()
    result = asyncio.run(
        measure(args.seconds, args.connections, args.open_seconds, args.code.resolve(), args.http_workers)
    )
    print(report(result, args.seconds, args.connections))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
