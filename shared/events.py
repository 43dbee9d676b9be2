"""Event contracts: the only thing the services share about each other's work.

Every message on Kafka is a CloudEvent 1.0 in binary mode (``ce_*`` headers, JSON body); the
body is one of the pydantic models below, chosen by ``ce_type``. ``xiaoer schemas`` writes their
JSON Schemas to ``docs/schemas/``, and ``docs/asyncapi.yaml`` describes the topics that carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.vocabulary import OUTCOMES, POOR_RATING, ROLES, WORK_ITEM_STATES

# --- Topics ---------------------------------------------------------------------------------
REQUESTS_SUBMITTED = "requests.submitted"  # intake → router: new requests
REQUESTS_UPDATES = "requests.updates"  # intake → router: withdrawals, supplements, ratings
SLA_EVENTS = "sla.events"  # notifier → intake: deadlines of each work item
USERS_EVENTS = "users.events"  # intake → notifier: how enterprise users can be reached
DEPT_RESPONSES = "dept.responses"  # department systems → router: actions on work items
WORKITEMS_EVENTS = "workitems.events"  # router → intake, notifier: every change of a work item
NOTIFICATIONS = "notifications"  # notifier → anyone: every notification sent
REGISTRY_EVENTS = "registry.events"  # router → notifier: units and supervising offices, and how to reach them


def dept_inbox(unit_code: str) -> str:
    """A department unit's own topic, e.g. ``dept.440112.tax.inbox``."""
    return f"dept.{unit_code}.inbox"


DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Where a consumer of ``topic`` puts what it can never apply (shared.messaging.dead_letters)."""
    return topic + DLQ_SUFFIX


def is_dlq(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)


SOURCE_INTAKE = "/xiaoer/intake"
SOURCE_ROUTER = "/xiaoer/router"
SOURCE_NOTIFIER = "/xiaoer/notifier"


# --- Base -------------------------------------------------------------------------------------
class Event(BaseModel):
    """The body of one CloudEvent. Subclasses set ``ce_type``; unknown fields are refused so a
    producer's typo is caught by the consumer (and lands in the DLQ) instead of being ignored."""

    model_config = ConfigDict(extra="forbid")
    ce_type: ClassVar[str]


class Subject(BaseModel):
    """An entity a certificate or answer is about: the enterprise itself or a subsidiary."""

    model_config = ConfigDict(extra="forbid")
    uscc: str
    name: str
    region_code: str


class Actor(BaseModel):
    """Who made a move: a person (role, id and name from their token), a department's system
    (over Kafka), or xiaoer itself (role ``system``)."""

    model_config = ConfigDict(extra="forbid")
    role: str
    id: str
    name: str | None = None
    unit: str | None = Field(None, description="the unit a department clerk or system acts for")

    @property
    def label(self) -> str:
        """How a person reads it, e.g. ``李四（部门）``."""
        return f"{self.name or self.id}（{ROLES.zh(self.role)}）"

    @property
    def ref(self) -> str:
        """How audit columns record who did it, e.g. ``department:staff:440112.tax``."""
        return f"{self.role}:{self.id}"


