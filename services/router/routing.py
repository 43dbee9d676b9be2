"""Routing: choosing the unit for each (subject, item) of a request, and creating the work items
with the events that announce them."""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, events, regions
from shared.clock import utcnow
from shared.messaging.encoding import OutgoingMessage

from . import credit, item_files, messages
from .models import (
    CreditItem,
    DepartmentUnit,
    NewWorkItem,
    RegistryGeneration,
    RoutedRequest,
    RoutingRule,
    UnitCoverage,
    WorkItem,
)
from .settings import RouterSettings

COORDINATOR = "coordinator"
T = TypeVar("T")


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
    """A snapshot of units, coverage and active rules: one request asks dozens of questions of
    them. Routing keeps it between batches (``registry_snapshot``); other callers load their own."""

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

    def decide(self, request_type: str, subject: events.Subject, item: str, home_region: str) -> Decision:
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
        coordinator = coordinator_for(self, subject.region_code, home_region)
        kind = rule.department_kind if rule else COORDINATOR
        return Decision(subject, item, kind, coordinator, rule, f"{missing}，转 {coordinator.name} 人工分拨")


@dataclass(frozen=True)
class Snapshot:
    generation: int
    registry: Registry
    coverage: credit.CoverageBook


# The registry as last loaded, per database (engine), kept between batches.
_snapshots: weakref.WeakKeyDictionary[Any, Snapshot] = weakref.WeakKeyDictionary()


async def registry_snapshot(session: AsyncSession) -> tuple[Registry, credit.CoverageBook]:
    """The registry and the 信用代证 coverage, read again only when the registry's generation has
    moved: every change to those tables raises it, by database trigger (migration 0008), also an
    edit made by hand in SQL. Loading them costs more than routing the
    batches of one or two requests a steady load brings (docs/benchmarks.md).
    The generation is read before the tables, so a change committed in between only causes one
    more reload, never a stale snapshot."""
    generation = await session.scalar(select(RegistryGeneration.generation).where(RegistryGeneration.id == 1))
    database = session.bind.sync_engine
    snapshot = _snapshots.get(database)
    if snapshot is None or generation is None or snapshot.generation != generation:
        registry, coverage = await Registry.load(session), await credit.CoverageBook.load(session)
        # What the snapshot holds leaves the loading session at once: left in it, a rollback of
        # this batch would expire it, and every later batch would find it detached and unreadable.
        versions = (version for region in coverage.by_region.values() for version in region)
        for obj in [*registry.units.values(), *registry.rules.values(), *versions]:
            session.expunge(obj)
        snapshot = Snapshot(generation, registry, coverage)
        if generation is not None:
            _snapshots[database] = snapshot
    return snapshot.registry, snapshot.coverage


def coordinator_for(registry: Registry, region_code: str, home_region: str) -> DepartmentUnit:
    """The coordinating office for a region; for a region xiaoer has no office in (a subsidiary
    far away), the one of the enterprise's own region, which then finds the right unit by hand."""
    found = registry.unit_for(COORDINATOR, region_code) or registry.unit_for(COORDINATOR, home_region)
    if found is None:
        raise LookupError(f"no coordinating office for region {region_code} or {home_region}")
    return found[0]


def plan(
    registry: Registry, submitted: events.RequestSubmitted, splits: list[credit.Split] | None = None
) -> list[Decision]:
    """The department decisions of a request: every (subject, item) except those the subject's
    专项信用报告 covers (``splits``, for certificate bundles), each reason saying which coverage
    version was consulted."""
    home = submitted.enterprise.region_code
    by_subject = {s.subject.uscc: s for s in splits or []}
    decisions = []
    for subject in submitted.subjects:
        split = by_subject.get(subject.uscc)
        for item in submitted.items if split is None else split.routed(list(submitted.items)):
            decision = registry.decide(submitted.request_type, subject, item, home)
            if split is not None:
                decision = replace(decision, reason=f"{decision.reason}；信用代证：{split.reasons[item]}")
            decisions.append(decision)
    return decisions


