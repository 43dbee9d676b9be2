"""What the commands share: each service's own settings and main module, a transaction on a
service's database, and instants with an offset as arguments."""

from __future__ import annotations

import argparse
import importlib
from datetime import datetime

from shared.settings import Settings


def service_main(name: str):
    return importlib.import_module(f"services.{name}.main")


def service_settings(name: str) -> Settings:
    """One service's settings: those every service shares plus its own."""
    return service_main(name).load_settings()


async def in_transaction(url: str, work):
    """``work(session)`` in one transaction on the database at ``url``; its result."""
    from shared import db

    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def instant(text: str) -> datetime:
    """An argument's ISO 8601 instant; one without an offset is refused."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. 2026-11-23T09:00:00+08:00")
    return value