class FileRef(BaseModel):
    """A stored file as every service refers to it: the content lives in the shared file store
    under ``sha256``; each service's own tables say who may read it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    content_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


# --- intake → router --------------------------------------------------------------------------
class RequestSubmitted(Event):
    ce_type: ClassVar[str] = "cn.xiaoer.request.submitted"
    request_id: str
    reference_no: str
    request_type: str
    enterprise: Subject
    subjects: list[Subject] = Field(description="every subject entity, the enterprise first")
    items: list[str]
    period_months: int | None = None
    purpose: str | None = None
    description: str | None = None
    contact_name: str | None = Field(None, description="in full; only the item's unit's clerks see it so")
    contact_mobile: str | None = Field(None, description="in full; department inbox messages carry it masked")
    attachments: list[FileRef] = []
    certificate_anyway: list[str] = Field(
        default=[],
        description="certificate kinds the enterprise wants from the department itself even where the "
        "province's 专项信用报告 covers them (信用代证 opt-out)",
    )
    submitted_by: Actor
    submitted_at: datetime


# --- router → intake, notifier ------------------------------------------------------------------
# A work item's state: one of shared.vocabulary.WORK_ITEM_STATES (which also says which are open).
WorkItemState = Literal[tuple(WORK_ITEM_STATES)]  # type: ignore[valid-type]


class WorkItemEvent(Event):
    """Fields every ``workitems.events`` message carries, so a reader needs no other source."""

    work_item_id: str
    request_id: str
    reference_no: str
    request_type: str
    item: str
    department_kind: str
    unit_code: str
    unit_name: str
    region_code: str = Field(description="the unit's region")
    subject_uscc: str
    subject_name: str
    enterprise_uscc: str | None = Field(None, description="the submitting enterprise (subjects may be subsidiaries)")
    state: WorkItemState
    occurred_at: datetime
    actor: Actor | None = None
    note: str | None = None
    version: int = Field(
        0,
        description="the item's version at the router: 1 at dispatch (or, for an item a credit report covers, "
        "when covered), +1 with every change (0: not versioned, a message from before versions)",
    )

    def older_than(self, held_version: int) -> bool:
        """Whether a reader that already applied ``held_version`` of this item must leave it as it
        is. Events of one item arrive in order (keyed by request), except when an operator replays
        a dead letter or republishes an outbox range; then an older event must not undo a newer one."""
        return 0 < self.version <= held_version


class CoverageVersion(BaseModel):
    """One version of a province's (or city's) 专项信用报告 coverage, as routing decisions name it."""

    model_config = ConfigDict(extra="forbid")
    region_code: str
    version: int

    @property
    def label(self) -> str:
        """How the ledger and the request show it, e.g. ``440000 v3``."""
        return f"{self.region_code} v{self.version}"


class WorkItemDispatched(WorkItemEvent):
    """A unit was given the item: first routing, re-dispatch by a coordinator, or a transfer."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.dispatched"
    rule_id: int | None = Field(description="the routing rule that chose the unit; null when manual")
    rule_version: int | None
    routing_reason: str
    previous_unit_code: str | None = None
    restarts_clock: bool = Field(
        True,
        description="false for a unit's own 转办: the item keeps its deadlines (only routing and a "
        "coordinator's dispatch start them anew)",
    )
    subject_region: str | None = Field(
        None, description="the subject's region (region_code is the unit's); null in messages from before it"
    )
    credit_coverage: list[CoverageVersion] = Field(
        default=[],
        description="信用代证: the 专项信用报告 coverage versions in force for the subject when a certificate item "
        "was routed (province, then a city adding to it) — the item went to a department because none covered "
        "its kind, or the enterprise asked for the department's certificate anyway; empty when none was in force "
        "or the request is not a certificate bundle",
    )


def credit_report_unit(region_code: str) -> str:
    """Where an item a 专项信用报告 covers stands instead of a unit: that region's report."""
    return f"credit.{region_code}"


def is_credit_report_unit(unit_code: str) -> bool:
    """Whether a work-item event is about an item a 专项信用报告 covers (信用代证), not a unit's work."""
    return unit_code.startswith("credit.")


