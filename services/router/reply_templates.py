"""A unit's reply templates (常用语, issue 29): texts for 补正 and 退回 its lead (科长) keeps and its
clerks fill in, each with placeholders such as {企业名称} that are filled from the item at hand.
The placeholders are ``vocabulary.TEMPLATE_PLACEHOLDERS``; which value each takes is here."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared import catalogue
from shared.clock import utcnow
from shared.validation import bilingual_error
from shared.vocabulary import REPLY_TEMPLATE_KINDS, TEMPLATE_PLACEHOLDERS

from .models import Base, RoutedRequest, WorkItem

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
BODY_MAX = 1000  # 退回's reason holds 1000 characters (补正's note 2000): a template fits either


class ReplyTemplate(Base):
    """One text of a unit for one kind of move; read by the unit's clerks, written by its lead."""

    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("department_units.unit_code"), index=True)
    kind: Mapped[str] = mapped_column(String(20), comment="supplement | return (vocabulary.REPLY_TEMPLATE_KINDS)")
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, comment="the text, with placeholders such as {企业名称}")
    updated_by: Mapped[str] = mapped_column(String(120), comment="the lead who wrote it last (token sub)")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _known_placeholders(body: str) -> str:
    """Every {…} names a placeholder of the vocabulary; a brace outside one is a typo to point at."""
    unknown = [name for name in PLACEHOLDER.findall(body) if name not in TEMPLATE_PLACEHOLDERS]
    known = "、".join("{" + code + "}" for code in TEMPLATE_PLACEHOLDERS)
    if unknown:
        shown = "、".join("{" + name + "}" for name in dict.fromkeys(unknown))
        raise bilingual_error(
            "placeholder_unknown",
            f"未知的占位符：{shown}；可用的占位符：{known}",
            f"Unknown placeholder: {shown}; the placeholders are {known}",
        )
    if "{" in PLACEHOLDER.sub("", body) or "}" in PLACEHOLDER.sub("", body):
        raise bilingual_error(
            "placeholder_unclosed",
            f"花括号只用于占位符，且须成对：{known}",
            f"Braces only enclose placeholders, in pairs: {known}",
        )
    return body


TemplateKind = Literal[tuple(REPLY_TEMPLATE_KINDS)]  # type: ignore[valid-type]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: TemplateKind = Field(description="supplement 补正 · return 退回")  # type: ignore[valid-type]
    title: str = Field(min_length=1, max_length=100, description="what the clerk picks it by")
    body: Annotated[str, AfterValidator(_known_placeholders)] = Field(
        min_length=1,
        max_length=BODY_MAX,
        description="the text; placeholders " + " ".join("{" + c + "}" for c in TEMPLATE_PLACEHOLDERS),
    )


class TemplateOut(BaseModel):
    id: int
    unit_code: str
    kind: str
    title: str
    body: str
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, row: ReplyTemplate) -> TemplateOut:
        return cls(
            id=row.id,
            unit_code=row.unit_code,
            kind=row.kind,
            title=row.title,
            body=row.body,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )


class FilledTemplateOut(BaseModel):
    """A template as one item reads it: every placeholder filled with the item's value."""

    id: int
    kind: str
    title: str
    text: str


def placeholder_values(item: WorkItem, request: RoutedRequest) -> dict[str, str]:
    """What each placeholder says for ``item`` (in Chinese: the texts go to the enterprise)."""
    found = catalogue.REQUEST_TYPES.get(request.request_type)
    term = next((t for t in found.items if t.code == item.item), None) if found else None
    return {"企业名称": item.subject_name, "事项": term.zh if term else item.item, "诉求编号": request.reference_no}


def fill(body: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)
