"""Between the router and department systems: actions on ``dept.responses``, and each unit's inbox."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import Event, Subject
from shared.events.workitems import Outcome
from shared.vocabulary import RETURN_REASONS

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
    reason_class: Literal[tuple(RETURN_REASONS)] | None = Field(  # type: ignore[valid-type]
        None,
        description="return: not_competent (to the coordinator) · subject_authorization "
        "(主体授权不符: back to the enterprise)",
    )
    to_unit: str | None = None
    units: list[str] = Field(default=[], max_length=10)
    days: int | None = Field(None, ge=1, le=60)
    write_certificate: bool = Field(
        False,
        description="resolve, issued, on a certificate: xiaoer writes the certificate and signs it with the unit's "
        "key (no upload needed); otherwise each uploaded PDF is registered under a 核验码 with a 核验单 beside it",
    )


# --- router → a department unit's inbox -----------------------------------------------------------
class Handover(BaseModel):
    """Who passed an item on to the receiving unit (转办), and why."""

    model_config = ConfigDict(extra="forbid")
    from_unit: str
    from_unit_name: str
    by: str = Field(description="the person (or system) of the sending unit who transferred it")
    reason: str


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
    authorization_link: str | None = Field(
        None, description="the subject's 授权委托书 (subject.proof says how it was proven), a signed link"
    )
    role: Literal["lead", "assist"] = Field(
        "lead", description="assist: a co-handling (会办) request from the lead unit"
    )
    transfer: Handover | None = Field(None, description="set when another unit transferred the item here (转办)")
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
