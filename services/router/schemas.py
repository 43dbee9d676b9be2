"""router's HTTP contract: department actions, routing previews and the registry."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from shared import catalogue, events
from shared.validation import EMAIL, USCC, Instant, RegionCode, RequestTypeCode, bilingual_error
from shared.vocabulary import RETURN_REASONS

from .comment_schemas import CommentOut
from .credit import SiteIn, VersionFields


def _known_kind(value: str) -> str:
    if value not in catalogue.DEPARTMENT_KINDS:
        raise bilingual_error("kind_unknown", f"部门类别不存在：{value}", f"Unknown department kind: {value}")
    return value


DepartmentKind = Annotated[str, AfterValidator(_known_kind)]


def compact_uscc(value: Any) -> Any:
    """A USCC as people paste it: full-width characters made plain, every space gone, letters in
    upper case, before it is checked (as intake takes it)."""
    if isinstance(value, str):
        return "".join(unicodedata.normalize("NFKC", value).split()).upper()
    return value


Uscc = Annotated[USCC, BeforeValidator(compact_uscc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActionIn(Strict):
    """Fields of ``POST /v1/workitems/{id}/{action}``; which are required depends on the action:
    progress and request-supplement need ``note``; resolve needs ``outcome`` (``document_no`` when
    issued — and the certificate file in ``attachments`` for a certificate —, ``note`` otherwise);
    return needs ``reason`` (``reason_class`` subject_authorization returns it to the enterprise);
    transfer needs ``to_unit`` and ``reason``; assist needs ``units``; extension needs ``days`` and
    ``reason``."""

    note: str | None = Field(None, max_length=2000)
    outcome: events.Outcome | None = None
    document_no: str | None = Field(None, max_length=100)
    attachments: list[str] = Field(default=[], max_length=20)
    reason: str | None = Field(None, max_length=1000)
    reason_class: Literal[tuple(RETURN_REASONS)] | None = Field(  # type: ignore[valid-type]
        None,
        description="return: not_competent 非本单位职责 (to the coordinating office, the default) · "
        "subject_authorization 主体授权不符 (back to the enterprise, which reads the reason)",
    )
    to_unit: str | None = Field(None, max_length=100)
    units: list[str] = Field(default=[], max_length=10)
    days: int | None = Field(None, ge=1, le=60)
    write_certificate: bool = Field(
        False,
        description="resolve with issued on a certificate: xiaoer writes the certificate and signs it with the "
        "unit's key (no upload needed); otherwise the unit's uploaded PDF gets a 核验单 and a 核验码",
    )


class BulkAcknowledgeIn(Strict):
    ids: list[str] = Field(min_length=1, max_length=500, description="the work items to sign for (签收)")


class DispatchIn(Strict):
    to_unit: str = Field(max_length=100)


class DecisionIn(Strict):
    reason: str | None = Field(None, max_length=1000, description="required when denying; the unit sees it")


class PreviewSubject(Strict):
    uscc: Uscc
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


# A unit's public telephone as enterprises dial it: digits, spaces, hyphens, brackets, a leading +,
# and an extension after 转 (020-8211 2345转801).
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,28}[0-9](转[0-9]{1,6})?$")


def _phone(value: str) -> str:
    value = value.strip()
    if not PHONE.match(value):
        raise bilingual_error(
            "phone_invalid",
            f"电话号码格式不正确：{value}（例：020-8211 2345 或 020-8211 2345转801）",
            f"Not a telephone number: {value} (e.g. 020-8211 2345, or 020-8211 2345转801)",
        )
    return value


def _office_hours(value: str) -> str:
    value = value.strip()
    if not 2 <= len(value) <= 100:
        raise bilingual_error(
            "office_hours_invalid", "办公时间须为 2 至 100 个字", "Office hours take 2 to 100 characters"
        )
    return value


Phone = Annotated[
    str,
    AfterValidator(_phone),
    Field(examples=["020-8211 2345"], description="public telephone, shown to enterprises on their items"),
]
OfficeHours = Annotated[
    str,
    AfterValidator(_office_hours),
    Field(examples=["工作日 9:00–12:00，13:00–18:00"], description="when the public telephone is answered"),
]


class UnitIn(Strict):
    unit_code: str = Field(pattern=r"^\d{6}\.[a-z_]+(\.[a-z0-9_]+)?$", examples=["440112.tax"])
    name: str = Field(min_length=2, max_length=200)
    kind: DepartmentKind
    region_code: RegionCode
    contacts: list[ContactIn] = Field(default=[], max_length=20)
    supervising_office: str | None = Field(None, max_length=200)
    active: bool = True
    phone: Phone | None = None
    office_hours: OfficeHours | None = None


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
    by_unit_name: str
    by: str | None
    reason: str | None
    at: datetime


class SubjectProofOut(BaseModel):
    """How the request proved its applicant may ask about the subject, shown beside it."""

    kind: str = Field(description="applicant · group_registry · authorization")
    kind_name: str = Field(description="申请企业本身 · 集团关系登记 · 授权委托书")
    file: FileOut | None = Field(None, description="the subject's 授权委托书 to open, when that is the proof")


class TransferOut(BaseModel):
    """Who transferred the item to the unit holding it now (转办), and why: the receiving unit sees it."""

    from_unit: str
    from_unit_name: str
    by: str | None = Field(description="the person (or system) of the sending unit")
    reason: str | None
    at: datetime


class ExtensionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    days: int
    reason: str
    state: Literal["pending", "approved", "denied"]
    decided_by: str | None
    decision_reason: str | None


class WorkItemOut(BaseModel):
    id: str
    request_id: str
    reference_no: str
    request_type: str
    item: str
    department_kind: str
    unit_code: str
    unit_name: str
    subject_uscc: str
    subject_name: str
    subject_region: str
    subject_proof: SubjectProofOut | None = Field(
        description="how the applicant may ask about the subject (null for requests from before it was kept)"
    )
    state: str
    state_name: str = Field(description="the state in Chinese, e.g. 待签收")
    tab: str | None = Field(description="the queue tab it is shown on (new · working · supplement · done · returned)")
    allowed_actions: list[str]
    assisting_units: list[str]
    assisting_unit_names: list[str] = Field(description="the assisting units' names, in the order of their codes")
    resolution: dict[str, Any] | None
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None
    sla_paused: bool = Field(description="the clock stands still while the enterprise supplies material (补正)")
    rule_id: int | None
    rule_version: int | None
    routing_reason: str
    description: str | None
    period_months: int | None
    purpose: str | None
    contact: ContactOut | None
    attachments: list[FileOut] = Field(description="files of this item, each with its download link")
    returned: ReturnOut | None = Field(None, description="set while the item waits at a coordinator after a return")
    transferred: TransferOut | None = Field(
        None, description="set while the item is at the unit another unit transferred it to (转办)"
    )
    assignee_sub: str | None = Field(None, description="承办人: the token subject of the clerk handling it")
    assignee_name: str | None = Field(None, description="承办人's name; none while nobody in the unit took it")
    pending_extension: ExtensionOut | None = Field(None, description="the extension request awaiting a decision")
    created_at: datetime
    updated_at: datetime


# --- what the routes answer ------------------------------------------------------------------------
class HistoryEntryOut(BaseModel):
    """One move in an item's history (``work_item_log``)."""

    model_config = ConfigDict(populate_by_name=True)
    action: str
    from_state: str | None = Field(alias="from")
    to: str
    to_name: str = Field(description="the state moved to, in Chinese")
    unit_code: str
    unit_name: str
    actor: str = Field(description="role:id of the person or system")
    actor_name: str | None
    note: str | None
    at: str = Field(description="ISO 8601 instant")


