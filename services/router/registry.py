"""The department registry and routing rules as data: the demo seed, and loading a registry
(``units``, ``coverage``, ``rules``, ``supervisors``) into the router's database. Every unit and
supervising office loaded is announced on ``registry.events``, so the notifier tells exactly the
contacts the registry names. Files are read and validated whole by ``registry_file.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.clock import utcnow

from . import messages
from .models import DepartmentUnit, RoutingRule, UnitCoverage

# District-level demo units, their city-level parents, and the special names the generic
# "<region><kind>" pattern would get wrong.
DEMO_REGIONS = ("440112", "310115", "440100", "310000")
SPECIAL_NAMES = {
    ("440112", "customs"): "黄埔海关",
    ("440100", "customs"): "广州海关",
    ("310115", "customs"): "浦东海关",
    ("310000", "customs"): "上海海关",
    ("440100", "foreign_exchange"): "国家外汇管理局广州市分局",
    ("310000", "foreign_exchange"): "国家外汇管理局上海市分局",
}
# 黄埔海关 is a customs district: it also serves 增城区 and 东莞市, which are not its own region.
DEMO_COVERAGE = (("customs", "440118", "440112.customs"), ("customs", "441900", "440112.customs"))


def unit_code(region_code: str, kind: str) -> str:
    return f"{region_code}.{kind}"


def demo_registry() -> dict[str, Any]:
    units = []
    for region_code in DEMO_REGIONS:
        place = regions.full_name(region_code)
        supervisor = f"{place}人民政府督查室"
        for kind in catalogue.DEPARTMENT_KINDS.values():
            code = unit_code(region_code, kind.code)
            units.append(
                {
                    "unit_code": code,
                    "name": SPECIAL_NAMES.get((region_code, kind.code), f"{place}{kind.zh}"),
                    "kind": kind.code,
                    "region_code": region_code,
                    "contacts": [
                        {"role": "clerk", "email": f"{code}@example.gov.cn"},
                        {"role": "leadership", "email": f"{code}.leader@example.gov.cn"},
                    ],
                    "supervising_office": supervisor,
                }
            )
    coverage = [{"kind": k, "region_code": r, "unit_code": u} for k, r, u in DEMO_COVERAGE]
    rules = [
        {"request_type": t.code, "item": item.code, "department_kind": catalogue.kind_for_item(t.code, item.code)}
        for t in catalogue.REQUEST_TYPES.values()
        for item in t.items
    ]
    supervisors = [
        {
            "region_code": r,
            "name": f"{regions.full_name(r)}人民政府督查室",
            "contacts": [{"role": "clerk", "email": f"dudao.{r}@example.gov.cn"}],
        }
        for r in DEMO_REGIONS
    ]
    return {"units": units, "coverage": coverage, "rules": rules, "supervisors": supervisors}


async def is_empty(session: AsyncSession) -> bool:
    """No unit at all: the only registry the demo seed may fill (it never undoes an admin's change)."""
    return await session.scalar(select(DepartmentUnit.unit_code).limit(1)) is None


async def seed_demo(session: AsyncSession) -> dict[str, int] | None:
    """Loads the demo registry into an empty registry only; None when units exist already."""
    if not await is_empty(session):
        return None
    return await load_registry(session, demo_registry())


async def load_registry(session: AsyncSession, data: dict[str, Any]) -> dict[str, int]:
    """Upserts units and coverage; adds a rule only when it differs from the active one for its
    (type, item), as a new version; announces each unit and supervising office. Loading the same
    file twice changes nothing in the router (the notifier's recipients are replaced by the same)."""
    counts = {"units": 0, "coverage": 0, "rules": 0, "supervisors": 0}
    now = utcnow()
    announcements = []
    for entry in data.get("units", []):
        unit = await session.get(DepartmentUnit, entry["unit_code"])
        if unit is None:
            unit = DepartmentUnit(unit_code=entry["unit_code"])
            session.add(unit)
        unit.name = entry["name"]
        unit.kind = entry["kind"]
        unit.region_code = entry["region_code"]
        unit.inbox_topic = entry.get("inbox_topic") or events.dept_inbox(entry["unit_code"])
        unit.contacts = entry.get("contacts", [])
        unit.supervising_office = entry.get("supervising_office")
        unit.active = entry.get("active", True)
        unit.phone, unit.office_hours = entry.get("phone"), entry.get("office_hours")
        counts["units"] += 1
        announcements.append(messages.unit_registered(unit, now))
    for entry in data.get("supervisors", []):
        announcements.append(messages.supervisor_registered(entry, now))
        counts["supervisors"] += 1
    await session.flush()
    for entry in data.get("coverage", []):
        existing = await session.scalar(
            select(UnitCoverage).where(
                UnitCoverage.kind == entry["kind"], UnitCoverage.region_code == entry["region_code"]
            )
        )
        if existing is None:
            session.add(UnitCoverage(**entry))
            counts["coverage"] += 1
        elif existing.unit_code != entry["unit_code"]:
            existing.unit_code = entry["unit_code"]
            counts["coverage"] += 1
    for entry in data.get("rules", []):
        if await add_rule_version(session, entry["request_type"], entry["item"], entry["department_kind"]):
            counts["rules"] += 1
    await session.flush()
    await messages.emit(session, announcements)
    return counts


async def add_rule_version(session: AsyncSession, request_type: str, item: str, kind: str) -> RoutingRule | None:
    """Makes ``kind`` the active rule for (type, item) as a new version; None if it already is."""
    rules = list(
        await session.scalars(
            select(RoutingRule).where(RoutingRule.request_type == request_type, RoutingRule.item == item)
        )
    )
    active = next((r for r in rules if r.active), None)
    if active is not None and active.department_kind == kind:
        return None
    if active is not None:
        active.active = False
    rule = RoutingRule(
        request_type=request_type,
        item=item,
        department_kind=kind,
        version=max((r.version for r in rules), default=0) + 1,
        active=True,
    )
    session.add(rule)
    await session.flush()
    return rule


async def inbox_topics(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(DepartmentUnit.inbox_topic).where(DepartmentUnit.active.is_(True))))
