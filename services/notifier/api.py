"""notifier's HTTP endpoints under ``/v1``: SLA clocks, overdue lists, statistics, the working
calendar, SLA policies, recipients and the notification log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, regions
from shared.auth import Principal, current_principal, require_roles
from shared.clock import SHANGHAI, utcnow
from shared.problems import Problem, invalid_field, refusals
from shared.validation import EMAIL, Day, bilingual_error
from shared.vocabulary import TIMER_KINDS
from shared.web import DbSession, exports

from . import calendar as work_calendar
from . import policies, recipients, stats
from .models import Notification, Recipient, SlaPolicy, SlaRecord, SlaTimer
from .scheduler import notification_out

router = APIRouter(prefix="/v1")
Session = DbSession
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Overseer = Annotated[Principal, Depends(require_roles("supervisor", "admin"))]


def region_of(principal: Principal, asked: str | None) -> str | None:
    """The region a supervisor or admin looks at: theirs, or a part of it (None: the country)."""
    if asked and not principal.covers_region(asked):
        raise Problem(404, "region_not_found", "无权查看该地区", "Not your region")
    return asked or principal.region


def record_out(r: SlaRecord) -> dict:
    return {
        "work_item_id": r.work_item_id,
        "request_id": r.request_id,
        "reference_no": r.reference_no,
        "request_type": r.request_type,
        "unit_code": r.unit_code,
        "unit_name": r.unit_name,
        "region_code": r.region_code,
        "state": r.state,
        "dispatched_at": r.dispatched_at,
        "acknowledge_due_at": r.acknowledge_due_at,
        "acknowledged_at": r.acknowledged_at,
        "resolve_due_at": r.resolve_due_at,
        "paused": r.paused_at is not None,
        "resolved_at": r.resolved_at,
        "policy": r.policy,
    }


@router.get("/sla/{work_item_id}", tags=["sla"], summary="One work item's SLA clocks")
async def get_sla(work_item_id: str, session: Session, principal: Annotated[Principal, Depends(current_principal)]):
    record = await session.get(SlaRecord, work_item_id)
    visible = record is not None and (
        (principal.role == "department" and principal.unit == record.unit_code)
        or principal.covers_region(record.region_code)
    )
    if not visible:
        raise Problem(404, "sla_not_found", "没有该工单的时限记录", "No SLA record for this work item")
    timers = await session.scalars(
        select(SlaTimer).where(SlaTimer.work_item_id == work_item_id).order_by(SlaTimer.fire_at, SlaTimer.id)
    )
    return {**record_out(record), "timers": [timer_out(t) for t in timers]}


def timer_out(timer: SlaTimer) -> dict:
    """One step of an item's timer plan, e.g. 督办 due 2026-12-03 09:00, as a supervisor reads it."""
    status = "fired" if timer.fired_at else "cancelled" if timer.cancelled_at else "pending"
    return {
        "kind": timer.kind,
        "name": TIMER_KINDS.zh(timer.kind),
        "fire_at": timer.fire_at.astimezone(SHANGHAI).isoformat(),
        "status": status,
    }


@router.get("/overdue", tags=["sla"], summary="What is overdue now, oldest first")
async def overdue(request: Request, session: Session, principal: Overseer, region: str | None = None) -> list[dict]:
    region = region_of(principal, region)
    now = utcnow()
    calendar = request.app.state.runtime.calendar
    await work_calendar.refresh(session, calendar)
    query = select(SlaRecord).where(SlaRecord.is_overdue(now)).order_by(SlaRecord.current_due_at)
    if region:
        query = query.where(regions.within(SlaRecord.region_code, region))
    return [
        {
            **record_out(r),
            "overdue_working_hours": round(
                calendar.working_time_between(r.current_due_at, now).total_seconds() / 3600, 2
            ),
        }
        for r in await session.scalars(query)
    ]


