"""intake's read model of the departments' work: each work item's state, unit, result and
deadlines, folded from ``workitems.events`` and ``sla.events``, and the request status they add
up to. The enterprise's timeline grows with every event (``timeline.py`` says how it reads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, events
from shared.clock import utcnow

from . import attachments, timeline, turns
from .models import CreditReport, ItemRating, Request, TimelineEntry, WorkItemDeadline, WorkItemView

# 信用代证: an item the subject's 专项信用报告 covers is "to obtain" (``credit_report``) until the
# enterprise uploads the report, then fulfilled (``credit_report_uploaded``): intake marks it so at
# the upload and the router confirms it. States, request statuses and the report entry's statuses
# are named in shared/vocabulary.py.
CREDIT_UPLOADED = turns.CREDIT_UPLOADED


async def work_items_of(session: AsyncSession, request_id: str) -> list[WorkItemView]:
    rows = await session.scalars(
        select(WorkItemView).where(WorkItemView.request_id == request_id).order_by(WorkItemView.unit_code)
    )
    return list(rows)


async def ratings_of(session: AsyncSession, request_id: str) -> dict[str, list[ItemRating]]:
    rows = await session.scalars(
        select(ItemRating).where(ItemRating.request_id == request_id).order_by(ItemRating.attempt)
    )
    by_item: dict[str, list[ItemRating]] = {}
    for row in rows:
        by_item.setdefault(row.work_item_id, []).append(row)
    return by_item


async def status_of(session: AsyncSession, request: Request, items: list[WorkItemView]) -> str:
    """A request's status as its work items show it (turns.status), the ratings read only when an
    item is resolved, so might wait for one."""
    resolved = any(item.status == "resolved" for item in items)
    return turns.status(request.status, items, await ratings_of(session, request.id) if resolved else {})


async def _views_of(session: AsyncSession, request_id: str) -> dict[str, WorkItemView]:
    """A request's work-item views, read once per consumer batch (its events come together, keyed
    by request; ``_read_ahead`` reads a whole run's at once), and the request's status is then
    computed from them without reading them again."""
    if ("intake.views", request_id) not in session.info:
        await _read_ahead(session, {request_id})
    return session.info[("intake.views", request_id)]


async def _deadlines_of(session: AsyncSession, request_id: str) -> dict[str, WorkItemDeadline]:
    """Deadlines the notifier sent before the items' own news came, read once per batch too."""
    if ("intake.deadlines", request_id) not in session.info:
        await _read_ahead(session, {request_id})
    return session.info[("intake.deadlines", request_id)]


async def _read_ahead(session: AsyncSession, request_ids: set[str]) -> None:
    """The views and deadlines of every request of a run of events, one query each, kept for the
    batch in ``session.info`` by request (which also holds them: the identity map keeps objects
    weakly)."""
    unread = [request_id for request_id in request_ids if ("intake.views", request_id) not in session.info]
    if not unread:
        return
    for request_id in unread:
        session.info[("intake.views", request_id)], session.info[("intake.deadlines", request_id)] = {}, {}
    for view in await session.scalars(select(WorkItemView).where(WorkItemView.request_id.in_(unread))):
        session.info[("intake.views", view.request_id)][view.id] = view
    for deadline in await session.scalars(select(WorkItemDeadline).where(WorkItemDeadline.request_id.in_(unread))):
        session.info[("intake.deadlines", deadline.request_id)][deadline.work_item_id] = deadline


async def apply_work_item_events(session: AsyncSession, batch: list[events.WorkItemEvent]) -> None:
    """Work-item events in the order they came. Their timeline entries are written together by
    one INSERT, not as ORM objects: nothing reads them back in the batch, and flushing them
    through the ORM was a large part of the read model's CPU (docs/benchmarks.md). The run's
    requests (locked), views and deadlines are read first, one query each."""
    request_ids = {event.request_id for event in batch}
    # Locked: a withdrawal committed while this batch works out a request's status is read here,
    # not overwritten with a status worked out before it.
    locked = db.to_change(select(Request).where(Request.id.in_(request_ids)).order_by(Request.id))
    db.hold(session, await session.scalars(locked))
    await _read_ahead(session, request_ids)
    entries = [entry for event in batch if (entry := await apply_work_item_event(session, event))]
    if entries:
        await (await session.connection()).execute(insert(TimelineEntry.__table__), entries)


async def apply_work_item_event(session: AsyncSession, event: events.WorkItemEvent) -> dict[str, Any] | None:
    """Folds one event into its item's view and its request's status; the timeline entry it
    makes, for the caller to write."""
    request = await session.get(Request, event.request_id)
    if request is None:
        # Not ours (another intake's database) or not yet known: nothing to show it on.
        return None
    views = await _views_of(session, event.request_id)
    view = views.get(event.work_item_id)
    if view is None:
        view = views[event.work_item_id] = await _new_view(session, event)
    elif event.older_than(view.version):
        # A replayed or republished past event: true history for the timeline, but the view
        # already shows a later state, which it keeps.
        return timeline.entry(
            event.request_id, event.occurred_at, event.ce_type.removeprefix("cn.xiaoer."), timeline.summary(event), view
        )
    view.version = max(view.version or 0, event.version)
    view.unit_code, view.unit_name, view.kind, view.status = (
        event.unit_code,
        event.unit_name,
        event.department_kind,
        event.state,
    )
    view.last_actor = event.actor.label if event.actor else None
    view.last_actor_en = event.actor.label_en if event.actor else None
    files = await _apply_what_the_event_carries(session, event, view)
    view.updated_at = utcnow()
    if request.status != "withdrawn":
        request.status = await status_of(session, request, list(views.values()))
    request.updated_at = utcnow()
    if isinstance(event, (events.WorkItemCreditReportUploaded, events.WorkItemFollowedUp)):
        return None  # the router's confirmation of an upload or a 回访: intake wrote the entry then
    return timeline.entry(
        event.request_id,
        event.occurred_at,
        event.ce_type.removeprefix("cn.xiaoer."),
        timeline.summary(event),
        view,
        file_ids=[f.id for f in files],
    )


