"""notifier's tables: one SLA record per work item, and the SLA policies."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    event,
    inspect,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import flag_modified, get_history
from sqlalchemy.orm.base import NO_VALUE, PASSIVE_NO_INITIALIZE

from shared import catalogue, db
from shared.clock import day_of, utcnow
from shared.db import BigIntPK, service_base
from shared.vocabulary import OPEN_STATES

Base = service_base()
outbox = Base.metadata.tables["outbox"]


class SlaPolicy(Base):
    """Time limits for (request type, department kind); ``*`` matches any kind. A unit of
    ``working_days``, ``working_hours`` or ``minutes`` (calendar minutes, for emergencies)."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("request_type", "department_kind", "region_code", name="uq_sla_policies_type_kind_region"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_type: Mapped[str] = mapped_column(String(40))
    department_kind: Mapped[str] = mapped_column(String(40), default="*")
    region_code: Mapped[str] = mapped_column(
        String(6), default="*", server_default="*", comment="GB/T 2260 code the policy applies under; * nationwide"
    )
    acknowledge_amount: Mapped[int]
    acknowledge_unit: Mapped[str] = mapped_column(String(20))
    resolve_amount: Mapped[int]
    resolve_unit: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaRecord(Base):
    """The clocks of one work item. Both run from dispatch (派单): the acknowledge clock until
    签收, the handling clock until resolution; a late 签收 buys no time. A pause keeps the
    working time left."""

    __tablename__ = "sla_records"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    reference_no: Mapped[str] = mapped_column(String(20))
    request_type: Mapped[str] = mapped_column(String(40), index=True)
    department_kind: Mapped[str] = mapped_column(String(40))
    unit_code: Mapped[str] = mapped_column(String(100), index=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    enterprise_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str | None] = mapped_column(
        String(6), comment="where the subject is (region_code is the unit's); 证明替代率 counts by it"
    )
    state: Mapped[str] = mapped_column(String(30), index=True)
    dispatched_at: Mapped[datetime] = mapped_column(index=True)
    acknowledge_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolve_started_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None] = mapped_column(index=True)
    paused_at: Mapped[datetime | None]
    remaining_seconds: Mapped[float | None] = mapped_column(comment="working time left when paused")
    resolved_at: Mapped[datetime | None]
    resolved_on_time: Mapped[bool | None]
    score: Mapped[int | None]
    follow_up_result: Mapped[str | None] = mapped_column(
        String(20), comment="回访 after 办结: shared.vocabulary.FOLLOW_UP_RESULTS (解决率)"
    )
    policy: Mapped[dict[str, Any]] = mapped_column(comment="the policy as it was when the clock started")
    version: Mapped[int] = mapped_column(
        Integer,
        default=0,
        comment="the router's version of the item these clocks follow; older events do not move them",
    )
    extended: Mapped[bool] = mapped_column(default=False, comment="an extension was approved for the item (延期率)")
    returned_by: Mapped[list[Any]] = mapped_column(
        default=list, comment="units that returned the item to the coordinator, in order (退回率)"
    )
    holders: Mapped[list[Any]] = mapped_column(
        default=list, comment="every unit that held the item, in order, and how it left (holders.py)"
    )
    counted: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        comment="as it is now, in unit_day_counts (day_counts.py); any change of the record clears it",
    )
    counted_as: Mapped[list[Any] | None] = mapped_column(
        comment="what the record added to unit_day_counts when last counted (day_counts.py)"
    )
    # An open record's figures that move with the clock (stats.MOVING) are not in the day counts:
    # the statistics count them in SQL, for the unit that held it when it was counted.
    counted_holder_unit: Mapped[str | None] = mapped_column(
        String(100), comment="open when counted: the unit holding it then (day_counts.py)"
    )
    counted_holder_region: Mapped[str | None] = mapped_column(String(6), comment="that unit's region")
    counted_sign_due_at: Mapped[datetime | None] = mapped_column(
        comment="that unit's 签收 limit, while it had not signed (day_counts.py)"
    )

    # "Overdue", the one definition, in Python and in SQL alike: an open, unpaused item past the
    # deadline that counts now — signing for it (签收) until it is signed, then resolving it.
    @hybrid_property
    def current_due_at(self) -> datetime | None:
        return self.acknowledge_due_at if self.acknowledged_at is None else self.resolve_due_at

    @current_due_at.inplace.expression
    @classmethod
    def _current_due_at(cls) -> ColumnElement[datetime | None]:
        return case((cls.acknowledged_at.is_(None), cls.acknowledge_due_at), else_=cls.resolve_due_at)

    @hybrid_method
    def is_overdue(self, now: datetime) -> bool:
        due = self.current_due_at
        return self.state in OPEN_STATES and self.paused_at is None and due is not None and due < now

    @is_overdue.inplace.expression
    @classmethod
    def _is_overdue(cls, now: datetime) -> ColumnElement[bool]:
        return and_(open_state(cls.state), cls.paused_at.is_(None), cls.current_due_at < now)

    # Unresolved past its 办结 limit, the clock running: counts against 按时办结率 (stats.py).
    @hybrid_method
    def past_resolve_limit(self, now: datetime) -> bool:
        due = self.resolve_due_at
        return self.state in OPEN_STATES and self.paused_at is None and due is not None and due < now

    @past_resolve_limit.inplace.expression
    @classmethod
    def _past_resolve_limit(cls, now: datetime) -> ColumnElement[bool]:
        return and_(open_state(cls.state), cls.paused_at.is_(None), cls.resolve_due_at < now)


