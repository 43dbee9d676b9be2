"""An open-loop load generator: POSTs the 8-item bundle at a fixed rate, whatever the server's
answers take, and measures each request's latency from the moment it was *due* (so a slow
server or a late generator cannot hide latency by sending less: no coordinated omission).

    .venv/bin/python bench/openloop.py URL --rate 50 --seconds 60 [--token JWT] [--out FILE]

Prints one JSON line: achieved rate, p50/p99/max latency in ms, failures, and the generator's own
lateness (how far behind schedule it sent; if that grows, the generator is the bottleneck).
With ``--out`` it also writes one JSON line per request: due time (Unix seconds), latency, the
created request's id.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BODY


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


async def run(url: str, rate: float, seconds: float, token: str | None, out: Path | None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(BODY, ensure_ascii=False).encode()
    total = int(rate * seconds)
    results: list[tuple[float, float, int, str | None]] = []
    lateness: list[float] = []
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)  # open loop: no cap on in-flight requests
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(due: float, wall_due: float) -> None:
            status, created = 0, None
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    status = response.status
                    payload = await response.read()
                    if status == 201:
                        created = json.loads(payload).get("id")
            except (aiohttp.ClientError, TimeoutError):
                status = -1
            results.append((wall_due, time.perf_counter() - due, status, created))

        # Warm up: a few connections, not measured.
        await asyncio.gather(*(session.post(url, data=body, headers=headers) for _ in range(4)))
        tasks = []
        start = time.perf_counter()
        wall_start = time.time()
        for n in range(total):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness.append(time.perf_counter() - due)
            tasks.append(asyncio.create_task(one(due, wall_start + n / rate)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies = sorted(r[1] * 1000 for r in results if r[2] == 201)
    if out:
        with out.open("w") as f:
            for wall_due, latency, status, created in results:
                f.write(json.dumps({"due": wall_due, "ms": latency * 1000, "status": status, "id": created}) + "\n")
    lateness.sort()
    return {
        "rate": rate,
        "sent": total,
        "ok": len(latencies),
        "failures": total - len(latencies),
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "generator_late_p99_ms": percentile(lateness, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--token")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import uvloop  # comes with uvicorn[standard]: the generator spends less CPU than on asyncio's loop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        print(json.dumps(runner.run(run(args.url, args.rate, args.seconds, args.token, args.out))))


if __name__ == "__main__":
    main()
