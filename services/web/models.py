"""The web service's tables: the staff accounts it signs people in with, and each person's saved
queue views. Everything a page shows comes from the three services' APIs; the web service keeps
no copy of their data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, MetaData, String, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import utcnow
from shared.db import NAMING_CONVENTION, UTCDateTime

STAFF_ROLES = ("department", "coordinator", "supervisor", "admin")


class Base(DeclarativeBase):
    # Like shared.db.service_base() but without outbox and processed_events: no Kafka here.
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class StaffAccount(Base):
    """A clerk, coordinator, supervisor or admin who signs in with a password."""

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint(f"role IN {STAFF_ROLES}", name="role"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), comment="department | coordinator | supervisor | admin")
    unit_code: Mapped[str | None] = mapped_column(String(100), comment="department and coordinator: their unit")
    region_code: Mapped[str | None] = mapped_column(
        String(6), comment="supervisor, admin: the region overseen; others: their unit's"
    )
    password_hash: Mapped[str] = mapped_column(String(255), comment="Argon2id (argon2-cffi)")
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, comment="wrong passwords since the last success")
    locked_until: Mapped[datetime | None] = mapped_column(comment="no sign-in before this instant")
    active: Mapped[bool] = mapped_column(default=True)
    demo: Mapped[bool] = mapped_column(default=False, comment="a seeded development persona")
    lead: Mapped[bool] = mapped_column(
        default=False, server_default=false(), comment="department: the unit's lead (科长), who assigns its items"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(
        comment="sessions begun before this instant have ended (deactivated, password changed)"
    )


class SubmittedForm(Base):
    """A form the pages handed out with its idempotency key, once submitted: the key's answer.
    Back, reload, a double click or a retry of the same form find it here and are shown the
    request already made, never a second one (intake replays the key too, but refuses it with
    another body, e.g. a form edited after Back)."""

    __tablename__ = "submitted_forms"

    key: Mapped[str] = mapped_column(String(64), primary_key=True, comment="the form's Idempotency-Key")
    owner: Mapped[str] = mapped_column(String(200), comment="the token subject that submitted it")
    request_id: Mapped[str] = mapped_column(String(36))
    reference_no: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SavedView(Base):
    """A filter and sort of the clerk's queue that one person named (issue 29), shown as a tab of
    their workbench with its count. The filters are the queue page's own parameters (relative ones
    such as 本周到期 stay relative: the week is the week of the day it is opened)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_saved_views_username_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("staff_accounts.username", ondelete="CASCADE"), index=True, comment="whose view it is"
    )
    name: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, comment="the queue page's parameters (filters and sort)")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
