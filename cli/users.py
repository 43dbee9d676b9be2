"""The pages' staff accounts: ``xiaoer user add``, ``unlock``, ``password``, ``deactivate`` and
``activate``, and, for development, ``xiaoer user demo``. A new password or a deactivation ends the
account's sessions at once (the pages check the account on every request)."""

from __future__ import annotations

import asyncio
import sys

from cli.common import in_transaction, service_settings
from services.web.models import STAFF_ROLES  # the roles the web service's account table allows
from shared.settings import WEB, Settings


def cmd_user_demo(args, settings: Settings) -> None:
    """Development only: the pages' demo staff accounts for the demo registry's units and offices
    (a clerk per unit, a supervisor per office, an admin), into an empty account table; the demo
    sign-in page lists them. ``xiaoer run`` calls it after ``xiaoer seed``."""
    from services.router import registry
    from services.web import accounts, demo

    web = service_settings(WEB)
    if web.env != "development":
        print("demo staff accounts are for XIAOER_ENV=development only: none created")
        return
    staff = demo.demo_accounts(registry.demo_registry())
    count = asyncio.run(in_transaction(web.database_url, lambda s: accounts.seed_demo(s, staff, demo.DEMO_PASSWORD)))
    if count:
        print(f"seeded {count} demo staff accounts for the pages (password: {demo.DEMO_PASSWORD})")
    else:
        print("the pages have staff accounts already: demo accounts skipped")


def cmd_user_add(args, settings: Settings) -> None:
    """A staff account for the pages; the password from stdin, or generated and printed once."""
    import secrets

    from services.web import accounts

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = secrets.token_urlsafe(12)
    fields = dict(
        role=args.role,
        display_name=args.name,
        password=password,
        username=args.username,
        unit_code=args.unit,
        region_code=args.region,
        lead=args.lead,
    )
    try:
        account = asyncio.run(
            in_transaction(service_settings(WEB).database_url, lambda s: accounts.create(s, **fields))
        )
    except accounts.AccountError as refused:
        sys.exit(f"未创建 / not created: {refused}")
    print(f"created {account.role} {account.display_name}: username {account.username}")
    if not args.password_stdin:
        print(f"password (shown once): {password}")


def _change(args, what, done: str) -> None:
    """Runs ``what(session)`` on the pages' database; prints ``done`` or why it was refused."""
    from services.web import accounts

    try:
        account = asyncio.run(in_transaction(service_settings(WEB).database_url, what))
    except accounts.AccountError as refused:
        sys.exit(f"未更改 / not changed: {refused}")
    print(done.format(username=account.username, name=account.display_name))


def cmd_user_unlock(args, settings: Settings) -> None:
    """Lifts the lockout after wrong passwords."""
    from services.web import accounts

    _change(args, lambda s: accounts.unlock(s, args.username), "unlocked {username} ({name})")


def cmd_user_password(args, settings: Settings) -> None:
    """A new password (stdin, or generated and printed once); the account's sessions end."""
    import secrets

    from services.web import accounts

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(12)
    _change(
        args,
        lambda s: accounts.set_password(s, args.username, password),
        "new password for {username} ({name}); its sessions have ended",
    )
    if not args.password_stdin:
        print(f"password (shown once): {password}")


def cmd_user_deactivate(args, settings: Settings) -> None:
    """A leaver: no sign-in any more, and every open session of the account ends at once."""
    from services.web import accounts

    ended = "deactivated {username} ({name}); its sessions have ended"
    _change(args, lambda s: accounts.deactivate(s, args.username), ended)


def cmd_user_activate(args, settings: Settings) -> None:
    from services.web import accounts

    _change(args, lambda s: accounts.reactivate(s, args.username), "activated {username} ({name})")


def register(sub) -> None:
    users = sub.add_parser("user", help="staff accounts of the pages")
    users = users.add_subparsers(dest="user_command", required=True)
    ua = users.add_parser("add", help="create a staff account (clerk, coordinator, supervisor or admin)")
    ua.add_argument("--role", required=True, choices=STAFF_ROLES)
    ua.add_argument("--name", required=True, help="the person's name as pages show it, e.g. 李四")
    ua.add_argument("--unit", help="department or coordinator: the unit code, e.g. 440112.tax")
    ua.add_argument("--region", help="supervisor (required) or admin: the region code, e.g. 440112")
    ua.add_argument("--lead", action="store_true", help="department: the unit's lead (科长), who assigns its items")
    ua.add_argument("--username", help="default: the unit code (dudao.<region>, admin), -2, -3 … if taken")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else generated)")
    ua.set_defaults(func=cmd_user_add)
    for name, func, text in (
        ("unlock", cmd_user_unlock, "lift the lockout after wrong passwords"),
        ("password", cmd_user_password, "set a new password (its sessions end)"),
        ("deactivate", cmd_user_deactivate, "deactivate an account (a leaver): its sessions end at once"),
        ("activate", cmd_user_activate, "activate a deactivated account again"),
    ):
        command = users.add_parser(name, help=text)
        command.add_argument("username")
        if name == "password":
            command.add_argument("--password-stdin", action="store_true", help="read it from stdin (else generated)")
        command.set_defaults(func=func)
    users.add_parser("demo", help="development only: the demo staff accounts (into an empty table)").set_defaults(
        func=cmd_user_demo
    )
