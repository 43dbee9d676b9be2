"""``xiaoer sla due``: a deadline computed by the notifier's own code."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from cli.common import in_transaction, service_settings
from shared.settings import Settings


def cmd_sla_due(args, settings: Settings) -> None:
    """A deadline computed as the notifier computes it: its business hours and the schedules
    operators loaded into its database (when that database answers)."""
    from services.notifier import calendar as work_calendar
    from shared.clock import SHANGHAI

    start = datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        sys.exit("--from needs a time zone offset, e.g. 2025-09-30T16:00:00+08:00")
    notifier_settings = service_settings("notifier")
    calendar = work_calendar.new_calendar(notifier_settings)
    try:
        asyncio.run(in_transaction(notifier_settings.database_url, lambda s: work_calendar.refresh(s, calendar)))
    except Exception as exc:  # no database yet (never migrated): chinese-calendar alone, said aloud
        print(f"warning: loaded schedules not read ({type(exc).__name__}); chinese-calendar only", file=sys.stderr)
    if args.working_days is not None:
        due = calendar.add_working_days(start, args.working_days)
    elif args.working_hours is not None:
        due = calendar.add_working_hours(start, args.working_hours)
    else:
        due = calendar.add_minutes(start, args.minutes)
    print(due.astimezone(SHANGHAI).isoformat())
    for year in sorted(calendar.fallback_years):
        print(f"warning: no official schedule for {year}; weekends and fixed-date holidays only", file=sys.stderr)


def register(sub) -> None:
    sla = sub.add_parser("sla", help="SLA arithmetic").add_subparsers(dest="sla_command", required=True)
    d = sla.add_parser("due", help="print a deadline in ISO 8601 (+08:00)")
    d.add_argument("--from", dest="start", required=True, help="an ISO 8601 instant with offset")
    amount = d.add_mutually_exclusive_group(required=True)
    amount.add_argument("--working-days", type=int)
    amount.add_argument("--working-hours", type=float)
    amount.add_argument("--minutes", type=float)
    d.set_defaults(func=cmd_sla_due)
