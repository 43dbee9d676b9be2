"""Bodies of the documents' HTTP API (issue 27): revocations and share links."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
