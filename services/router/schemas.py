"""router's HTTP contract: department actions, routing previews and the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared import catalogue
from shared.validation import USCC, RegionCode, RequestTypeCode, bilingual_error


def _known_kind(value: str) -> str:
    if value not in catalogue.DEPARTMENT_KINDS:
        raise bilingual_error("kind_unknown", f"部门类别不存在：{value}", f"Unknown department kind: {value}")
    return value


DepartmentKind = Annotated[str, AfterValidator(_known_kind)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActionIn(Strict):
    """Fields of ``POST /v1/workitems/{id}/{action}``; which are required depends on the action:
    progress and request-supplement need ``note``; resolve needs ``outcome`` (``document_no`` when
    issued, ``note`` otherwise); return needs ``reason``; transfer needs ``to_unit``; assist needs
    ``units``; extension needs ``days`` and ``reason``."""

    note: str | None = Field(None, max_length=2000)
    outcome: Literal["issued", "not_issued", "answered"] | None = None
    document_no: str | None = Field(None, max_length=100)
    attachments: list[str] = Field(default=[], max_length=20)
    reason: str | None = Field(None, max_length=1000)
    to_unit: str | None = Field(None, max_length=100)
    units: list[str] = Field(default=[], max_length=10)
    days: int | None = Field(None, ge=1, le=60)


class DispatchIn(Strict):
    to_unit: str = Field(max_length=100)


class PreviewSubject(Strict):
    uscc: USCC
    name: str = Field(min_length=2, max_length=100)
    region_code: RegionCode


class PreviewIn(Strict):
    """The routing-relevant part of a request body (other fields of ``POST /v1/requests`` are
    accepted and ignored, so a front end can preview with the very body it will submit)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    type: RequestTypeCode
    enterprise: PreviewSubject
    subjects: list[PreviewSubject] = Field(default=[], max_length=50)
    items: list[str] = Field(min_length=1, max_length=30)


class UnitIn(Strict):
    unit_code: str = Field(pattern=r"^\d{6}\.[a-z_]+(\.[a-z0-9_]+)?$", examples=["440112.tax"])
    name: str = Field(min_length=2, max_length=200)
    kind: DepartmentKind
    region_code: RegionCode
    contacts: list[dict[str, Any]] = Field(default=[], max_length=20)
    supervising_office: str | None = Field(None, max_length=200)
    active: bool = True


class CoverageIn(Strict):
    kind: DepartmentKind
    region_code: RegionCode
    unit_code: str


class RuleIn(Strict):
    request_type: str
    item: str
    department_kind: DepartmentKind


class WorkItemOut(BaseModel):
    id: str
    request_id: str
    reference_no: str
    request_type: str
    item: str
    department_kind: str
    unit_code: str
    subject_uscc: str
    subject_name: str
    subject_region: str
    state: str
    allowed_actions: list[str]
    assisting_units: list[str]
    resolution: dict[str, Any] | None
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None
    rule_id: int | None
    rule_version: int | None
    routing_reason: str
    description: str | None
    period_months: int | None
    purpose: str | None
    created_at: datetime
    updated_at: datetime
