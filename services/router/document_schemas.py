"""Bodies of the documents' HTTP API (issue 27): revocations and share links."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from shared.vocabulary import REVOCATION_REASONS

from .schemas import Strict

MAX_SHARED = 50


class RevocationIn(Strict):
    reason_class: Literal[tuple(REVOCATION_REASONS)] = Field(  # type: ignore[valid-type]
        description="content_error 内容有误 · duplicate 重复出具 · revoked_by_law 依法撤销 · other 其他"
    )
    reason: str = Field(min_length=1, max_length=1000, description="the unit's own words (kept on its record)")
    reopen: bool = Field(False, description="重办: the item reopens for the unit to issue again")


class ShareIn(Strict):
    codes: list[str] = Field(min_length=1, max_length=MAX_SHARED, description="核验码 of the documents to share")
    expires_in_days: int = Field(ge=1, le=90)
    note: str | None = Field(None, max_length=200, description="for whom, e.g. the 保荐机构's name")


# --- What the public verification answers (OpenAPI; document_views.public_json builds it) ----------
class UnitOut(BaseModel):
    code: str
    name: str
    region_code: str
    region_name: str


class SubjectOut(BaseModel):
    name: str
    uscc_masked: str = Field(description="first 2 and last 4 characters kept: 91************J39A")


class PeriodOut(BaseModel):
    start: date
    end: date


class VerificationOut(BaseModel):
    code: str = Field(description="grouped for reading: 7KQ4-M2XA-9HTR-C3VB")
    status: Literal["valid", "revoked"]
    status_name: str = Field(description="有效 | 已撤销")
    status_name_en: str
    form: Literal["certificate", "verification_slip"]
    form_name: str = Field(description="证明 | 核验单")
    title: str = Field(description="the certificate's title, e.g. 无违法违规证明")
    unit: UnitOut
    document_number: str = Field(description="文号")
    kind: str
    kind_name: str
    kind_name_en: str
    subject: SubjectOut
    issued_on: date
    valid_until: date = Field(description="the last day of the advised period of use")
    use_window: Literal["within", "past"]
    use_window_name: str = Field(description="在建议使用期内 | 超出建议使用期")
    period: PeriodOut = Field(description="the look-back period the certificate speaks for")
    sha256: str = Field(description="of the registered file: the signed certificate, or the unit's own PDF")
    revoked_on: date | None
    revocation_reason_class: str | None
    revocation_reason_name: str | None
    revocation_reason_name_en: str | None
    notes: list[str] = Field(description="what a reader should notice, in Chinese")
    verify_url: str


class FileCheckOut(BaseModel):
    match: bool
    message: str = Field(description="与登记的文件一致 | 与登记的文件不一致")
    message_en: str
    sha256: str = Field(description="of the uploaded file")
    registered_sha256: str


class WalletRowOut(VerificationOut):
    item_id: str
    request_id: str
    subject_uscc: str
    file_name: str
    download: str
    slip_download: str | None
    expired: bool
    expiring_soon: bool = Field(description="within 14 days before valid_until")
