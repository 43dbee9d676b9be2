"""The notifier's gauges for whoever watches the deadlines (deploy/prometheus/alerts.yml, the
Grafana board): open work items past the deadline that counts now, per region (超期), and items
waiting for their unit's 签收, per unit, with those already late for it.

The scheduler refreshes them on its tick, at most every ``REFRESH_SECONDS``: two GROUP BY queries
over the open items. Every notifier worker reports the same figures (they read one database), so
rules take ``max by (region)`` / ``max by (unit)``. A region or unit whose items are all done
reads 0, not nothing, so a graph falls to 0 rather than stopping."""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.vocabulary import OPEN_STATES

from .models import SlaRecord

REFRESH_SECONDS = 30.0
WAITING_FOR_ACKNOWLEDGEMENT = "dispatched"  # 待签收

SLA_OVERDUE = Gauge(
    "xiaoer_sla_overdue_items", "Open work items past the deadline that counts now, by the unit's region", ["region"]
)
ACKNOWLEDGE_BACKLOG = Gauge("xiaoer_acknowledge_backlog_items", "Work items waiting for the unit's 签收", ["unit"])
ACKNOWLEDGE_OVERDUE = Gauge(
    "xiaoer_acknowledge_overdue_items", "Work items waiting for the unit's 签收 past its deadline", ["unit"]
)
_last_refresh = float("-inf")
_reported: dict[Gauge, set[str]] = {SLA_OVERDUE: set(), ACKNOWLEDGE_BACKLOG: set(), ACKNOWLEDGE_OVERDUE: set()}


async def refresh(sessions: async_sessionmaker[AsyncSession], now: datetime, *, force: bool = False) -> bool:
    """Recounts the gauges as of ``now`` unless they were counted less than ``REFRESH_SECONDS``
    ago (``force``: count anyway). True when it counted."""
    global _last_refresh
    if not force and time.monotonic() - _last_refresh < REFRESH_SECONDS:
        return False
    overdue = SlaRecord.is_overdue(now)
    async with sessions() as session:
        by_region = await session.execute(
            select(SlaRecord.region_code, func.count().filter(overdue))
            .where(SlaRecord.state.in_(OPEN_STATES))
            .group_by(SlaRecord.region_code)
        )
        by_unit = (
            await session.execute(
                select(SlaRecord.unit_code, func.count(), func.count().filter(overdue))
                .where(SlaRecord.state == WAITING_FOR_ACKNOWLEDGEMENT)
                .group_by(SlaRecord.unit_code)
            )
        ).all()
    _report(SLA_OVERDUE, {region: late for region, late in by_region})
    _report(ACKNOWLEDGE_BACKLOG, {unit: waiting for unit, waiting, _ in by_unit})
    _report(ACKNOWLEDGE_OVERDUE, {unit: late for unit, _, late in by_unit})
    _last_refresh = time.monotonic()
    return True


def _report(gauge: Gauge, values: dict[str, int]) -> None:
    for label in _reported[gauge] - values.keys():
        gauge.labels(label).set(0)
    for label, value in values.items():
        gauge.labels(label).set(value)
    _reported[gauge] |= values.keys()
