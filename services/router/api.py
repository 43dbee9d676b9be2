"""router's HTTP endpoints under ``/v1``: department work queues and actions, supervisors'
extension decisions, coordinators' dispatch, routing previews and the registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, files, regions
from shared.auth import Principal, require_roles
from shared.catalogue import DEPARTMENT_KINDS
from shared.clock import utcnow
from shared.logging import mask_mobile, mask_name
from shared.messaging.broker import BrokerAccess
from shared.messaging.topics import ensure_topics
from shared.problems import Problem, invalid_field, refusals
from shared.validation import Instant
from shared.vocabulary import WORK_ITEM_STATES
from shared.web import DbSession

from . import credit, item_files, registry, transitions
from .lifecycle import ActionInput, Lifecycle, dispatch_candidates, item_not_found
from .models import (
    DepartmentUnit,
    Extension,
    ItemFile,
    RoutedRequest,
    RoutingRule,
    UnitCoverage,
    WorkItem,
    WorkItemLog,
)
from .routing import COORDINATOR, Registry, plan
from .schemas import (
    ActionIn,
    ContactOut,
    CoverageIn,
    CreditCoverageIn,
    DecisionIn,
    DispatchIn,
    FileOut,
    PreviewIn,
    ReturnOut,
    RuleIn,
    UnitIn,
    WorkItemOut,
)

router = APIRouter(prefix="/v1")


Session = DbSession
Department = Annotated[Principal, Depends(require_roles("department"))]
Supervisor = Annotated[Principal, Depends(require_roles("supervisor", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Reader = Annotated[Principal, Depends(require_roles("department", "supervisor", "admin"))]


def contact_for(principal: Principal, item: WorkItem, body: dict) -> ContactOut | None:
    """The enterprise's contact: in full for the clerks of the item's unit, masked for others."""
    name, mobile = body.get("contact_name"), body.get("contact_mobile")
    if not (name or mobile):
        return None
    if principal.role == "department" and principal.unit == item.unit_code:
        return ContactOut(name=name, mobile=mobile, masked=False)
    return ContactOut(
        name=mask_name(name) if name else None, mobile=mask_mobile(mobile) if mobile else None, masked=True
    )


async def items_out(session: AsyncSession, items: Sequence[WorkItem], principal: Principal) -> list[WorkItemOut]:
    """Work items as the API shows them; what they need besides themselves (their requests, files
    and why a returned one came back) is read in one query each, however many items."""
    if not items:
        return []
    requests = {
        r.request_id: r
        for r in await session.scalars(
            select(RoutedRequest).where(RoutedRequest.request_id.in_({i.request_id for i in items}))
        )
    }
    files = await item_files.of_items(session, items)
    returns = {  # the latest return of each returned item (ascending ids: the last one wins)
        entry.work_item_id: entry
        for entry in await session.scalars(
            select(WorkItemLog)
            .where(WorkItemLog.work_item_id.in_([i.id for i in items if i.state == "returned"]))
            .where(WorkItemLog.action == "return")
            .order_by(WorkItemLog.id)
        )
    }
    return [item_out(i, principal, requests[i.request_id], files[i.id], returns.get(i.id)) for i in items]


def item_out(
    item: WorkItem,
    principal: Principal,
    request: RoutedRequest,
    files: list[ItemFile],
    last_return: WorkItemLog | None,
) -> WorkItemOut:
    body = request.body
    returned = None
    if last_return is not None:
        returned = ReturnOut(
            by_unit=last_return.unit_code, reason=last_return.note, at=last_return.at, by=last_return.actor_name
        )
    return WorkItemOut(
        id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        request_type=request.request_type,
        item=item.item,
        department_kind=item.department_kind,
        unit_code=item.unit_code,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        subject_region=item.subject_region,
        state=item.state,
        state_name=WORK_ITEM_STATES.zh(item.state),
        allowed_actions=transitions.allowed_actions(item.state),
        assisting_units=item.assisting_units or [],
        resolution=item.resolution,
        acknowledge_due_at=item.acknowledge_due_at,
        resolve_due_at=item.resolve_due_at,
        rule_id=item.rule_id,
        rule_version=item.rule_version,
        routing_reason=item.routing_reason,
        description=body.get("description"),
        period_months=body.get("period_months"),
        purpose=body.get("purpose"),
        contact=contact_for(principal, item, body),
        attachments=[file_out(item, f) for f in files],
        returned=returned,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def file_out(item: WorkItem, row: ItemFile) -> FileOut:
    return FileOut(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        origin=row.origin,
        purpose=row.purpose,
        used_in=row.used_in,
        download_url=f"/v1/workitems/{item.id}/files/{row.id}",
    )


def may_see(principal: Principal, item: WorkItem) -> bool:
    if principal.role == "department":
        return principal.unit == item.unit_code or principal.unit in (item.assisting_units or [])
    return principal.covers_region(item.subject_region)


async def load_item(session: AsyncSession, principal: Principal, item_id: str) -> WorkItem:
    item = await session.get(WorkItem, item_id)
    if item is None or not may_see(principal, item):
        raise item_not_found()
    return item


# --- work queues and actions ------------------------------------------------------------------------
@router.get(
    "/workitems",
    tags=["work items"],
    response_model=list[WorkItemOut],
    summary="The caller's unit's queue (a supervisor's: the region's), oldest first",
)
async def list_work_items(
    session: Session,
    principal: Reader,
    state: Annotated[list[str] | None, Query(max_length=30, description="repeat for several states")] = None,
    due_before: Instant | None = None,
    q: Annotated[str | None, Query(max_length=100, description="reference number, enterprise name or USCC")] = None,
    unit: Annotated[str | None, Query(max_length=100, description="one unit (supervisors)")] = None,
    extension: Annotated[Literal["pending"] | None, Query(description="only items awaiting an extension")] = None,
    order: Annotated[Literal["created", "deadline"], Query(description="deadline: nearest 办结期限 first")] = "created",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WorkItemOut]:
    query = select(WorkItem)
    if principal.role == "department":
        own = principal.unit or ""
        query = query.where(or_(WorkItem.unit_code == own, cast(WorkItem.assisting_units, String).contains(f'"{own}"')))
    else:
        query = query.where(principal.region_clause(WorkItem.subject_region))
    if state:
        query = query.where(WorkItem.state.in_(state))
    if due_before:
        query = query.where(WorkItem.resolve_due_at < due_before)
    if unit:
        query = query.where(WorkItem.unit_code == unit)
    if extension:
        query = query.where(WorkItem.id.in_(select(Extension.work_item_id).where(Extension.state == "pending")))
    if q:
        by_reference = select(RoutedRequest.request_id).where(RoutedRequest.reference_no.contains(q, autoescape=True))
        query = query.where(
            or_(
                WorkItem.subject_name.contains(q, autoescape=True),
                WorkItem.subject_uscc == q.upper(),
                WorkItem.request_id.in_(by_reference),
            )
        )
    if order == "deadline":  # no deadline (a covered item) last
        ordering = (WorkItem.resolve_due_at.is_(None), WorkItem.resolve_due_at, WorkItem.id)
    else:
        ordering = (WorkItem.created_at, WorkItem.id)
    items = list(await session.scalars(query.order_by(*ordering).offset(offset).limit(limit)))
    return await items_out(session, items, principal)


@router.get("/workitems/{item_id}", tags=["work items"], summary="One work item, its history and extensions")
async def get_work_item(item_id: str, session: Session, principal: Reader) -> dict:
    item = await load_item(session, principal, item_id)
    log = await session.scalars(select(WorkItemLog).where(WorkItemLog.work_item_id == item.id).order_by(WorkItemLog.id))
    extensions = await session.scalars(select(Extension).where(Extension.work_item_id == item.id))
    out = {
        **(await items_out(session, [item], principal))[0].model_dump(mode="json"),
        "history": [
            {
                "action": e.action,
                "from": e.from_state,
                "to": e.to_state,
                "to_name": WORK_ITEM_STATES.zh(e.to_state),
                "unit_code": e.unit_code,
                "actor": e.actor,
                "actor_name": e.actor_name,
                "note": e.note,
                "at": e.at.isoformat(),
            }
            for e in log
        ],
        "extensions": [
            {
                "id": x.id,
                "days": x.days,
                "reason": x.reason,
                "state": x.state,
                "decided_by": x.decided_by,
                "decision_reason": x.decision_reason,
            }
            for x in extensions
        ],
    }
    holder = await session.get(DepartmentUnit, item.unit_code)
    coordinating = holder is not None and holder.kind == COORDINATOR and principal.unit == item.unit_code
    if coordinating and item.state in transitions.MOVES["dispatch"].starts:
        returned_by = out["returned"]["by_unit"] if out.get("returned") else None
        out["dispatch_candidates"] = [
            {
                "unit_code": u.unit_code,
                "name": u.name,
                "kind": u.kind,
                "region_code": u.region_code,
                "returned_it": u.unit_code == returned_by,
            }
            # The unit that sent it back is still offered (a return may be unfounded), but last.
            for u in sorted(await dispatch_candidates(session, item), key=lambda u: u.unit_code == returned_by)
        ]
    return out


@router.post(
    "/workitems/{item_id}/files",
    status_code=201,
    tags=["work items"],
    response_model=FileOut,
    summary="Upload a file for this item (a certificate PDF/OFD, a form); then name its id in resolve or "
    "request-supplement",
)
async def upload_item_file(
    item_id: str, request: Request, session: Session, principal: Department, file: Annotated[UploadFile, File()]
) -> FileOut:
    async with session.begin():
        item = await load_item(session, principal, item_id)
        if item.unit_code != principal.unit:
            raise item_not_found()  # assisting units contribute opinions, not the item's documents
        row = await item_files.upload(
            request.app.state.settings,
            request.app.state.files,
            session,
            item,
            principal.as_actor().ref,
            file,
        )
        return file_out(item, row)


@router.get(
    "/workitems/{item_id}/files/{file_id}",
    tags=["work items"],
    summary="Download a file of this item (the enterprise's attachments, its 补正 answers, your uploads); logged",
    responses=files.DOWNLOAD_RESPONSES,
)
async def download_item_file(item_id: str, file_id: str, request: Request, session: Session, principal: Reader):
    async with session.begin():
        item = await load_item(session, principal, item_id)
        return await item_files.download(session, request.app.state.files, item, file_id, principal.as_actor().ref)


async def apply_move(
    request: Request, session: AsyncSession, principal: Principal, item_id: str, action: str, data: ActionInput
) -> WorkItemOut:
    """One department move on one item, in one transaction; the relay is woken for its events."""
    async with session.begin():
        item = await load_item(session, principal, item_id)
        lifecycle = Lifecycle(session, request.app.state.settings)
        await lifecycle.act(item, action, principal.unit, principal.as_actor(), data)
        await lifecycle.flush()
        [out] = await items_out(session, [item], principal)
    request.app.state.runtime.relay.notify()
    return out


@router.post(
    "/workitems/{item_id}/dispatch",
    tags=["work items"],
    response_model=WorkItemOut,
    summary="A coordinating office dispatches an item it holds to a unit of its choice",
)
async def dispatch(item_id: str, body: DispatchIn, request: Request, session: Session, principal: Department):
    return await apply_move(request, session, principal, item_id, "dispatch", ActionInput(to_unit=body.to_unit))


@router.post(
    "/workitems/{item_id}/{action}",
    tags=["work items"],
    response_model=WorkItemOut,
    summary="acknowledge · progress · request-supplement · resolve · return · transfer · assist · extension",
)
async def act(item_id: str, action: str, body: ActionIn, request: Request, session: Session, principal: Department):
    if action not in transitions.UNIT_ACTIONS:
        raise Problem(404, "unknown_action", f"未知操作：{action}", f"Unknown action: {action}")
    return await apply_move(request, session, principal, item_id, action, ActionInput(**body.model_dump()))


@router.post(
    "/extensions/{extension_id}/{decision}",
    tags=["work items"],
    summary="A supervisor approves or denies an extension request",
)
async def decide_extension(
    extension_id: str,
    decision: str,
    request: Request,
    session: Session,
    principal: Supervisor,
    body: DecisionIn | None = None,
):
    if decision not in ("approve", "deny"):
        raise Problem(404, "unknown_action", f"未知操作：{decision}", f"Unknown decision: {decision}")
    async with session.begin():
        extension = await session.get(Extension, extension_id)
        item = await session.get(WorkItem, extension.work_item_id) if extension else None
        if item is None or not principal.covers_region(item.subject_region):
            raise Problem(404, "extension_not_found", "延期申请不存在", "Extension request not found")
        lifecycle = Lifecycle(session, request.app.state.settings)
        reason = body.reason if body else None
        await lifecycle.decide_extension(extension, item, decision == "approve", principal.as_actor(), reason)
        await lifecycle.flush()
        result = {
            "id": extension.id,
            "state": extension.state,
            "days": extension.days,
            "work_item_id": item.id,
            "decision_reason": extension.decision_reason,
        }
    request.app.state.runtime.relay.notify()
    return result


# --- routing ---------------------------------------------------------------------------------------
@router.post(
    "/routing/preview", tags=["routing"], summary="The work items a request body would produce; creates nothing"
)
async def preview(
    body: PreviewIn,
    session: Session,
    _principal: Annotated[
        Principal, Depends(require_roles("enterprise", "liaison", "department", "supervisor", "admin"))
    ],
) -> dict:
    if unknown := [k for k in body.certificate_anyway if k not in body.items]:
        raise invalid_field(
            "certificate_anyway",
            "kind_not_requested",
            f"仍要部门出具的事项须在所申请事项中：{', '.join(unknown)}",
            f"certificate_anyway names kinds not requested: {', '.join(unknown)}",
        )
    enterprise = events.Subject(**body.enterprise.model_dump())
    submitted = events.RequestSubmitted.model_construct(
        request_type=body.type,
        enterprise=enterprise,
        subjects=[enterprise] + [events.Subject(**s.model_dump()) for s in body.subjects],
        items=body.items,
        certificate_anyway=body.certificate_anyway,
    )
    # As if submitted now: the coverage in force today decides.
    splits = credit.splits_for(await credit.CoverageBook.load(session), submitted, utcnow())
    decisions = plan(await Registry.load(session), submitted, splits)
    return {
        "work_items": [
            {
                "subject_uscc": d.subject.uscc,
                "subject_name": d.subject.name,
                "item": d.item,
                "route": "unit",
                "department_kind": d.department_kind,
                "unit_code": d.unit.unit_code,
                "unit_name": d.unit.name,
                "inbox_topic": d.unit.inbox_topic,
                "rule_id": d.rule.id if d.rule else None,
                "rule_version": d.rule.version if d.rule else None,
                "reason": d.reason,
            }
            for d in decisions
        ],
        "credit_reports": [credit_report_preview(split) for split in splits or []],
    }


def credit_report_preview(split: credit.Split) -> dict:
    """One subject's 专项信用报告 entry: the kinds it stands for and where it is downloaded."""
    first = next(iter(split.covered.values()), None)
    return {
        "subject_uscc": split.subject.uscc,
        "subject_name": split.subject.name,
        "subject_region": split.subject.region_code,
        "coverage": [
            {"region_code": c.region_code, "region_name": regions.full_name(c.region_code), "version": c.version}
            for c in split.in_force
        ],
        "covered_items": [
            {"item": item, "item_name": DEPARTMENT_KINDS.zh(item), "route": "credit_report", "reason": reason}
            for item, reason in split.reasons.items()
            if item in split.covered
        ],
        "report_name": first.report_name if first else None,
        "site": {"name": first.site_name, "url": first.site_url} if first else None,
        "reasons": split.reasons,
    }


