"""Event contracts: the only thing the services share about each other's work.

Every message on Kafka is a CloudEvent 1.0 in binary mode (``ce_*`` headers, JSON body); the
body is one of the pydantic models below, chosen by ``ce_type``. ``xiaoer schemas`` writes their
JSON Schemas to ``docs/schemas/``, and ``docs/asyncapi.yaml`` describes the topics that carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

# --- Topics ---------------------------------------------------------------------------------
REQUESTS_SUBMITTED = "requests.submitted"  # intake → router: new requests
REQUESTS_UPDATES = "requests.updates"  # intake → router: withdrawals, supplements, ratings
DEPT_RESPONSES = "dept.responses"  # department systems → router: actions on work items
WORKITEMS_EVENTS = "workitems.events"  # router → intake, notifier: every change of a work item
NOTIFICATIONS = "notifications"  # notifier → anyone: every notification sent


def dept_inbox(unit_code: str) -> str:
    """A department unit's own topic, e.g. ``dept.440112.tax.inbox``."""
    return f"dept.{unit_code}.inbox"


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


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
    model_config = ConfigDict(extra="forbid")
    role: str
    id: str
    name: str | None = None


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
    contact_name: str | None = Field(None, description="masked, e.g. 张*")
    contact_mobile: str | None = Field(None, description="masked, e.g. 138****8000")
    attachments: list[str] = []
    submitted_by: Actor
    submitted_at: datetime


# --- router → intake, notifier ------------------------------------------------------------------
WorkItemState = Literal[
    "dispatched",
    "acknowledged",
    "in_progress",
    "awaiting_supplement",
    "resolved",
    "closed",
    "returned",
    "cancelled",
]


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
    state: WorkItemState
    occurred_at: datetime
    actor: Actor | None = None
    note: str | None = None


class WorkItemDispatched(WorkItemEvent):
    ce_type: ClassVar[str] = "cn.xiaoer.workitem.dispatched"
    rule_id: int | None = Field(description="the routing rule that chose the unit; null when manual")
    rule_version: int | None
    routing_reason: str


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
    attachments: list[str] = []
    dispatched_at: datetime


EVENT_TYPES: dict[str, type[Event]] = {
    model.ce_type: model for model in (RequestSubmitted, WorkItemDispatched, WorkItemAssigned)
}


def parse_event(ce_type: str, data: Any) -> Event:
    """Turns a received body into its model; raises ``KeyError`` for an unknown type and
    ``pydantic.ValidationError`` for a body that does not fit it."""
    return EVENT_TYPES[ce_type].model_validate(data)


def json_schemas() -> dict[str, dict[str, Any]]:
    return {ce_type: model.model_json_schema() for ce_type, model in EVENT_TYPES.items()}
