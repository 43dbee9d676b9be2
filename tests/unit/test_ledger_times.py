"""The ledger shows an instant as its minute in Asia/Shanghai, each minute written once
(services/intake/ledger.py ``local_minute``): whatever the seconds, before 1970 or far ahead."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.intake import ledger
from shared.clock import SHANGHAI


def shown(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def test_an_instant_is_shown_as_its_minute_in_shanghai():
    edges = [
        datetime(2026, 12, 31, 15, 59, 59, 999_999, tzinfo=UTC),  # the last instant of 2026 in Shanghai
        datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 58, 59, 500_000, tzinfo=UTC),  # before the epoch, with a fraction
        datetime(1988, 4, 10, 18, 30, tzinfo=UTC),  # Shanghai's summer time of 1986–91
        datetime(9999, 12, 31, 15, 59, 59, 999_999, tzinfo=UTC),
    ]
    start, span = datetime(1901, 1, 1, tzinfo=UTC), timedelta(days=365 * 190).total_seconds()
    drawn = [start + timedelta(seconds=random.uniform(0, span)) for _ in range(5000)]
    assert [ledger.local_minute(t) for t in edges + drawn] == [shown(t) for t in edges + drawn]
    assert ledger.local_minute(None) == ""