class DispatchCandidateOut(BaseModel):
    """A unit a coordinating office may dispatch its item to."""

    unit_code: str
    name: str
    kind: str
    region_code: str
    returned_it: bool = Field(description="the unit that sent the item back (offered last)")


class ItemDocumentOut(BaseModel):
    """A document the item issued, with its 核验码 (its page: /verify/{code})."""

    code: str = Field(description="the 核验码, grouped for reading (XXXX-XXXX-XXXX-XXXX)")
    status: str = Field(description="valid · revoked (shared.vocabulary.DOCUMENT_STATUSES)")


class WorkItemDetailOut(WorkItemOut):
    history: list[HistoryEntryOut]
    extensions: list[ExtensionOut]
    comments: list[CommentOut] = Field([], description="内部批注 between supervisors and the unit, oldest first")
    documents: list[ItemDocumentOut] = Field([], description="the documents the item issued (issue 27)")
    dispatch_candidates: list[DispatchCandidateOut] | None = Field(
        None, description="only for the coordinating office holding an item it may dispatch; absent otherwise"
    )


class TabCountOut(BaseModel):
    code: str = Field(description="new · working · supplement · done · returned")
    zh: str
    en: str
    count: int


class QueueCountsOut(BaseModel):
    """How many items each tab of the queue holds under the same filters as the list."""

    tabs: list[TabCountOut]
    total: int


