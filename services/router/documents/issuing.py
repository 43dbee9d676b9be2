"""Issuing a document in one call: a certificate written, rendered and signed with the unit's key,
or the 核验单 for a unit's own PDF; each with the SHA-256 to register.

This is what phase B calls when a unit resolves an item with 出具证明 through xiaoer (and what
bench/ measures). All of it is CPU-bound: the ``async_`` variants run it in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from pyhanko.sign.signers import Signer

from services.router.documents import codes, signing
from services.router.documents.templates import (
    Certificate,
    VerificationSlip,
    render_certificate,
    render_verification_slip,
)
from services.router.documents.verification import DEFAULT_PERIOD_MONTHS, issue_day, lookback_period, sha256_hex


@dataclass(frozen=True)
class IssuedFile:
    pdf: bytes
    sha256: str  # what verification compares an uploaded copy with

    @property
    def size(self) -> int:
        return len(self.pdf)


def certificate(
    *,
    code: str,
    kind: str,
    document_number: str,
    unit_name: str,
    subject_name: str,
    subject_uscc: str,
    issued_at: datetime,
    period_months: int | None,
    verify_base_url: str,
    default_months: int = DEFAULT_PERIOD_MONTHS,
) -> Certificate:
    """What a certificate says, its period computed as the verification computes it."""
    issued_on = issue_day(issued_at)
    start, end = lookback_period(issued_on, period_months, default_months=default_months)
    return Certificate(
        code=codes.normalise(code),
        document_number=document_number,
        kind=kind,
        unit_name=unit_name,
        subject_name=subject_name,
        subject_uscc=subject_uscc,
        period_start=start,
        period_end=end,
        issued_on=issued_on,
        verify_base_url=verify_base_url,
    )


def write_certificate(cert: Certificate, signer: Signer, *, location: str | None = None) -> IssuedFile:
    """The certificate rendered to PDF and signed (PAdES) by the unit's ``signer``."""
    signed = signing.sign_pdf(render_certificate(cert), signer, unit_name=cert.unit_name, location=location)
    return IssuedFile(signed, sha256_hex(signed))


def write_verification_slip(slip: VerificationSlip, signer: Signer | None = None) -> IssuedFile:
    """The 核验单, signed by the unit when ``signer`` is given (the slip is the unit's statement
    that it registered the file; unsigned, it is the platform's)."""
    pdf = render_verification_slip(slip)
    if signer is not None:
        pdf = signing.sign_pdf(pdf, signer, unit_name=slip.unit_name, reason="登记文件")
    return IssuedFile(pdf, sha256_hex(pdf))


async def async_write_certificate(cert: Certificate, signer: Signer, *, location: str | None = None) -> IssuedFile:
    return await asyncio.to_thread(write_certificate, cert, signer, location=location)


async def async_write_verification_slip(slip: VerificationSlip, signer: Signer | None = None) -> IssuedFile:
    return await asyncio.to_thread(write_verification_slip, slip, signer)
