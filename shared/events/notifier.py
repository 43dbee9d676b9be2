"""notifier → intake, router and anyone: deadlines and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Event


# --- notifier → intake ----------------------------------------------------------------------------
class SlaUpdated(Event):
    """A work item's deadlines after its clock started, paused, resumed or was extended."""

    ce_type: ClassVar[str] = "cn.xiaoer.sla.updated"
    work_item_id: str
    request_id: str
    acknowledge_due_at: datetime
    resolve_due_at: datetime | None = Field(description="null while the clock is paused")
    paused: bool = False


# --- notifier → anyone ---------------------------------------------------------------------------------
class NotificationSent(Event):
    """A notification the notifier issued (reminder, 催办, 督办, 通报, progress news), for
    dashboards and department systems that prefer to listen rather than be called."""

    ce_type: ClassVar[str] = "cn.xiaoer.notification.sent"
    notification_id: int
    kind: str
    work_item_id: str | None = None
    recipient_kind: Literal["unit", "leadership", "supervisor", "enterprise"]
    recipient_key: str
    title: str
    body: str
    urgent: bool = False
    occurred_at: datetime
