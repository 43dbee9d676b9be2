"""router → intake, notifier: every change of a work item, on ``workitems.events``."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import Actor, Event, FileRef
from shared.vocabulary import FOLLOW_UP_METHODS, FOLLOW_UP_RESULTS, OUTCOMES, RETURN_REASONS, WORK_ITEM_STATES

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


class WorkItemReturnedToEnterprise(WorkItemEvent):
    """The unit gave the item back to the enterprise (``return`` with reason class
    ``subject_authorization``, 主体授权不符): it ends there; ``note`` is the reason the enterprise reads."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.returned_to_enterprise"
    reason_class: Literal[tuple(RETURN_REASONS)]  # type: ignore[valid-type]
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


class WorkItemDocumentRevoked(WorkItemEvent):
    """The issuing unit (or a supervisor over its region) revoked a document the item issued
    (issue 27): it now verifies as 已撤销. The item's state is unchanged; when the unit reopens it
    (重办), a ``WorkItemReopened`` follows."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.document_revoked"
    code: str = Field(description="the revoked document's 核验码")
    document_number: str
    reason_class: str = Field(description="shared.vocabulary.REVOCATION_REASONS")
    reason_name: str = Field(description="the reason class in Chinese, as verification shows it")
    reopen: bool


class WorkItemFollowedUp(WorkItemEvent):
    """回访 after 办结: whether the problem was solved.

    From the enterprise online, or a liaison officer's call. The item's state is unchanged; the
    notifier counts it for the unit's 解决率."""

    ce_type: ClassVar[str] = "cn.xiaoer.workitem.followed_up"
    result: Literal[tuple(FOLLOW_UP_RESULTS)] = Field(description="shared.vocabulary.FOLLOW_UP_RESULTS")  # type: ignore[valid-type]
    method: Literal[tuple(FOLLOW_UP_METHODS)] = Field(description="shared.vocabulary.FOLLOW_UP_METHODS")  # type: ignore[valid-type]
    comment: str | None = None


WORK_ITEM_EVENTS: tuple[type[WorkItemEvent], ...] = (
    WorkItemDispatched,
    WorkItemAcknowledged,
    WorkItemProgressed,
    WorkItemSupplementRequested,
    WorkItemSupplemented,
    WorkItemResolved,
    WorkItemReturned,
    WorkItemReturnedToEnterprise,
    WorkItemAssisted,
    WorkItemExtensionRequested,
    WorkItemExtensionDecided,
    WorkItemReopened,
    WorkItemClosed,
    WorkItemCancelled,
    WorkItemCovered,
    WorkItemCreditReportUploaded,
    WorkItemDocumentRevoked,
    WorkItemFollowedUp,
)
