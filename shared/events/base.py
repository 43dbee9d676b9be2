"""What every event is made of: the CloudEvent body base, and the subject, actor and file they name."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.vocabulary import ROLES


class Event(BaseModel):
    """The body of one CloudEvent. Subclasses set ``ce_type``; unknown fields are refused so a
    producer's typo is caught by the consumer (and lands in the DLQ) instead of being ignored."""

    model_config = ConfigDict(extra="forbid")
    ce_type: ClassVar[str]


class Subject(BaseModel):
    """An entity a certificate or answer is about: the enterprise itself or a subsidiary."""

    model_config = ConfigDict(extra="forbid")
    uscc: str
    name: str
    region_code: str


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
