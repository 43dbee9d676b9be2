"""router's domain logic: choosing the unit for each (subject, item), creating work items and
the events that announce them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, regions
from shared.db import utcnow
from shared.kafka import OutgoingMessage, add_to_outbox, encode

from .models import DepartmentUnit, RoutedRequest, RoutingRule, UnitCoverage, WorkItem, outbox

COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Decision:
    """Where one (subject, item) goes, and why."""

    subject: events.Subject
    item: str
    department_kind: str
    unit: DepartmentUnit
    rule: RoutingRule | None
    reason: str


class Registry:
    """A snapshot of units, coverage and active rules, loaded once per routing batch: the
    tables are small (hundreds of rows) and one request asks dozens of questions of them."""

    def __init__(self, units: list[DepartmentUnit], coverage: list[UnitCoverage], rules: list[RoutingRule]):
        self.units = {u.unit_code: u for u in units if u.active}
        self.coverage = {(c.kind, c.region_code): c.unit_code for c in coverage}
        self.home = {}
        for unit in sorted(self.units.values(), key=lambda u: u.unit_code):
            self.home.setdefault((unit.kind, unit.region_code), unit.unit_code)
        self.rules = {(r.request_type, r.item): r for r in rules}

    @classmethod
    async def load(cls, session: AsyncSession) -> Registry:
        units = list(await session.scalars(select(DepartmentUnit)))
        coverage = list(await session.scalars(select(UnitCoverage)))
        rules = list(await session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True))))
        return cls(units, coverage, rules)

    def unit_for(self, kind: str, region_code: str) -> tuple[DepartmentUnit, str] | None:
        """The unit of ``kind`` serving ``region_code``, falling back district → city →
        province; with the region level it was found at."""
        for code in regions.lineage(region_code):
            unit_code = self.coverage.get((kind, code)) or self.home.get((kind, code))
            if unit_code and unit_code in self.units:
                return self.units[unit_code], code
        return None

    def decide(self, request_type: str, subject: events.Subject, item: str) -> Decision:
        rule = self.rules.get((request_type, item))
        place = regions.full_name(subject.region_code)
        if rule is not None:
            found = self.unit_for(rule.department_kind, subject.region_code)
            if found is not None:
                unit, level = found
                where = "本级" if level == subject.region_code else f"上级 {regions.full_name(level)}"
                reason = (
                    f"规则 #{rule.id} v{rule.version}: {request_type}/{item} → {rule.department_kind}; "
                    f"{place}由{where}单位 {unit.name} 负责"
                )
                return Decision(subject, item, rule.department_kind, unit, rule, reason)
            missing = f"{place}及其上级均无 {rule.department_kind} 单位"
        else:
            missing = f"没有 {request_type}/{item} 的路由规则"
        found = self.unit_for(COORDINATOR, subject.region_code)
        if found is None:
            raise LookupError(f"no coordinating office for region {subject.region_code}")
        coordinator, _ = found
        kind = rule.department_kind if rule else COORDINATOR
        return Decision(subject, item, kind, coordinator, rule, f"{missing}，转 {coordinator.name} 人工分拨")


def plan(registry: Registry, submitted: events.RequestSubmitted) -> list[Decision]:
    return [
        registry.decide(submitted.request_type, subject, item)
        for subject in submitted.subjects
        for item in submitted.items
    ]


async def route_request(session: AsyncSession, submitted: events.RequestSubmitted) -> list[WorkItem]:
    """Creates the work items of a newly submitted request and queues their events. A request
    already routed (the same event replayed under a new id) creates nothing."""
    if await session.get(RoutedRequest, submitted.request_id) is not None:
        return []
    session.add(
        RoutedRequest(
            request_id=submitted.request_id,
            reference_no=submitted.reference_no,
            request_type=submitted.request_type,
            enterprise_uscc=submitted.enterprise.uscc,
            body=submitted.model_dump(mode="json"),
        )
    )
    now = utcnow()
    registry = await Registry.load(session)
    items: list[WorkItem] = []
    messages: list[OutgoingMessage] = []
    for decision in plan(registry, submitted):
        item = WorkItem(
            id=str(uuid.uuid4()),
            request_id=submitted.request_id,
            item=decision.item,
            department_kind=decision.department_kind,
            unit_code=decision.unit.unit_code,
            subject_uscc=decision.subject.uscc,
            subject_name=decision.subject.name,
            subject_region=decision.subject.region_code,
            state="dispatched",
            rule_id=decision.rule.id if decision.rule else None,
            rule_version=decision.rule.version if decision.rule else None,
            routing_reason=decision.reason,
            created_at=now,
            updated_at=now,
        )
        items.append(item)
        messages += dispatch_messages(item, decision.unit, submitted, now)
    session.add_all(items)
    await session.flush()
    await add_to_outbox(session, outbox, messages)
    return items


def dispatch_messages(
    item: WorkItem, unit: DepartmentUnit, submitted: events.RequestSubmitted, now: datetime
) -> list[OutgoingMessage]:
    subject = events.Subject(uscc=item.subject_uscc, name=item.subject_name, region_code=item.subject_region)
    assigned = events.WorkItemAssigned(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=submitted.reference_no,
        request_type=submitted.request_type,
        item=item.item,
        unit_code=unit.unit_code,
        enterprise=submitted.enterprise,
        subject=subject,
        period_months=submitted.period_months,
        purpose=submitted.purpose,
        description=submitted.description,
        attachments=submitted.attachments,
        dispatched_at=now,
    )
    dispatched = events.WorkItemDispatched(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=submitted.reference_no,
        request_type=submitted.request_type,
        item=item.item,
        department_kind=item.department_kind,
        unit_code=unit.unit_code,
        unit_name=unit.name,
        region_code=unit.region_code,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        state="dispatched",
        occurred_at=now,
        rule_id=item.rule_id,
        rule_version=item.rule_version,
        routing_reason=item.routing_reason,
    )
    return [
        encode(assigned, topic=unit.inbox_topic, source=events.SOURCE_ROUTER, subject=item.id, key=item.id, time=now),
        encode(
            dispatched,
            topic=events.WORKITEMS_EVENTS,
            source=events.SOURCE_ROUTER,
            subject=item.id,
            key=item.request_id,
            time=now,
        ),
    ]
