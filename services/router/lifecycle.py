"""Applying moves to work items: what each move changes, records and announces. Which move is
allowed when, by whom and with what is the transition table's (``transitions.py``); HTTP
(``api/``) and Kafka (``worker.py``) both come here, so a department gets the same answer
whichever way it acts."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.catalogue import DEPARTMENT_KINDS
from shared.clock import utcnow
from shared.messaging.encoding import OutgoingMessage
from shared.problems import Problem, invalid_field
from shared.vocabulary import FOLLOW_UP_METHODS, FOLLOW_UP_RESULTS, OUTCOMES, REVOCATION_REASONS, rating_name

from . import issuance, item_files, messages, transitions
from .documents import codes
from .models import DepartmentUnit, Extension, RoutedRequest, WorkItem, WorkItemLog
from .routing import COORDINATOR, Registry, coordinator_for
from .settings import RouterSettings


@dataclass
class ActionInput:
    """What a department sends with an action (the same fields over HTTP and Kafka)."""

    note: str | None = None
    outcome: str | None = None
    document_no: str | None = None
    attachments: list[str] | None = None
    reason: str | None = None
    reason_class: str | None = None
    to_unit: str | None = None
    units: list[str] | None = None
    days: int | None = None
    write_certificate: bool = False  # 出具证明: xiaoer writes and signs the certificate for the unit


def fits(item: WorkItem, unit: DepartmentUnit) -> bool:
    """Whether a coordinator may dispatch ``item`` to ``unit``: a unit of the item's kind, or of
    any handling kind when the item was the coordinator's own (人工分拨 categories)."""
    if item.department_kind == COORDINATOR:
        return unit.kind != COORDINATOR
    return unit.kind == item.department_kind


async def dispatch_candidates(session: AsyncSession, item: WorkItem) -> list[DepartmentUnit]:
    """The active units a coordinator may dispatch ``item`` to, those serving its region first."""
    units = [
        u for u in await session.scalars(select(DepartmentUnit).where(DepartmentUnit.active.is_(True))) if fits(item, u)
    ]
    lineage = regions.lineage(item.subject_region)

    def nearness(unit: DepartmentUnit) -> tuple[int, str]:
        return (lineage.index(unit.region_code) if unit.region_code in lineage else len(lineage), unit.unit_code)

    return sorted(units, key=nearness)


SUBJECT_AUTHORIZATION = "subject_authorization"  # a return reason class: 主体授权不符


def item_not_found() -> Problem:
    return Problem(404, "work_item_not_found", "工单不存在", "Work item not found")


