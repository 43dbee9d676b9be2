"""What every event is made of: the CloudEvent body base, and the subject, actor and file they name."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.vocabulary import ROLES, SUBJECT_PROOFS


class Event(BaseModel):
    """The body of one CloudEvent. Subclasses set ``ce_type``; unknown fields are refused so a
    producer's typo is caught by the consumer (and lands in the DLQ) instead of being ignored."""

    model_config = ConfigDict(extra="forbid")
    ce_type: ClassVar[str]


class Actor(BaseModel):
    """Who made a move: a person (role, id and name from their token), a department's system
    (over Kafka), or xiaoer itself (role ``system``)."""

    model_config = ConfigDict(extra="forbid")
    role: str
    id: str
    name: str | None = None
    unit: str | None = Field(None, description="the unit a department clerk or system acts for")

    @property
    def label(self) -> str:
        """How a person reads it, e.g. ``李四（部门）``."""
        return f"{self.name or self.id}（{ROLES.zh(self.role)}）"

    @property
    def label_en(self) -> str:
        """The same in English, e.g. ``李四 (Department)``."""
        return f"{self.name or self.id} ({ROLES.name(self.role, 'en')})"

    @property
    def ref(self) -> str:
        """How audit columns record who did it, e.g. ``department:staff:440112.tax``."""
        return f"{self.role}:{self.id}"


class FileRef(BaseModel):
    """A stored file as every service refers to it: the content lives in the shared file store
    under ``sha256``; each service's own tables say who may read it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    content_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SubjectProof(BaseModel):
    """How a request proves that its applicant may ask about a subject: it is the applicant
    itself, the enterprise-group registry relates them, or the subject's 授权委托书 came with it."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal[tuple(SUBJECT_PROOFS)]  # type: ignore[valid-type]
    authorization: FileRef | None = Field(None, description="the subject's 授权委托书 (PDF), when that is the proof")


class Subject(BaseModel):
    """An entity a certificate or answer is about: the enterprise itself or a subsidiary."""

    model_config = ConfigDict(extra="forbid")
    uscc: str
    name: str
    region_code: str
    proof: SubjectProof | None = Field(None, description="how the applicant may ask about it (null before issue 25)")