@router.get(
    "/stats/units",
    tags=["statistics"],
    summary="Per unit, region and request type: 响应率, 解决率, 按时办结率, 满意率",
    responses=exports("json", "csv"),
)
async def unit_stats(
    request: Request,
    session: Session,
    principal: Overseer,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to", description="exclusive")] = None,
    region: str | None = None,
    format: Literal["json", "csv"] = "json",
):
    region = region_of(principal, region)
    to_instant = lambda d: datetime.combine(d, datetime.min.time(), SHANGHAI) if d else None  # noqa: E731
    records = await stats.records_in(session, to_instant(start), to_instant(end), region)
    await work_calendar.refresh(session, request.app.state.runtime.calendar)
    result = stats.grouped(records, request.app.state.runtime.calendar, utcnow())
    result["credit_substitution"] = await stats.substitution_in(session, to_instant(start), to_instant(end), region)
    if format == "csv":
        return Response(
            stats.units_csv(result["units"], result["credit_substitution"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="unit-stats.csv"'},
        )
    return result


@router.get(
    "/stats/credit-substitution",
    tags=["statistics"],
    summary="证明替代率 per province and city: certificate items the 专项信用报告 absorbed / certificate items "
    "requested, counted where each subject is",
    responses=exports("json", "csv"),
)
async def credit_substitution(
    session: Session,
    principal: Overseer,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to", description="exclusive")] = None,
    region: str | None = None,
    format: Literal["json", "csv"] = "json",
):
    region = region_of(principal, region)
    to_instant = lambda d: datetime.combine(d, datetime.min.time(), SHANGHAI) if d else None  # noqa: E731
    result = await stats.substitution_in(session, to_instant(start), to_instant(end), region)
    if format == "csv":
        return Response(
            stats.substitution_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="credit-substitution.csv"'},
        )
    return result


# --- calendar -------------------------------------------------------------------------------------------
@router.put("/calendar/{year}", tags=["calendar"], summary="Load a year's official schedule (holidays, make-up days)")
async def put_calendar(year: int, body: work_calendar.ScheduleIn, request: Request, session: Session, principal: Admin):
    if not 2000 <= year <= 2100:
        raise Problem(404, "year_not_found", "年份超出范围", "Year out of range")
    try:
        async with session.begin():
            await work_calendar.store_schedule(session, year, body, principal.sub)
    except ValueError as exc:
        raise invalid_field("holidays", "schedule_invalid", str(exc), str(exc)) from exc
    async with request.app.state.runtime.sessions() as reader:
        await work_calendar.refresh(reader, request.app.state.runtime.calendar)
    return {"year": year, "holidays": len(body.holidays), "workdays": len(body.workdays)}


@router.get("/calendar/{year}", tags=["calendar"], summary="Working days of a year and where they come from")
async def get_calendar(
    year: int, request: Request, session: Session, _principal: Annotated[Principal, Depends(current_principal)]
):
    calendar = request.app.state.runtime.calendar
    await work_calendar.refresh(session, calendar)
    if not 2000 <= year <= 2100:
        raise Problem(404, "year_not_found", "年份超出范围", "Year out of range")
    days = [date.fromordinal(o) for o in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal())]
    return {
        "year": year,
        "source": calendar.schedule_source(year),
        "holidays": [d.isoformat() for d in days if d.weekday() < 5 and not calendar.is_working_day(d)],
        "workdays": [d.isoformat() for d in days if d.weekday() >= 5 and calendar.is_working_day(d)],
    }


# --- policies ------------------------------------------------------------------------------------------
class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    acknowledge_amount: int = Field(ge=1, le=1000)
    acknowledge_unit: policies.TimeUnit
    resolve_amount: int = Field(ge=1, le=1000)
    resolve_unit: policies.TimeUnit


@router.get("/policies", tags=["sla"], summary="SLA policies: stored ones and the built-in defaults")
async def list_policies(session: Session, _principal: Annotated[Principal, Depends(current_principal)]) -> dict:
    stored = await session.scalars(
        select(SlaPolicy).order_by(SlaPolicy.region_code, SlaPolicy.request_type, SlaPolicy.department_kind)
    )
    return {
        "defaults": {t: policies.as_dict(limits) for t, limits in policies.DEFAULT_LIMITS.items()},
        "policies": [
            {
                "request_type": p.request_type,
                "department_kind": p.department_kind,
                "region_code": p.region_code,
                **policies.as_dict(
                    policies.Limits(p.acknowledge_amount, p.acknowledge_unit, p.resolve_amount, p.resolve_unit)
                ),
            }
            for p in stored
        ],
    }


def administered_region(principal: Principal, asked: str | None) -> str:
    """The region an admin changes settings for: the one asked (``*`` nationwide), else its own.
    A region's admin administers its region and what lies under it; nationwide needs a national admin."""
    region = asked or principal.region or policies.NATIONWIDE
    allowed = principal.is_national or (region != policies.NATIONWIDE and principal.covers_region(region))
    if not allowed:
        raise Problem(
            403,
            "region_forbidden",
            f"无权修改该地区的设置：{'全国' if region == policies.NATIONWIDE else regions.full_name(region)}",
            f"You may not change settings for {'the whole country' if region == policies.NATIONWIDE else region}",
        )
    return region


@router.put(
    "/policies/{request_type}/{department_kind}",
    tags=["sla"],
    summary=(
        "Set a policy (department_kind * for all) for a region (its admin's by default; * nationwide, for a "
        "national admin); it applies to items dispatched from now on"
    ),
)
async def put_policy(
    request_type: str,
    department_kind: str,
    body: PolicyIn,
    session: Session,
    principal: Admin,
    region: Annotated[str | None, Query(pattern=r"^(\*|\d{6})$")] = None,
):
    region_code = administered_region(principal, region)
    if request_type not in catalogue.REQUEST_TYPES:
        raise Problem(
            404, "request_type_not_found", f"诉求类型不存在：{request_type}", f"Unknown request type: {request_type}"
        )
    if department_kind != "*" and department_kind not in catalogue.DEPARTMENT_KINDS:
        raise Problem(
            404, "kind_not_found", f"部门类别不存在：{department_kind}", f"Unknown department kind: {department_kind}"
        )
    async with session.begin():
        policy = await session.scalar(
            select(SlaPolicy).where(
                SlaPolicy.request_type == request_type,
                SlaPolicy.department_kind == department_kind,
                SlaPolicy.region_code == region_code,
            )
        )
        if policy is None:
            policy = SlaPolicy(request_type=request_type, department_kind=department_kind, region_code=region_code)
            session.add(policy)
        for field, value in body.model_dump().items():
            setattr(policy, field, value)
        policy.updated_at = utcnow()
    return {
        "request_type": request_type,
        "department_kind": department_kind,
        "region_code": region_code,
        **body.model_dump(),
    }


# --- recipients and notifications --------------------------------------------------------------------------
class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["unit", "leadership", "supervisor", "enterprise"]
    key: str = Field(min_length=1, max_length=100, description="unit code, region code or USCC")
    channel: Literal["wechat", "email", "webhook"]
    address: str = Field(min_length=3, max_length=500, description="openid, e-mail address or https URL")
    name: str | None = Field(None, max_length=100)

    @field_validator("address")
    @classmethod
    def _address_fits_channel(cls, address: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if channel == "email" and not EMAIL.match(address):
            raise bilingual_error("email_invalid", "邮箱地址格式不正确", "Not an e-mail address")
        if channel == "webhook" and not address.startswith(("https://", "http://")):
            raise bilingual_error("url_invalid", "回调地址须为 http(s) URL", "A webhook address is an http(s) URL")
        return address


async def administered(session: AsyncSession, principal: Principal, kind: str, key: str) -> str | None:
    """The region of a recipient, if ``principal`` administers it (404 otherwise: a regional
    admin learns nothing of other regions' units)."""
    region = await recipients.region_of(session, kind, key)
    if principal.is_national or (region is not None and principal.covers_region(region)):
        return region
    raise Problem(
        404,
        "recipient_scope",
        "该单位不存在或不在您管理的地区",
        "Unknown unit, or not in the region you administer",
    )


@router.get("/recipients", tags=["notifications"], summary="Who is told, and how: those in your region")
async def list_recipients(session: Session, principal: Admin, key: str | None = None) -> list[dict]:
    query = select(Recipient).where(principal.region_clause(Recipient.region_code)).order_by(Recipient.id)
    if key:
        query = query.where(Recipient.key == key)
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "key": r.key,
            "channel": r.channel,
            "address": r.address,
            "name": r.name,
            "region_code": r.region_code,
            "source": r.source,
        }
        for r in await session.scalars(query.limit(1000))
    ]


@router.post(
    "/recipients",
    status_code=201,
    tags=["notifications"],
    summary="Register who is told, and how",
    responses=refusals(404),  # a unit that does not exist or lies outside the admin's region
)
async def add_recipient(body: RecipientIn, session: Session, principal: Admin) -> dict:
    async with session.begin():
        region = await administered(session, principal, body.kind, body.key)
        existing = await session.scalar(
            select(Recipient).where(
                Recipient.kind == body.kind,
                Recipient.key == body.key,
                Recipient.channel == body.channel,
                Recipient.address == body.address,
            )
        )
        if existing is None:
            session.add(Recipient(**body.model_dump(), region_code=region, source="api"))
    return body.model_dump()


@router.get("/notifications", tags=["notifications"], summary="The notification log, newest first")
async def list_notifications(
    session: Session,
    principal: Overseer,
    work_item_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict]:
    query = (
        select(Notification)
        .join(SlaRecord, SlaRecord.work_item_id == Notification.work_item_id)
        .where(principal.region_clause(SlaRecord.region_code))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if work_item_id:
        query = query.where(Notification.work_item_id == work_item_id)
    if status:
        query = query.where(Notification.status == status)
    return [notification_out(n) for n in await session.scalars(query)]
