"""notifier's HTTP endpoints under ``/v1``: SLA clocks, overdue lists, statistics, the working
calendar, SLA policies, recipients and the notification log. What they take and answer is
``schemas.py``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, db, regions
from shared.auth import Admin, Anyone, Overseer, Principal
from shared.clock import SHANGHAI, reading_now, utcnow
from shared.problems import Problem, invalid_field, refusals
from shared.validation import Day
from shared.vocabulary import AUDIENCES, CHANNELS, TIMER_KINDS
from shared.web import DbSession, exports

from . import calendar as work_calendar
from . import day_counts, policies, recipients, stats, substitution
from .countdown import countdown
from .models import Notification, Recipient, SlaPolicy, SlaRecord, SlaTimer
from .scheduler import notification_out
from .schemas import (
    CalendarLoadedOut,
    CalendarYearOut,
    LimitsOut,
    NotificationOut,
    PoliciesOut,
    PolicyIn,
    PolicyOut,
    RecipientIn,
    RecipientOut,
    SlaOut,
    SubstitutionOut,
    TimerOut,
    TrendOut,
    TrendWeek,
    UnitStatsOut,
)
from .workcal import WorkingCalendar

router = APIRouter(prefix="/v1")


def region_of(principal: Principal, asked: str | None) -> str | None:
    """The region a supervisor or admin looks at: theirs, or a part of it (None: the country)."""
    if asked and not principal.covers_region(asked):
        raise Problem(404, "region_not_found", "无权查看该地区", "Not your region")
    return asked or principal.region


def record_fields(r: SlaRecord) -> dict:
    """An item's clocks as the API shows them (``SlaRecordOut``'s fields)."""
    return {
        "work_item_id": r.work_item_id,
        "request_id": r.request_id,
        "reference_no": r.reference_no,
        "request_type": r.request_type,
        "unit_code": r.unit_code,
        "unit_name": r.unit_name,
        "region_code": r.region_code,
        "subject_name": r.subject_name,
        "state": r.state,
        "dispatched_at": r.dispatched_at,
        "acknowledge_due_at": r.acknowledge_due_at,
        "acknowledged_at": r.acknowledged_at,
        "resolve_due_at": r.resolve_due_at,
        "paused": r.paused_at is not None,
        "resolved_at": r.resolved_at,
        "policy": r.policy,
    }


@router.get(
    "/sla/{work_item_id}",
    tags=["sla"],
    response_model=SlaOut,
    summary="One work item's SLA clocks, its timer plan and its countdown",
)
async def get_sla(work_item_id: str, request: Request, session: DbSession, principal: Anyone) -> SlaOut:
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
    calendar = await calendar_of(request, session)
    return SlaOut(
        **record_fields(record),
        timers=[timer_out(t) for t in timers],
        countdown=countdown(record, reading_now(), calendar).as_dict(),
    )


async def calendar_of(request: Request, session: AsyncSession) -> WorkingCalendar:
    """The process's working calendar, with any schedule loaded elsewhere since."""
    calendar = request.app.state.runtime.calendar
    await work_calendar.refresh(session, calendar)
    return calendar


def timer_out(timer: SlaTimer) -> TimerOut:
    """One step of an item's timer plan, e.g. 督办 due 2026-12-03 09:00, as a supervisor reads it."""
    status = "fired" if timer.fired_at else "cancelled" if timer.cancelled_at else "pending"
    return TimerOut(
        kind=timer.kind,
        name=TIMER_KINDS.zh(timer.kind),
        fire_at=timer.fire_at.astimezone(SHANGHAI).isoformat(),
        status=status,
    )


