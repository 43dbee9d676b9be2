"""What the public verification of a document shows, as pure functions, and the per-client limit
on lookups.

A reader (保荐机构, 律所, the exchange) who has a document and its 核验码 sees: the issuing unit
(name and region), 文号, kind, subject (name and a masked USCC), the look-back period, the issue
date and the end of the advised period of use, the registered SHA-256, and the status 有效 or
已撤销 (with the date and the reason class). No contact data, nothing about the request.

- **Look-back period** (:func:`lookback_period`): the ``period_months`` the request asked for
  (36 when it named none, as an IPO prospectus covers three years), ending on the issue date:
  issued 2026-01-15 for 36 months covers 2023-01-16 to 2026-01-15, both days included. The
  certificate xiaoer writes prints the same period (templates use this function).
- **Advised period of use** (``XIAOER_DOCUMENT_USE_WITHIN_DAYS``, 90): readers want recent
  certificates. Past it a document shows 超出建议使用期; it stays genuine, and 有效 unless revoked.
- **Masked USCC** (:func:`mask_uscc`): the first 2 characters (registering authority and kind of
  organisation, e.g. 91 = an enterprise registered by market regulation) and the last 4 (the end of
  the organisation code and the check character) stay, the 12 between are hidden:
  ``91************J39A``. A reader holding the document can match it against the full code
  printed there; the page tells nobody else the code, and the 6-digit region inside it is hidden.
- **Status**: 有效, or 已撤销 with the day (Asia/Shanghai) and the reason class.
- **Byte identity** (:func:`compare_upload`): an uploaded PDF is identical to the registered one or
  not — "与登记的文件不一致" is a result, not an error. What is not a PDF, or too large, is refused
  (:class:`UploadRefused`, a 422).
- **Rate limit** (:class:`LookupLimiter`): lookups per client, and a stricter limit on codes that
  do not exist, so nobody enumerates codes; a refusal carries the seconds to wait (429 with
  Retry-After).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from services.router.documents import codes
from services.router.documents.settings import DocumentSettings
from services.router.documents.vocabulary import (
    DOCUMENT_FORMS,
    DOCUMENT_STATUSES,
    IDENTITY_RESULTS,
    REVOCATION_REASONS,
    USE_WINDOW_STATES,
)
from services.router.documents.wording import chinese_date, wording
from shared import regions
from shared.catalogue import DEPARTMENT_KINDS
from shared.clock import SHANGHAI
from shared.vocabulary import Term

DEFAULT_PERIOD_MONTHS = 36
DEFAULT_USE_WITHIN_DAYS = 90
PDF_MAGIC = b"%PDF-"
PDF_HEADER_WINDOW = 1024  # readers accept the header anywhere in the first 1024 bytes


# --- Periods and validity ------------------------------------------------------------------------
def issue_day(issued_at: datetime) -> date:
    """The day a document was issued, in government time (Asia/Shanghai)."""
    return issued_at.astimezone(SHANGHAI).date()


def lookback_period(
    issued_on: date, period_months: int | None, *, default_months: int = DEFAULT_PERIOD_MONTHS
) -> tuple[date, date]:
    """The period a certificate speaks for: ``period_months`` months ending on ``issued_on``,
    both ends included (issued 2026-01-15, 36 months: 2023-01-16 to 2026-01-15)."""
    months = period_months or default_months
    if months < 1:
        raise ValueError("a look-back period has at least one month")
    return issued_on - relativedelta(months=months) + timedelta(days=1), issued_on


@dataclass(frozen=True)
class Validity:
    period_start: date
    period_end: date
    issued_on: date
    use_until: date  # the last day of the advised period of use
    use_window: Term  # USE_WINDOW_STATES: within or past

    @property
    def within_use_window(self) -> bool:
        return self.use_window.code == "within"


def validity(
    issued_at: datetime,
    period_months: int | None,
    now: datetime,
    *,
    use_within_days: int = DEFAULT_USE_WITHIN_DAYS,
    default_months: int = DEFAULT_PERIOD_MONTHS,
) -> Validity:
    issued_on = issue_day(issued_at)
    start, end = lookback_period(issued_on, period_months, default_months=default_months)
    use_until = issued_on + timedelta(days=use_within_days)
    past = now.astimezone(SHANGHAI).date() > use_until
    return Validity(start, end, issued_on, use_until, USE_WINDOW_STATES["past" if past else "within"])


# --- Masking -------------------------------------------------------------------------------------
MASK_KEEP_START = 2
MASK_KEEP_END = 4


def mask_uscc(uscc: str) -> str:
    """``91440112MA5D2XJ39A`` → ``91************J39A`` (see the module's docstring). Anything
    not 18 characters long is hidden whole, so a malformed record leaks nothing."""
    value = uscc.strip().upper()
    if len(value) != 18:
        return "*" * len(value)
    return value[:MASK_KEEP_START] + "*" * (18 - MASK_KEEP_START - MASK_KEEP_END) + value[-MASK_KEEP_END:]


# --- Status --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status:
    term: Term  # DOCUMENT_STATUSES: valid or revoked
    revoked_at: datetime | None = None
    revoked_on: date | None = None  # the day, Asia/Shanghai
    reason: Term | None = None  # REVOCATION_REASONS

    @property
    def revoked(self) -> bool:
        return self.term.code == "revoked"


def status(revoked_at: datetime | None, reason: str | None = None) -> Status:
    """有效, or 已撤销 with its day and reason class (an unknown class reads as 其他)."""
    if revoked_at is None:
        return Status(DOCUMENT_STATUSES["valid"])
    return Status(
        DOCUMENT_STATUSES["revoked"],
        revoked_at=revoked_at,
        revoked_on=issue_day(revoked_at),
        reason=REVOCATION_REASONS.get(reason or "other", REVOCATION_REASONS["other"]),
    )


# --- Byte identity -------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadRefused(ValueError):
    """An upload that cannot be compared (a 422 naming the field ``file``)."""

    code: str  # file_empty, file_too_large, file_not_pdf
    zh: str
    en: str

    def __str__(self) -> str:
        return self.en


def check_pdf_upload(data: bytes, max_bytes: int) -> None:
    """Refuse what is empty, larger than ``max_bytes`` or not a PDF (no ``%PDF-`` header in its
    first 1024 bytes). Phase B should stop reading a body at ``max_bytes + 1`` bytes."""
    if not data:
        raise UploadRefused("file_empty", "上传的文件是空的", "The uploaded file is empty")
    if len(data) > max_bytes:
        mib = max_bytes / (1024 * 1024)
        raise UploadRefused(
            "file_too_large",
            f"文件超过 {mib:g} MB，无法核验",
            f"The file is larger than {mib:g} MB and cannot be checked",
        )
    if PDF_MAGIC not in data[:PDF_HEADER_WINDOW]:
        raise UploadRefused("file_not_pdf", "只能核验 PDF 文件", "Only PDF files can be checked")


@dataclass(frozen=True)
class IdentityCheck:
    identical: bool
    sha256: str  # of the uploaded bytes
    result: Term  # IDENTITY_RESULTS


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compare_upload(registered_sha256: str, data: bytes) -> IdentityCheck:
    """Whether ``data`` is byte for byte the registered file (its SHA-256 is the registered one)."""
    digest = sha256_hex(data)
    same = hmac.compare_digest(digest, registered_sha256.strip().lower())
    return IdentityCheck(same, digest, IDENTITY_RESULTS["identical" if same else "different"])


# --- The record and what the public sees ---------------------------------------------------------
@dataclass(frozen=True)
class IssuedDocument:
    """What xiaoer registers about a document it issued (phase B keeps it in the router's tables)."""

    code: str  # canonical 核验码
    form: str  # DOCUMENT_FORMS: certificate (xiaoer wrote and signed it) or verification_slip
    kind: str  # department kind (shared.catalogue)
    document_number: str  # 文号
    unit_code: str
    unit_name: str
    unit_region_code: str
    subject_name: str
    subject_uscc: str
    issued_at: datetime
    period_months: int | None
    sha256: str  # of the registered file: the signed certificate, or the unit's own PDF
    revoked_at: datetime | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True)
class VerificationView:
    """The public verification of one document (page and JSON), Chinese first."""

    code: str  # grouped, as printed
    form: Term
    kind: Term
    title: str
    document_number: str
    unit_name: str
    unit_region_code: str
    unit_region_name: str
    subject_name: str
    subject_uscc_masked: str
    validity: Validity
    sha256: str
    status: Status
    notes: list[str] = field(default_factory=list)  # what a reader should notice, in Chinese


def public_view(
    doc: IssuedDocument,
    now: datetime,
    *,
    use_within_days: int = DEFAULT_USE_WITHIN_DAYS,
    default_months: int = DEFAULT_PERIOD_MONTHS,
) -> VerificationView:
    valid = validity(
        doc.issued_at, doc.period_months, now, use_within_days=use_within_days, default_months=default_months
    )
    state = status(doc.revoked_at, doc.revocation_reason)
    notes = []
    if state.revoked and state.revoked_on and state.reason:
        notes.append(f"该文件已于{chinese_date(state.revoked_on)}撤销（{state.reason.zh}），不再有效。")
    elif not valid.within_use_window:
        notes.append(f"该文件出具已超过 {use_within_days} 天，超出建议使用期；文件本身真实有效，是否接受由使用方决定。")
    kind = DEPARTMENT_KINDS.get(doc.kind) or Term(doc.kind, doc.kind, doc.kind)
    return VerificationView(
        code=codes.group(doc.code),
        form=DOCUMENT_FORMS.get(doc.form) or Term(doc.form, doc.form, doc.form),
        kind=kind,
        title=wording(doc.kind).title,
        document_number=doc.document_number,
        unit_name=doc.unit_name,
        unit_region_code=doc.unit_region_code,
        unit_region_name=regions.full_name(doc.unit_region_code),
        subject_name=doc.subject_name,
        subject_uscc_masked=mask_uscc(doc.subject_uscc),
        validity=valid,
        sha256=doc.sha256,
        status=state,
        notes=notes,
    )


# --- Rate limit ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    retry_after: int = 0  # whole seconds to wait when refused (≥ 1), 0 when allowed

    @property
    def headers(self) -> dict[str, str]:
        """The response headers of a refusal (429): ``Retry-After``."""
        return {"Retry-After": str(self.retry_after)} if not self.allowed else {}


def _async_storage(uri: str) -> Storage:
    storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
    assert isinstance(storage, Storage)
    return storage


class LookupLimiter:
    """Per-client limits on verification lookups (the ``limits`` library, moving windows).

    ``await limiter.lookup(client)`` counts one lookup and says whether it may go ahead; after
    a lookup of a code that does not exist, ``await limiter.miss(client)`` counts a miss too.
    A client over either limit is refused until its oldest counted lookup (or miss) leaves the
    window: ``retry_after`` is that wait, for the 429's ``Retry-After``. ``client`` is whatever
    identifies a caller (the client address, or a signed-in reader's id)."""

    def __init__(
        self,
        lookups: str = "30/minute;300/hour",
        misses: str = "10/minute;50/hour",
        storage_uri: str = "memory://",
        *,
        clock=time.time,
    ) -> None:
        self.lookups: list[RateLimitItem] = parse_many(lookups)
        self.misses: list[RateLimitItem] = parse_many(misses)
        self._limiter = MovingWindowRateLimiter(_async_storage(storage_uri))
        self._clock = clock  # the storage's clock: limits' storages read time.time()

    @classmethod
    def from_settings(cls, settings: DocumentSettings) -> LookupLimiter:
        return cls(
            settings.verification_rate_limit,
            settings.verification_miss_limit,
            settings.verification_rate_limit_storage,
        )

    async def _wait(self, item: RateLimitItem, client: str, namespace: str) -> int:
        stats = await self._limiter.get_window_stats(item, namespace, client)
        return max(1, math.ceil(stats.reset_time - self._clock()))

    async def lookup(self, client: str) -> LimitDecision:
        for item in self.misses:
            if not await self._limiter.test(item, "verification-miss", client):
                return LimitDecision(False, await self._wait(item, client, "verification-miss"))
        for item in self.lookups:
            if not await self._limiter.test(item, "verification", client):
                return LimitDecision(False, await self._wait(item, client, "verification"))
        for item in self.lookups:
            await self._limiter.hit(item, "verification", client)
        return LimitDecision(True)

    async def miss(self, client: str) -> None:
        for item in self.misses:
            await self._limiter.hit(item, "verification-miss", client)
