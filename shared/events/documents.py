"""router → department systems, dashboards: documents issued with a 核验码, revoked, and looked up
(issue 27), on ``documents.events``, keyed by the code."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Actor, Event, FileRef
from shared.vocabulary import DOCUMENT_FORMS, DOCUMENT_STATUSES, LOOKUP_CHANNELS, REVOCATION_REASONS

DocumentForm = Literal[tuple(DOCUMENT_FORMS)]  # type: ignore[valid-type]
DocumentStatus = Literal[tuple(DOCUMENT_STATUSES)]  # type: ignore[valid-type]
RevocationReason = Literal[tuple(REVOCATION_REASONS)]  # type: ignore[valid-type]
LookupChannel = Literal[tuple(LOOKUP_CHANNELS)]  # type: ignore[valid-type]


class DocumentEvent(Event):
    """What every document event says about the document, so a reader needs no other source."""

    code: str = Field(description="the 核验码, canonical (16 characters of Crockford's base32, no separators)")
    work_item_id: str
    request_id: str
    unit_code: str = Field(description="the issuing unit")
    unit_name: str
    unit_region: str
    kind: str = Field(description="the certificate kind (department kind)")
    document_number: str = Field(description="文号")
    form: DocumentForm = Field(description="certificate: xiaoer wrote and signed it · verification_slip: 核验单")
    subject_uscc: str
    subject_name: str
    enterprise_uscc: str | None = None
    occurred_at: datetime


class DocumentIssued(DocumentEvent):
    """A unit resolved a certificate item with 出具证明: the document is registered under its code."""

    ce_type: ClassVar[str] = "cn.xiaoer.document.issued"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="of the file the enterprise downloads")
    issued_at: datetime
    valid_until: date = Field(description="the last day of the advised period of use")
    file: FileRef = Field(description="the registered file: the signed certificate, or the unit's own PDF")
    slip: FileRef | None = Field(None, description="the 核验单 beside the unit's own PDF")


class DocumentRevoked(DocumentEvent):
    """The issuing unit (or a supervisor over its region) revoked the document: it verifies as 已撤销."""

    ce_type: ClassVar[str] = "cn.xiaoer.document.revoked"
    reason_class: RevocationReason
    reason: str
    reopen: bool = Field(description="whether the item reopened (重办) for the unit to issue again")
    actor: Actor


class DocumentVerified(DocumentEvent):
    """Someone looked the document up (nothing about who: the lookup log keeps a hashed address)."""

    ce_type: ClassVar[str] = "cn.xiaoer.document.verified"
    channel: LookupChannel
    status: DocumentStatus = Field(description="what the lookup showed")
    match: bool | None = Field(None, description="the file comparison's result; null for a lookup by code")


DOCUMENT_EVENTS: tuple[type[DocumentEvent], ...] = (DocumentIssued, DocumentRevoked, DocumentVerified)