def open_state(state: ColumnElement[str]) -> ColumnElement[bool]:
    """``state IN (the open states)``, written into the SQL (db.in_written): the partial indexes
    over the open records (``ix_sla_records_overdue``, ``ix_sla_records_open_dispatched``) serve it."""
    return db.in_written(state, OPEN_STATES)


# The records whose day must be counted again: few at any time, found without reading the rest.
Index(
    "ix_sla_records_uncounted",
    SlaRecord.dispatched_at,
    postgresql_where=text("NOT counted"),
    sqlite_where=text("NOT counted"),
)
# The open items by dispatch time, carrying what their MOVING counts read (index-only, 0023): the
# statistics read those of their period (day_counts.py). Its ``dispatched_at IS NOT NULL`` filters no
# row but only a period's condition proves it: without it the overdue board's summary read this index,
# not ``ix_sla_records_overdue`` (0020). Check that plan after a PostgreSQL upgrade.
OPEN_RECORDS = db.written_in("state", OPEN_STATES)
OPEN_IN_A_PERIOD = f"{OPEN_RECORDS} AND dispatched_at IS NOT NULL"
MOVING_READS = ("state", "counted", "counted_holder_unit", "counted_holder_region", "request_type", "paused_at",
                "counted_sign_due_at", "acknowledged_at", "acknowledge_due_at", "resolve_due_at")  # fmt: skip
Index(
    "ix_sla_records_open_dispatched",
    SlaRecord.dispatched_at,
    postgresql_where=text(OPEN_IN_A_PERIOD),
    postgresql_include=MOVING_READS,
    sqlite_where=text(OPEN_IN_A_PERIOD),
)

# The overdue board: open, unpaused records in the order of the deadline that counts now, so a page
# of the oldest overdue reads that page only (api_overdue.py). An index on ``current_due_at`` itself,
# written as PostgreSQL prints it back (pg_get_indexdef, line breaks included): Alembic compares the
# models with the migrations by that text.
CURRENT_DUE_AT_AS_PRINTED = (
    "(\nCASE\n    WHEN acknowledged_at IS NULL THEN acknowledge_due_at\n    ELSE resolve_due_at\nEND)"
)
Index(
    "ix_sla_records_overdue",
    text(CURRENT_DUE_AT_AS_PRINTED),
    SlaRecord.work_item_id,
    postgresql_where=text(f"{OPEN_RECORDS} AND paused_at IS NULL"),
    sqlite_where=text(f"{OPEN_RECORDS} AND paused_at IS NULL"),
)


