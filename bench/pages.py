"""The pages' budget (issue 11): the enterprise H5's request page transfers at most 60 KB of
JavaScript + CSS compressed, and a page renders on the server in at most 50 ms (median) with the
APIs local.

Starts its own ``xiaoer run`` (embedded broker, SQLite) on free ports, puts in the demo data of
``make screenshots`` (a six-item bundle, partly worked), signs in as the demo enterprise, then:

- fetches the request page's scripts and style sheets as a phone would (``Accept-Encoding:
  gzip``) and counts the bytes on the wire;
- times ``--runs`` GETs of each enterprise page, one after another, after a warm-up. A GET's time
  is measured from the client over loopback, so it includes the web service's calls to intake
  and the notifier: the whole server-side render.

Prints a markdown table (for docs/benchmarks.md).

    .venv/bin/python bench/pages.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.web.screenshots import MINGLUO, demo_data, running_stack  # noqa: E402

JS_CSS_BUDGET_KB = 60
RENDER_BUDGET_MS = 50


async def signed_in(web: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=web, timeout=30, headers={"Accept-Encoding": "gzip"})
    demo = await client.get("/demo")
    token = re.search(r'name="csrftoken" value="([^"]+)"', demo.text).group(1)
    signed = await client.post("/demo", data={"csrftoken": token, "persona": "enterprise"})
    assert signed.status_code == 303, signed.text
    return client


async def transferred(client: httpx.AsyncClient, path: str) -> list[tuple[str, int, int]]:
    """(asset, bytes on the wire, bytes unpacked) of every script and style sheet of the page."""
    html = (await client.get(path)).text
    assets = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(
        r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html
    )
    sizes = []
    for url in assets:
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            body = await response.aread()
            sizes.append((url.rsplit("/", 1)[-1], response.num_bytes_downloaded, len(body)))
    return sizes


async def timings(client: httpx.AsyncClient, path: str, runs: int) -> list[float]:
    for _warm_up in range(3):
        (await client.get(path)).raise_for_status()
    spent = []
    for _run in range(runs):
        start = time.perf_counter()
        response = await client.get(path)
        spent.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return spent


async def measure(stack, runs: int) -> str:
    ids = await demo_data(stack)
    request_page = f"/enterprise/requests/{ids['request_id']}"
    client = await signed_in(stack.urls["web"])
    try:
        sizes = await transferred(client, request_page)
        pages = {
            "H5 request page (8 items, 2 subjects)": request_page,
            "my requests": "/enterprise/",
            "new bundle form": "/enterprise/new",
        }
        times = {name: await timings(client, path, runs) for name, path in pages.items()}
    finally:
        await client.aclose()
    # The same request straight from intake: what of the page's time is the API's.
    async with httpx.AsyncClient(base_url=stack.urls["intake"], timeout=30) as intake:
        intake.headers.update(stack.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise"))
        times["(intake GET /v1/requests/{id} alone)"] = await timings(intake, f"/v1/requests/{ids['request_id']}", runs)
    wire = sum(s[1] for s in sizes) / 1024
    lines = [
        "| what | measured | budget | within |",
        "|---|---|---|---|",
        f"| H5 request page: JS + CSS transferred (gzip) | {wire:.1f} KB "
        f"({', '.join(f'{name} {w / 1024:.1f} KB' for name, w, _raw in sizes)}) "
        f"| ≤ {JS_CSS_BUDGET_KB} KB | {'yes' if wire <= JS_CSS_BUDGET_KB else 'NO'} |",
    ]
    for name, spent in times.items():
        median = statistics.median(spent)
        p90 = statistics.quantiles(spent, n=10)[-1]
        lines.append(
            f"| {name}: time to answer, median (p90) of {runs} | {median:.1f} ms ({p90:.1f} ms) "
            f"| ≤ {RENDER_BUDGET_MS} ms median | {'yes' if median <= RENDER_BUDGET_MS else 'NO'} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines.append(f"\n{os.cpu_count()} CPUs, load average {load} while measuring; loopback HTTP, SQLite.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with running_stack() as stack:
        print(asyncio.run(measure(stack, args.runs)))


if __name__ == "__main__":
    main()
