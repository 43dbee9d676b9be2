"""Benchmark of issue 27: public verification lookups per second (``GET /v1/verifications/{code}``
on the router, served as operators serve it) beside a bare FastAPI endpoint answering a JSON body
of the same shape without looking anything up (``bench/bare_app.py``); and the cost of writing a
certificate: PDF generation (WeasyPrint) + PAdES signing (pyHanko) per certificate, and of a 核验单.

A lookup is what production does: the rate limiter (raised out of the way for the run:
XIAOER_VERIFICATION_RATE_LIMIT), the code's row read, the lookup logged and a
``cn.xiaoer.document.verified`` event put in the outbox in one commit, the relay publishing it.
The load is a closed loop of ``--connections`` concurrent httpx clients in this process (the same
generator for both targets; wrk is not required), codes drawn from 1,000 registered documents.

    .venv/bin/python bench/verification.py [--seconds 15] [--connections 16] [--certificates 30] [--json FILE]

PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, fmt, fresh_database, machine, stack, wait_ready

from cli.devstack import free_port
from services.router.document_models import IssuedDocumentRow
from services.router.documents import codes, issuing, signing, templates, verification, wording
from shared import db
from shared.clock import utcnow
from shared.validation import make_uscc

DOCUMENTS = 1000
UNIT, UNIT_NAME = "440112.tax", "国家税务总局广州市黄埔区税务局"
SUBJECT, USCC = "广州明珞装备股份有限公司", make_uscc("91440112MA59C5XK0")


async def register(url: str, count: int) -> list[str]:
    """``count`` issued documents in the router's table, as resolving items would have left them."""
    engine = db.create_engine(url)
    now, found = utcnow(), []
    async with db.session_factory(engine)() as session, session.begin():
        for n in range(count):
            code = codes.new_code()
            found.append(code)
            session.add(
                IssuedDocumentRow(
                    code=code, item_id=f"bench-{n}", request_id=f"bench-{n}", enterprise_uscc=USCC,
                    subject_uscc=USCC, subject_name=SUBJECT, subject_region="440112", unit_code=UNIT,
                    unit_name=UNIT_NAME, unit_region="440112", kind="tax", document_number=f"穗埔税证〔2026〕{n}号",
                    form="certificate", sha256="0" * 64, file_id=f"bench-{n}", file_name="证明.pdf", file_size=1,
                    issued_at=now, valid_until=(now + timedelta(days=90)).date(), status="valid",
                )
            )  # fmt: skip
    await engine.dispose()
    return found


async def closed_loop(base: str, paths: list[str], connections: int, seconds: float) -> dict:
    """``connections`` clients each sending the next request when the last is answered."""
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(random.choice(paths))
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
        "requests": len(latencies) + errors,
    }


async def lookups(seconds: int, connections: int) -> dict:
    async with fresh_database() as db_url:
        with stack(ROOT) as s:
            s.start_broker()
            s.env.update(
                XIAOER_ROUTER_DATABASE_URL=db_url,
                XIAOER_ROUTER_HTTP_WORKERS="1",
                XIAOER_VERIFICATION_RATE_LIMIT="1000000/second",
                XIAOER_VERIFICATION_MISS_LIMIT="1000000/second",
            )
            s.xiaoer("migrate", "router")
            registered = await register(db_url, DOCUMENTS)
            router_port, bare_port = free_port(), free_port()
            s.serve("serve", "router", router_port)
            s.bare(bare_port, workers=1)
            await wait_ready(f"http://127.0.0.1:{router_port}/readyz")
            await wait_ready(f"http://127.0.0.1:{bare_port}/docs")
            paths = [f"/v1/verifications/{codes.group(c)}" for c in registered]
            targets = {"bare": f"http://127.0.0.1:{bare_port}", "router": f"http://127.0.0.1:{router_port}"}
            for base in targets.values():  # warm-up, not counted
                await closed_loop(base, paths, connections, 2)
            runs = {name: [] for name in targets}
            for _ in range(2):  # A B A B
                for name, base in targets.items():
                    runs[name].append(await closed_loop(base, paths, connections, seconds))
    means = {name: statistics.mean(r["rps"] for r in rs) for name, rs in runs.items()}
    return {
        "runs": runs,
        "bare_rps": means["bare"],
        "router_rps": means["router"],
        "ratio": means["router"] / means["bare"],
    }