def count_again(record: SlaRecord) -> None:
    """The record is no longer what the day counts hold: the statistics read it as it is, and the
    scheduler counts it again (day_counts.py). Written whatever ``counted`` was when read: the
    scheduler may have counted it since (flag_modified, or SQLAlchemy leaves an unchanged value out)."""
    record.counted = False
    flag_modified(record, "counted")


# What counting writes on a record (day_counts.py): a change of these is no change of the record.
COUNTING = ("counted", "counted_as", "counted_holder_unit", "counted_holder_region", "counted_sign_due_at")


@event.listens_for(SlaRecord, "before_update")
def _count_again(_mapper, _connection, record: SlaRecord) -> None:
    """Whoever changes a record, and however: it is counted again. One rule, kept at the flush.
    Only the attributes set since the record was read can have changed (``committed_state``):
    asking every column for its history was a sixth of counting a backlog."""
    state = inspect(record)
    touched = [key for key in state.committed_state if key not in COUNTING]
    if any(get_history(record, key, PASSIVE_NO_INITIALIZE).has_changes() for key in touched):
        count_again(record)


class UnitCounts:
    """The unit statistics' counts (stats.py) of the items dispatched in a Chinese day or month, per
    unit that held them, its region and the request type, with the handling hours of those it
    resolved; of open items what does not move with the clock (stats.MOVING). Kept by the scheduler
    record by record (day_counts.py); a long period adds these up instead of reading every record."""

    PERIOD: str  # the column naming the period, first in the primary key
    unit_code: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(6))
    request_type: Mapped[str] = mapped_column(String(40))
    unit_name: Mapped[str] = mapped_column(String(200), comment="the unit's name when it last received one")
    named_at: Mapped[datetime] = mapped_column(comment="when that was")
    received: Mapped[int]
    acknowledged_on_time: Mapped[int]
    acknowledged_late: Mapped[int]
    acknowledge_counted: Mapped[int]
    kept: Mapped[int]
    resolved: Mapped[int]
    resolved_on_time: Mapped[int]
    resolve_counted: Mapped[int]
    extended: Mapped[int]
    returned: Mapped[int]
    transferred: Mapped[int]
    urged: Mapped[int]
    rated: Mapped[int]
    satisfied: Mapped[int]
    followed_up: Mapped[int]
    solved: Mapped[int]
    partly_solved: Mapped[int]
    open_now: Mapped[int] = mapped_column(server_default=text("0"))
    hours: Mapped[bytes] = mapped_column(
        LargeBinary,
        comment="working hours from dispatch to resolution, one per resolved item: float64, big-endian (HOURS_PACKED)",
    )


class UnitDayCounts(UnitCounts, Base):
    """A Chinese day's counts."""

    __tablename__ = "unit_day_counts"
    __table_args__ = (PrimaryKeyConstraint("day", "unit_code", "region_code", "request_type"),)
    PERIOD = "day"

    day: Mapped[date] = mapped_column(comment="the Chinese day the items were dispatched")


class UnitMonthCounts(UnitCounts, Base):
    """A month's counts, the sum of its days' rows, kept with them: a year adds up twelve rows per
    unit rather than some three hundred (day_counts.py)."""

    __tablename__ = "unit_month_counts"
    __table_args__ = (PrimaryKeyConstraint("month", "unit_code", "region_code", "request_type"),)
    PERIOD = "month"

    month: Mapped[date] = mapped_column(comment="the first day of the Chinese month the items were dispatched in")


