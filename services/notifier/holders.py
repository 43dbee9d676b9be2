"""Every unit that held a work item, kept on its SLA record (``sla_records.holders``) as its events
come: when each unit received it, its 签收 deadline then, when it signed, and when and how it let
go — returned to the coordinating office (退回), transferred to another unit (转办), dispatched on
by the coordinator — or the item ended with it. The unit statistics give every holder a row, so a
unit that returned or transferred an item is counted for doing so (stats.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared import events

from .models import SlaRecord

# How a unit lets an item go.
RETURNED, TRANSFERRED, DISPATCHED = "returned", "transferred", "dispatched"
ENDING = (
    events.WorkItemResolved,
    events.WorkItemClosed,
    events.WorkItemCancelled,
    events.WorkItemReturnedToEnterprise,
)


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _let_go_how(event: events.WorkItemEvent) -> str:
    if isinstance(event, events.WorkItemReturned):
        return RETURNED
    if isinstance(event, events.WorkItemDispatched) and not event.restarts_clock:
        return TRANSFERRED
    return DISPATCHED


def follow(record: SlaRecord, event: events.WorkItemEvent) -> None:
    """Notes on ``record`` what ``event`` (applied to its clocks just now) says about who holds it."""
    holders = [dict(h) for h in record.holders or []]
    current = holders[-1] if holders and holders[-1].get("left_at") is None else None
    at = event.occurred_at.isoformat()
    if current is None or current["unit_code"] != event.unit_code:
        if current is not None:
            current["left_at"], current["left_how"] = at, _let_go_how(event)
        current = {
            "unit_code": event.unit_code,
            "unit_name": event.unit_name,
            "region_code": event.region_code,
            "received_at": at,
            "acknowledge_due_at": _iso(record.acknowledge_due_at),
            "acknowledged_at": None,
            "left_at": None,
            "left_how": None,
            "ended_at": None,
        }
        holders.append(current)
    if isinstance(event, events.WorkItemAcknowledged):
        current["acknowledged_at"] = at
    elif isinstance(event, ENDING):
        current["ended_at"] = current.get("ended_at") or at
    elif isinstance(event, events.WorkItemReopened):
        current["ended_at"] = None
    record.holders = holders


@dataclass(frozen=True)
class Holding:
    """One unit's hold of one item: what the unit is judged on for it. While the unit still holds
    the item (``current``), the record's clocks and result are its own."""

    unit_code: str
    unit_name: str
    region_code: str
    received_at: datetime
    acknowledge_due_at: datetime | None
    acknowledged_at: datetime | None
    let_go: str | None  # returned · transferred · dispatched
    ended_at: datetime | None  # when it let go or the item ended with it
    record: SlaRecord

    @property
    def current(self) -> bool:
        return self.let_go is None


def _at(text: str | None) -> datetime | None:
    if not text:
        return None
    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def holdings_of(record: SlaRecord) -> list[Holding]:
    """The record's holders as holdings; a record from before holders were kept has one, its unit."""
    holders = record.holders or [
        {
            "unit_code": record.unit_code,
            "unit_name": record.unit_name,
            "region_code": record.region_code,
            "received_at": _iso(record.dispatched_at),
            "acknowledge_due_at": _iso(record.acknowledge_due_at),
            "acknowledged_at": _iso(record.acknowledged_at),
        }
    ]
    return [
        Holding(
            unit_code=h["unit_code"],
            unit_name=h["unit_name"],
            region_code=h["region_code"],
            received_at=_at(h["received_at"]),
            acknowledge_due_at=_at(h.get("acknowledge_due_at")),
            acknowledged_at=_at(h.get("acknowledged_at")),
            let_go=h.get("left_how"),
            ended_at=_at(h.get("left_at")) or _at(h.get("ended_at")),
            record=record,
        )
        for h in holders
    ]
