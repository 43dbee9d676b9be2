"""intake's HTTP contract: what front ends send and what they get back."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from shared import catalogue
from shared.validation import USCC, MobileNumber, RegionCode, RequestTypeCode, bilingual_error
from shared.vocabulary import FOLLOW_UP_METHODS, FOLLOW_UP_RESULTS, RELATION_KINDS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def compact_uscc(value: Any) -> Any:
    """A USCC as people paste it: full-width characters made plain, every space gone, letters in
    upper case (``9144 0112ma59…`` → ``91440112MA59…``), before it is checked."""
    if isinstance(value, str):
        return "".join(unicodedata.normalize("NFKC", value).split()).upper()
    return value


Uscc = Annotated[USCC, BeforeValidator(compact_uscc)]


class SubjectIn(Strict):
    uscc: Uscc
    name: str = Field(min_length=2, max_length=100, examples=["广州明珞装备股份有限公司"])
    region_code: RegionCode = Field(examples=["440112"])


class SubsidiaryIn(SubjectIn):
    """Another subject than the applicant itself: the applicant may name it only with proof — a
    relation in the enterprise-group registry, or the subject's 授权委托书 (a PDF uploaded with
    POST /v1/attachments) named here."""

    authorization: str | None = Field(
        None, max_length=36, description="the subject's 授权委托书: an attachment id (PDF) from POST /v1/attachments"
    )


class ContactIn(Strict):
    name: str = Field(min_length=1, max_length=50)
    mobile: MobileNumber


class RequestCreate(Strict):
    type: RequestTypeCode = Field(
        examples=["compliance_certificate"], description="a request type code from GET /v1/catalogue"
    )
    enterprise: SubjectIn
    subjects: list[SubsidiaryIn] = Field(
        default=[],
        max_length=50,
        description="subsidiaries and branches, each related to the enterprise in the group registry or with its "
        "授权委托书; the enterprise itself is always a subject",
    )
    items: list[str] = Field(
        min_length=1,
        max_length=30,
        description="for compliance_certificate the department kinds; for other types one category",
    )
    certificate_anyway: list[str] = Field(
        default=[],
        max_length=30,
        description="信用代证 opt-out: kinds (among items) to get from the department itself even where the "
        "province's 专项信用报告 covers them",
    )
    period_months: int | None = Field(None, ge=1, le=120, description="period the certificate covers")
    purpose: str | None = Field(None, description="a purpose code from GET /v1/catalogue")
    description: str | None = Field(None, max_length=2000, validate_default=True)
    contact: ContactIn
    attachments: list[str] = Field(default=[], max_length=20, description="ids from POST /v1/attachments")

    @field_validator("items")
    @classmethod
    def _known_items(cls, items: list[str], info: ValidationInfo) -> list[str]:
        request_type = info.data.get("type")
        if request_type is None:  # the type itself was refused; that error says enough
            return items
        allowed = catalogue.item_codes(request_type)
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise bilingual_error(
                "item_unknown",
                f"事项不在该诉求类型的目录中：{', '.join(unknown)}",
                f"Not in this request type's catalogue: {', '.join(unknown)}",
            )
        if len(set(items)) != len(items):
            raise bilingual_error("item_duplicate", "事项重复", "Items are repeated")
        if not catalogue.REQUEST_TYPES[request_type].multiple_items and len(items) != 1:
            raise bilingual_error(
                "item_single", "该诉求类型只能选择一个类别", "This request type takes exactly one category"
            )
        return items

    @field_validator("certificate_anyway")
    @classmethod
    def _anyway_among_items(cls, kinds: list[str], info: ValidationInfo) -> list[str]:
        if not kinds:
            return kinds
        if info.data.get("type") != catalogue.COMPLIANCE_CERTIFICATE:
            raise bilingual_error(
                "anyway_not_certificate",
                "仅守法证明诉求可指定仍由部门出具的事项",
                "certificate_anyway applies to compliance_certificate requests only",
            )
        unknown = [k for k in kinds if k not in (info.data.get("items") or [])]
        if unknown or len(set(kinds)) != len(kinds):
            raise bilingual_error(
                "kind_not_requested",
                f"仍要部门出具的事项须为所申请事项且不重复：{', '.join(unknown) or '重复'}",
                f"certificate_anyway must name requested kinds, once each: {', '.join(unknown) or 'repeated'}",
            )
        return kinds

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, value: str | None) -> str | None:
        if value is not None and value not in {p.code for p in catalogue.PURPOSES}:
            raise bilingual_error("purpose_unknown", f"用途不存在：{value}", f"Unknown purpose: {value}")
        return value

    @field_validator("subjects")
    @classmethod
    def _distinct_subjects(cls, subjects: list[SubsidiaryIn], info: ValidationInfo) -> list[SubsidiaryIn]:
        usccs = [s.uscc for s in subjects]
        enterprise = info.data.get("enterprise")
        if len(set(usccs)) != len(usccs) or (enterprise is not None and enterprise.uscc in usccs):
            raise bilingual_error(
                "subject_duplicate",
                "主体重复（企业本身无需再列入 subjects）",
                "Subjects are repeated (the enterprise itself need not be listed)",
            )
        return subjects

    @field_validator("description")
    @classmethod
    def _problems_are_described(cls, value: str | None, info: ValidationInfo) -> str | None:
        request_type = info.data.get("type")
        if request_type and request_type != catalogue.COMPLIANCE_CERTIFICATE and not value:
            raise bilingual_error("description_required", "请描述遇到的问题", "Describe the problem")
        return value

    @model_validator(mode="after")
    def _certificate_needs_period(self) -> RequestCreate:
        if self.type == catalogue.COMPLIANCE_CERTIFICATE and self.period_months is None:
            self.period_months = 36  # the usual look-back for an IPO
        return self


class FileOut(BaseModel):
    """A file of the request, with where the caller downloads it."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    purpose: str = Field(description="attachment · supplement · supplement_form · issued")
    purpose_name: str = Field(description="申请材料 · 补正材料 · 补正通知附件 · 出具文书 · 专项信用报告 · 授权委托书")
    purpose_name_en: str
    work_item_id: str | None
    download_url: str


