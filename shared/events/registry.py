"""router → notifier: the department registry, and how to reach each unit and supervising office."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event


class Contact(BaseModel):
    """How one person or system of a unit (or supervising office) is reached."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["clerk", "leadership"] = "clerk"
    name: str | None = None
    email: str | None = None
    webhook: str | None = None
    wechat_openid: str | None = None


class UnitRegistered(Event):
    """A unit as the registry now has it (created, changed or deactivated), with its contacts:
    the notifier tells exactly these contacts about the unit's items."""

    ce_type: ClassVar[str] = "cn.xiaoer.unit.registered"
    unit_code: str
    name: str
    kind: str
    region_code: str
    active: bool
    supervising_office: str | None = None
    contacts: list[Contact] = []
    phone: str | None = None  # the unit's public telephone, shown to enterprises on their items
    office_hours: str | None = None  # when that telephone is answered
    occurred_at: datetime


class SupervisingOfficeRegistered(Event):
    """A region's supervising office (督办) and how it is reached."""

    ce_type: ClassVar[str] = "cn.xiaoer.supervisor.registered"
    region_code: str
    name: str
    contacts: list[Contact] = []
    occurred_at: datetime
