"""notifier's HTTP contract: SLA clocks, overdue lists, statistics, the working calendar, SLA
policies, recipients and the notification log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_serializer, field_validator

from shared.validation import EMAIL, Day, bilingual_error

from . import policies


# --- what callers send ------------------------------------------------------------------------------------
class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    acknowledge_amount: int = Field(ge=1, le=1000)
    acknowledge_unit: policies.TimeUnit
    resolve_amount: int = Field(ge=1, le=1000)
    resolve_unit: policies.TimeUnit


class RecipientIn(BaseModel):
    # Who is told, and how; POST /v1/recipients answers with it as registered.
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


# --- SLA clocks ------------------------------------------------------------------------------------------
class SlaRecordOut(BaseModel):
    """One work item's clocks, as the notifier keeps them."""

    model_config = ConfigDict(from_attributes=True)
    work_item_id: str
    request_id: str
    reference_no: str
    request_type: str
    unit_code: str
    unit_name: str
    region_code: str = Field(description="the handling unit's region")
    subject_name: str = Field(description="the enterprise the item is about")
    state: str
    dispatched_at: datetime
    acknowledge_due_at: datetime
    acknowledged_at: datetime | None
    resolve_due_at: datetime | None
    paused: bool = Field(description="waiting for the enterprise's 补正: the resolve clock stands still")
    resolved_at: datetime | None
    policy: dict[str, Any] = Field(description="the time limits as they were when the clock started")


class CountdownOut(BaseModel):
    """What an item's clock means now, in the words every page shows (services/notifier/countdown.py)."""

    deadline: Literal["acknowledge", "resolve"] | None = Field(
        description="which deadline counts: 签收 until someone signs, then 办结; null once finished"
    )
    due_at: datetime | None = Field(description="that deadline; null while paused or finished")
    paused: bool = Field(description="the clock stands still (补正)")
    finished: bool
    overdue: bool
    working_days: int = Field(description="whole working days left (or overdue); 0 under one day")
    working_hours: float = Field(description="the working time left (or overdue), in hours")
    tone: Literal["ok", "soon", "late"] = Field(description="soon: under one working day left; late: overdue")
    zh: str = Field(examples=["签收剩余 1 个工作日", "办结超期 2 个工作日", "暂停计时（待补正），办结剩余 3 个工作日"])
    en: str = Field(examples=["1 working day left to acknowledge", "Resolution overdue by 2 working days"])


class UrgeStateOut(BaseModel):
    """Whether the enterprise may 催办 the item now (services/notifier/urging.py), and when next."""

    allowed: bool
    reason: Literal["finished", "paused", "too_early", "already_today"] | None = Field(
        description="why not: finished; paused (补正); too_early (neither overdue nor 80 % elapsed); "
        "already_today (chased this working day)"
    )
    next_allowed_at: datetime | None = Field(description="when it may be chased next; null while finished or paused")
    last_urged_at: datetime | None
    count: int = Field(description="how often the item was chased (被催办次数)")


class UnitContactOut(BaseModel):
    """The unit's public telephone and office hours, as the department registry has them."""

    phone: str | None
    office_hours: str | None


class ItemCountdownOut(BaseModel):
    work_item_id: str
    request_id: str
    reference_no: str
    unit_code: str
    unit_name: str
    state: str
    countdown: CountdownOut
    urge: UrgeStateOut
    unit_contact: UnitContactOut


class UrgeOut(BaseModel):
    """A 催办 recorded: who was told, and when the item may be chased again."""

    work_item_id: str
    urged_at: datetime
    working_day: date = Field(description="the Chinese working day it counts for")
    next_allowed_at: datetime
    notified: int = Field(description="notifications created (unit and supervisors, every channel)")


class TimerOut(BaseModel):
    """One step of an item's timer plan, e.g. 督办 due 2026-12-03 09:00, as a supervisor reads it."""

    kind: str
    name: str = Field(description="the step in Chinese")
    fire_at: str = Field(description="ISO 8601 instant in Asia/Shanghai")
    status: Literal["pending", "fired", "cancelled"]


class SlaOut(SlaRecordOut):
    timers: list[TimerOut]
    countdown: CountdownOut

    @field_serializer(
        "dispatched_at", "acknowledge_due_at", "acknowledged_at", "resolve_due_at", "resolved_at", when_used="json"
    )
    def _as_isoformat(self, instant: datetime | None) -> str | None:
        # This route has always written its instants as datetime.isoformat() does (+00:00 for UTC),
        # the lists as pydantic does (Z). Both are RFC 3339; each route keeps its own.
        return instant.isoformat() if instant is not None else None


class OverdueOut(SlaRecordOut):
    overdue_working_hours: float = Field(description="working hours past the current deadline")
    countdown: CountdownOut