class WorkItemOut(BaseModel):
    id: str
    unit_code: str
    unit_name: str
    kind: str
    item: str
    subject_uscc: str
    subject_name: str
    status: str
    status_name: str = Field(description="the state in Chinese, e.g. 办理中")
    status_name_en: str = Field(description="the same in English, e.g. In progress")
    acknowledge_due_at: datetime | None
    due_at: datetime | None
    result: dict[str, Any] | None
    last_actor: str | None = Field(description="who made the latest move")
    last_actor_en: str | None = Field(None, description="the same in English")
    coverage: str | None = Field(
        None,
        description="信用代证: the coverage versions a certificate item was decided under, e.g. 440000 v1 "
        "(null when none was in force, or not a certificate)",
    )


class CreditReportOut(BaseModel):
    """One subject's 专项信用报告: the kinds it stands for, where to download it, and its upload slot."""

    subject_uscc: str
    subject_name: str
    subject_region: str
    report_name: str
    site: dict[str, str | None] = Field(description="name and url of the province's download site")
    items: list[dict[str, str]] = Field(description="the certificate kinds (code, zh, en) the report stands for")
    coverage: list[str] = Field(description="the coverage versions that decided, e.g. 440000 v1")
    status: str = Field(description="to_obtain · uploaded · withdrawn (the request was withdrawn before an upload)")
    status_name: str = Field(description="待上传 · 已上传 · 已撤销")
    status_name_en: str
    file: FileOut | None = None
    upload_url: str = Field(description="POST {subject_uscc, attachment_id} here after POST /v1/attachments")


class CreditReportIn(Strict):
    subject_uscc: Annotated[str, BeforeValidator(compact_uscc)] = Field(
        max_length=18, description="the subject the report is about"
    )
    attachment_id: str = Field(max_length=36, description="the report PDF, uploaded with POST /v1/attachments")


