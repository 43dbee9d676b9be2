"""intake's tables. intake owns the requests as submitted; what departments do with them it
learns only from ``workitems.events`` and keeps in a read model (work_item_views, timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
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


class ReferenceCounter(Base):
    """The last reference number handed out on each day (Asia/Shanghai)."""

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


class Attachment(Base):
    """An uploaded file. Content is stored once per SHA-256 under ``XIAOER_ATTACHMENTS_DIR``;
    each upload gets its own id so owners and names stay apart."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rating(Base):
    """The enterprise's rating (满意度评价) of a request, once all its items are resolved."""

    __tablename__ = "ratings"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    reopened: Mapped[list[Any]] = mapped_column(default=list)
    rated_by: Mapped[str] = mapped_column(String(100))
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