class BulkOutcomeOut(BaseModel):
    id: str
    ok: bool
    state: str | None = Field(description="the item's state after 签收, when it signed")
    code: str | None = Field(description="why not: work_item_not_found · invalid_transition …")
    message: str | None = Field(description="why not, in the caller's language")


class BulkAcknowledgeOut(BaseModel):
    acknowledged: int
    results: list[BulkOutcomeOut]


class ExtensionDecisionOut(BaseModel):
    id: str
    state: Literal["approved", "denied"]
    days: int
    work_item_id: str
    decision_reason: str | None


class PreviewItemOut(BaseModel):
    """A work item the request would produce, and why it goes to that unit."""

    subject_uscc: str
    subject_name: str
    item: str
    route: Literal["unit"]
    department_kind: str
    unit_code: str
    unit_name: str
    inbox_topic: str
    rule_id: int | None
    rule_version: int | None
    reason: str


class SiteOut(BaseModel):
    """Where a 专项信用报告 is downloaded."""

    name: str
    url: str | None


class CoverageVersionRef(BaseModel):
    region_code: str
    region_name: str
    version: int


class CoveredItemOut(BaseModel):
    item: str
    item_name: str
    route: Literal["credit_report"]
    reason: str


class CreditReportPreviewOut(BaseModel):
    """One subject's 专项信用报告: the kinds it stands for and where it is downloaded."""

    subject_uscc: str
    subject_name: str
    subject_region: str
    coverage: list[CoverageVersionRef] = Field(description="the versions in force for the subject")
    covered_items: list[CoveredItemOut]
    report_name: str | None
    site: SiteOut | None
    reasons: dict[str, str] = Field(description="for every kind requested: why it is covered or not")


class PreviewOut(BaseModel):
    work_items: list[PreviewItemOut]
    credit_reports: list[CreditReportPreviewOut]


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    request_type: str
    item: str
    department_kind: str
    version: int
    active: bool


class RuleAddedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    department_kind: str


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    unit_code: str
    name: str
    kind: str
    region_code: str
    inbox_topic: str
    contacts: list[dict[str, Any]]
    supervising_office: str | None
    active: bool
    phone: str | None = None
    office_hours: str | None = None


class UnitCoverageOut(BaseModel):
    """Which unit of a kind serves a region."""

    kind: str
    region_code: str
    unit_code: str
    unit_name: str


class CreditCoverageOut(BaseModel):
    """One coverage version of a province or city (``credit.coverage_out``)."""

    region_code: str
    region_name: str
    version: int
    effective_from: str = Field(description="ISO 8601 instant from which new requests are split by it")
    kinds: list[str]
    kind_names: list[str]
    areas: list[str] = Field(description="领域 as the source names them")
    areas_total: int | None
    areas_complete: bool
    report_name: str
    site: SiteOut
    source: dict[str, Any] = Field(description="document number, title, issuer, date, url")
    note: str | None
    created_by: str


class CreditCoverageRegionOut(BaseModel):
    region_code: str
    region_name: str
    in_force: CreditCoverageOut | None = Field(description="the version in force now; none before the first")
    versions: list[CreditCoverageOut]