class TimelineEntryOut(BaseModel):
    at: datetime
    event: str
    work_item_id: str | None
    unit_code: str | None
    unit_name: str | None
    summary: str
    summary_en: str = Field(description="the same in English (names and typed notes as written)")
    files: list[FileOut] = Field(default=[], description="files this step brought (an issued certificate, a form)")


class RequestCreated(BaseModel):
    id: str
    reference_no: str
    status: str
    created_at: datetime


class YourTurnOut(BaseModel):
    """Something the request waits for from its enterprise."""

    kind: str = Field(description="supplement · credit_report · rating")
    work_item_id: str
    unit_name: str
    subject_uscc: str
    subject_name: str
    zh: str = Field(examples=["广州市黄埔区税务局要求补正材料（广州明珞装备股份有限公司）"])
    en: str


class GroupCountOut(BaseModel):
    code: str = Field(description="to_acknowledge · in_progress · your_supplement · your_credit_report · finished · …")
    zh: str
    en: str
    count: int
    your_turn: bool = Field(description="the enterprise's turn (待您…)")


class ItemSummaryOut(BaseModel):
    """The request's items by state, and the line that says it."""

    total: int
    groups: list[GroupCountOut]
    zh: str = Field(examples=["10 项：待签收 4 · 办理中 3 · 待您补正 1 · 待上传报告 1 · 已办结 1"])
    en: str


class StepOut(BaseModel):
    code: str
    zh: str
    en: str
    done: bool
    current: bool


class RequestStepOut(BaseModel):
    """Where the request stands on 提交 → 受理 → 办理 → 办结."""

    code: str = Field(description="submitted · accepted · handling · done")
    index: int = Field(ge=0, le=3)
    withdrawn: bool
    steps: list[StepOut]


class RequestOut(BaseModel):
    id: str
    reference_no: str
    type: str
    status: str = Field(description="a request status code; awaiting_* is the enterprise's turn")
    status_name: str = Field(description="e.g. 待补正 · 办理中")
    status_name_en: str
    your_turn: list[YourTurnOut] = Field(
        description="what the request waits for from its enterprise, most pressing first"
    )
    summary: ItemSummaryOut
    step: RequestStepOut
    enterprise: dict[str, Any]
    subjects: list[dict[str, Any]] = Field(
        description="the enterprise first, then the others; each {uscc, name, region_code, proof: {kind, kind_name, "
        "file}} — how the applicant may ask about it (applicant · group_registry · authorization)"
    )
    items: list[str]
    period_months: int | None
    purpose: str | None
    description: str | None
    contact: dict[str, Any] | None = Field(description="only shown to the enterprise and its liaison officers")
    attachments: list[str] = Field(description="ids of the enterprise's files sent with the request")
    files: list[FileOut] = Field(description="every file of the request: the enterprise's and the units'")
    submitted_by_role: str
    created_at: datetime
    expected_at: datetime | None = Field(description="when the last open work item is due")
    work_items: list[WorkItemOut]
    credit_reports: list[CreditReportOut] = Field(
        default=[], description="信用代证: per subject, the 专项信用报告 that stands for its covered items"
    )
    timeline: list[TimelineEntryOut]


class RequestSummary(BaseModel):
    id: str
    reference_no: str
    type: str
    status: str
    status_name: str = Field(description="e.g. 待补正 · 办理中")
    your_turn: bool = Field(description="待您处理: a 补正, a 专项信用报告 or a rating waits for the enterprise")
    enterprise_uscc: str
    enterprise_name: str
    created_at: datetime


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class SupplementIn(Strict):
    work_item_id: str = Field(max_length=36, description="the work item whose 补正 request this answers")
    text: str = Field(min_length=1, max_length=2000)
    attachments: list[str] = Field(default=[], max_length=20)


class RatingIn(Strict):
    """好差评 of one finished work item, on the five levels of the national 政务服务好差评 system."""

    work_item_id: str = Field(max_length=36, description="the finished work item being rated")
    score: int = Field(ge=1, le=5, description="5 非常满意 · 4 满意 · 3 基本满意 · 2 不满意 · 1 非常不满意")
    comment: str | None = Field(None, max_length=1000)


