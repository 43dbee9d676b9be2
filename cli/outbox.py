"""``xiaoer outbox republish``: a service's relay publishes a time range of its outbox again (after
a broker lost its data); ``shared.messaging.outbox.republish`` does it."""

from __future__ import annotations

import asyncio

from cli.common import instant, service_settings
from shared.settings import SERVICES, Settings


def cmd_outbox_republish(args, settings: Settings) -> None:
    from shared.messaging.outbox import republish

    url = service_settings(args.service).database_url
    count = asyncio.run(republish(url, args.since, args.until, args.topic))
    print(f"{args.service}: {count} outbox row(s) marked for publishing again; its running relay sends them")


def register(sub) -> None:
    ob = sub.add_parser("outbox", help="a service's outbox").add_subparsers(dest="outbox_command", required=True)
    rp = ob.add_parser("republish", help="publish the outbox rows created in a time range again")
    rp.add_argument("--service", required=True, choices=SERVICES)
    rp.add_argument("--since", required=True, type=instant, help="ISO 8601 with offset")
    rp.add_argument("--until", type=instant, help="ISO 8601 with offset; now if omitted")
    rp.add_argument("--topic", help="only rows for this topic")
    rp.set_defaults(func=cmd_outbox_republish)
