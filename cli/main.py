"""``xiaoer``'s parser, built from each command module's ``register``, and its entry point (the
``xiaoer`` script; ``python -m cli`` too). The list of commands is in ``cli/__init__.py``."""

from __future__ import annotations

import argparse

from cli import calendar_cmd, check, dlq, migrate, outbox, relations, run, schemas, serve, sla, tokens, units, users
from shared.settings import Settings

COMMANDS = (
    run,
    migrate,
    units,
    relations,
    serve,
    users,
    check,
    tokens,
    sla,
    calendar_cmd,
    dlq,
    outbox,
    schemas,
)  # --help's order


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xiaoer", description="店小二 operators' command line")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args, Settings())


if __name__ == "__main__":
    main()
