"""内部批注's HTTP contract (issue 29): a note on a work item between supervisors and the unit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.validation import bilingual_error


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=2000, description="内部批注: for supervisors and the unit only")

    @field_validator("body")
    @classmethod
    def _not_blank(cls, body: str) -> str:
        if not body.strip():
            raise bilingual_error("text_blank", "请填写批注内容", "Write the comment")
        return body.strip()


class CommentOut(BaseModel):
    """内部批注 on a work item: staff only (the enterprise never reads it)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    work_item_id: str
    body: str
    author_name: str | None
    author_role: str
    author_role_name: str = Field(description="督办人员 · 部门 …")
    author_unit: str | None
    author_unit_name: str | None
    at: datetime