@router.get(
    "/stats/units",
    tags=["statistics"],
    response_model=UnitStatsOut,
    summary="Per unit that held an item (returned and transferred ones too), region and request type: 签收及时率, "
    "解决率, 按时办结率, 满意率 …; 合计 from all the unit rows; the definitions with the table; the units "
    "sorted and a page of them when asked",
    responses=exports("json", "csv"),
)
async def unit_stats(
    request: Request,
    session: DbSession,
    principal: Overseer,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to", description="exclusive")] = None,
    region: str | None = None,
    format: Literal["json", "csv"] = "json",
    sort: Annotated[
        Literal[stats.SORTABLE] | None,
        Query(description="the units in the order of this figure (or unit_name); those without it last"),
    ] = None,
    desc: bool = True,
    limit: Annotated[int | None, Query(ge=1, le=500, description="a page of this many units (JSON)")] = None,
    offset: Annotated[int, Query(ge=0, description="the page's first unit, with ``limit``")] = 0,
):
    region = region_of(principal, region)
    await db.snapshot(session)
    calendar = await calendar_of(request, session)
    # A province's 2,400 units a page at a time; the CSV has them all.
    page = stats.UnitPage(sort, desc, offset, limit) if format == "json" else stats.UnitPage(sort, desc)
    parts = await day_counts.parts_in(session, calendar, start, end, region, reading_now())
    result = stats.grouped(parts, calendar, page)
    credit = await substitution.figures_in(session, start, end, region)
    result["credit_substitution"] = credit
    if format == "csv":
        return Response(
            stats.units_csv(result, [[credit["label"]], *substitution.rows(credit)]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="unit-stats.csv"'},
        )
    return result


@router.get(
    "/stats/trend",
    tags=["statistics"],
    response_model=TrendOut,
    summary="合计 of each of the last weeks up to ``to`` (exclusive): the board's trend, in one call",
)
async def unit_stats_trend(
    request: Request,
    session: DbSession,
    principal: Overseer,
    end: Annotated[Day, Query(alias="to", description="exclusive")],
    weeks: Annotated[int, Query(ge=1, le=26)] = 8,
    region: str | None = None,
) -> TrendOut:
    region = region_of(principal, region)
    await db.snapshot(session)
    calendar = await calendar_of(request, session)
    periods = [(end - timedelta(days=7 * n), end - timedelta(days=7 * (n - 1))) for n in range(weeks, 0, -1)]
    parts = await day_counts.parts_by_period(
        session, calendar, periods, region, reading_now(), hours=False, by=day_counts.BY_REGION
    )
    return TrendOut(
        weeks=[
            TrendWeek(start=start, end=week_end, **stats.total_of_parts(parts[(start, week_end)], calendar))
            for start, week_end in periods
        ]
    )


@router.get(
    "/stats/credit-substitution",
    tags=["statistics"],
    response_model=SubstitutionOut,
    summary="证明替代率 per province and city: certificate items the 专项信用报告 absorbed / certificate items "
    "requested, counted where each subject is",
    responses=exports("json", "csv"),
)
async def credit_substitution(
    session: DbSession,
    principal: Overseer,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to", description="exclusive")] = None,
    region: str | None = None,
    format: Literal["json", "csv"] = "json",
):
    region = region_of(principal, region)
    result = await substitution.figures_in(session, start, end, region)
    if format == "csv":
        return Response(
            substitution.as_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="credit-substitution.csv"'},
        )
    return result


# --- calendar -------------------------------------------------------------------------------------------
@router.put(
    "/calendar/{year}",
    tags=["calendar"],
    response_model=CalendarLoadedOut,
    summary="Load a year's official schedule (holidays, make-up days)",
)
async def put_calendar(
    year: int, body: work_calendar.ScheduleIn, request: Request, session: DbSession, principal: Admin
) -> CalendarLoadedOut:
    if not 2000 <= year <= 2100:
        raise Problem(404, "year_not_found", "年份超出范围", "Year out of range")
    try:
        async with session.begin():
            await work_calendar.store_schedule(session, year, body, principal.sub)
    except ValueError as exc:
        raise invalid_field("holidays", "schedule_invalid", str(exc), str(exc)) from exc
    async with request.app.state.runtime.sessions() as reader:
        await work_calendar.refresh(reader, request.app.state.runtime.calendar)
    return CalendarLoadedOut(year=year, holidays=len(body.holidays), workdays=len(body.workdays))


@router.get(
    "/calendar/{year}",
    tags=["calendar"],
    response_model=CalendarYearOut,
    summary="Working days of a year and where they come from",
)
async def get_calendar(year: int, request: Request, session: DbSession, _principal: Anyone) -> CalendarYearOut:
    calendar = request.app.state.runtime.calendar
    await work_calendar.refresh(session, calendar)
    if not 2000 <= year <= 2100:
        raise Problem(404, "year_not_found", "年份超出范围", "Year out of range")
    days = [date.fromordinal(o) for o in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal())]
    return CalendarYearOut(
        year=year,
        source=calendar.schedule_source(year),
        holidays=[d for d in days if d.weekday() < 5 and not calendar.is_working_day(d)],
        workdays=[d for d in days if d.weekday() >= 5 and calendar.is_working_day(d)],
    )