class CertificateDayCounts(Base):
    """证明替代率's department items (substitution.py: compliance-certificate records, withdrawn ones
    left out) per Chinese day of dispatch and subject region, kept at every flush (``_count_certificates``)."""

    __tablename__ = "certificate_day_counts"

    day: Mapped[date] = mapped_column(primary_key=True, comment="the Chinese day the items were dispatched")
    subject_region: Mapped[str] = mapped_column(String(6), primary_key=True, comment="where the subject is")
    items: Mapped[int]


def _certificate_of(record: SlaRecord, before: bool = False) -> tuple[date, str] | None:
    """The day and region of its subject ``record`` counts in as a department certificate item, or
    None; ``before``: as it was before this flush (after_flush still holds what was committed)."""
    was = {k: v for k, v in inspect(record).committed_state.items() if v is not NO_VALUE} if before else {}
    request_type, state = was.get("request_type", record.request_type), was.get("state", record.state)
    if request_type != catalogue.COMPLIANCE_CERTIFICATE or state == "cancelled":
        return None
    subject_region = was.get("subject_region", record.subject_region)
    where = was.get("region_code", record.region_code) if subject_region is None else subject_region  # older: none
    return day_of(was.get("dispatched_at", record.dispatched_at)), where


@event.listens_for(Session, "after_flush")
def _count_certificates(session: Session, _context) -> None:
    """Whoever adds, changes or deletes a record through the ORM, the certificate counts follow in
    the same transaction (a savepoint rolled back takes its part back too): one upsert of the
    flush's changes, in key order. Two transactions whose flushes lock the same rows in another
    order deadlock; PostgreSQL ends one, and its consumer retries the batch. A bulk UPDATE or COPY
    of records passes no flush: it must count them itself (migration 0021's SQL)."""
    change: Counter = Counter()
    for record in (r for r in session.new if isinstance(r, SlaRecord)):
        change[_certificate_of(record)] += 1
    for record in (r for r in session.dirty if isinstance(r, SlaRecord)):
        change[_certificate_of(record, before=True)] -= 1
        change[_certificate_of(record)] += 1
    for record in (r for r in session.deleted if isinstance(r, SlaRecord)):
        change[_certificate_of(record, before=True)] -= 1
    change.pop(None, None)
    rows = [{"day": k[0], "subject_region": k[1], "items": n} for k, n in sorted(change.items()) if n]
    if rows:
        connection = session.connection()
        adding = db.insert_for(connection.dialect.name)(CertificateDayCounts)
        more = {"items": adding.excluded["items"] + CertificateDayCounts.items}  # .items: a method
        connection.execute(adding.on_conflict_do_update(index_elements=["day", "subject_region"], set_=more), rows)


