"""``xiaoer migrate``: each service's database migrations (Alembic)."""

from __future__ import annotations

import sys

from cli.common import service_main, service_settings
from shared.settings import SERVICES, WEB, Settings


def cmd_migrate(args, settings: Settings) -> None:
    from shared import db

    with_database = (*SERVICES, WEB)
    unknown = set(args.services) - set(with_database)
    if unknown:
        sys.exit(f"unknown service(s): {', '.join(sorted(unknown))}")
    for name in args.services or with_database:
        url = service_settings(name).database_url
        db.upgrade(service_main(name).MIGRATIONS, url)
        print(f"{name}: migrated {url}")


def register(sub) -> None:
    m = sub.add_parser("migrate", help="apply database migrations")
    m.add_argument("services", nargs="*", help="intake, router and/or notifier; all if omitted")
    m.set_defaults(func=cmd_migrate)