# --- policies ------------------------------------------------------------------------------------------
@router.get(
    "/policies",
    tags=["sla"],
    response_model=PoliciesOut,
    summary="SLA policies: stored ones and the built-in defaults",
)
async def list_policies(session: DbSession, _principal: Anyone) -> PoliciesOut:
    stored = await session.scalars(
        select(SlaPolicy).order_by(SlaPolicy.region_code, SlaPolicy.request_type, SlaPolicy.department_kind)
    )
    return PoliciesOut(
        defaults={t: LimitsOut(**policies.as_dict(limits)) for t, limits in policies.DEFAULT_LIMITS.items()},
        policies=[
            PolicyOut(
                request_type=p.request_type,
                department_kind=p.department_kind,
                region_code=p.region_code,
                acknowledge_amount=p.acknowledge_amount,
                acknowledge_unit=p.acknowledge_unit,
                resolve_amount=p.resolve_amount,
                resolve_unit=p.resolve_unit,
            )
            for p in stored
        ],
    )


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
    response_model=PolicyOut,
    summary=(
        "Set a policy (department_kind * for all) for a region (its admin's by default; * nationwide, for a "
        "national admin); it applies to items dispatched from now on"
    ),
)
async def put_policy(
    request_type: str,
    department_kind: str,
    body: PolicyIn,
    session: DbSession,
    principal: Admin,
    region: Annotated[str | None, Query(pattern=r"^(\*|\d{6})$")] = None,
) -> PolicyOut:
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
    return PolicyOut(
        request_type=request_type, department_kind=department_kind, region_code=region_code, **body.model_dump()
    )


# --- recipients and notifications --------------------------------------------------------------------------
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


@router.get(
    "/recipients",
    tags=["notifications"],
    response_model=list[RecipientOut],
    summary="Who is told, and how: those in your region",
)
async def list_recipients(session: DbSession, principal: Admin, key: str | None = None) -> list[RecipientOut]:
    query = select(Recipient).where(principal.region_clause(Recipient.region_code)).order_by(Recipient.id)
    if key:
        query = query.where(Recipient.key == key)
    return [RecipientOut.model_validate(r) for r in await session.scalars(query.limit(1000))]


@router.post(
    "/recipients",
    status_code=201,
    tags=["notifications"],
    response_model=RecipientIn,
    summary="Register who is told, and how",
    responses=refusals(404),  # a unit that does not exist or lies outside the admin's region
)
async def add_recipient(body: RecipientIn, session: DbSession, principal: Admin) -> RecipientIn:
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
    return body


@router.get(
    "/notifications",
    tags=["notifications"],
    response_model=list[NotificationOut],
    summary="The notification log, newest first",
)
async def list_notifications(
    session: DbSession,
    principal: Overseer,
    work_item_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict]:
    query = (
        select(Notification, SlaRecord.unit_code, SlaRecord.unit_name)
        .join(SlaRecord, SlaRecord.work_item_id == Notification.work_item_id)
        .where(principal.region_clause(SlaRecord.region_code))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if work_item_id:
        query = query.where(Notification.work_item_id == work_item_id)
    if status:
        query = query.where(Notification.status == status)
    return [
        named(notification_out(n), unit_code, unit_name) for n, unit_code, unit_name in await session.execute(query)
    ]


def named(notification: dict, unit_code: str, unit_name: str) -> dict:
    """A notification with the names people read beside its codes: its item's unit, the kind of
    message, the channel (消息总线 rather than topic) and the audience."""
    kind = notification["kind"]
    return {
        **notification,
        "unit_code": unit_code,
        "unit_name": unit_name,
        "kind_name": TIMER_KINDS.zh(kind) if kind in TIMER_KINDS else notification["title"],
        "channel_name": CHANNELS.zh(notification["channel"]),
        "channel_name_en": CHANNELS.name(notification["channel"], "en"),
        "recipient_kind_name": AUDIENCES.zh(notification["recipient_kind"]),
        "recipient_kind_name_en": AUDIENCES.name(notification["recipient_kind"], "en"),
    }
