"""What the public verification of a document shows, as JSON (``GET /v1/verifications/{code}``,
the wallet's rows, share links and batch results): ``documents.verification.public_view`` of the
registered row, with no contact data and nothing about the request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.problems import Problem
from shared.vocabulary import REVOCATION_REASONS

from .document_models import IssuedDocumentRow
from .documents import codes, verification
from .issuance import verify_base
from .schemas import ItemDocumentOut
from .settings import RouterSettings


def not_found() -> Problem:
    """Unknown and malformed codes alike: the answer is no oracle."""
    return Problem(404, "verification_not_found", "未找到该核验码", "Verification code not found")


def record(doc: IssuedDocumentRow) -> verification.IssuedDocument:
    return verification.IssuedDocument(
        code=doc.code,
        form=doc.form,
        kind=doc.kind,
        document_number=doc.document_number,
        unit_code=doc.unit_code,
        unit_name=doc.unit_name,
        unit_region_code=doc.unit_region,
        subject_name=doc.subject_name,
        subject_uscc=doc.subject_uscc,
        issued_at=doc.issued_at,
        period_months=doc.period_months,
        sha256=doc.sha256,
        revoked_at=doc.revoked_at,
        revocation_reason=doc.revocation_reason_class,
    )


def public_json(doc: IssuedDocumentRow, settings: RouterSettings, now: datetime) -> dict[str, Any]:
    view = verification.public_view(
        record(doc),
        now,
        use_within_days=settings.document_use_within_days,
        default_months=settings.document_default_period_months,
    )
    reason = REVOCATION_REASONS.get(doc.revocation_reason_class or "") if view.status.revoked else None
    return {
        "code": view.code,
        "status": view.status.term.code,
        "status_name": view.status.term.zh,
        "status_name_en": view.status.term.en,
        "form": view.form.code,
        "form_name": view.form.zh,
        "title": view.title,
        "unit": {
            "code": doc.unit_code,
            "name": view.unit_name,
            "region_code": view.unit_region_code,
            "region_name": view.unit_region_name,
        },
        "document_number": view.document_number,
        "kind": view.kind.code,
        "kind_name": view.kind.zh,
        "kind_name_en": view.kind.en,
        "subject": {"name": view.subject_name, "uscc_masked": view.subject_uscc_masked},
        "issued_on": view.validity.issued_on.isoformat(),
        "valid_until": doc.valid_until.isoformat(),
        "use_window": view.validity.use_window.code,
        "use_window_name": view.validity.use_window.zh,
        "period": {"start": view.validity.period_start.isoformat(), "end": view.validity.period_end.isoformat()},
        "sha256": view.sha256,
        "revoked_on": view.status.revoked_on.isoformat() if view.status.revoked_on else None,
        "revocation_reason_class": reason.code if reason else None,
        "revocation_reason_name": reason.zh if reason else None,
        "revocation_reason_name_en": reason.en if reason else None,
        "notes": view.notes,
        "verify_url": codes.verification_url(verify_base(settings), doc.code),
    }


async def issued_by(session: AsyncSession, item_id: str) -> list[ItemDocumentOut]:
    """The documents an item issued, oldest first: what its page links to (record, 撤销)."""
    rows = await session.scalars(
        select(IssuedDocumentRow).where(IssuedDocumentRow.item_id == item_id).order_by(IssuedDocumentRow.issued_at)
    )
    return [ItemDocumentOut(code=codes.group(row.code), status=row.status) for row in rows]
