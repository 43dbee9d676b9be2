"""Documents issued with a 核验码 (issue 27): registered when a unit resolves a certificate item
with 出具证明, shown to anyone who verifies them, revoked by the issuing unit or its supervisor.

- A unit with its own system uploads its PDF: xiaoer registers it (its SHA-256 is what a reader's
  copy must match) and issues a one-page 核验单 beside it, never altering the unit's file.
- A unit without one asks xiaoer to write the certificate (``write_certificate``): rendered and
  signed with the unit's key (``documents.signing``), registered with the signed file's SHA-256.
Both go to the enterprise with the item's result, and ``cn.xiaoer.document.issued`` announces
each. 不予出具 letters and 专项信用报告 uploads get no code (they are not the unit's certificate).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pyhanko.sign.signers import Signer
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, files, regions
from shared.catalogue import DEPARTMENT_KINDS
from shared.messaging.encoding import OutgoingMessage
from shared.problems import invalid_field

from .document_models import IssuedDocumentRow
from .documents import codes, issuing, signing, verification
from .documents.templates import VerificationSlip
from .messages import OUTBOX
from .models import DepartmentUnit, ItemFile, RoutedRequest, WorkItem
from .settings import RouterSettings

PDF = "application/pdf"
log = structlog.get_logger(__name__)


def verify_base(settings: RouterSettings) -> str:
    """Where the public verification page is: what QR codes open."""
    return (settings.verification_public_url or settings.public_url("web")).rstrip("/")


_AUTHORITIES: dict[int, tuple[RouterSettings, signing.SigningAuthority]] = {}


def authority(settings: RouterSettings) -> signing.SigningAuthority:
    """The units' signing keys, loaded once per settings (the development CA is generated on first use)."""
    held = _AUTHORITIES.get(id(settings))
    if held is None or held[0] is not settings:
        held = _AUTHORITIES[id(settings)] = (settings, signing.authority_from_settings(settings))
    return held[1]


def client_key(settings: RouterSettings, address: str) -> str:
    """How the lookup log keeps a client: keyed SHA-256 of its address, never the address."""
    return hmac.new(settings.signing_key.encode(), address.encode(), hashlib.sha256).hexdigest()


async def _store(settings: RouterSettings, item: WorkItem, name: str, pdf: bytes, actor: str) -> ItemFile:
    """A PDF xiaoer wrote, kept in the shared file store and named among the item's files."""
    sha = verification.sha256_hex(pdf)
    scratch_dir = settings.var_dir / "uploads"
    scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch_dir, prefix=".issued-", delete=False) as scratch:
        scratch.write(pdf)
    try:
        await files.file_store(settings).put(sha, Path(scratch.name), PDF)
    finally:
        await asyncio.to_thread(Path(scratch.name).unlink, missing_ok=True)
    return ItemFile(
        id=str(uuid.uuid4()),
        request_id=item.request_id,
        work_item_id=item.id,
        origin="unit",
        purpose="unit",
        name=name,
        content_type=PDF,
        size=len(pdf),
        sha256=sha,
        uploaded_by=actor,
        used_in="resolve",
    )


