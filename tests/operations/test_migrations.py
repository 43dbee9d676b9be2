"""Each service's Alembic migrations, run on an empty database, build exactly the schema its
models declare: Alembic's own autogenerate comparison (types included) finds nothing to add,
drop or change. Runs on SQLite, and on PostgreSQL too when ``XIAOER_TEST_DATABASE=postgres``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake import main as intake_main
from services.intake import models as intake_models
from services.notifier import main as notifier_main
from services.notifier import models as notifier_models
from services.router import main as router_main
from services.router import tables as router_tables
from services.web import main as web_main
from services.web import models as web_models
from shared.db import upgrade
from tests.support import database_backend, make_databases

SERVICES = {
    "intake": (intake_main.MIGRATIONS, intake_models.Base.metadata),
    "router": (router_main.MIGRATIONS, router_tables.metadata),
    "notifier": (notifier_main.MIGRATIONS, notifier_models.Base.metadata),
    "web": (web_main.MIGRATIONS, web_models.Base.metadata),
}
BACKENDS = ["sqlite"] + (["postgres"] if database_backend() == "postgres" else [])


def differences(connection: Connection, metadata: MetaData) -> list:
    options = {"compare_type": True, "compare_server_default": True, "include_object": made_here(connection)}
    context = MigrationContext.configure(connection, opts=options)
    return compare_metadata(context, metadata)


def made_here(connection: Connection):
    """Alembic's include_object: a model's index made for another database only (``ddl_if``, e.g.
    PostgreSQL's trigram indexes) is not expected in this one."""

    def include(item, _name, kind, reflected, _compare_to) -> bool:
        only_on = getattr(getattr(item, "_ddl_if", None), "dialect", None)
        return reflected or kind != "index" or only_on in (None, connection.dialect.name)

    return include


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.fixture
async def database_url(request, tmp_path: Path):
    """An empty database of the backend asked for, as an async URL; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/migrated.db"
        return
    databases = await make_databases(tmp_path, ["migrated"])
    yield databases.urls["migrated"]
    for cleanup in databases.cleanup:
        await cleanup()


async def migrate_and_compare(service: str, url: str, revision: str = "head") -> tuple[set[str], list]:
    """Upgrades an empty database to ``revision``; its tables and how they differ from the models."""
    migrations, metadata = SERVICES[service]
    # Alembic's env.py runs its own event loop, so the upgrade runs in a thread.
    await asyncio.to_thread(upgrade, migrations, url, revision)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(tables), await connection.run_sync(differences, metadata)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
@pytest.mark.parametrize("service", list(SERVICES))
async def test_migrations_build_exactly_the_models_schema(service, database_url):
    metadata = SERVICES[service][1]
    found, diff = await migrate_and_compare(service, database_url)
    assert set(metadata.tables) <= found, "every model table exists"
    assert found - set(metadata.tables) == {"alembic_version"}, "and no other table"
    assert diff == [], f"{service}: migrations and models differ: {diff}"


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_the_comparison_sees_a_missing_migration(database_url):
    """The check above can fail: stopping the router one revision short leaves its life-cycle
    tables and work-item columns (0002) missing, and the comparison names them."""
    found, diff = await migrate_and_compare("router", database_url, revision="0001")
    assert {"extensions", "work_item_log"}.isdisjoint(found)
    added_tables = {entry[1].name for entry in diff if entry[0] == "add_table"}
    added_columns = {(entry[2], entry[3].name) for entry in diff if entry[0] == "add_column"}
    assert {"extensions", "work_item_log"} <= added_tables
    assert {("work_items", "resolve_due_at"), ("work_items", "assisting_units")} <= added_columns, diff
