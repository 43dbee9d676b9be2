"""``xiaoer run``: the whole system on embedded defaults (``cli.devstack``)."""

from __future__ import annotations

from shared.settings import Settings


def cmd_run(args, settings: Settings) -> None:
    from cli import devstack

    devstack.run(settings)


def register(sub) -> None:
    sub.add_parser("run", help="start broker and all services on embedded defaults").set_defaults(func=cmd_run)