class SlaTimer(Base):
    """One future moment at which the notifier must act: a reminder at 50 % or 80 % of the time,
    the deadline (催办), escalation (督办), public notice (通报), an unacknowledged item, or the
    follow-up (回访) after resolution. The scheduler reads only the rows that are due."""

    __tablename__ = "sla_timers"
    __table_args__ = (
        Index(
            "ix_sla_timers_pending_fire_at",
            "fire_at",
            postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
            sqlite_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_item_id: Mapped[str] = mapped_column(ForeignKey("sla_records.work_item_id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    fire_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class Recipient(Base):
    """Who is told what, and how: a unit's clerks, its leadership, a region's supervising office,
    or an enterprise's users; by WeChat (openid), e-mail or signed webhook."""

    __tablename__ = "recipients"
    __table_args__ = (UniqueConstraint("kind", "key", "channel", "address", name="uq_recipients_kind_key_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # unit | leadership | supervisor | enterprise
    key: Mapped[str] = mapped_column(String(100), index=True)  # unit code, region code or USCC
    channel: Mapped[str] = mapped_column(String(20))  # wechat | email | webhook
    address: Mapped[str] = mapped_column(String(500))
    name: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(String(6), index=True, comment="whose admins may change it")
    source: Mapped[str] = mapped_column(String(20), default="api")  # registry (replaced on each load) | api


class KnownUnit(Base):
    """A unit as the registry announced it (registry.events): its region decides which admins
    may change its recipients."""

    __tablename__ = "known_units"

    unit_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6))
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str | None] = mapped_column(String(40), comment="the unit's public telephone, shown to enterprises")
    office_hours: Mapped[str | None] = mapped_column(String(100), comment="when the public telephone is answered")


class Notification(Base):
    """One message to one recipient on one channel, with its outcome. ``dedupe_key`` makes its
    creation happen once however many notifier instances see the same timer or event."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_pending", "status", "next_attempt_at"),
        # The message centre reads one audience's in-app messages, newest first.
        Index("ix_notifications_audience", "channel", "recipient_kind", "address", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    work_item_id: Mapped[str | None] = mapped_column(String(36), index=True)
    request_id: Mapped[str | None] = mapped_column(
        String(36), comment="the request it is about: where an in-app message leads the enterprise"
    )
    kind: Mapped[str] = mapped_column(String(100), comment="a timer kind, or the ce_type of the event it tells of")
    recipient_kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class MessageRead(Base):
    """One person's read mark on one in-app message (a notification on the ``inbox`` channel). The
    message belongs to its audience (an enterprise, a unit, a region's supervisors); the mark to the
    reader (the token's ``sub``), so two clerks of one unit each have their own."""

    __tablename__ = "message_reads"

    notification_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("notifications.id"), primary_key=True)
    reader: Mapped[str] = mapped_column(String(200), primary_key=True)
    read_at: Mapped[datetime]


class Urging(Base):
    """One 催办 by an enterprise (or its liaison officer) of its late item: at most one per item per
    Chinese working day (``working_day``: the day it counts for — the next working day when pressed
    on a rest day), counted for the unit that held the item then (被催办次数)."""

    __tablename__ = "urgings"
    __table_args__ = (UniqueConstraint("work_item_id", "working_day", name="uq_urgings_item_day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_item_id: Mapped[str] = mapped_column(ForeignKey("sla_records.work_item_id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(100), index=True)
    deadline: Mapped[str] = mapped_column(String(20), comment="acknowledge | resolve: the deadline that counted")
    working_day: Mapped[date]
    urged_at: Mapped[datetime]
    urged_by: Mapped[str] = mapped_column(String(100), comment="the sub of the enterprise user or liaison officer")


class CalendarYear(Base):
    """An official schedule an operator loaded; it overrides chinese-calendar for its year."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[Any]] = mapped_column(default=list)
    workdays: Mapped[list[Any]] = mapped_column(default=list, comment="调休 make-up working days")
    loaded_by: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoveredItem(Base):
    """信用代证: a certificate item the subject's 专项信用报告 covered, so no department worked it
    and no clock ran. Kept only to count what the report absorbed (证明替代率): covered, then
    fulfilled by the uploaded report or cancelled with the request."""

    __tablename__ = "covered_items"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    request_type: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(40))
    subject_region: Mapped[str] = mapped_column(String(6), index=True)
    coverage_region: Mapped[str] = mapped_column(String(6))
    coverage_version: Mapped[int] = mapped_column(Integer)
    covered_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(
        String(30), default="credit_report", comment="credit_report → credit_report_uploaded | cancelled"
    )
    changed_at: Mapped[datetime | None] = mapped_column(comment="when the report was uploaded or the request withdrawn")


class UnitSupervision(Base):
    """A supervisor's 督办单 to a unit of their region (issue 29): a note and the day by which the
    unit must answer; the unit's clerks answer it once. Counted for the unit (被督办次数, answered
    on time: ``answered_at`` before ``due_at``)."""

    __tablename__ = "unit_supervisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(100), index=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True, comment="the unit's, when it was supervised")
    note: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(comment="the last day (Asia/Shanghai) for the unit's answer")
    due_at: Mapped[datetime] = mapped_column(comment="the first instant after due_on: an answer before it is on time")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_name: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_by_name: Mapped[str | None] = mapped_column(String(100))