# --- statistics ------------------------------------------------------------------------------------------
# A row's keys come first (unit, region, request type), then its figures, as they always have:
# pydantic orders the fields of ``class Row(Figures, Key)`` from the last base to the first.
class Figures(BaseModel):
    """What units are judged on, over the items dispatched in the period (``stats.COLUMNS`` says
    what each counts; ``definitions`` in the answer says it to people)."""

    received: int
    acknowledged_on_time: int
    acknowledged_late: int
    acknowledge_counted: int = Field(description="signed, or unsigned past the 签收 limit")
    response_rate: float | None = Field(description="签收及时率: acknowledged_on_time / acknowledge_counted")
    kept: int = Field(description="received less those returned, transferred or dispatched on")
    resolved: int
    resolution_rate: float | None = Field(description="办结率: resolved / kept")
    resolved_on_time: int
    resolve_counted: int = Field(description="resolved, or unresolved past the limit with the clock running")
    on_time_rate: float | None = Field(description="按时办结率: resolved_on_time / resolve_counted")
    median_handling_hours: float | None = Field(description="working hours from dispatch to resolution")
    p90_handling_hours: float | None
    median_handling_days: float | None = Field(description="in working days")
    p90_handling_days: float | None
    extended: int = Field(description="items granted an extension")
    extension_rate: float | None = Field(description="延期率: extended / kept")
    returned: int = Field(description="items the unit returned to the coordinating office")
    return_rate: float | None = Field(description="退回率: returned / received")
    transferred: int = Field(description="items the unit transferred to another unit")
    transfer_rate: float | None = Field(description="转办率: transferred / received")
    open_now: int
    overdue_now: int
    urged: int = Field(description="被催办次数: times enterprises chased the items (once per item per working day)")
    rated: int
    satisfied: int
    satisfaction_rate: float | None = Field(description="满意率: rated 4 or 5 / rated")
    followed_up: int = Field(description="回访数: items followed up after resolution")
    solved: int = Field(description="回访 answered 已解决")
    partly_solved: int = Field(description="回访 answered 部分解决")
    solution_rate: float | None = Field(description="解决率: solved / followed_up")


class TrendWeek(Figures):
    """One week's 合计 (handling hours are not in a trend: null)."""

    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to", description="exclusive")


class TrendOut(BaseModel):
    weeks: list[TrendWeek] = Field(description="oldest first")


class UnitKey(BaseModel):
    unit_code: str
    unit_name: str


class RegionKey(BaseModel):
    region_code: str
    region_name: str


class RequestTypeKey(BaseModel):
    request_type: str
    request_type_name: str


class UnitFigures(Figures, UnitKey):
    pass


class RegionFigures(Figures, RegionKey):
    pass


class RequestTypeFigures(Figures, RequestTypeKey):
    pass


class SubstitutionFigures(BaseModel):
    certificate_items: int = Field(description="department items of certificate requests + covered ones")
    by_departments: int
    covered_by_credit_report: int
    fulfilled_by_credit_report: int = Field(description="covered items whose report was uploaded")
    awaiting_credit_report: int
    substitution_rate: float | None = Field(description="证明替代率: covered / certificate items")


class SubstitutionRegionKey(BaseModel):
    region_code: str
    region_name: str
    level: Literal["province", "city"]
    level_name: str


class SubstitutionRegion(SubstitutionFigures, SubstitutionRegionKey):
    pass


class SubstitutionOut(BaseModel):
    """证明替代率 per province and prefecture-level city, each item counted where its subject is."""

    label: str
    regions: list[SubstitutionRegion]
    total: SubstitutionFigures


class DefinitionOut(BaseModel):
    """One column of the unit table: its header and what it counts, for the page to show under it."""

    field: str
    zh: str
    en: str
    definition_zh: str
    definition_en: str


class UnitStatsOut(BaseModel):
    units: list[UnitFigures] = Field(
        description="every unit that held an item dispatched in the period (in unit-code order, or as "
        "``sort`` asks), or the page of them asked (``limit``, ``offset``)"
    )
    unit_count: int = Field(description="how many units held an item of the period: the pages' whole")
    regions: list[RegionFigures] = Field(description="by the holding unit's region")
    request_types: list[RequestTypeFigures]
    total: Figures = Field(description="合计: the unit rows' counts summed, its rates from those sums")
    definitions: list[DefinitionOut]
    credit_substitution: SubstitutionOut


# --- calendar, policies, recipients, notifications -----------------------------------------------------
class CalendarLoadedOut(BaseModel):
    year: int
    holidays: int = Field(description="how many holidays were loaded")
    workdays: int = Field(description="how many make-up working days were loaded")