@router.get("/rules", tags=["routing"], summary="Routing rules with their versions")
async def list_rules(session: Session, _principal: Reader, include_inactive: bool = False) -> list[dict]:
    query = select(RoutingRule).order_by(RoutingRule.request_type, RoutingRule.item, RoutingRule.version)
    if not include_inactive:
        query = query.where(RoutingRule.active.is_(True))
    return [
        {
            "id": r.id,
            "request_type": r.request_type,
            "item": r.item,
            "department_kind": r.department_kind,
            "version": r.version,
            "active": r.active,
        }
        for r in await session.scalars(query)
    ]


@router.post(
    "/rules",
    status_code=201,
    tags=["routing"],
    summary="Make a kind the rule for (type, item), as a new version",
    responses=refusals(409),  # that kind is already the active rule
)
async def add_rule(body: RuleIn, session: Session, _principal: Admin) -> dict:
    async with session.begin():
        rule = await registry.add_rule_version(session, body.request_type, body.item, body.department_kind)
    if rule is None:
        raise Problem(409, "rule_unchanged", "该规则已是当前版本", "That is already the active rule")
    return {"id": rule.id, "version": rule.version, "department_kind": rule.department_kind}


# --- registry ------------------------------------------------------------------------------------------
def unit_out(u: DepartmentUnit) -> dict:
    return {
        "unit_code": u.unit_code,
        "name": u.name,
        "kind": u.kind,
        "region_code": u.region_code,
        "inbox_topic": u.inbox_topic,
        "contacts": u.contacts,
        "supervising_office": u.supervising_office,
        "active": u.active,
    }