def covered_items(request_id: str, splits: list[credit.Split] | None, now) -> list[CreditItem]:
    """The items of state ``credit_report``: covered by the subject's report, no unit."""
    return [
        CreditItem(
            id=str(uuid.uuid4()),
            request_id=request_id,
            item=item,
            subject_uscc=split.subject.uscc,
            subject_name=split.subject.name,
            subject_region=split.subject.region_code,
            state="credit_report",
            coverage_id=coverage.id,
            coverage_region=coverage.region_code,
            coverage_version=coverage.version,
            reason=split.reasons[item],
            version=1,
            created_at=now,
        )
        for split in splits or []
        for item, coverage in split.covered.items()
    ]


async def route_requests(
    session: AsyncSession, settings: RouterSettings, batch: list[events.RequestSubmitted]
) -> list[NewWorkItem]:
    """Creates the work items of newly submitted requests and queues their events. A request
    already routed (the same event replayed under a new id) creates nothing.

    The requests, their work items and their events are written with one INSERT each for the
    whole batch, not through the session's unit of work: routing a backlog spends its time here,
    and the ORM's flush of objects nothing else in the transaction touches, and statements per
    request, were most of it (figures in docs/benchmarks.md). The returned items are
    therefore not in the session."""
    rows = [
        {
            "request_id": submitted.request_id,
            "reference_no": submitted.reference_no,
            "request_type": submitted.request_type,
            "enterprise_uscc": submitted.enterprise.uscc,
            "body": submitted.model_dump(mode="json"),
        }
        for submitted in batch
    ]
    new = {request_id for (request_id,) in await db.insert_new(session, RoutedRequest.__table__, rows, ["request_id"])}
    now = utcnow()
    items: list[NewWorkItem] = []
    outgoing: list[OutgoingMessage] = []
    for submitted, row in zip(batch, rows, strict=True):
        if submitted.request_id in new:
            new.discard(submitted.request_id)  # the same request twice in a batch: routed once
            routed, announced = await _route(session, settings, submitted, RoutedRequest(**row), now)
            items += routed
            outgoing += announced
    if items:  # after the messages: they set each item's version
        await session.execute(insert(WorkItem.__table__), [vars(item) for item in items])
    await messages.emit(session, outgoing)
    return items


async def _route(
    session: AsyncSession,
    settings: RouterSettings,
    submitted: events.RequestSubmitted,
    request: RoutedRequest,
    now: datetime,
) -> tuple[list[NewWorkItem], list[OutgoingMessage]]:
    """One request's work items and their events; the items its subjects' 专项信用报告 cover are
    added to the session. ``request`` is for the messages: its row is written by the caller."""
    await item_files.record_enterprise_files(
        session,
        submitted.attachments,
        request_id=submitted.request_id,
        work_item_id=None,
        purpose="attachment",
        uploaded_by=submitted.submitted_by.ref,
    )
    for subject in submitted.subjects:  # each subject's 授权委托书, for the units of its items
        if subject.proof and subject.proof.authorization:
            await item_files.record_enterprise_files(
                session,
                [subject.proof.authorization],
                request_id=submitted.request_id,
                work_item_id=None,
                purpose="authorization",
                uploaded_by=submitted.submitted_by.ref,
                subject_uscc=subject.uscc,
            )
    registry, book = await db.once_per_session(session, "routing.registry", registry_snapshot)
    # The coverage in force on the submission day decides, however late the routing runs.
    splits = credit.splits_for(book, submitted, submitted.submitted_at)
    covered = covered_items(submitted.request_id, splits, now)
    coverage = {c.id: c for split in splits or [] for c in split.in_force}
    outgoing = [messages.covered(item, coverage[item.coverage_id], request, now) for item in covered]
    session.add_all(covered)
    consulted = {s.subject.uscc: credit.versions_of(s) for s in splits or []}
    items = []
    for decision in plan(registry, submitted, splits):
        item = _new_item(submitted, decision, consulted.get(decision.subject.uscc), now)
        items.append(item)
        outgoing.append(messages.assigned(settings, item, decision.unit, request, now, submitted=submitted))
        outgoing.append(
            messages.item_event(
                item,
                decision.unit,
                request,
                events.WorkItemDispatched,
                None,
                None,
                now,
                rule_id=item.rule_id,
                rule_version=item.rule_version,
                routing_reason=item.routing_reason,
            )
        )
    return items, outgoing


def _new_item(
    submitted: events.RequestSubmitted, decision: Decision, consulted: list[dict] | None, now: datetime
) -> NewWorkItem:
    return NewWorkItem(
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
        credit_coverage=consulted,
        created_at=now,
        updated_at=now,
    )
