"""intake's tables. intake owns the requests as submitted; what departments do with them it
learns only from ``workitems.events`` and keeps in a read model (work_item_views, timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Sequence, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db import BigIntPK, service_base

Base = service_base()
outbox = Base.metadata.tables["outbox"]


class Request(Base):
    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference_no: Mapped[str] = mapped_column(String(20), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    enterprise_uscc: Mapped[str] = mapped_column(String(18), index=True)
    enterprise_name: Mapped[str] = mapped_column(String(200))
    enterprise_region: Mapped[str] = mapped_column(String(6), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(comment="the request as submitted, validated")
    submitted_by_role: Mapped[str] = mapped_column(String(20))
    submitted_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# PostgreSQL numbers requests from one sequence (submissions.next_reference_no); SQLite, which has
# no sequences, counts each day in reference_counters.
REFERENCE_NUMBERS = Sequence("reference_numbers", metadata=Base.metadata)


class ReferenceDay(Base):
    """PostgreSQL: where each day's numbers start in ``reference_numbers``. A day's number is the
    sequence's next value minus the day's ``base``; the row is written by the first submission of
    the day to reach the database and never changes."""

    __tablename__ = "reference_days"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    base: Mapped[int] = mapped_column(BigInteger)


class ReferenceCounter(Base):
    """SQLite (and PostgreSQL before 0007): the last reference number handed out on each day
    (Asia/Shanghai)."""

    __tablename__ = "reference_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class IdempotencyRecord(Base):
    """The answer given to a ``POST`` with an ``Idempotency-Key``, replayed for retries."""

    __tablename__ = "idempotency_records"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkItemView(Base):
    """One department's share of a request as the enterprise sees it (read model)."""

    __tablename__ = "work_item_views"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(100))
    unit_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(40))
    subject_uscc: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30))
    acknowledge_due_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    last_actor: Mapped[str | None] = mapped_column(String(200), comment="who made the latest move, as people read it")
    last_actor_en: Mapped[str | None] = mapped_column(String(200), comment="the same in English")
    version: Mapped[int] = mapped_column(
        Integer, default=0, comment="the router's version of the item this view shows; older events do not change it"
    )
    coverage: Mapped[str | None] = mapped_column(
        String(40),
        comment="信用代证: the coverage versions a certificate item was decided under, e.g. 440000 v1 (covered "
        "by that report) or 440000 v1、441900 v1 (routed to a unit though they were in force)",
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_request_time", "request_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"))
    occurred_at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(60))
    work_item_id: Mapped[str | None] = mapped_column(String(36))
    unit_code: Mapped[str | None] = mapped_column(String(100))
    unit_name: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text, comment="the same in English (null before issue 25)")
    file_ids: Mapped[list[Any]] = mapped_column(default=list, comment="files this step brought, e.g. a certificate")


class Attachment(Base):
    """A file of a request: the enterprise's uploads, and what units sent back (an issued
    certificate, a form to fill in), learned from ``workitems.events``. Content lives in the file
    store once per SHA-256; each file has its own id so owners and names stay apart."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100), index=True, comment="a user's sub, or unit:<unit_code>")
    request_id: Mapped[str | None] = mapped_column(String(36), index=True, comment="set once the file is used")
    work_item_id: Mapped[str | None] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(20), default="attachment")  # shared.vocabulary.FILE_PURPOSES
    subject_uscc: Mapped[str | None] = mapped_column(
        String(18), comment="授权委托书: the subject that authorised the applicant"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnterpriseRelation(Base):
    """The enterprise-group registry: a parent that may ask about one of its subsidiaries or
    branches without a 授权委托书 each time. Kept by the liaison office (for the enterprises it
    serves) or an admin (for the parents in its region); from a file (``xiaoer relations import``)
    or the API."""

    __tablename__ = "enterprise_relations"

    parent_uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    subject_uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    parent_name: Mapped[str] = mapped_column(String(200))
    parent_region: Mapped[str] = mapped_column(String(6), index=True, comment="whose admins keep the entry")
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20), comment="shared.vocabulary.RELATION_KINDS")
    source: Mapped[str] = mapped_column(String(20), comment="file · api")
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileDownload(Base):
    """Every download of a file: who, which, when (an audit trail for personal and official data)."""

    __tablename__ = "file_downloads"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(String(36), index=True)
    request_id: Mapped[str | None] = mapped_column(String(36))
    downloaded_by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemRating(Base):
    """The enterprise's rating (好差评) of one finished work item. ``attempt`` 2 is the one
    rating allowed after a poor first rating reopened the item (重办)."""

    __tablename__ = "item_ratings"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemFollowUp(Base):
    """回访 of one finished work item (12345 practice): was the problem solved — the enterprise's
    own answer online, or what a liaison officer who serves it recorded from a call. Once per item,
    beside its rating (item_ratings)."""

    __tablename__ = "item_follow_ups"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    result: Mapped[str] = mapped_column(String(20), comment="shared.vocabulary.FOLLOW_UP_RESULTS")
    method: Mapped[str] = mapped_column(String(20), comment="shared.vocabulary.FOLLOW_UP_METHODS")
    comment: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100), comment="the sub of the enterprise user or liaison officer")
    recorded_by_role: Mapped[str] = mapped_column(String(20))
    recorded_by_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WechatBinding(Base):
    """A WeChat user (openid of our mini-program) bound to an enterprise or liaison identity."""

    __tablename__ = "wechat_bindings"

    openid: Mapped[str] = mapped_column(String(100), primary_key=True)
    sub: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(100))
    usccs: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkItemDeadline(Base):
    """Deadlines from the notifier (``sla.events``). Kept apart from work_item_views because
    they arrive on another topic, possibly before the item's dispatch event."""

    __tablename__ = "work_item_deadlines"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    acknowledge_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    paused: Mapped[bool] = mapped_column(default=False)


class CreditReport(Base):
    """信用代证: one subject's 专项信用报告 entry on a request — the kinds it stands for (items of
    state ``credit_report``), where the enterprise downloads it, and the upload that fulfils them."""

    __tablename__ = "credit_reports"
    __table_args__ = (UniqueConstraint("request_id", "subject_uscc", name="uq_credit_reports_request_subject"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    subject_uscc: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str] = mapped_column(String(6))
    report_name: Mapped[str] = mapped_column(String(200))
    site_name: Mapped[str] = mapped_column(String(200))
    site_url: Mapped[str | None] = mapped_column(String(500))
    coverage: Mapped[list[Any]] = mapped_column(default=list, comment="versions used, e.g. [440000 v1]")
    work_item_ids: Mapped[list[Any]] = mapped_column(default=list)
    attachment_id: Mapped[str | None] = mapped_column(String(36), comment="the uploaded report")
    uploaded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