class CalendarYearOut(BaseModel):
    year: int
    source: str = Field(description="where the year's schedule comes from")
    holidays: list[date] = Field(description="weekdays that are not working days")
    workdays: list[date] = Field(description="weekend days that are working days")


class LimitsOut(BaseModel):
    acknowledge_amount: int
    acknowledge_unit: policies.TimeUnit
    resolve_amount: int
    resolve_unit: policies.TimeUnit


class PolicyKey(BaseModel):
    request_type: str
    department_kind: str = Field(description="* for every kind")
    region_code: str = Field(description="* nationwide")


class PolicyOut(LimitsOut, PolicyKey):
    pass


class PoliciesOut(BaseModel):
    defaults: dict[str, LimitsOut] = Field(description="the built-in limits per request type")
    policies: list[PolicyOut]


class RecipientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    key: str
    channel: str
    address: str
    name: str | None
    region_code: str | None
    source: str = Field(description="registry (replaced on each load) · api")


class NotificationOut(BaseModel):
    id: int
    kind: str
    kind_name: str = Field(description="e.g. 催办 · 签收督办, or the message's title for news about an item")
    work_item_id: str | None
    unit_code: str = Field(description="the item's unit")
    unit_name: str
    recipient_kind: str
    recipient_kind_name: str = Field(description="承办单位 · 单位领导 · 督办人员 · 企业")
    recipient_kind_name_en: str
    channel: str
    channel_name: str = Field(description="微信 · 邮件 · 接口回调 · 消息总线")
    channel_name_en: str
    address: str
    title: str
    body: str
    urgent: bool
    status: str = Field(description="pending · sent · failed")
    attempts: int
    last_error: str | None
    created_at: str = Field(description="ISO 8601 instant")
    sent_at: str | None
    next_attempt_at: str


# --- 督办单: a supervisor's order to a unit (supervision.py) ---------------------------------------------
def _said(text: str) -> str:
    text = text.strip()
    if not text:
        raise bilingual_error("text_blank", "请填写内容", "Write something")
    return text


class SupervisionIn(BaseModel):
    """督办 a unit of your region: what it must answer, and the last day (Asia/Shanghai) to answer."""

    model_config = ConfigDict(extra="forbid")
    unit_code: str = Field(min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=2000, description="督办事项: what the unit must answer")
    due_on: Day = Field(description="the last day of the answer, today or later (Asia/Shanghai)")

    _note = field_validator("note")(_said)


class SupervisionAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=4000, description="the unit's answer to the 督办单")

    _answer = field_validator("answer")(_said)


class SupervisionOut(BaseModel):
    """A 督办单 as its supervisor and the unit's clerks read it."""

    id: str
    unit_code: str
    unit_name: str
    region_code: str = Field(description="the unit's region")
    note: str
    due_on: date
    due_at: datetime = Field(description="an answer before this instant is on time")
    created_at: datetime
    created_by_name: str | None
    state: Literal["open", "answered"]
    state_name: str = Field(description="待答复 · 已答复")
    timeliness: Literal["on_time", "late", "pending", "overdue"] = Field(
        description="按时答复 · 逾期答复 · 未到期 · 已逾期未答复"
    )
    timeliness_name: str
    answer: str | None
    answered_at: datetime | None
    answered_by_name: str | None
    notified: int | None = Field(None, description="notifications created by this call (create and answer only)")


# --- the message centre (消息中心) ----------------------------------------------------------------------
class MessageOut(BaseModel):
    """One in-app message as its reader sees it. ``target`` says where it leads: ``request`` — the
    enterprise's request page (``request_id``); ``work_item`` — the work item (``work_item_id``), on
    the clerk's item page for a unit, the board's item page for a supervisor."""

    id: int
    kind: str = Field(description="a timer kind, a work-item event's type, or credit_report_awaited")
    kind_name: str = Field(description="待您补正 · 待上传 · 已办结 · 请评价 · 新工单待签收 · 催办 · 督办 …")
    kind_name_en: str
    title: str
    body: str
    audience: Literal["enterprise", "unit", "leadership", "supervisor"]
    target: Literal["request", "work_item"]
    request_id: str | None
    work_item_id: str | None
    urgent: bool
    created_at: datetime
    read: bool = Field(description="read by the caller (each person has their own marks)")
    read_at: datetime | None


class MessagesOut(BaseModel):
    items: list[MessageOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
    unread: int = Field(description="the caller's unread messages, all pages")


class UnreadOut(BaseModel):
    unread: int


class ReadAllOut(BaseModel):
    marked: int = Field(description="messages marked read now")
    unread: int = Field(description="what remains unread (a message that arrived meanwhile)")
