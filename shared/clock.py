"""Time as xiaoer keeps it: instants are stored in UTC; government time is Asia/Shanghai, so
deadlines are computed and times are shown there (DOMAIN.md, "Working days in China")."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)
