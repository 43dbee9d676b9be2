"""Who may see a work item (services/router/access.py): the Python predicate ``may_see`` and its SQL
twin ``visible_items`` select the same items for every kind of caller, in a real database of the
test backend (SQLite, or PostgreSQL with ``XIAOER_TEST_DATABASE=postgres``). The items include unit
codes that begin with another unit's code and codes that differ only where SQL's LIKE would read
``_`` as any character, so the twin cannot match by accident."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.router import queue
from services.router.access import may_see, visible_items, visible_parts
from services.router.keyset import KEYS, Order
from services.router.models import Base, DepartmentUnit, RoutedRequest, WorkItem
from shared.auth import Principal
from shared.vocabulary import QUEUE_ORDERS
from tests.support import MINGLUO, make_databases

UNITS = {
    "440112.tax": "440112",
    "440112.tax.port": "440112",  # its code begins with 440112.tax's
    "440112.market_regulation": "440112",
    "440112.marketxregulation": "440112",  # equal to the one above where LIKE reads "_" as any character
    "440112.coordinator": "440112",
    "440113.tax": "440113",
    "441900.customs": "441900",
    "310115.tax": "310115",
}

# (held by, assisted by, the subject's region)
ITEMS = [
    ("440112.tax", [], "440112"),
    ("440112.tax.port", ["440112.marketxregulation"], "440112"),
    ("440112.market_regulation", ["440112.tax", "440113.tax"], "440112"),
    ("440112.coordinator", [], "440112"),
    ("440113.tax", ["440112.tax.port"], "440113"),
    ("441900.customs", [], "441900"),
    ("310115.tax", ["440112.market_regulation"], "310115"),
    ("310115.tax", [], "310110"),
]


def unit(code: str) -> Principal:
    return Principal(sub=f"clerk-{code}", role="department", unit=code)


CALLERS = [
    *(unit(code) for code in UNITS),
    unit("440100.tax"),  # a unit holding and assisting nothing here
    Principal(sub="sup-district", role="supervisor", region="440112"),
    Principal(sub="sup-neighbour", role="supervisor", region="440113"),
    Principal(sub="sup-city", role="supervisor", region="440100"),
    Principal(sub="sup-province", role="supervisor", region="440000"),
    Principal(sub="sup-yangpu", role="supervisor", region="310110"),  # not 310115, whatever the digits
    Principal(sub="admin-shanghai", role="admin", region="310000"),
    Principal(sub="admin-national", role="admin"),
    Principal(sub="enterprise", role="enterprise", usccs=[MINGLUO]),
    Principal(sub="liaison", role="liaison", usccs=[MINGLUO]),
]


@pytest.fixture(scope="module")
async def items(tmp_path_factory):
    """A router schema of its own with the units and items above; dropped afterwards."""
    databases = await make_databases(tmp_path_factory.mktemp("access"), ["access"])
    engine = create_async_engine(databases.urls["access"])
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        for code, region in UNITS.items():
            session.add(DepartmentUnit(unit_code=code, name=code, kind="tax", region_code=region, inbox_topic=code))
        request = RoutedRequest(
            request_id=str(uuid.uuid4()),
            reference_no="XE-ACCESS",
            request_type="compliance_certificate",
            enterprise_uscc=MINGLUO,
            body={},
        )
        session.add(request)
        await session.flush()
        start = datetime(2026, 3, 2, 1, tzinfo=UTC)
        for n, (holder, assisting, region) in enumerate(ITEMS):
            due = None if n % 3 == 2 else start + timedelta(hours=(n * 5) % 7)  # some share one, some have none
            session.add(
                WorkItem(
                    id=str(uuid.uuid4()),
                    request_id=request.request_id,
                    item=f"item{n}",
                    department_kind="tax",
                    unit_code=holder,
                    subject_uscc=MINGLUO,
                    subject_name="广州明珞装备股份有限公司",
                    subject_region=region,
                    state=("dispatched", "in_progress")[n % 2],  # the deadline now: 签收's, then 办结's
                    acknowledge_due_at=due,
                    resolve_due_at=due and due + timedelta(days=1),
                    created_at=start + timedelta(minutes=n % 4),
                    routing_reason="test",
                    assisting_units=assisting,
                )
            )
    yield sessions
    await engine.dispose()
    for cleanup in databases.cleanup:
        await cleanup()


@pytest.mark.parametrize("caller", CALLERS, ids=lambda p: f"{p.role}-{p.unit or p.region or p.sub}")
async def test_the_sql_twin_selects_exactly_the_items_the_predicate_lets_the_caller_see(items, caller):
    async with items() as session:
        every = list(await session.scalars(select(WorkItem)))
        selected = set(await session.scalars(select(WorkItem.id).where(visible_items(caller))))
    assert len(every) == len(ITEMS)
    assert selected == {item.id for item in every if may_see(caller, item)}


@pytest.mark.parametrize("caller", CALLERS, ids=lambda p: f"{p.role}-{p.unit or p.region or p.sub}")
async def test_the_parts_of_what_a_caller_sees_are_apart_and_add_up_to_it(items, caller):
    """queue.tab_counts counts a unit's own items apart from those it assists: no item in two
    parts, none left out."""
    async with items() as session:
        parts = [set(await session.scalars(select(WorkItem.id).where(part))) for part in visible_parts(caller)]
        seen = set(await session.scalars(select(WorkItem.id).where(visible_items(caller))))
    assert sum(len(part) for part in parts) == len(seen) == len(set().union(*parts))
    assert set().union(*parts) == seen


async def test_each_caller_sees_what_the_scope_says(items):
    async with items() as session:
        every = list(await session.scalars(select(WorkItem).order_by(WorkItem.item)))

    def seen(caller: Principal) -> list[tuple[str, str]]:
        return [(i.unit_code, i.subject_region) for i in every if may_see(caller, i)]

    # A unit: what it holds and what it assists, nothing of a unit whose code merely begins like its own.
    assert seen(unit("440112.tax")) == [("440112.tax", "440112"), ("440112.market_regulation", "440112")]
    assert seen(unit("440112.tax.port")) == [("440112.tax.port", "440112"), ("440113.tax", "440113")]
    assert seen(unit("440112.marketxregulation")) == [("440112.tax.port", "440112")]
    # The coordinating office: only the items it holds now.
    assert seen(unit("440112.coordinator")) == [("440112.coordinator", "440112")]
    # Supervisors: the items whose subject lies in their region (GB/T 2260, not digits).
    assert {r for _, r in seen(Principal(sub="s", role="supervisor", region="440112"))} == {"440112"}
    assert {r for _, r in seen(Principal(sub="s", role="supervisor", region="440000"))} == {
        "440112",
        "440113",
        "441900",
    }
    assert seen(Principal(sub="s", role="supervisor", region="310110")) == [("310115.tax", "310110")]
    assert len(seen(Principal(sub="a", role="admin"))) == len(ITEMS)
    # Enterprises and liaison officers follow their requests in intake, not work items here.
    assert seen(Principal(sub="e", role="enterprise", usccs=[MINGLUO])) == []


@pytest.mark.parametrize("order", QUEUE_ORDERS)
@pytest.mark.parametrize("descending", [False, True])
async def test_a_units_pages_are_its_own_and_assisted_items_in_one_order(items, order, descending):
    """queue.find reads a unit's own items and those it assists apart and pages them together:
    page by page, by offset or by cursor, every caller gets what it sees, in the order asked."""

    def key(item: WorkItem) -> list:
        return [read(item) for _column, read, _kind in KEYS[order]]

    async with items() as session:
        every = list(await session.scalars(select(WorkItem)))
        for caller in CALLERS:
            seen = sorted((i for i in every if may_see(caller, i)), key=key, reverse=descending)
            by_offset, by_cursor, ordering = [], [], Order(order, descending)
            for offset in range(0, len(seen) + 2, 2):
                by_offset += await queue.find(session, caller, queue.Filters(), Order(order, descending), offset, 2)
                page = await queue.find(session, caller, queue.Filters(), ordering, 0, 2)
                by_cursor += page
                if page:
                    ordering.read_cursor(ordering.cursor_of(page[-1]))
            assert [i.id for i in by_offset] == [i.id for i in seen], caller
            assert [i.id for i in by_cursor] == [i.id for i in seen], caller