@router.get("/units", tags=["departments"], summary="The department registry")
async def list_units(session: Session, _principal: Reader, region: str | None = None, kind: str | None = None) -> list:
    query = select(DepartmentUnit).order_by(DepartmentUnit.unit_code)
    if region:
        query = query.where(DepartmentUnit.region_code == region)
    if kind:
        query = query.where(DepartmentUnit.kind == kind)
    return [unit_out(u) for u in await session.scalars(query)]


@router.put("/units/{unit_code}", tags=["departments"], summary="Create or update a unit; its inbox topic is created")
async def put_unit(unit_code: str, body: UnitIn, request: Request, session: Session, _principal: Admin) -> dict:
    if body.unit_code != unit_code:
        raise invalid_field(
            "unit_code", "unit_code_mismatch", "路径与内容中的单位代码不一致", "unit_code differs from the path"
        )
    async with session.begin():
        await registry.load_registry(session, {"units": [body.model_dump()]})
        unit = await session.get(DepartmentUnit, unit_code)
        out = unit_out(unit)
    settings = request.app.state.settings
    await ensure_topics(
        BrokerAccess.from_settings(settings),
        [out["inbox_topic"]],
        settings.kafka_topic_partitions,
        settings.kafka_replication_factor,
    )
    return out


@router.put("/coverage", tags=["departments"], summary="Which unit of a kind serves a region (e.g. a customs district)")
async def put_coverage(body: CoverageIn, session: Session, _principal: Admin) -> dict:
    async with session.begin():
        if await session.get(DepartmentUnit, body.unit_code) is None:
            raise invalid_field(
                "unit_code", "unit_unknown", f"单位不存在：{body.unit_code}", f"Unknown unit: {body.unit_code}"
            )
        await registry.load_registry(session, {"coverage": [body.model_dump()]})
    return body.model_dump()


