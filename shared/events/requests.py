"""intake → router and notifier: a request submitted, and what the enterprise does after submitting."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Actor, Event, FileRef, Subject
from shared.vocabulary import FOLLOW_UP_METHODS, FOLLOW_UP_RESULTS, POOR_RATING


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


class WorkItemFollowUpGiven(Event):
    """回访 of one finished work item: whether the problem was solved.

    The enterprise answered online, or a liaison officer who serves it recorded a call (or visit).
    Once per item; the router logs it on the item and announces it (``WorkItemFollowedUp``) so the
    statistics count it (解决率)."""

    ce_type: ClassVar[str] = "cn.xiaoer.request.follow_up_given"
    request_id: str
    work_item_id: str
    result: Literal[tuple(FOLLOW_UP_RESULTS)] = Field(description="shared.vocabulary.FOLLOW_UP_RESULTS")  # type: ignore[valid-type]
    method: Literal[tuple(FOLLOW_UP_METHODS)] = Field(description="shared.vocabulary.FOLLOW_UP_METHODS")  # type: ignore[valid-type]
    comment: str | None = None
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