def certificates(count: int) -> dict:
    """Median and p90 ms of generation + signing per certificate (and each alone), and of a 核验单."""
    timings = {"generate": [], "sign": [], "both": [], "slip": []}
    with tempfile.TemporaryDirectory() as ca_dir:
        signer = signing.IssuingCA.development(Path(ca_dir)).signer_for(UNIT, UNIT_NAME)
        for n in range(count + 1):  # the first is a warm-up (fonts, templates)
            now = utcnow()
            cert = issuing.certificate(
                code=codes.new_code(), kind="tax", document_number=wording.document_number("穗埔税证", now.year, n),
                unit_name=UNIT_NAME, subject_name=SUBJECT, subject_uscc=USCC, issued_at=now, period_months=36,
                verify_base_url="https://xiaoer.example.cn",
            )  # fmt: skip
            t0 = time.perf_counter()
            pdf = templates.render_certificate(cert)
            t1 = time.perf_counter()
            signing.sign_pdf(pdf, signer, unit_name=UNIT_NAME)
            t2 = time.perf_counter()
            slip = templates.VerificationSlip(
                code=codes.new_code(), document_number=cert.document_number, kind="tax", unit_name=UNIT_NAME,
                subject_name=SUBJECT, subject_uscc=USCC, file_name="证明.pdf", file_size=len(pdf),
                sha256=verification.sha256_hex(pdf), registered_at=now, verify_base_url="https://xiaoer.example.cn",
            )  # fmt: skip
            issuing.write_verification_slip(slip, signer)
            t3 = time.perf_counter()
            if n:
                for key, value in (("generate", t1 - t0), ("sign", t2 - t1), ("both", t2 - t0), ("slip", t3 - t2)):
                    timings[key].append(value * 1000)
    return {
        key: {"median_ms": statistics.median(v), "p90_ms": statistics.quantiles(v, n=10)[-1]}
        for key, v in timings.items()
    }


def report(r: dict) -> str:
    lines = [
        f"closed loop, {r['connections']} connections, {r['seconds']} s per run, A B A B; 1 HTTP worker each; "
        f"{r['machine']}",
        "",
        "| run | bare FastAPI lookups/s | router lookups/s | router p50 ms | router p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, (bare, router) in enumerate(
        zip(r["lookups"]["runs"]["bare"], r["lookups"]["runs"]["router"], strict=True), 1
    ):
        lines.append(
            f"| {n} | {fmt(bare['rps'])} | {fmt(router['rps'])} | {fmt(router['p50_ms'], 1)} | "
            f"{fmt(router['p99_ms'], 1)} | {bare['errors'] + router['errors']} |"
        )
    c = r["certificates"]
    lines += [
        "",
        f"The router answers **{r['lookups']['ratio']:.1%}** of the bare endpoint's lookups "
        f"({fmt(r['lookups']['router_rps'])} / {fmt(r['lookups']['bare_rps'])} per second).",
        "",
        f"Certificates ({r['certificate_count']} after one warm-up):",
        "",
        "| step | median ms | p90 ms |",
        "|---|---:|---:|",
    ]
    names = {"both": "generation + signing", "generate": "generation (WeasyPrint)", "sign": "signing (pyHanko)",
             "slip": "核验单, generated and signed"}  # fmt: skip
    for key, name in names.items():
        lines.append(f"| {name} | {fmt(c[key]['median_ms'], 1)} | {fmt(c[key]['p90_ms'], 1)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--certificates", type=int, default=30)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON too")
    args = parser.parse_args()
    result = {
        "machine": machine(),
        "seconds": args.seconds,
        "connections": args.connections,
        "certificate_count": args.certificates,
        "lookups": asyncio.run(lookups(args.seconds, args.connections)),
        "certificates": certificates(args.certificates),
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