@router.get("/coverage", tags=["departments"], summary="Configured coverage")
async def list_coverage(session: Session, _principal: Reader) -> list[dict]:
    rows = await session.scalars(select(UnitCoverage).order_by(UnitCoverage.kind, UnitCoverage.region_code))
    return [{"kind": c.kind, "region_code": c.region_code, "unit_code": c.unit_code} for c in rows]


# --- 信用代证: what each province's 专项信用报告 covers -------------------------------------------------
Anyone = Annotated[Principal, Depends(require_roles("enterprise", "liaison", "department", "supervisor", "admin"))]


def _coverage_region(region_code: str) -> str:
    try:
        return credit.coverage_region(region_code)
    except ValueError as error:
        raise invalid_field(
            "region_code",
            "region_level",
            f"须为省级或地市级行政区划代码：{region_code}",
            f"Must be a province or prefecture-level city code: {region_code}",
        ) from error


@router.get(
    "/credit-coverage",
    tags=["credit report"],
    summary="信用代证: the coverage version in force today for each province and city that has data",
)
async def list_credit_coverage(session: Session, _principal: Anyone) -> list[dict]:
    book = await credit.CoverageBook.load(session)
    now = utcnow()
    current = [[v for v in versions if v.effective_from <= now] for versions in book.by_region.values()]
    return [credit.coverage_out(v[-1]) for v in current if v]