class Issuer:
    """Registers the documents of one 出具证明, inside the lifecycle's transaction."""

    def __init__(self, session: AsyncSession, settings: RouterSettings, now: datetime) -> None:
        self.session, self.settings, self.now = session, settings, now
        self.messages: list[OutgoingMessage] = []

    async def issue(
        self, item: WorkItem, documents: list[events.FileRef], document_no: str, actor: events.Actor, *, write: bool
    ) -> list[events.FileRef]:
        """The files xiaoer adds to the result: the certificate it wrote, or a 核验单 per PDF."""
        unit = await self.session.get(DepartmentUnit, item.unit_code)
        request = await self.session.get(RoutedRequest, item.request_id)
        signer = await self._signer(unit, write)
        if write:
            return [await self._certificate(item, unit, request, document_no, signer, actor)]
        return [
            await self._slip(item, unit, request, ref, document_no, signer, actor)
            for ref in documents
            if ref.content_type == PDF
        ]

    async def _signer(self, unit: DepartmentUnit, write: bool) -> Signer | None:
        """The unit's signer; without a key (an outside CA's file missing) a certificate cannot be
        written (422 on ``write_certificate``), and a 核验单 goes out unsigned (the platform's)."""
        try:
            return await asyncio.to_thread(authority(self.settings).signer_for, unit.unit_code, unit.name)
        except signing.SigningUnavailable as missing:
            if write:
                raise invalid_field(
                    "write_certificate",
                    "signing_unavailable",
                    f"{unit.name}没有签名证书，无法代为出具证明；请上传本单位的证明文件",
                    f"{unit.unit_code} has no signing key: upload the unit's own certificate instead",
                ) from missing
            log.warning("documents.slip_unsigned", unit=unit.unit_code, reason=str(missing))
            return None

    async def _certificate(self, item, unit, request, document_no, signer, actor) -> events.FileRef:
        code = codes.new_code()
        period = (request.body or {}).get("period_months")
        cert = issuing.certificate(
            code=code,
            kind=item.department_kind,
            document_number=document_no,
            unit_name=unit.name,
            subject_name=item.subject_name,
            subject_uscc=item.subject_uscc,
            issued_at=self.now,
            period_months=period,
            verify_base_url=verify_base(self.settings),
            default_months=self.settings.document_default_period_months,
        )
        written = await issuing.async_write_certificate(cert, signer, location=regions.full_name(unit.region_code))
        title = DEPARTMENT_KINDS.zh(item.department_kind)
        row = await _store(self.settings, item, f"证明-{title}-{item.subject_name}.pdf", written.pdf, actor.ref)
        self.session.add(row)
        await self._register(code, "certificate", item, unit, request, document_no, row, None, period)
        return _ref(row)

    async def _slip(self, item, unit, request, ref, document_no, signer, actor) -> events.FileRef:
        code = codes.new_code()
        slip = VerificationSlip(
            code=code,
            document_number=document_no,
            kind=item.department_kind,
            unit_name=unit.name,
            subject_name=item.subject_name,
            subject_uscc=item.subject_uscc,
            file_name=ref.name,
            file_size=ref.size,
            sha256=ref.sha256,
            registered_at=self.now,
            verify_base_url=verify_base(self.settings),
        )
        written = await issuing.async_write_verification_slip(slip, signer)
        row = await _store(self.settings, item, f"{Path(ref.name).stem}-核验单.pdf", written.pdf, actor.ref)
        self.session.add(row)
        period = (request.body or {}).get("period_months")
        await self._register(code, "verification_slip", item, unit, request, document_no, ref, row, period)
        return _ref(row)

    async def _register(self, code, form, item, unit, request, document_no, file, slip, period) -> None:
        issued_on = verification.issue_day(self.now)
        doc = IssuedDocumentRow(
            code=code,
            item_id=item.id,
            request_id=item.request_id,
            enterprise_uscc=request.enterprise_uscc,
            subject_uscc=item.subject_uscc,
            subject_name=item.subject_name,
            subject_region=item.subject_region,
            unit_code=unit.unit_code,
            unit_name=unit.name,
            unit_region=unit.region_code,
            kind=item.department_kind,
            document_number=document_no,
            form=form,
            sha256=file.sha256,
            file_id=file.id,
            file_name=file.name,
            file_size=file.size,
            slip_file_id=slip.id if slip is not None else None,
            period_months=period,
            issued_at=self.now,
            valid_until=issued_on + timedelta(days=self.settings.document_use_within_days),
            status="valid",
        )
        self.session.add(doc)
        event = events.DocumentIssued(
            **document_fields(doc),
            occurred_at=self.now,
            sha256=doc.sha256,
            issued_at=doc.issued_at,
            valid_until=doc.valid_until,
            file=_ref(file),
            slip=_ref(slip) if slip is not None else None,
        )
        self.messages.append(document_message(event, doc))


def _ref(row: ItemFile | events.FileRef) -> events.FileRef:
    if isinstance(row, events.FileRef):
        return row
    return events.FileRef(id=row.id, name=row.name, content_type=row.content_type, size=row.size, sha256=row.sha256)


def document_fields(doc: IssuedDocumentRow) -> dict[str, Any]:
    """What every document event says about ``doc``."""
    return dict(
        code=doc.code,
        work_item_id=doc.item_id,
        request_id=doc.request_id,
        unit_code=doc.unit_code,
        unit_name=doc.unit_name,
        unit_region=doc.unit_region,
        kind=doc.kind,
        document_number=doc.document_number,
        form=doc.form,
        subject_uscc=doc.subject_uscc,
        subject_name=doc.subject_name,
        enterprise_uscc=doc.enterprise_uscc,
    )


def document_message(event: events.DocumentEvent, doc: IssuedDocumentRow) -> OutgoingMessage:
    return OUTBOX.message(event, topic=events.DOCUMENTS_EVENTS, key=doc.code, subject=doc.code, time=event.occurred_at)


def revoke(
    doc: IssuedDocumentRow, actor: events.Actor, reason_class: str, reason: str, reopen: bool, now: datetime
) -> OutgoingMessage:
    """Marks ``doc`` revoked (verification shows 已撤销 from the commit on) and announces it."""
    doc.status, doc.revoked_at, doc.revoked_by = "revoked", now, actor.ref
    doc.revocation_reason_class, doc.revocation_reason = reason_class, reason
    event = events.DocumentRevoked(
        **document_fields(doc), occurred_at=now, reason_class=reason_class, reason=reason, reopen=reopen, actor=actor
    )
    return document_message(event, doc)
