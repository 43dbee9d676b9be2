"""The department registry: ``xiaoer units import|credentials`` and ``xiaoer seed`` (the demo
registry, or a registry file as ``units import``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cli.common import in_transaction, service_settings
from shared.settings import Settings


def cmd_units_import(args, settings: Settings) -> None:
    """A city's registry file (YAML, JSON or CSV), validated whole before anything is written.
    Each unit and supervising office is announced on registry.events: the notifier makes their
    contacts its recipients."""
    from services.router import registry, registry_file

    try:
        data = registry_file.parse(Path(args.file))
    except registry_file.RegistryFileError as refused:
        print("注册表文件有误，未导入任何内容 / the file was refused, nothing was imported:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    counts = asyncio.run(
        in_transaction(service_settings("router").database_url, lambda s: registry.load_registry(s, data))
    )
    print(
        f"imported: {counts['units']} units, {counts['coverage']} coverage entries, "
        f"{counts['rules']} new rule versions, {counts['supervisors']} supervising offices"
    )


def cmd_units_credentials(args, settings: Settings) -> None:
    """Issues (or rotates, or revokes) a department system's key and prints its onboarding sheet."""
    from services.router import credentials

    router = service_settings("router")
    try:
        sheet = asyncio.run(
            in_transaction(
                router.database_url,
                lambda s: credentials.credentials_command(
                    s, router, args.unit, rotate=args.rotate, revoke_key=args.revoke
                ),
            )
        )
    except credentials.CredentialError as refused:
        sys.exit(f"未处理 / not done: {refused}")
    print(sheet)


def cmd_seed(args, settings: Settings) -> None:
    """The demo registry, into an empty registry only: a restart never reactivates a unit an
    admin deactivated or undoes any other change. With ``--file``, as ``units import``. The
    信用代证 coverage seed (validated whole first) goes into an empty coverage table on its own
    terms, so a deployment with units of its own gets it too."""
    from services.router import credit, registry

    if args.file:
        return cmd_units_import(args, settings)

    async def seed(session):
        await credit.seed(session)
        return await registry.seed_demo(session)

    counts = asyncio.run(in_transaction(service_settings("router").database_url, seed))
    if counts is None:
        print("the registry has units already: demo seed skipped")
    else:
        print(f"seeded the demo registry: {counts['units']} units, {counts['rules']} rule versions")


def register(sub) -> None:
    units = sub.add_parser("units", help="the department registry").add_subparsers(dest="units_command", required=True)
    ui = units.add_parser("import", help="load a registry file (YAML, JSON or CSV), validated whole first")
    ui.add_argument("file")
    ui.set_defaults(func=cmd_units_import)
    uc = units.add_parser("credentials", help="a department system's Kafka key and onboarding sheet")
    uc.add_argument("unit", help="unit code, e.g. 440112.tax")
    what = uc.add_mutually_exclusive_group()
    what.add_argument("--rotate", action="store_true", help="issue a new key; earlier ones stay valid until revoked")
    what.add_argument("--revoke", metavar="KEY_ID", help="revoke one key: its messages are refused from now on")
    uc.set_defaults(func=cmd_units_credentials)

    s = sub.add_parser("seed", help="load the demo registry into an empty one (or --file, as units import)")
    s.add_argument("--file", help="a registry JSON file (units, coverage, rules); demo data if omitted")
    s.set_defaults(func=cmd_seed)