@router.get(
    "/credit-coverage/{region_code}",
    tags=["credit report"],
    summary="Every coverage version of a province or city, and the one in force today",
)
async def get_credit_coverage(region_code: str, session: Session, _principal: Anyone) -> dict:
    region_code = _coverage_region(region_code)
    book = await credit.CoverageBook.load(session)
    versions = book.by_region.get(region_code, [])
    now = utcnow()
    current = [v for v in versions if v.effective_from <= now]
    return {
        "region_code": region_code,
        "region_name": regions.full_name(region_code),
        "in_force": credit.coverage_out(current[-1]) if current else None,
        "versions": [credit.coverage_out(v) for v in versions],
    }


@router.put(
    "/credit-coverage/{region_code}",
    status_code=201,
    tags=["credit report"],
    summary="A new coverage version (admin of that region, or national); in force from now for new requests",
)
async def put_credit_coverage(region_code: str, body: CreditCoverageIn, session: Session, principal: Admin) -> dict:
    region_code = _coverage_region(region_code)
    if not principal.covers_region(region_code):
        raise Problem(403, "region_forbidden", "只能修改本地区的覆盖数据", "You may change your own region's data only")
    now = utcnow()
    if body.effective_from is not None and body.effective_from < now:
        raise invalid_field(
            "effective_from",
            "in_the_past",
            "生效时间不能早于现在（已提交的诉求按当时的版本办理）",
            "effective_from may not be in the past (requests already submitted keep their version)",
        )
    async with session.begin():
        row = await credit.add_version(
            session, region_code, body, body.site, principal.as_actor().ref, body.effective_from or now
        )
        return credit.coverage_out(row)