class RatingOut(BaseModel):
    work_item_id: str
    attempt: int = Field(description="1; 2 for the one rating after a redo (重办)")
    score: int
    score_name: str
    score_name_en: str
    comment: str | None
    reopened: bool = Field(description="the rating sent the item back to its unit (重办)")
    created_at: datetime


class RatableItem(BaseModel):
    work_item_id: str
    unit_name: str
    item: str
    subject_name: str
    status: str
    status_name: str
    may_rate: bool
    ratings: list[RatingOut]


class FollowUpIn(Strict):
    """回访 of one finished work item: was the problem solved. The enterprise answers online; a
    liaison officer records a call (``phone``, the default for them) or a visit."""

    work_item_id: str = Field(max_length=36, description="the finished (办结) work item followed up")
    result: Literal[tuple(FOLLOW_UP_RESULTS)] = Field(description="已解决 · 部分解决 · 未解决")  # type: ignore[valid-type]
    method: Literal[tuple(FOLLOW_UP_METHODS)] | None = Field(  # type: ignore[valid-type]
        None, description="enterprise: online (the default); liaison officer: phone (the default) or visit"
    )
    comment: str | None = Field(None, max_length=1000)


class FollowUpOut(BaseModel):
    work_item_id: str
    result: str
    result_name: str = Field(description="已解决 · 部分解决 · 未解决")
    result_name_en: str
    method: str
    method_name: str = Field(description="线上回访 · 电话回访 · 上门回访")
    method_name_en: str
    comment: str | None
    recorded_by_role: str = Field(description="enterprise · liaison")
    recorded_by_name: str | None
    created_at: datetime


class FollowUpItem(BaseModel):
    work_item_id: str
    unit_name: str
    item: str
    subject_name: str
    status: str
    status_name: str
    may_follow_up: bool = Field(description="办结 and not followed up yet, and the caller acts for the enterprise")
    follow_up: FollowUpOut | None


class EnterpriseOverview(BaseModel):
    """One enterprise a liaison officer serves (an enterprise: itself), with what needs attention."""

    uscc: str
    name: str | None = Field(description="from its requests, else the enterprise-group registry or an item's subject")
    region_code: str
    open: int = Field(description="requests not yet finished")
    waiting: int = Field(description="待企业处理: requests waiting for the enterprise (补正, 待上传报告, 待评价)")
    overdue: int = Field(description="requests with an item past the deadline that counts now, its clock running")
    total: int = Field(description="all its requests")


class WithdrawIn(Strict):
    reason: str | None = Field(None, max_length=500)


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class WechatLogin(Strict):
    code: str = Field(min_length=1, max_length=200, description="wx.login() code from the mini-program")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    usccs: list[str]


# --- the enterprise-group registry --------------------------------------------------------------------
class RelationIn(Strict):
    """A parent and one of its subsidiaries or branches (the USCCs are the path's)."""

    parent_name: str = Field(min_length=2, max_length=200, examples=["广州明珞装备股份有限公司"])
    parent_region: RegionCode = Field(examples=["440112"], description="the parent's region: its admins keep it")
    subject_name: str = Field(min_length=2, max_length=200, examples=["明珞(上海)科技有限公司"])
    subject_region: RegionCode = Field(examples=["310115"])
    kind: Literal[tuple(RELATION_KINDS)] = Field(  # type: ignore[valid-type]
        "subsidiary", description="subsidiary 子公司 · branch 分支机构"
    )


class RelationOut(BaseModel):
    parent_uscc: str
    parent_name: str
    parent_region: str
    subject_uscc: str
    subject_name: str
    subject_region: str
    kind: str
    kind_name: str = Field(description="子公司 · 分支机构")
    source: str = Field(description="file (xiaoer relations import) · api")
    updated_by: str
    updated_at: datetime


class SubjectProofOut(BaseModel):
    """How the request proved its applicant may ask about the subject."""

    kind: str = Field(description="applicant · group_registry · authorization")
    kind_name: str = Field(description="申请企业本身 · 集团关系登记 · 授权委托书")
    kind_name_en: str
    file: FileOut | None = Field(None, description="the subject's 授权委托书, when that is the proof")