class WorkItemCovered(WorkItemEvent):
    """信用代证: the subject's province (or city) 专项信用报告 covers this certificate kind, so no
    department gets the item: it is in state ``credit_report`` from the start, no unit's inbox
    carries it and no SLA clock runs for it. ``unit_code`` is ``credit.<coverage region>`` (the
    report, not a unit); ``region_code`` the coverage's region. The enterprise downloads the report
    from ``report_site_url`` and uploads it to intake."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.covered"
    subject_region: str = Field(description="the subject's region (where the certificate is about)")
    coverage_region: str = Field(description="the province or city whose report covers the kind")
    coverage_version: int = Field(description="the coverage version in force on the submission day")
    coverage_effective_from: datetime
    report_name: str = Field(description="e.g. 公共信用信息报告（无违法违规证明版）")
    report_site_name: str = Field(description="where the enterprise downloads it, e.g. 信用中国（广东）")
    report_site_url: str | None = None
    reason: str = Field(description="why the kind is covered, as a person reads it")


class WorkItemCreditReportUploaded(WorkItemEvent):
    """信用代证: the enterprise uploaded the 专项信用报告 that covers this item, so the item is
    fulfilled (state ``credit_report_uploaded``) — as a resolved item is for a department's work.
    Fields as in :class:`WorkItemCovered`; ``report`` is the uploaded PDF (intake's copy)."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.credit_report_uploaded"
    subject_region: str = Field(description="the subject's region (where the certificate is about)")
    coverage_region: str = Field(description="the province or city whose report covers the kind")
    coverage_version: int = Field(description="the coverage version in force on the submission day")
    report: FileRef


class WorkItemAcknowledged(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.acknowledged"


class WorkItemProgressed(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.progressed"


class WorkItemSupplementRequested(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.supplement_requested"
    attachments: list[FileRef] = Field(default=[], description="e.g. a form for the enterprise to fill in")


class WorkItemSupplemented(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.supplemented"
    attachments: list[FileRef] = []


# A unit's result: one of shared.vocabulary.OUTCOMES.
Outcome = Literal[tuple(OUTCOMES)]  # type: ignore[valid-type]


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome
    document_no: str | None = None
    note: str | None = None
    documents: list[FileRef] = Field(default=[], description="what the unit issued: the certificate PDF/OFD")


class WorkItemResolved(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.resolved"
    resolution: Resolution


class WorkItemReturned(WorkItemEvent):
    """The unit said the item is not its job; it now waits at the coordinator (unit fields)."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.returned"
    returned_by: str


class WorkItemAssisted(WorkItemEvent):
    """Assisting units (会办) were added, or one of them contributed (``contribution``)."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.assisted"
    assisting_units: list[str]
    contribution_by: str | None = None


class WorkItemExtensionRequested(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.extension_requested"
    extension_id: str
    days: int


class WorkItemExtensionDecided(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.extension_decided"
    extension_id: str
    days: int
    approved: bool
    reason: str | None = Field(None, description="why, when denied; the unit sees it")


class WorkItemReopened(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.reopened"
    score: int | None = Field(None, description="the enterprise's rating that reopened it")
    comment: str | None = Field(None, description="the enterprise's comment, kept on the unit's record")


class WorkItemClosed(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.closed"
    score: int | None = None
    comment: str | None = None


class WorkItemCancelled(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.cancelled"


# --- intake → router: what the enterprise does after submitting -------------------------------------
class RequestWithdrawn(Event):
    ce_type: ClassVar[str] = "cn.xiaoer.request.withdrawn"
    request_id: str
    reason: str | None = None
    actor: Actor
    occurred_at: datetime


class CreditReportUploaded(Event):
    """信用代证: the enterprise uploaded one subject's 专项信用报告 (a PDF) for a request; every item
    of that subject the report covers (``work_item_ids``, state ``credit_report``) is fulfilled. A
    later upload for the same subject (e.g. a longer period) replaces the file and changes no state."""

    ce_type: ClassVar[str] = "cn.xiaoer.request.credit_report_uploaded"
    request_id: str
    subject_uscc: str
    work_item_ids: list[str] = Field(description="the covered items the report fulfils, as intake knows them")
    report: FileRef
    actor: Actor
    occurred_at: datetime


class SupplementProvided(Event):
    """The enterprise's answer to a unit's 补正 request."""

    ce_type: ClassVar[str] = "cn.xiaoer.request.supplement_provided"
    request_id: str
    work_item_id: str
    text: str
    attachments: list[FileRef] = []
    actor: Actor
    occurred_at: datetime


# 好差评: five levels (shared.vocabulary.RATING_LEVELS).
def reopens(attempt: int, score: int) -> bool:
    """Whether a rating sends its item back to the unit: only a poor first one does."""
    return attempt == 1 and score <= POOR_RATING


class WorkItemRated(Event):
    """The enterprise rated one finished work item. A first rating of ``POOR_RATING`` or lower
    reopens that item alone (重办); the rating after the redo (``attempt`` 2) is final."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.rated"
    request_id: str
    work_item_id: str
    score: int = Field(ge=1, le=5)
    comment: str | None = None
    attempt: Literal[1, 2] = 1
    actor: Actor
    occurred_at: datetime


# --- intake → notifier ------------------------------------------------------------------------------
class WechatUserBound(Event):
    """An enterprise user or liaison officer bound their WeChat account: they can now receive
    subscribe messages about these enterprises' requests."""

    ce_type: ClassVar[str] = "cn.xiaoer.user.wechat_bound"
    openid: str
    role: Literal["enterprise", "liaison"]
    usccs: list[str]
    occurred_at: datetime


# --- notifier → intake ----------------------------------------------------------------------------
class SlaUpdated(Event):
    """A work item's deadlines after its clock started, paused, resumed or was extended."""

    ce_type: ClassVar[str] = "cn.xiaoer.sla.updated"
    work_item_id: str
    request_id: str
    acknowledge_due_at: datetime
    resolve_due_at: datetime | None = Field(description="null while the clock is paused")
    paused: bool = False


# --- notifier → anyone ---------------------------------------------------------------------------------
class NotificationSent(Event):
    """A notification the notifier issued (reminder, 催办, 督办, 通报, progress news), for
    dashboards and department systems that prefer to listen rather than be called."""

    ce_type: ClassVar[str] = "cn.xiaoer.notification.sent"
    notification_id: int
    kind: str
    work_item_id: str | None = None
    recipient_kind: Literal["unit", "leadership", "supervisor", "enterprise"]
    recipient_key: str
    title: str
    body: str
    urgent: bool = False
    occurred_at: datetime


# --- router → notifier: the department registry ------------------------------------------------------
class Contact(BaseModel):
    """How one person or system of a unit (or supervising office) is reached."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["clerk", "leadership"] = "clerk"
    name: str | None = None
    email: str | None = None
    webhook: str | None = None
    wechat_openid: str | None = None


class UnitRegistered(Event):
    """A unit as the registry now has it (created, changed or deactivated), with its contacts:
    the notifier tells exactly these contacts about the unit's items."""

    ce_type: ClassVar[str] = "cn.xiaoer.unit.registered"
    unit_code: str
    name: str
    kind: str
    region_code: str
    active: bool
    supervising_office: str | None = None
    contacts: list[Contact] = []
    occurred_at: datetime


class SupervisingOfficeRegistered(Event):
    """A region's supervising office (督办) and how it is reached."""

    ce_type: ClassVar[str] = "cn.xiaoer.supervisor.registered"
    region_code: str
    name: str
    contacts: list[Contact] = []
    occurred_at: datetime


# --- department systems → router ---------------------------------------------------------------------
# The moves a department (a unit's system, or a coordinating office) may send; the router's life
# cycle (services/router/transitions.py) says when each is allowed.
DEPARTMENT_MOVES = (
    "acknowledge",
    "progress",
    "request-supplement",
    "resolve",
    "return",
    "transfer",
    "assist",
    "extension",
    "dispatch",
)
DepartmentActionName = Literal[DEPARTMENT_MOVES]  # type: ignore[valid-type]


class DepartmentAction(Event):
    """An action of a department system on one of its work items, the Kafka twin of
    ``POST /v1/workitems/{id}/{action}``. ``unit_code`` is the acting unit; it must be the item's
    unit (or an assisting unit, for ``progress``) and match the event's ``ce_source``,
    ``/departments/<unit_code>``."""

    ce_type: ClassVar[str] = "cn.xiaoer.department.action"
    work_item_id: str
    unit_code: str
    action: DepartmentActionName
    note: str | None = Field(None, max_length=2000)
    outcome: Outcome | None = None
    document_no: str | None = Field(None, max_length=100)
    attachments: list[str] = Field(
        default=[], max_length=20, description="ids of files the unit uploaded with POST /v1/workitems/{id}/files"
    )
    reason: str | None = Field(None, max_length=1000)
    to_unit: str | None = None
    units: list[str] = Field(default=[], max_length=10)
    days: int | None = Field(None, ge=1, le=60)


# --- router → a department unit's inbox -----------------------------------------------------------
class WorkItemAssigned(Event):
    """What a department unit needs to act on one work item, and no personal data beyond that."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.assigned"
    work_item_id: str
    request_id: str
    reference_no: str
    request_type: str
    item: str
    unit_code: str
    enterprise: Subject
    subject: Subject
    period_months: int | None = None
    purpose: str | None = None
    description: str | None = None
    attachment_links: list[str] = Field(default=[], description="signed, time-limited download links")
    role: Literal["lead", "assist"] = Field(
        "lead", description="assist: a co-handling (会办) request from the lead unit"
    )
    dispatched_at: datetime


class WorkItemNotice(Event):
    """News about an item the unit already holds: the enterprise's supplement arrived, the
    request was withdrawn, or the item was reopened (重办) after a poor rating."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.notice"
    work_item_id: str
    request_id: str
    reference_no: str
    unit_code: str
    notice: Literal[
        "deadlines", "supplement_received", "withdrawn", "reopened", "transferred_away", "extension_decided"
    ]
    text: str | None = None
    attachment_links: list[str] = []
    acknowledge_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    occurred_at: datetime


WORK_ITEM_EVENTS: tuple[type[WorkItemEvent], ...] = (
    WorkItemDispatched,
    WorkItemAcknowledged,
    WorkItemProgressed,
    WorkItemSupplementRequested,
    WorkItemSupplemented,
    WorkItemResolved,
    WorkItemReturned,
    WorkItemAssisted,
    WorkItemExtensionRequested,
    WorkItemExtensionDecided,
    WorkItemReopened,
    WorkItemClosed,
    WorkItemCancelled,
    WorkItemCovered,
    WorkItemCreditReportUploaded,
)

EVENT_TYPES: dict[str, type[Event]] = {
    model.ce_type: model
    for model in (
        RequestSubmitted,
        RequestWithdrawn,
        SupplementProvided,
        WorkItemRated,
        CreditReportUploaded,
        *WORK_ITEM_EVENTS,
        WorkItemAssigned,
        WorkItemNotice,
        SlaUpdated,
        NotificationSent,
        WechatUserBound,
        DepartmentAction,
        UnitRegistered,
        SupervisingOfficeRegistered,
    )
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {ce_type: model.model_json_schema() for ce_type, model in EVENT_TYPES.items()}


# --- Which messages travel on which topic (docs/asyncapi.yaml is generated from this) ---------------
TOPICS: dict[str, dict[str, Any]] = {
    REQUESTS_SUBMITTED: {
        "description": "New requests, from intake to the router. Key: request id.",
        "messages": [RequestSubmitted],
        "from": "intake",
        "to": ["router"],
    },
    REQUESTS_UPDATES: {
        "description": (
            "What an enterprise does after submitting: withdraw, answer a 补正, rate, upload a 专项信用报告 "
            "(信用代证). Key: request id."
        ),
        "messages": [RequestWithdrawn, SupplementProvided, WorkItemRated, CreditReportUploaded],
        "from": "intake",
        "to": ["router"],
    },
    "dept.{unit_code}.inbox": {
        "description": (
            "One department unit's own work: new items (lead or assisting), deadlines, and news about items it "
            "holds. Only that unit's items, with signed attachment links and no personal data it does not need. "
            "Items a province's 专项信用报告 covers (信用代证, cn.xiaoer.workitem.covered) never come here. "
            "Key: work item id."
        ),
        "messages": [WorkItemAssigned, WorkItemNotice],
        "from": "router",
        "to": ["department systems"],
    },
    DEPT_RESPONSES: {
        "description": (
            "Department systems' actions on their items, validated like the HTTP API. ce_source must be "
            "/departments/<unit_code>, and each message is signed with the unit's key (xiaoer units credentials): "
            "CloudEvents extension headers ce_xiaoerkeyid (the key id) and ce_xiaoersignature (hex HMAC-SHA256 "
            "of the canonical string described in services/router/credentials.py). An unsigned, forged, revoked "
            "or other unit's message changes nothing. Refused actions go to dept.responses.dlq with the reason "
            "in x-error."
        ),
        "messages": [DepartmentAction],
        "from": "department systems",
        "to": ["router"],
    },
    WORKITEMS_EVENTS: {
        "description": (
            "Every change of every work item, and the items a 专项信用报告 covers (信用代证: state credit_report, "
            "no unit; credit_report_uploaded once the enterprise uploads the report; cancelled on withdrawal). "
            "Key: request id (per-request order)."
        ),
        "messages": list(WORK_ITEM_EVENTS),
        "from": "router",
        "to": ["intake", "notifier"],
    },
    SLA_EVENTS: {
        "description": "Deadlines of each work item when its clock starts, pauses, resumes or is extended.",
        "messages": [SlaUpdated],
        "from": "notifier",
        "to": ["intake", "router"],
    },
    USERS_EVENTS: {
        "description": "How enterprise users can be reached (their WeChat openid, once bound). Key: openid.",
        "messages": [WechatUserBound],
        "from": "intake",
        "to": ["notifier"],
    },
    REGISTRY_EVENTS: {
        "description": (
            "The department registry as it changes (API, `xiaoer units import`, the demo seed): each unit and "
            "supervising office with its contacts. Key: unit code or region code."
        ),
        "messages": [UnitRegistered, SupervisingOfficeRegistered],
        "from": "router",
        "to": ["notifier"],
    },
    NOTIFICATIONS: {
        "description": "Every notification the notifier issues, whatever other channels carry it. Key: work item id.",
        "messages": [NotificationSent],
        "from": "notifier",
        "to": ["dashboards", "department systems"],
    },
}
