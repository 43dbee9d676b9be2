"""Applying moves to work items: what each move changes, records and announces. Which move is
allowed when, by whom and with what is the transition table's (``transitions.py``); HTTP
(``api.py``) and Kafka (``worker.py``) both come here, so a department gets the same answer
whichever way it acts."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.clock import utcnow
from shared.kafka import OutgoingMessage
from shared.problems import Problem, invalid_field

from . import messages, transitions
from .models import DepartmentUnit, Extension, RoutedRequest, WorkItem, WorkItemLog
from .routing import Registry, coordinator_for
from .settings import RouterSettings


@dataclass
class ActionInput:
    """What a department sends with an action (the same fields over HTTP and Kafka)."""

    note: str | None = None
    outcome: str | None = None
    document_no: str | None = None
    attachments: list[str] | None = None
    reason: str | None = None
    to_unit: str | None = None
    units: list[str] | None = None
    days: int | None = None


def item_not_found() -> Problem:
    return Problem(404, "work_item_not_found", "工单不存在", "Work item not found")


class Lifecycle:
    """Applies moves to work items inside the caller's transaction and queues their events."""

    def __init__(self, session: AsyncSession, settings: RouterSettings) -> None:
        self.session = session
        self.settings = settings
        self.messages: list[OutgoingMessage] = []
        self.now = utcnow()
        self._unit_moves = {
            "acknowledge": self._acknowledge,
            "progress": self._progress,
            "request-supplement": self._request_supplement,
            "resolve": self._resolve,
            "return": self._return,
            "transfer": self._transfer,
            "assist": self._assist,
            "extension": self._extension,
        }

    async def flush(self) -> None:
        """Adds the events of every move made so far to the outbox, in one statement."""
        await messages.emit(self.session, self.messages)
        self.messages = []

    # --- department actions ---------------------------------------------------------------------
    async def act(self, item: WorkItem, action: str, acting_unit: str, actor: events.Actor, data: ActionInput) -> None:
        move = transitions.department_move(action)
        is_lead = item.unit_code == acting_unit
        is_assistant = acting_unit in (item.assisting_units or [])
        if not is_lead and not (is_assistant and action == transitions.CONTRIBUTION):
            raise item_not_found()  # another unit's item: its existence is not theirs to know
        if is_assistant and not is_lead:
            return await self._contribute(item, acting_unit, actor, data)
        if move.by == "coordinator":
            return await self.dispatch(item, acting_unit, actor, data.to_unit)
        transitions.check(move, item.state, asdict(data))
        await self._unit_moves[action](item, actor, data)

    async def _acknowledge(self, item, actor, data):
        await self._move(item, "acknowledge", actor, data.note, events.WorkItemAcknowledged)

    async def _progress(self, item, actor, data):
        await self._move(item, "progress", actor, data.note, events.WorkItemProgressed)

    async def _request_supplement(self, item, actor, data):
        await self._move(item, "request-supplement", actor, data.note, events.WorkItemSupplementRequested)

    async def _resolve(self, item, actor, data):
        if data.outcome not in events.OUTCOME_NAMES:
            raise invalid_field(
                "outcome",
                "outcome_invalid",
                "办理结果须为 issued、not_issued 或 answered",
                "outcome must be issued, not_issued or answered",
            )
        if data.outcome == "issued" and not data.document_no:
            raise invalid_field(
                "document_no", "missing", "出具证明时请填写文号", "An issued certificate needs its document number"
            )
        if data.outcome in ("not_issued", "answered") and not data.note:
            raise invalid_field("note", "missing", "请填写不予出具的理由或答复内容", "Give the reason or the answer")
        resolution = events.Resolution(
            outcome=data.outcome,
            document_no=data.document_no,
            note=data.note,
            attachments=messages.signed_links(self.settings, data.attachments or []),
        )
        item.resolution = resolution.model_dump(mode="json")
        await self._move(item, "resolve", actor, data.note, events.WorkItemResolved, resolution=resolution)

    async def _return(self, item, actor, data):
        coordinator = await self._coordinator_for(item)
        returned_by = item.unit_code
        await self._leave(item, "return", coordinator, actor, data.reason)
        await self._changed(item, coordinator, events.WorkItemReturned, actor, data.reason, returned_by=returned_by)
        await self._assign(item, coordinator)

    async def _transfer(self, item, actor, data):
        target = await self._target_unit(item, data.to_unit, "to_unit")
        previous = item.unit_code
        await self._leave(item, "transfer", target, actor, data.reason or data.note)
        await self._changed(
            item,
            target,
            events.WorkItemDispatched,
            actor,
            data.reason or data.note,
            rule_id=item.rule_id,
            rule_version=item.rule_version,
            routing_reason=item.routing_reason,
            previous_unit_code=previous,
        )
        await self._assign(item, target)
        await self._notice(item, previous, "transferred_away", text=f"已转办至 {target.name}")

    async def dispatch(self, item: WorkItem, coordinator_unit: str, actor: events.Actor, to_unit: str | None) -> None:
        """A coordinating office sends an item it holds (returned, or unmatched at routing) on."""
        holder = await self.session.get(DepartmentUnit, item.unit_code)
        if item.unit_code != coordinator_unit or holder is None or holder.kind != "coordinator":
            raise item_not_found()
        transitions.check(transitions.MOVES["dispatch"], item.state, {"to_unit": to_unit})
        target = await self._target_unit(item, to_unit, "to_unit")
        item.routing_reason = f"{holder.name}人工分拨至 {target.name}"
        await self._leave(item, "dispatch", target, actor, item.routing_reason)
        await self._changed(
            item,
            target,
            events.WorkItemDispatched,
            actor,
            None,
            rule_id=None,
            rule_version=None,
            routing_reason=item.routing_reason,
            previous_unit_code=coordinator_unit,
        )
        await self._assign(item, target)

    async def _assist(self, item, actor, data):
        new = []
        for code in data.units:
            unit = await self._target_unit(item, code, "units")
            if unit.unit_code not in item.assisting_units and unit.unit_code not in new:
                new.append(unit.unit_code)
        item.assisting_units = [*item.assisting_units, *new]
        self._log(item, "assist", item.state, actor, ", ".join(new))
        await self._changed(item, None, events.WorkItemAssisted, actor, data.note, assisting_units=item.assisting_units)
        for code in new:
            await self._assign(item, await self.session.get(DepartmentUnit, code), role="assist")

    async def _contribute(self, item, acting_unit, actor, data):
        if not data.note:
            raise invalid_field("note", "missing", "请填写协办意见", "Give your contribution")
        self._log(item, "assist-contribution", item.state, actor, data.note, unit_code=acting_unit)
        await self._changed(
            item,
            None,
            events.WorkItemAssisted,
            actor,
            data.note,
            assisting_units=item.assisting_units,
            contribution_by=acting_unit,
        )

    async def _extension(self, item, actor, data):
        if item.resolve_due_at is not None and self.now >= item.resolve_due_at:
            raise Problem(
                409,
                "deadline_passed",
                "已超过办理时限，不能再申请延期",
                "Extensions must be asked before the deadline",
                extra={"resolve_due_at": item.resolve_due_at.isoformat()},
            )
        pending = await self.session.scalar(
            select(Extension.id).where(Extension.work_item_id == item.id, Extension.state == "pending")
        )
        if pending is not None:
            raise Problem(409, "extension_pending", "已有待审批的延期申请", "An extension request is already pending")
        extension = Extension(
            id=str(uuid.uuid4()),
            work_item_id=item.id,
            days=data.days,
            reason=data.reason,
            requested_by=actor.id,
            created_at=self.now,
        )
        self.session.add(extension)
        self._log(item, "extension", item.state, actor, f"{data.days} 个工作日：{data.reason}")
        await self._changed(
            item, None, events.WorkItemExtensionRequested, actor, data.reason, extension_id=extension.id, days=data.days
        )

    async def decide_extension(self, extension: Extension, item: WorkItem, approved: bool, actor: events.Actor) -> None:
        if extension.state != "pending":
            raise Problem(
                409,
                "extension_decided",
                "该延期申请已审批",
                "This extension has already been decided",
                extra={"current_state": extension.state},
            )
        extension.state = "approved" if approved else "denied"
        extension.decided_by = actor.id
        extension.decided_at = self.now
        self._log(item, "extension-" + extension.state, item.state, actor, None)
        await self._changed(
            item,
            None,
            events.WorkItemExtensionDecided,
            actor,
            None,
            extension_id=extension.id,
            days=extension.days,
            approved=approved,
        )
        verdict = "已批准" if approved else "未批准"
        await self._notice(item, item.unit_code, "extension_decided", text=f"延期 {extension.days} 个工作日{verdict}")

    # --- what the enterprise does (requests.updates) ----------------------------------------------
    async def withdraw(self, items: list[WorkItem], actor: events.Actor, reason: str | None) -> None:
        for item in items:
            if item.state in transitions.MOVES["withdraw"].starts:
                await self._move(item, "withdraw", actor, reason, events.WorkItemCancelled)
                await self._notice(item, item.unit_code, "withdrawn", text=reason)

    async def supplemented(self, item: WorkItem, actor: events.Actor, text: str, attachment_ids: list[str]) -> bool:
        if item.state not in transitions.MOVES["supplemented"].starts:
            return False
        links = messages.signed_links(self.settings, attachment_ids)
        await self._move(item, "supplemented", actor, text, events.WorkItemSupplemented, attachments=links)
        await self._notice(item, item.unit_code, "supplement_received", text=text, attachment_links=links)
        return True

    async def rated(self, items: list[WorkItem], actor: events.Actor, score: int, reopen: set[str]) -> None:
        for item in items:
            if item.state not in transitions.MOVES["close"].starts:
                continue
            if item.id in reopen:
                item.resolution = None
                await self._move(
                    item,
                    "reopen",
                    actor,
                    f"企业评价 {score} 分，申请重办",
                    events.WorkItemReopened,
                    score=score,
                )
                await self._notice(item, item.unit_code, "reopened", text=f"企业评价 {score} 分，申请重办")
            else:
                await self._move(item, "close", actor, None, events.WorkItemClosed, score=score)

    async def deadlines(self, item: WorkItem, update: events.SlaUpdated) -> None:
        item.acknowledge_due_at = update.acknowledge_due_at
        item.resolve_due_at = update.resolve_due_at
        await self._notice(
            item,
            item.unit_code,
            "deadlines",
            acknowledge_due_at=update.acknowledge_due_at,
            resolve_due_at=update.resolve_due_at,
        )

    # --- mechanics ------------------------------------------------------------------------------------
    async def _move(self, item, action, actor, note, event_type, **extra) -> None:
        """The item moves to the state the transition table names for ``action``."""
        to_state = transitions.MOVES[action].to
        self._log(item, action, to_state, actor, note)
        item.state = to_state
        item.updated_at = self.now
        await self._changed(item, None, event_type, actor, note, **extra)

    async def _leave(self, item, action, unit: DepartmentUnit, actor, note) -> None:
        """The item leaves its unit for ``unit`` (return, transfer, dispatch), in the table's state."""
        to_state = transitions.MOVES[action].to
        self._log(item, action, to_state, actor, note)
        item.unit_code = unit.unit_code
        item.state = to_state
        item.assisting_units = []
        item.updated_at = self.now

    def _log(self, item, action, to_state, actor, note, unit_code=None) -> None:
        self.session.add(
            WorkItemLog(
                work_item_id=item.id,
                action=action,
                from_state=item.state,
                to_state=to_state,
                unit_code=unit_code or item.unit_code,
                actor=f"{actor.role}:{actor.id}",
                note=note,
                at=self.now,
            )
        )

    async def _changed(self, item: WorkItem, unit: DepartmentUnit | None, event_type, actor, note, **extra) -> None:
        unit = unit or await self.session.get(DepartmentUnit, item.unit_code)
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.changed(item, unit, request, event_type, actor, note, self.now, **extra))

    async def _notice(self, item: WorkItem, unit_code: str, notice: str, **extra) -> None:
        unit = await self.session.get(DepartmentUnit, unit_code)
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.notice(item, unit, request, notice, self.now, **extra))

    async def _assign(self, item: WorkItem, unit: DepartmentUnit, role: str = "lead") -> None:
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.assigned(self.settings, item, unit, request, self.now, role))

    # --- lookups ---------------------------------------------------------------------------------------
    async def _target_unit(self, item: WorkItem, code: str | None, field: str) -> DepartmentUnit:
        if not code:
            raise invalid_field(field, "missing", "请选择目标单位", "Name the target unit")
        unit = await self.session.get(DepartmentUnit, code)
        if unit is None or not unit.active or unit.unit_code == item.unit_code:
            raise invalid_field(
                field,
                "unit_invalid",
                f"单位不存在、已停用或为当前承办单位：{code}",
                f"Unknown, inactive or current unit: {code}",
            )
        return unit

    async def _coordinator_for(self, item: WorkItem) -> DepartmentUnit:
        registry = await Registry.load(self.session)
        request = await self.session.get(RoutedRequest, item.request_id)
        return coordinator_for(registry, item.subject_region, request.body["enterprise"]["region_code"])