async def _new_view(session: AsyncSession, event: events.WorkItemEvent) -> WorkItemView:
    """The view of an item first heard of, with the deadlines the notifier may have sent before."""
    deadline = (await _deadlines_of(session, event.request_id)).get(event.work_item_id)
    view = WorkItemView(
        id=event.work_item_id,
        request_id=event.request_id,
        kind=event.department_kind,
        item=event.item,
        subject_uscc=event.subject_uscc,
        subject_name=event.subject_name,
        result=None,
        acknowledge_due_at=deadline.acknowledge_due_at if deadline else None,
        due_at=deadline.resolve_due_at if deadline else None,
    )
    session.add(view)
    return view


async def _apply_what_the_event_carries(
    session: AsyncSession, event: events.WorkItemEvent, view: WorkItemView
) -> list[events.FileRef]:
    """A result, files for the enterprise, a coverage version: whatever the event brings beyond
    the item's state. The files it brings, for its timeline entry."""
    if isinstance(event, events.WorkItemResolved):
        view.result = event.resolution.model_dump(mode="json")
        return await _learn_files(session, event, view, event.resolution.documents, "issued")
    if isinstance(event, events.WorkItemSupplementRequested):
        return await _learn_files(session, event, view, event.attachments, "supplement_form")
    if isinstance(event, events.WorkItemReturnedToEnterprise):
        # 主体授权不符: the unit's reason, for the enterprise to read beside the item.
        view.result = {"reason_class": event.reason_class, "note": event.note}
    elif isinstance(event, events.WorkItemReopened):
        view.result = None
    elif isinstance(event, events.WorkItemCovered):
        view.coverage = events.CoverageVersion(region_code=event.coverage_region, version=event.coverage_version).label
        if (await note_credit_report(session, event)).uploaded_at is not None:
            view.status = CREDIT_UPLOADED  # the report was uploaded before this item's news came
    elif isinstance(event, events.WorkItemDispatched) and event.credit_coverage:
        view.coverage = "、".join(version.label for version in event.credit_coverage)
    return []


async def _learn_files(
    session: AsyncSession, event: events.WorkItemEvent, view: WorkItemView, files: list[events.FileRef], purpose: str
) -> list[events.FileRef]:
    await attachments.record_unit_files(
        session, files, unit_code=event.unit_code, request_id=event.request_id, work_item_id=view.id, purpose=purpose
    )
    return files


async def apply_sla_updates(session: AsyncSession, batch: list[events.SlaUpdated]) -> None:
    """A run of the notifier's deadlines (one per new item): their requests' views and deadlines
    read with one query each, the new deadlines written together at the batch's flush."""
    request_ids = {event.request_id for event in batch}
    # Their requests locked first, as the items' news locks them: a view made meanwhile is read
    # here and given its deadlines (else each batch saw neither the other's view nor deadline).
    await session.execute(db.to_change(select(Request.id).where(Request.id.in_(request_ids)).order_by(Request.id)))
    await _read_ahead(session, request_ids)
    with session.no_autoflush:
        for event in batch:
            await apply_sla_update(session, event)


async def apply_sla_update(session: AsyncSession, event: events.SlaUpdated) -> None:
    deadlines = await _deadlines_of(session, event.request_id)
    deadline = deadlines.get(event.work_item_id)
    if deadline is None:
        deadline = WorkItemDeadline(work_item_id=event.work_item_id, request_id=event.request_id)
        session.add(deadline)
        deadlines[deadline.work_item_id] = deadline
    deadline.acknowledge_due_at = event.acknowledge_due_at
    deadline.resolve_due_at = event.resolve_due_at
    deadline.paused = event.paused
    view = (await _views_of(session, event.request_id)).get(event.work_item_id)
    if view is not None:  # else the dispatch event, when it comes, picks the deadlines up
        view.acknowledge_due_at = event.acknowledge_due_at
        view.due_at = event.resolve_due_at


async def note_credit_report(session: AsyncSession, event: events.WorkItemCovered) -> CreditReport:
    """The subject's one 专项信用报告 entry on the request, listing every item it stands for."""
    report = await session.scalar(
        select(CreditReport).where(
            CreditReport.request_id == event.request_id, CreditReport.subject_uscc == event.subject_uscc
        )
    )
    if report is None:
        report = CreditReport(
            request_id=event.request_id,
            subject_uscc=event.subject_uscc,
            subject_name=event.subject_name,
            subject_region=event.subject_region,
            report_name=event.report_name,
            site_name=event.report_site_name,
            site_url=event.report_site_url,
            coverage=[],
            work_item_ids=[],
            created_at=utcnow(),
        )
        session.add(report)
    version = f"{event.coverage_region} v{event.coverage_version}"
    if version not in report.coverage:
        report.coverage = [*report.coverage, version]
    if event.work_item_id not in report.work_item_ids:
        report.work_item_ids = [*report.work_item_ids, event.work_item_id]
    return report


async def credit_reports_of(session: AsyncSession, request_id: str) -> list[CreditReport]:
    rows = await session.scalars(
        select(CreditReport).where(CreditReport.request_id == request_id).order_by(CreditReport.id)
    )
    return list(rows)
