"""``xiaoer check SERVICE``: the health check of a service's workers."""

from __future__ import annotations

import asyncio
import sys

from cli.common import service_main, service_settings
from shared.settings import SERVICES, Settings


def cmd_check(args, settings: Settings) -> None:
    """Exit 0 when the service's database and broker answer (health check for workers)."""
    runtime = service_main(args.service).build_runtime(service_settings(args.service))

    async def check() -> list[str]:
        failures = []
        for name, probe in runtime.readiness().items():
            try:
                await probe()
            except Exception as exc:
                failures.append(f"{name}: {exc}")
        await runtime.engine.dispose()
        return failures

    failures = asyncio.run(check())
    for failure in failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures else 0)


def register(sub) -> None:
    ck = sub.add_parser("check", help="exit 0 when a service's database and broker answer")
    ck.add_argument("service", choices=SERVICES)
    ck.set_defaults(func=cmd_check)
