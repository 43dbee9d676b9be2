"""router's event handlers: new requests → work items; the enterprise's updates, department
systems' actions and the notifier's deadlines → the work-item life cycle."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, events
from shared.messaging.applying import BatchHandler, NotYetKnown
from shared.messaging.encoding import PoisonMessage, ReceivedEvent
from shared.problems import Problem

from . import credentials, credit, routing
from .lifecycle import ActionInput, Lifecycle
from .models import DepartmentUnit, RoutedRequest, WorkItem
from .settings import RouterSettings


def dispatch_handlers(settings: RouterSettings) -> dict:
    async def on_requests_submitted(session: AsyncSession, received: list[ReceivedEvent]) -> None:
        await routing.route_requests(session, settings, [event.data for event in received])

    return {events.RequestSubmitted.ce_type: BatchHandler(on_requests_submitted)}


class ActionHandlers:
    """What the router does with the enterprise's updates, the notifier's deadlines and the
    department systems' actions: each moves work items through the life cycle."""

    def __init__(self, settings: RouterSettings) -> None:
        self.settings = settings

    def as_dict(self) -> dict:
        return {
            events.RequestWithdrawn.ce_type: self.on_withdrawn,
            events.SupplementProvided.ce_type: self.on_supplement,
            events.WorkItemRated.ce_type: self.on_rated,
            events.WorkItemFollowUpGiven.ce_type: self.on_followed_up,
            events.CreditReportUploaded.ce_type: self.on_credit_report_uploaded,
            events.SlaUpdated.ce_type: BatchHandler(self.on_sla_updates),
            events.DepartmentAction.ce_type: self.on_department_action,
        }

    async def on_withdrawn(self, session: AsyncSession, received: ReceivedEvent) -> None:
        event: events.RequestWithdrawn = received.data
        request = await session.get(RoutedRequest, event.request_id)
        if request is None:
            # requests.updates and requests.submitted are read by separate consumers: the
            # submission may simply not be routed yet. Retried until it is.
            raise NotYetKnown(f"request {event.request_id} not routed yet")
        request.status = "withdrawn"
        async with Lifecycle(session, self.settings) as lifecycle:
            await lifecycle.withdraw(await _items_of(session, event.request_id), event.actor, event.reason)
        await credit.withdraw(session, event)  # covered items end as withdrawn too

    async def on_credit_report_uploaded(self, session: AsyncSession, received: ReceivedEvent) -> None:
        event: events.CreditReportUploaded = received.data
        if await session.get(RoutedRequest, event.request_id) is None:
            raise NotYetKnown(f"request {event.request_id} not routed yet")
        await credit.report_uploaded(session, event)

    async def on_supplement(self, session: AsyncSession, received: ReceivedEvent) -> None:
        event: events.SupplementProvided = received.data
        item = await item_of_request(session, event.work_item_id, event.request_id)
        async with Lifecycle(session, self.settings) as lifecycle:
            await lifecycle.supplemented(item, event.actor, event.text, event.attachments)

    async def on_rated(self, session: AsyncSession, received: ReceivedEvent) -> None:
        event: events.WorkItemRated = received.data
        item = await item_of_request(session, event.work_item_id, event.request_id)
        async with Lifecycle(session, self.settings) as lifecycle:
            await lifecycle.rated(item, event)

    async def on_followed_up(self, session: AsyncSession, received: ReceivedEvent) -> None:
        event: events.WorkItemFollowUpGiven = received.data
        item = await item_of_request(session, event.work_item_id, event.request_id)
        async with Lifecycle(session, self.settings) as lifecycle:
            await lifecycle.followed_up(item, event)

    async def on_sla_updates(self, session: AsyncSession, batch: list[ReceivedEvent]) -> None:
        """The notifier's deadlines, a run of them at a time (one per new item when a backlog
        drains): their items, units and requests read with one query each, their notices emitted
        together, each item written once."""
        updates: list[events.SlaUpdated] = [received.data for received in batch]
        wanted = select(WorkItem).where(WorkItem.id.in_({u.work_item_id for u in updates})).order_by(WorkItem.id)
        items = {item.id: item for item in await session.scalars(db.to_change(wanted))}
        requests = select(RoutedRequest).where(RoutedRequest.request_id.in_({i.request_id for i in items.values()}))
        units = select(DepartmentUnit).where(DepartmentUnit.unit_code.in_({i.unit_code for i in items.values()}))
        db.hold(session, [*await session.scalars(requests), *await session.scalars(units)])
        with session.no_autoflush:
            async with Lifecycle(session, self.settings) as lifecycle:
                for update in updates:
                    item = items.get(update.work_item_id)
                    if item is not None:  # else not routed by this router (another deployment's item)
                        await lifecycle.deadlines(item, update)

    async def on_department_action(self, session: AsyncSession, received: ReceivedEvent) -> None:
        action: events.DepartmentAction = received.data
        # Who sent it is what its key proves, not what its headers or body say (credentials.py).
        actor = (await credentials.verify(session, self.settings, received)).actor()
        item = await db.get_to_change(session, WorkItem, action.work_item_id)
        try:
            if item is None:
                raise Problem(404, "work_item_not_found", "工单不存在", "Work item not found")
            data = ActionInput(
                note=action.note,
                outcome=action.outcome,
                document_no=action.document_no,
                attachments=action.attachments,
                reason=action.reason,
                reason_class=action.reason_class,
                to_unit=action.to_unit,
                units=action.units,
                days=action.days,
                write_certificate=action.write_certificate,
            )
            async with Lifecycle(session, self.settings) as lifecycle:
                await lifecycle.act(item, action.action, action.unit_code, actor, data)
        except Problem as refused:
            # The same refusal an HTTP caller gets, as the dead letter's reason.
            details = "; ".join(f"{e.field}: {e.en}" for e in refused.errors)
            raise PoisonMessage(
                f"{refused.status} {refused.code}: {refused.en}" + (f" ({details})" if details else "")
            ) from refused


async def _items_of(session: AsyncSession, request_id: str) -> list[WorkItem]:
    """A withdrawn request's items, locked (``db.to_change``): a clerk's action on one of them
    committed meanwhile is read here, not overwritten by the cancellation."""
    items = select(WorkItem).where(WorkItem.request_id == request_id).order_by(WorkItem.id)
    return list(await session.scalars(db.to_change(items)))


def action_handlers(settings: RouterSettings) -> dict:
    return ActionHandlers(settings).as_dict()


async def item_of_request(session: AsyncSession, work_item_id: str, request_id: str) -> WorkItem:
    """The work item an enterprise's update names, locked (``db.get_to_change``). Not there yet:
    the submission that creates it may not be routed yet (retried); of another request: the
    message is malformed (dead letter)."""
    item = await db.get_to_change(session, WorkItem, work_item_id)
    if item is None:
        raise NotYetKnown(f"work item {work_item_id} of request {request_id} not routed yet")
    if item.request_id != request_id:
        raise PoisonMessage(f"work item {work_item_id} is not of request {request_id}")
    return item
