"""``xiaoer calendar load``: a year's official holidays and make-up working days, into the
notifier's database (every process uses them at once)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cli.common import in_transaction, service_settings
from shared.settings import Settings


def cmd_calendar_load(args, settings: Settings) -> None:
    """Loads an official schedule: JSON or YAML with year, holidays and workdays (make-up days)."""
    import yaml

    from services.notifier.calendar import ScheduleIn, store_schedule

    raw = yaml.safe_load(Path(args.file).read_text())
    year = int(raw.pop("year"))
    schedule = ScheduleIn.model_validate(raw)
    try:
        asyncio.run(
            in_transaction(
                service_settings("notifier").database_url, lambda s: store_schedule(s, year, schedule, "cli")
            )
        )
    except ValueError as exc:
        sys.exit(f"not loaded: {exc}")
    print(f"{year}: {len(schedule.holidays)} holidays, {len(schedule.workdays)} make-up working days loaded")


def register(sub) -> None:
    cal = sub.add_parser("calendar", help="working calendar").add_subparsers(dest="calendar_command", required=True)
    cl = cal.add_parser("load", help="load a year's official holiday schedule (JSON or YAML)")
    cl.add_argument("file")
    cl.set_defaults(func=cmd_calendar_load)
