"""router's HTTP contract: department actions, routing previews and the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from shared import catalogue, events
from shared.validation import EMAIL, USCC, Instant, RegionCode, RequestTypeCode, bilingual_error

from .credit import SiteIn, VersionFields


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
    outcome: events.Outcome | None = None
    document_no: str | None = Field(None, max_length=100)
    attachments: list[str] = Field(default=[], max_length=20)
    reason: str | None = Field(None, max_length=1000)
    to_unit: str | None = Field(None, max_length=100)
    units: list[str] = Field(default=[], max_length=10)
    days: int | None = Field(None, ge=1, le=60)


class DispatchIn(Strict):
    to_unit: str = Field(max_length=100)


class DecisionIn(Strict):
    reason: str | None = Field(None, max_length=1000, description="required when denying; the unit sees it")


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
    certificate_anyway: list[str] = Field(
        default=[], max_length=30, description="covered kinds to send to their department all the same"
    )


class CreditCoverageIn(VersionFields):
    """A new coverage version for a province or city: which certificate kinds its 专项信用报告
    covers, where it is downloaded and the public source of the list. In force from now (or a
    later ``effective_from``); requests submitted before keep the version they were routed by."""

    site: SiteIn
    effective_from: Instant | None = Field(None, description="default now; never in the past")


class ContactIn(events.Contact):
    """How a unit's clerk or leadership is told: e-mail, WeChat (openid) or a signed webhook."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise bilingual_error("email_invalid", f"邮箱地址格式不正确：{value}", f"Not an e-mail address: {value}")
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise bilingual_error("url_invalid", "回调地址须为 http(s) URL", "A webhook address is an http(s) URL")
        return value


class UnitIn(Strict):
    unit_code: str = Field(pattern=r"^\d{6}\.[a-z_]+(\.[a-z0-9_]+)?$", examples=["440112.tax"])
    name: str = Field(min_length=2, max_length=200)
    kind: DepartmentKind
    region_code: RegionCode
    contacts: list[ContactIn] = Field(default=[], max_length=20)
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


class FileOut(BaseModel):
    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    origin: str = Field(description="enterprise · unit")
    purpose: str = Field(description="attachment (the request's) · supplement (a 补正 answer) · unit (your upload)")
    used_in: str | None = Field(description="the move that sent your upload on (resolve, request-supplement)")
    download_url: str


class ContactOut(BaseModel):
    name: str | None
    mobile: str | None
    masked: bool = Field(description="false only for the clerks of the item's own unit")


class ReturnOut(BaseModel):
    """Why a unit sent the item back (the coordinator's queue shows it)."""

    by_unit: str
    by: str | None
    reason: str | None
    at: datetime


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
    state_name: str = Field(description="the state in Chinese, e.g. 待签收")
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
    contact: ContactOut | None
    attachments: list[FileOut] = Field(description="files of this item, each with its download link")
    returned: ReturnOut | None = Field(None, description="set while the item waits at a coordinator after a return")
    created_at: datetime
    updated_at: datetime