class Lifecycle:
    """Applies moves to work items inside the caller's transaction; used as an async context
    manager, so the events of its moves cannot be forgotten::

        async with Lifecycle(session, settings) as lifecycle:
            await lifecycle.act(item, action, unit, actor, data)

    On leaving the block normally every move's events go to the outbox, in one statement; when the
    block raises, none do (the caller's transaction is rolled back with the moves themselves)."""

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
            "return-to-enterprise": self._return_to_enterprise,
            "transfer": self._transfer,
            "assist": self._assist,
            "extension": self._extension,
        }

    async def __aenter__(self) -> Lifecycle:
        return self

    async def __aexit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            await self._emit_events()

    async def _emit_events(self) -> None:
        """Adds the events of every move made so far to the outbox, in one statement."""
        await messages.emit(self.session, self.messages)
        self.messages = []

    # --- department actions ---------------------------------------------------------------------
    async def act(self, item: WorkItem, action: str, acting_unit: str, actor: events.Actor, data: ActionInput) -> None:
        if action == "return" and data.reason_class == SUBJECT_AUTHORIZATION:
            action = "return-to-enterprise"  # 主体授权不符: back to the enterprise, not the coordinator
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
        forms = await item_files.claim_unit_uploads(self.session, item, data.attachments or [], "request-supplement")
        await self._move(
            item, "request-supplement", actor, data.note, events.WorkItemSupplementRequested, attachments=forms
        )

    async def _resolve(self, item, actor, data):
        if data.outcome not in OUTCOMES:
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
        certificate = data.outcome == "issued" and await self._is_certificate(item)
        if certificate and not data.attachments and not data.write_certificate:
            # 办结 means a document: a certificate the enterprise cannot download was not issued.
            raise invalid_field(
                "attachments",
                "certificate_file_missing",
                "出具证明须上传证明文件（先上传，再在办结时引用）",
                "An issued certificate needs its file: upload it, then name it when resolving",
            )
        if data.outcome in ("not_issued", "answered") and not data.note:
            raise invalid_field("note", "missing", "请填写不予出具的理由或答复内容", "Give the reason or the answer")
        documents = await item_files.claim_unit_uploads(self.session, item, data.attachments or [], "resolve")
        if certificate:  # 核验码: the unit's PDF registered with a 核验单, or the certificate xiaoer writes
            issuer = issuance.Issuer(self.session, self.settings, self.now)
            documents += await issuer.issue(item, documents, data.document_no, actor, write=data.write_certificate)
            self.messages += issuer.messages
        resolution = events.Resolution(
            outcome=data.outcome, document_no=data.document_no, note=data.note, documents=documents
        )
        item.resolution = resolution.model_dump(mode="json")
        await self._move(item, "resolve", actor, data.note, events.WorkItemResolved, resolution=resolution)

    async def _return(self, item, actor, data):
        coordinator = await self._coordinator_for(item)
        returned_by = item.unit_code
        await self._leave(item, "return", coordinator, actor, data.reason)
        await self._changed(item, coordinator, events.WorkItemReturned, actor, data.reason, returned_by=returned_by)
        await self._assign(item, coordinator)

    async def _return_to_enterprise(self, item, actor, data):
        await self._move(
            item,
            "return-to-enterprise",
            actor,
            data.reason,
            events.WorkItemReturnedToEnterprise,
            reason_class=data.reason_class,
            returned_by=item.unit_code,
        )

    async def _transfer(self, item, actor, data):
        target = await self._target_unit(item, data.to_unit, "to_unit")
        previous = await self.session.get(DepartmentUnit, item.unit_code)
        await self._leave(item, "transfer", target, actor, data.reason)
        await self._changed(
            item,
            target,
            events.WorkItemDispatched,
            actor,
            data.reason,
            rule_id=item.rule_id,
            rule_version=item.rule_version,
            routing_reason=item.routing_reason,
            previous_unit_code=previous.unit_code,
            restarts_clock=False,  # a unit passing its item on buys no time
        )
        # The receiving unit learns who sent it and why.
        handover = events.Handover(
            from_unit=previous.unit_code, from_unit_name=previous.name, by=actor.name or actor.id, reason=data.reason
        )
        await self._assign(item, target, transfer=handover)
        await self._notice(item, previous.unit_code, "transferred_away", text=f"已转办至 {target.name}")

    async def dispatch(self, item: WorkItem, coordinator_unit: str, actor: events.Actor, to_unit: str | None) -> None:
        """A coordinating office sends an item it holds (returned, or unmatched at routing) on."""
        holder = await self.session.get(DepartmentUnit, item.unit_code)
        if item.unit_code != coordinator_unit or holder is None or holder.kind != "coordinator":
            raise item_not_found()
        transitions.check(transitions.MOVES["dispatch"], item.state, {"to_unit": to_unit})
        target = await self._target_unit(item, to_unit, "to_unit")
        if not fits(item, target):
            raise invalid_field(
                "to_unit",
                "unit_kind_unfit",
                f"该事项须由{DEPARTMENT_KINDS.zh(item.department_kind)}办理，{target.name}不是",
                f"This item is for a unit of kind {item.department_kind}; {target.unit_code} is {target.kind}",
            )
        item.department_kind = target.kind  # an item of the coordinator's own kind takes its handler's
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

    async def decide_extension(
        self, extension: Extension, item: WorkItem, approved: bool, actor: events.Actor, reason: str | None
    ) -> None:
        if extension.state != "pending":
            raise Problem(
                409,
                "extension_decided",
                "该延期申请已审批",
                "This extension has already been decided",
                extra={"current_state": extension.state},
            )
        if not approved and not reason:
            raise invalid_field("reason", "missing", "不批准延期时请说明理由", "Say why the extension is denied")
        extension.state = "approved" if approved else "denied"
        extension.decided_by = actor.id
        extension.decided_at = self.now
        extension.decision_reason = reason
        self._log(item, "extension-" + extension.state, item.state, actor, reason)
        await self._changed(
            item,
            None,
            events.WorkItemExtensionDecided,
            actor,
            reason,
            extension_id=extension.id,
            days=extension.days,
            approved=approved,
            reason=reason,
        )
        verdict = "已批准" if approved else "未批准"
        text = f"延期 {extension.days} 个工作日{verdict}" + (f"：{reason}" if reason else "")
        await self._notice(item, item.unit_code, "extension_decided", text=text)

    # --- what the enterprise does (requests.updates) ----------------------------------------------
    async def withdraw(self, items: list[WorkItem], actor: events.Actor, reason: str | None) -> None:
        for item in items:
            if item.state in transitions.MOVES["withdraw"].starts:
                await self._move(item, "withdraw", actor, reason, events.WorkItemCancelled)
                await self._notice(item, item.unit_code, "withdrawn", text=reason)

    async def supplemented(self, item: WorkItem, actor: events.Actor, text: str, files: list[events.FileRef]) -> bool:
        if item.state not in transitions.MOVES["supplemented"].starts:
            return False
        await item_files.record_enterprise_files(
            self.session,
            files,
            request_id=item.request_id,
            work_item_id=item.id,
            purpose="supplement",
            uploaded_by=actor.ref,
        )
        links = messages.signed_links(self.settings, files)
        await self._move(item, "supplemented", actor, text, events.WorkItemSupplemented, attachments=files)
        await self._notice(item, item.unit_code, "supplement_received", text=text, attachment_links=links)
        return True

    async def rated(self, item: WorkItem, rating: events.WorkItemRated) -> None:
        """好差评 of one item: a poor first rating reopens it alone (重办), keeping the comment on
        the unit's record; any other rating, or the one after a redo, closes it."""
        if item.state not in transitions.MOVES["close"].starts:
            return  # rated twice in a race, or withdrawn meanwhile: the item has moved on
        verdict = rating_name(rating.score)
        if events.reopens(rating.attempt, rating.score):
            item.resolution = None
            note = f"企业评价：{verdict}，申请重办" + (f"。{rating.comment}" if rating.comment else "")
            await self._move(
                item, "reopen", rating.actor, note, events.WorkItemReopened, score=rating.score, comment=rating.comment
            )
            await self._notice(item, item.unit_code, "reopened", text=note)
        else:
            note = f"企业评价：{verdict}" + (f"。{rating.comment}" if rating.comment else "")
            await self._move(
                item, "close", rating.actor, note, events.WorkItemClosed, score=rating.score, comment=rating.comment
            )

    async def followed_up(self, item: WorkItem, follow_up: events.WorkItemFollowUpGiven) -> None:
        """回访 after 办结: on the item's log (the unit reads it) and announced for the statistics
        (解决率); the item's state stays."""
        how, result = FOLLOW_UP_METHODS.zh(follow_up.method), FOLLOW_UP_RESULTS.zh(follow_up.result)
        note = f"{how}：{result}" + (f"。{follow_up.comment}" if follow_up.comment else "")
        self._log(item, "follow-up", item.state, follow_up.actor, note)
        await self._changed(
            item,
            None,
            events.WorkItemFollowedUp,
            follow_up.actor,
            note,
            result=follow_up.result,
            method=follow_up.method,
            comment=follow_up.comment,
        )

    async def revoke_document(self, item: WorkItem, doc, actor: events.Actor, reason_class, reason, reopen) -> None:
        """A document of ``item`` revoked (issue 27): on the item's log and timeline, announced on
        documents.events; the item reopens (重办) for its unit when ``reopen``."""
        self.messages.append(issuance.revoke(doc, actor, reason_class, reason, reopen, self.now))
        words = f"撤销证明 {codes.group(doc.code)}（{REVOCATION_REASONS.zh(reason_class)}）：{reason}"
        self._log(item, "revoke-document", item.state, actor, words, unit_code=doc.unit_code)
        await self._changed(
            item, None, events.WorkItemDocumentRevoked, actor, words, code=doc.code,
            document_number=doc.document_number, reason_class=reason_class,
            reason_name=REVOCATION_REASONS.zh(reason_class), reopen=reopen,
        )  # fmt: skip
        if reopen:
            item.resolution = None
            await self._move(item, "reopen", actor, f"{words}；重办", events.WorkItemReopened)
            await self._notice(item, item.unit_code, "reopened", text=f"{words}；重办")

    async def deadlines(self, item: WorkItem, update: events.SlaUpdated) -> None:
        item.acknowledge_due_at = update.acknowledge_due_at
        item.resolve_due_at = update.resolve_due_at
        item.sla_paused = update.paused
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
        item.assignee_sub = item.assignee_name = item.assigned_at = None  # the new unit names its own 承办人
        item.updated_at = self.now

    def _log(self, item, action, to_state, actor, note, unit_code=None) -> None:
        self.session.add(
            WorkItemLog(
                work_item_id=item.id,
                action=action,
                from_state=item.state,
                to_state=to_state,
                unit_code=unit_code or item.unit_code,
                actor=actor.ref,
                actor_name=actor.name,
                note=note,
                at=self.now,
            )
        )

    async def _changed(self, item: WorkItem, unit: DepartmentUnit | None, event_type, actor, note, **extra) -> None:
        unit = unit or await self.session.get(DepartmentUnit, item.unit_code)
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.item_event(item, unit, request, event_type, actor, note, self.now, **extra))

    async def _notice(self, item: WorkItem, unit_code: str, notice: str, **extra) -> None:
        unit = await self.session.get(DepartmentUnit, unit_code)
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.notice(item, unit, request, notice, self.now, **extra))

    async def _assign(
        self, item: WorkItem, unit: DepartmentUnit, role: str = "lead", transfer: events.Handover | None = None
    ) -> None:
        request = await self.session.get(RoutedRequest, item.request_id)
        self.messages.append(messages.assigned(self.settings, item, unit, request, self.now, role, transfer=transfer))

    # --- lookups ---------------------------------------------------------------------------------------
    async def _is_certificate(self, item: WorkItem) -> bool:
        """Whether ``item`` is a 守法证明 (every item of a certificate bundle is one)."""
        request = await self.session.get(RoutedRequest, item.request_id)
        return request.request_type == catalogue.COMPLIANCE_CERTIFICATE

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
