"""router's tables of issued documents (issue 27): every document registered under its 核验码,
every lookup of one (for the issuing unit to see), and the enterprise's share links."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow

from .models import Base


class IssuedDocumentRow(Base):
    """A document xiaoer issued with a 核验码: a certificate it wrote and signed for the unit
    (``form`` certificate), or the 核验单 beside the unit's own PDF (``form`` verification_slip;
    ``sha256`` is then the unit's PDF's, which is what a reader holds)."""

    __tablename__ = "issued_documents"

    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="canonical 核验码")
    item_id: Mapped[str] = mapped_column(String(36), index=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    enterprise_uscc: Mapped[str] = mapped_column(String(18), index=True)
    subject_uscc: Mapped[str] = mapped_column(String(18), index=True)
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_region: Mapped[str] = mapped_column(String(6))
    unit_code: Mapped[str] = mapped_column(String(100), index=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_region: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(40))
    document_number: Mapped[str] = mapped_column(String(100), comment="文号")
    form: Mapped[str] = mapped_column(String(20), comment="certificate | verification_slip")
    sha256: Mapped[str] = mapped_column(String(64), comment="of the file the enterprise downloads")
    file_id: Mapped[str] = mapped_column(String(36), comment="item_files: the certificate, or the unit's PDF")
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(Integer)
    slip_file_id: Mapped[str | None] = mapped_column(String(36), comment="item_files: the 核验单")
    period_months: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime]
    valid_until: Mapped[date] = mapped_column(Date, comment="the last day of the advised period of use")
    status: Mapped[str] = mapped_column(String(20), default="valid", comment="valid | revoked")
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revocation_reason_class: Mapped[str | None] = mapped_column(String(40))
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class VerificationLookup(Base):
    """One lookup of a code that exists (misses are only counted by the rate limiter): the issuing
    unit sees how often and how its documents are checked. The client's address is kept hashed."""

    __tablename__ = "verification_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(ForeignKey("issued_documents.code"), index=True)
    channel: Mapped[str] = mapped_column(String(20), comment="code | file | batch | share")
    client: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the client's address, keyed")
    match: Mapped[bool | None] = mapped_column(Boolean, comment="file comparison: identical or not")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentShare(Base):
    """A share link an enterprise made for a 保荐机构: chosen documents, until ``expires_at`` or
    until revoked. The token is the link; only its SHA-256 is stored."""

    __tablename__ = "document_shares"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_prefix: Mapped[str] = mapped_column(String(8), comment="to tell links apart in a list")
    owner_uscc: Mapped[str] = mapped_column(String(18), index=True)
    created_by: Mapped[str] = mapped_column(String(120))
    codes: Mapped[list[Any]]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
