"""证明替代率's department items are counted at every flush (models._count_certificates) per Chinese
day of dispatch and subject region, and ``substitution.figures_in`` adds those days up: a day starts
at 16:00 UTC, several flushes of one transaction add up, a withdrawal takes its item off again, and
a savepoint rolled back takes its part back. On the session's notifier database, written through
the ORM as the notifier's consumers write; a day long past and a region of its own keep it apart
from every other test's items."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.notifier import substitution
from services.notifier.models import CertificateDayCounts, SlaRecord
from shared.clock import day_of, day_start, utcnow

REGION = "650102"  # 乌鲁木齐市天山区: no other test's subject is there


def certificate_item(dispatched_at: datetime) -> SlaRecord:
    return SlaRecord(
        work_item_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference_no="XE-20200101-000001",
        request_type="compliance_certificate",
        department_kind="tax",
        unit_code="650102.tax",
        unit_name="天山区税务局",
        region_code="650102",
        subject_name="天山测试企业",
        subject_region=REGION,
        state="dispatched",
        dispatched_at=dispatched_at,
        acknowledge_due_at=dispatched_at + timedelta(days=1),
        policy={},
        counted_as=None,
    )


async def test_flushes_count_per_chinese_day_and_the_figures_add_up_the_days_asked(system):
    sessions = system.runtimes["notifier"].sessions
    day = day_of(utcnow()) - timedelta(days=3650)  # long past: no other test's items are on it
    first_instant, next_day = day_start(day).astimezone(UTC), day + timedelta(days=1)  # in UTC, as events carry it
    eve = first_instant - timedelta(seconds=1)  # 15:59:59 UTC: still the day before in China
    last_second = day_start(next_day).astimezone(UTC) - timedelta(seconds=1)

    async with sessions() as session, session.begin():
        withdrawn = certificate_item(last_second)
        session.add_all([withdrawn, certificate_item(eve)])
        await session.flush()  # the first flush
        withdrawn.state = "cancelled"
        session.add(certificate_item(first_instant))
        await session.flush()  # the second: one item withdrawn, one more added
        rolled_back = await session.begin_nested()
        session.add(certificate_item(first_instant))
        await session.flush()
        await rolled_back.rollback()

    async with sessions() as session:
        rows = await session.execute(
            select(CertificateDayCounts.day, CertificateDayCounts.items).where(
                CertificateDayCounts.subject_region == REGION,
                CertificateDayCounts.day.between(day - timedelta(days=1), next_day),
            )
        )
        kept = dict(rows.all())
        asked = {
            "the day": await substitution.figures_in(session, day, next_day, REGION),
            "the day before": await substitution.figures_in(session, day - timedelta(days=1), day, REGION),
            "both": await substitution.figures_in(session, day - timedelta(days=1), next_day, "650000"),
            "the day after": await substitution.figures_in(session, next_day, next_day + timedelta(days=1), REGION),
        }

    assert kept == {day - timedelta(days=1): 1, day: 1}, "the withdrawn item and the rolled-back one count 0"
    departments = {name: figures["total"]["by_departments"] for name, figures in asked.items()}
    assert departments == {"the day": 1, "the day before": 1, "both": 2, "the day after": 0}
    # Counted in the subject's province and city (asked for 新疆: both are within it).
    assert [(r["region_code"], r["by_departments"]) for r in asked["both"]["regions"]] == [("650000", 2), ("650100", 2)]
