"""router's tables: the department registry, the routing rules, and the work items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    event,
    false,
    literal_column,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from shared import db
from shared.clock import utcnow
from shared.db import service_base
from shared.vocabulary import OPEN_STATES

# Until a unit signs for an item (and while it waits at a coordinator), 签收's deadline counts.
UNSIGNED_STATES = ("dispatched", "returned")

Base = service_base()
outbox = Base.metadata.tables["outbox"]
# The trigram indexes of a clerk's search (router 0020) need pg_trgm; create_all makes it too.
event.listen(
    Base.metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")
)


class DepartmentUnit(Base):
    """A government unit that handles work items, e.g. ``440112.tax`` 广州市黄埔区税务局."""

    __tablename__ = "department_units"

    unit_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    inbox_topic: Mapped[str] = mapped_column(String(249))
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    supervising_office: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(40), comment="public telephone, shown to enterprises")
    office_hours: Mapped[str | None] = mapped_column(String(100), comment="when the public telephone is answered")


class UnitCoverage(Base):
    """Which unit of a kind serves a region. A unit covers its own region by default; others are
    configured, e.g. 黄埔海关 (a customs district) covers several administrative districts."""

    __tablename__ = "unit_coverage"
    __table_args__ = (UniqueConstraint("kind", "region_code", name="uq_unit_coverage_kind_region"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6))
    unit_code: Mapped[str] = mapped_column(ForeignKey("department_units.unit_code"))


class RoutingRule(Base):
    """(request type, item) → department kind. Rules are never edited in place: a change adds a
    new version and deactivates the old one, so every decision can name the rule that made it."""

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("request_type", "item", "version", name="uq_routing_rules_type_item_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_type: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(40))
    department_kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryGeneration(Base):
    """One row: a number that every change to the registry tables (units, coverage, rules,
    信用代证 coverage) raises, by database trigger (migration 0008), so routing reloads its
    snapshot of the registry only when it moved."""

    __tablename__ = "registry_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, comment="+1 with every change to the registry")


class RoutedRequest(Base):
    """router's copy of a request as submitted (the event body), for re-dispatch and withdrawal."""

    __tablename__ = "routed_requests"
    __table_args__ = (
        # A clerk's search by part of a 受理编号 (queue._matches_text): pg_trgm, PostgreSQL only.
        Index(
            "ix_routed_requests_reference_no_trgm",
            "reference_no",
            postgresql_using="gin",
            postgresql_ops={"reference_no": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference_no: Mapped[str] = mapped_column(String(20))
    request_type: Mapped[str] = mapped_column(String(40))
    enterprise_uscc: Mapped[str] = mapped_column(String(18), index=True)
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="active")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


ASSISTED = "CAST(assisting_units AS VARCHAR) <> '[]'"
OPEN = db.written_in("state", OPEN_STATES)  # WorkItem.is_open's condition
# WorkItem.no_deadline and WorkItem.current_due_at as pg_get_indexdef prints them (line breaks included).
_UNSIGNED = (
    "state::text = ANY (ARRAY[" + ", ".join(f"'{s}'::character varying" for s in sorted(UNSIGNED_STATES)) + "]::text[])"
)
CURRENT_DUE_AT_AS_PRINTED = f"(\nCASE\n    WHEN {_UNSIGNED} THEN acknowledge_due_at\n    ELSE resolve_due_at\nEND)"
NO_DEADLINE_AS_PRINTED = (
    f"(\nCASE\n    WHEN\n    CASE\n        WHEN {_UNSIGNED} THEN acknowledge_due_at\n        ELSE resolve_due_at\n"
    "    END IS NULL THEN 1\n    ELSE 0\nEND)"
)


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        # One work item per subject and item: the last guard against a doubled dispatch.
        UniqueConstraint("request_id", "subject_uscc", "item", name="uq_work_items_request_subject_item"),
        # The few items other units assist (会办), for access.assisted_by: a unit's queue then reads
        # its own items by unit_code and these by id, never the whole table.
        Index("ix_work_items_assisted", "id", postgresql_where=text(ASSISTED), sqlite_where=text(ASSISTED)),
        # A unit's items by state: its tab counts read this index alone (queue.tab_counts).
        Index("ix_work_items_unit_state", "unit_code", "state"),
        # A unit's items in the queue's deadline order (keyset "deadline"): a page of the busiest
        # unit's 已办结 reads that page, not its 96 k items sorted (queue.find). Expressions as
        # PostgreSQL prints them back (Alembic compares by that text); PostgreSQL only.
        Index(
            "ix_work_items_unit_deadline",
            "unit_code",
            text(NO_DEADLINE_AS_PRINTED),
            text(CURRENT_DUE_AT_AS_PRINTED),
            "id",
        ).ddl_if(dialect="postgresql"),
        # The same order for the open items only (router 0021): the 已超期, 暂停计时 and 正常计时 filters
        # of the busiest unit step over none of its 90 k finished items (WorkItem.is_open).
        Index(
            "ix_work_items_unit_open_deadline",
            "unit_code",
            text(NO_DEADLINE_AS_PRINTED),
            text(CURRENT_DUE_AT_AS_PRINTED),
            "id",
            postgresql_where=text(OPEN),
        ).ddl_if(dialect="postgresql"),
        # A clerk's search by part of a subject's name (queue._matches_text): pg_trgm, PostgreSQL only.
        Index(
            "ix_work_items_subject_name_trgm",
            "subject_name",
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("routed_requests.request_id"), index=True)
    item: Mapped[str] = mapped_column(String(40))
    department_kind: Mapped[str] = mapped_column(String(40))
    unit_code: Mapped[str] = mapped_column(ForeignKey("department_units.unit_code"))
    subject_uscc: Mapped[str] = mapped_column(String(18), index=True)
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(30), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rules.id"))
    rule_version: Mapped[int | None]
    routing_reason: Mapped[str] = mapped_column(Text)
    credit_coverage: Mapped[list[Any] | None] = mapped_column(
        comment="信用代证: the coverage versions in force when a certificate item was routed "
        "([{region_code, version}], province first); null for other request types"
    )
    version: Mapped[int] = mapped_column(
        Integer,
        default=0,
        comment="1 at dispatch, +1 with every event; readers ignore an event older than what they hold",
    )
    assisting_units: Mapped[list[Any]] = mapped_column(default=list)
    resolution: Mapped[dict[str, Any] | None]
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(comment="from the notifier (sla.events)")
    resolve_due_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_paused: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="the notifier paused the clock (补正)"
    )
    # 承办人 (issue 29): the clerk of the unit who handles it; cleared when the item leaves the unit.
    assignee_sub: Mapped[str | None] = mapped_column(
        String(120), index=True, comment="承办人: the token subject (sub) of the clerk handling it"
    )
    assignee_name: Mapped[str | None] = mapped_column(String(100), comment="承办人's name when assigned")
    assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # The deadline that counts now, and whether it passed: the queue's filters, in Python and SQL.
    @hybrid_property
    def current_due_at(self) -> datetime | None:
        return self.acknowledge_due_at if self.state in UNSIGNED_STATES else self.resolve_due_at

    @current_due_at.inplace.expression
    @classmethod
    def _current_due_at(cls) -> ColumnElement[datetime | None]:
        # The states written into the SQL (db.in_written): ix_work_items_unit_deadline holds this.
        return case((db.in_written(cls.state, UNSIGNED_STATES), cls.acknowledge_due_at), else_=cls.resolve_due_at)

    @hybrid_property
    def no_deadline(self) -> int:
        """1 for an item without a deadline now, else 0: the queue's deadline order puts those last."""
        return int(self.current_due_at is None)

    @no_deadline.inplace.expression
    @classmethod
    def _no_deadline(cls) -> ColumnElement[int]:
        # 1 and 0 written into the SQL, as the index holds them: bound, a prepared statement's
        # generic plan would not see its expression as the index's (db.in_written says why).
        return case((cls.current_due_at.is_(None), literal_column("1")), else_=literal_column("0"))

    @hybrid_method
    def is_overdue(self, now: datetime) -> bool:
        due = self.current_due_at
        return self.state in OPEN_STATES and not self.sla_paused and due is not None and due < now

    @is_overdue.inplace.expression
    @classmethod
    def _is_overdue(cls, now: datetime) -> ColumnElement[bool]:
        return and_(cls.is_open(), cls.sla_paused.is_(False), cls.current_due_at < now)

    @classmethod
    def is_open(cls) -> ColumnElement[bool]:
        """``state IN (the open states)``, written into the SQL (db.in_written): a unit's open items
        are then read by ``ix_work_items_unit_open_deadline``."""
        return db.in_written(cls.state, OPEN_STATES)


@dataclass
class NewWorkItem:
    """A work item as routing creates it, before it is a row: the same fields as ``WorkItem``,
    as a plain object. Routing builds eight or more per request and writes them with one bulk
    INSERT; building them as ORM objects (attribute instrumentation) was a large part of routing's
    CPU (docs/benchmarks.md). ``version`` is set by the dispatch event (``messages.item_event``)."""

    id: str
    request_id: str
    item: str
    department_kind: str
    unit_code: str
    subject_uscc: str
    subject_name: str
    subject_region: str
    state: str
    rule_id: int | None
    rule_version: int | None
    routing_reason: str
    credit_coverage: list[Any] | None
    created_at: datetime
    updated_at: datetime
    assisting_units: list[Any] = field(default_factory=list)
    version: int = 0


class Extension(Base):
    """A unit's request for more time (延期), decided by a supervisor."""

    __tablename__ = "extensions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    work_item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | denied
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(Text, comment="why it was denied; the unit sees it")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class WorkItemLog(Base):
    """Every move of a work item: who did what, from which state to which, and why."""

    __tablename__ = "work_item_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    unit_code: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100), comment="role:id of the person or system")
    actor_name: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemFile(Base):
    """A file a unit may read: the enterprise's attachments (of the whole request), its answers to
    a 补正 (of one item), and what the unit itself uploaded for one item (a certificate, a form).
    Contents live in the shared file store by SHA-256."""

    __tablename__ = "item_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    work_item_id: Mapped[str | None] = mapped_column(String(36), index=True, comment="null: the whole request's")
    subject_uscc: Mapped[str | None] = mapped_column(
        String(18), comment="a 授权委托书: only the items of this subject show it"
    )
    origin: Mapped[str] = mapped_column(String(20))  # enterprise | unit
    purpose: Mapped[str] = mapped_column(String(20))  # attachment | supplement | unit | authorization
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(120))
    used_in: Mapped[str | None] = mapped_column(String(40), comment="the move that sent a unit's file on")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileDownload(Base):
    """Every download of a file through the router: who, which, when."""

    __tablename__ = "file_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(String(36), index=True)
    work_item_id: Mapped[str] = mapped_column(String(36))
    downloaded_by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitCredential(Base):
    """A department system's key for signing its Kafka messages. The secret itself is never
    stored: it is derived from the deployment's key and ``key_id`` (see credentials.py), so a
    database leak gives no one a unit's signing key. Rotation adds a key; revocation (or the
    unit's deactivation) ends its use."""

    __tablename__ = "unit_credentials"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("department_units.unit_code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class CreditCoverage(Base):
    """信用代证: one version of which compliance-certificate kinds a province's (or a city's)
    专项信用报告 covers, from when, where the enterprise downloads it and the public source of the
    list. Versions are never edited: a change adds the next version (effective from its
    ``effective_from``), so every routing decision can name the version it used."""

    __tablename__ = "credit_coverage"
    __table_args__ = (UniqueConstraint("region_code", "version", name="uq_credit_coverage_region_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True, comment="a province, or a city adding to it")
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(comment="in force for requests submitted from this instant")
    kinds: Mapped[list[Any]] = mapped_column(default=list, comment="certificate kinds the report stands for")
    areas: Mapped[list[Any]] = mapped_column(default=list, comment="领域 as the source names them")
    areas_total: Mapped[int | None]
    areas_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    report_name: Mapped[str] = mapped_column(String(200))
    site_name: Mapped[str] = mapped_column(String(200))
    site_url: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[dict[str, Any]] = mapped_column(comment="document number, title, issuer, date, url")
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120), comment="seed file, or role:id of the admin")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditItem(Base):
    """A (subject, certificate kind) of a request that the subject's 专项信用报告 covers: state
    ``credit_report`` — no unit, no inbox message, no clock — until the enterprise uploads the
    report (``credit_report_uploaded``) or withdraws the request (``cancelled``). It records the
    coverage version that decided it."""

    __tablename__ = "credit_items"
    __table_args__ = (
        UniqueConstraint("request_id", "subject_uscc", "item", name="uq_credit_items_request_subject_item"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("routed_requests.request_id"), index=True)
    item: Mapped[str] = mapped_column(String(40))
    subject_uscc: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(
        String(30), default="credit_report", comment="credit_report → credit_report_uploaded | cancelled"
    )
    coverage_id: Mapped[int] = mapped_column(ForeignKey("credit_coverage.id"))
    coverage_region: Mapped[str] = mapped_column(String(6))
    coverage_version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    report_file_id: Mapped[str | None] = mapped_column(String(36), comment="the uploaded report (intake's file id)")
    version: Mapped[int] = mapped_column(Integer, default=1, comment="1 when covered, +1 with every event after")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class WorkItemComment(Base):
    """内部批注: a note on a work item between the supervisors over it and the units that hold it
    (issue 29). Never announced and never in the enterprise's timeline: no event carries it."""

    __tablename__ = "work_item_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100), comment="role:id of the person")
    author_name: Mapped[str | None] = mapped_column(String(100))
    author_role: Mapped[str] = mapped_column(String(20))
    author_unit: Mapped[str | None] = mapped_column(String(100), comment="the clerk's unit; null for supervisors")
    at: Mapped[datetime] = mapped_column(default=utcnow)
