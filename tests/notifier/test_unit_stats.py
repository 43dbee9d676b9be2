"""Row 7 of issue 25, statistics that add up, on the real notifier: every unit that held an item
has a row — the one that transferred it, the one that returned it, the coordinating office that
dispatched it on — and is counted for what it did; 签收及时率 counts only items signed or past
their 签收 limit, 按时办结率 only items finished or overdue; 合计 is the rows added up; the
definitions come with the table; the CSV export speaks Chinese. Events carry instants of
November 2025 and the figures are read at a fixed instant."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.notifier import day_counts, stats
from services.notifier.models import SlaRecord, UnitDayCounts, UnitMonthCounts
from shared import events
from shared.clock import SHANGHAI, fix_reading_now, utcnow
from shared.messaging.encoding import encode
from tests.support import MINGLUO, eventually

REGION = "310115"
PERIOD = {"from": "2025-10-01", "to": "2025-12-01", "region": REGION}


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-{text}+08:00")


class Item:
    """A work item moved by publishing the router's events; ``unit`` is where the next event says it is."""

    def __init__(self, system, producer, unit: str):
        self.system, self.producer, self.unit = system, producer, unit
        self.id, self.request_id, self.version = str(uuid.uuid4()), str(uuid.uuid4()), 0

    async def send(self, model, when: str | datetime, state: str, **extra):
        self.version += 1
        event = model(
            work_item_id=self.id,
            request_id=self.request_id,
            reference_no="XE-20251103-000099",
            request_type="compliance_certificate",
            item="tax",
            department_kind="tax",
            unit_code=self.unit,
            unit_name=extra.pop("unit_name", f"测试单位 {self.unit}"),
            region_code=self.unit.split(".")[0],  # the unit's region: its code's first part
            subject_uscc=MINGLUO,
            subject_name="明珞(上海)科技有限公司",
            enterprise_uscc=MINGLUO,
            state=state,
            occurred_at=when if isinstance(when, datetime) else at(when),
            version=self.version,
            **extra,
        )
        message = encode(event, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, key=self.request_id)
        await self.producer.send_and_wait(
            message.topic, message.value, key=message.key.encode(), headers=message.kafka_headers()
        )

    async def dispatch(self, when: str | datetime, unit: str, **extra):
        self.unit = unit
        await self.send(
            events.WorkItemDispatched, when, "dispatched", rule_id=None, rule_version=None, routing_reason="t", **extra
        )


@pytest.fixture
async def units_of_a_week(system, producer):
    """Four units and their coordinating office through a week of November 2025."""
    tag = uuid.uuid4().hex[:6]
    first, second, third = (f"{REGION}.tax.s{tag}{n}" for n in (1, 2, 3))
    coordinator = f"{REGION}.coordinator"
    transferred, returned, fresh, overdue = (Item(system, producer, first) for _ in range(4))
    # Signed by the first unit, transferred to the second, which signs and resolves it in time.
    await transferred.dispatch("11-03T10:00", first)
    await transferred.send(events.WorkItemAcknowledged, "11-03T11:00", "acknowledged")
    await transferred.dispatch("11-03T15:00", second, previous_unit_code=first, restarts_clock=False)
    await transferred.send(events.WorkItemAcknowledged, "11-04T09:30", "acknowledged")
    resolution = {"outcome": "issued", "document_no": "沪税证〔2025〕1号"}
    await transferred.send(events.WorkItemResolved, "11-04T11:00", "resolved", resolution=resolution)
    # Returned unsigned by the first unit before its 签收 limit; the coordinator sends it to the third.
    await returned.dispatch("11-03T10:00", first)
    returned.unit = coordinator
    await returned.send(events.WorkItemReturned, "11-03T16:00", "returned", returned_by=first)
    await returned.dispatch("11-04T10:00", third, previous_unit_code=coordinator)
    # Given to the first unit the day before the figures are read: its 签收 limit is still ahead.
    await fresh.dispatch("11-04T10:00", first)
    # The second unit's item of the week before, signed and not resolved: past its limit now.
    await overdue.dispatch("10-27T10:00", second)
    await overdue.send(events.WorkItemAcknowledged, "10-27T11:00", "acknowledged")
    return {
        "first": first,
        "second": second,
        "third": third,
        "coordinator": coordinator,
        "items": [transferred, returned, fresh, overdue],
    }


async def week_table(system, units: dict, rated: int = 0) -> tuple[dict, dict]:
    """The table for PERIOD once every event of the week is applied (they come over several
    partitions, in any order), read at 11-05 12:00."""
    supervisor = system.auth("supervisor", region="310000")
    fix_reading_now(at("11-05T12:00"))
    try:

        async def table():
            shown = (await system.notifier.get("/v1/stats/units", params=PERIOD, headers=supervisor)).json()
            rows = {row["unit_code"]: row for row in shown["units"]}
            first, second = rows.get(units["first"], {}), rows.get(units["second"], {})
            ready = (
                rows.get(units["third"])
                and (second.get("received"), second.get("resolved"), second.get("rated")) == (2, 1, rated)
                # both of its items signed for: the overdue item's 签收 comes on its own partition too
                and second.get("acknowledged_on_time", 0) + second.get("acknowledged_late", 0) == 2
                and (first.get("received"), first.get("transferred"), first.get("returned")) == (3, 1, 1)
            )
            return (shown, rows) if ready else None

        return await eventually(table)
    finally:
        fix_reading_now(None)


async def test_every_unit_that_held_an_item_has_its_row_and_the_total_adds_up(system, units_of_a_week):
    units = units_of_a_week
    shown, rows = await week_table(system, units)
    first, second, third = rows[units["first"]], rows[units["second"]], rows[units["third"]]
    # The first unit: given three, transferred one, returned one (unsigned, before its limit), one
    # not yet due: only the one it signed counts for 签收及时率.
    assert (first["received"], first["transferred"], first["returned"], first["kept"]) == (3, 1, 1, 1)
    assert (first["acknowledge_counted"], first["acknowledged_on_time"], first["response_rate"]) == (1, 1, 1.0)
    assert (first["transfer_rate"], first["return_rate"]) == (0.3333, 0.3333)
    assert (first["resolve_counted"], first["on_time_rate"]) == (0, None)
    # The second: one resolved in time, one past its limit: 按时办结率 one half.
    assert (second["received"], second["resolved"], second["resolve_counted"], second["on_time_rate"]) == (2, 1, 2, 0.5)
    assert second["overdue_now"] == 1
    # The third: its 签收 limit is ahead, so nothing counts for or against it yet.
    assert (third["received"], third["acknowledge_counted"], third["response_rate"]) == (1, 0, None)
    coordinator = rows[units["coordinator"]]
    assert coordinator["received"] >= 1

    total = shown["total"]
    for field in stats.COUNTS:
        assert total[field] == sum(row[field] for row in shown["units"]), field
    assert total["response_rate"] == round(total["acknowledged_on_time"] / total["acknowledge_counted"], 4)
    definitions = {d["field"]: d for d in shown["definitions"]}
    assert (
        definitions["response_rate"]["zh"] == "签收及时率"
        and "应签收数" in definitions["response_rate"]["definition_zh"]
    )
    assert "transferred" in definitions["transfer_rate"]["definition_en"].lower()
    assert all(r["region_name"] for r in shown["regions"])


async def test_the_units_come_sorted_and_a_page_at_a_time_with_the_whole_total(system, units_of_a_week):
    """The board shows a province's units a page at a time: the notifier sorts them by the figure
    asked (those without it last, either way) and gives the page, 合计 and the count of them all."""
    units = units_of_a_week
    await week_table(system, units)
    supervisor = system.auth("supervisor", region="310000")
    fix_reading_now(at("11-05T12:00"))
    try:
        # By a rate, a handling time (every unit's picked to sort them, the page's shown) and the name.
        for sort, desc in itertools.product(("on_time_rate", "median_handling_hours", "unit_name"), (False, True)):
            asked = {**PERIOD, "sort": sort, "desc": str(desc).lower()}

            async def walked(asked=asked):
                whole = (await system.notifier.get("/v1/stats/units", params=asked, headers=supervisor)).json()
                pages = []
                for offset in range(0, whole["unit_count"] + 2, 2):
                    page = {**asked, "limit": 2, "offset": offset}
                    shown = (await system.notifier.get("/v1/stats/units", params=page, headers=supervisor)).json()
                    assert len(shown["units"]) <= 2
                    pages.append(shown)
                # Read again if another test's item moved meanwhile: every page read the same table.
                same = all((p["total"], p["unit_count"]) == (whole["total"], whole["unit_count"]) for p in pages)
                return (whole, [row for p in pages for row in p["units"]]) if same else None

            whole, paged = await eventually(walked)
            assert paged == whole["units"] and len(paged) == whole["unit_count"]
            values = [row[sort] for row in paged]
            known = [value for value in values if value is not None]
            assert known == sorted(known, reverse=desc), sort
            assert values == known + [None] * (len(values) - len(known)), "the units without the figure last"
            if sort == "on_time_rate":
                assert None in values and 0.5 in known, "the first unit (no rate yet) and the second (one half)"
            if sort == "median_handling_hours":
                assert len(known) >= 2, "units with handling times to sort (stats.UnitPage's own test: every sort)"
            for field in stats.COUNTS:  # 合计 is every unit's, whichever page is shown
                assert whole["total"][field] == sum(row[field] for row in paged), field

        wrong = await system.notifier.get(
            "/v1/stats/units", params={**PERIOD, "sort": "unit_code; drop"}, headers=supervisor
        )
        assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in wrong.json()["errors"]] == ["sort"]
    finally:
        fix_reading_now(None)


async def test_the_csv_export_has_chinese_headers_and_ends_with_the_total(system, units_of_a_week):
    supervisor = system.auth("supervisor", region="310000")

    async def exported():
        response = await system.notifier.get("/v1/stats/units", params={**PERIOD, "format": "csv"}, headers=supervisor)
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        return rows if any(units_of_a_week["third"] in row for row in rows) else None

    rows = await eventually(exported)
    assert rows[0][:5] == ["单位代码", "单位名称", "收件数", "按时签收", "超时签收"]
    assert "签收及时率" in rows[0] and "按时办结率" in rows[0] and "转办数" in rows[0]
    table = rows[: rows.index([])] if [] in rows else rows
    assert table[-1][0] == "合计"
    received = rows[0].index("收件数")
    assert int(table[-1][received]) == sum(int(row[received]) for row in table[1:-1])


async def table_for(system, units: dict, period: dict) -> list[dict]:
    """This test's units' rows for ``period`` in REGION, read at 11-05 12:00."""
    supervisor = system.auth("supervisor", region="310000")
    fix_reading_now(at("11-05T12:00"))
    try:
        shown = await system.notifier.get("/v1/stats/units", params={**period, "region": REGION}, headers=supervisor)
    finally:
        fix_reading_now(None)
    assert shown.status_code == 200, shown.text
    return mine(shown.json(), units)


async def month_rows_are_their_days_sums(scheduler, units: dict) -> None:
    """Every month row of this test's units holds the counts and hours of its days' rows."""
    ours = [units["first"], units["second"], units["third"]]
    async with scheduler.sessions() as session:
        found = await session.scalars(select(UnitMonthCounts).where(UnitMonthCounts.unit_code.in_(ours)))
        months = {(r.month, r.unit_code, r.request_type): r for r in found}
        days = list(await session.scalars(select(UnitDayCounts).where(UnitDayCounts.unit_code.in_(ours))))
    assert {key[0] for key in months} == {date(2025, 10, 1), date(2025, 11, 1)}
    for (month, unit_code, request_type), row in months.items():
        its_days = [
            d for d in days if (d.day.replace(day=1), d.unit_code, d.request_type) == (month, unit_code, request_type)
        ]
        for field in day_counts.KEPT:
            assert getattr(row, field) == sum(getattr(d, field) for d in its_days), (
                f"a month row is its days' sum: {field}"
            )
        assert sorted(day_counts._unpacked(row.hours)) == sorted(
            h for d in its_days for h in day_counts._unpacked(d.hours)
        )


def mine(table: dict, units: dict) -> list[dict]:
    """The rows of this test's own units (other tests' items share the region and may still move)."""
    return [row for row in table["units"] if row["unit_code"] in (units["first"], units["second"], units["third"])]


async def test_the_figures_are_the_same_from_the_day_counts_and_a_change_counts_at_once(system, units_of_a_week):
    """A long period's figures add up the day counts the scheduler keeps (day_counts.py) instead of
    reading every record: before and after the records are counted the table is the same, and an
    item rated after it was counted shows in the figures at once, and again once counted anew."""
    units = units_of_a_week
    scheduler = system.runtimes["notifier"].scheduler
    before, _ = await week_table(system, units)
    # Periods of whole months (PERIOD), whole months and days around them, and days only.
    others = ({"from": "2025-10-27", "to": "2025-12-01"}, {"from": "2025-10-01", "to": "2025-11-04"})
    others += ({"from": "2025-10-26", "to": "2025-11-04"},)
    others_before = [await table_for(system, units, period) for period in others]
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    async with scheduler.sessions() as session:
        of_this_test = SlaRecord.unit_code.in_([units["first"], units["second"], units["third"], units["coordinator"]])
        uncounted = await session.scalar(select(func.count()).where(~SlaRecord.counted, of_this_test))
        kept = {
            (row.unit_code, row.received, row.resolved, row.transferred, row.open_now)
            for row in await session.scalars(select(UnitDayCounts).where(UnitDayCounts.region_code == REGION))
        }
    assert uncounted == 0
    assert (units["second"], 1, 1, 0, 0) in kept, "the item the second unit resolved is in its day's counts"
    assert (units["first"], 2, 0, 1, 0) in kept, "and the two the first unit let go on 11-03 (one still open)"
    assert (units["first"], 1, 0, 0, 1) in kept, "open items are counted too: the first unit's of 11-04"
    assert (units["second"], 1, 0, 0, 1) in kept, "and the second unit's, overdue when read"
    # Counted now (in 2026), read at 11-05: the open items' 签收 and 办结 limits and being overdue
    # are counted at the reading, not as they were when counted (stats.MOVING).
    after, _ = await week_table(system, units)
    assert mine(after, units) == mine(before, units)
    assert [await table_for(system, units, period) for period in others] == others_before
    await month_rows_are_their_days_sums(scheduler, units)

    transferred = units["items"][0]
    await transferred.send(events.WorkItemClosed, "11-05T09:00", "closed", score=5)
    rated, rows = await week_table(system, units, rated=1)
    assert (rows[units["second"]]["satisfied"], rows[units["second"]]["satisfaction_rate"]) == (1, 1.0)
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    assert mine((await week_table(system, units, rated=1))[0], units) == mine(rated, units)
    await month_rows_are_their_days_sums(scheduler, units)


async def test_the_trend_gives_each_weeks_total_in_one_call(system, units_of_a_week):
    """The board's trend (GET /v1/stats/trend): each week's 合计, the same as the table's for
    that week, handling hours left out — read from the records and from the day counts (added up
    per region there, per unit for the table)."""
    units = units_of_a_week
    await week_table(system, units)
    supervisor = system.auth("supervisor", region="310000")
    fix_reading_now(at("11-05T12:00"))
    try:
        params = {"to": "2025-11-10", "weeks": 3, "region": REGION}

        async def agreeing():
            """The trend, once it and the week's tables read the same (other tests' items share
            the region and may still be moving)."""
            weeks = (await system.notifier.get("/v1/stats/trend", params=params, headers=supervisor)).json()["weeks"]
            for week in weeks:
                period = {"from": week["from"], "to": week["to"], "region": REGION}
                table = (await system.notifier.get("/v1/stats/units", params=period, headers=supervisor)).json()
                if any(week[field] != table["total"][field] for field in (*stats.COUNTS, *stats.RATES)):
                    return None
            return weeks

        weeks = await eventually(agreeing)
        scheduler = system.runtimes["notifier"].scheduler
        while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
            pass
        assert await eventually(agreeing), "and once the records are in the day counts"
        assert [(w["from"], w["to"]) for w in weeks] == [
            ("2025-10-20", "2025-10-27"),
            ("2025-10-27", "2025-11-03"),
            ("2025-11-03", "2025-11-10"),
        ]
        assert all(week["median_handling_hours"] is None for week in weeks)
    finally:
        fix_reading_now(None)
    assert weeks[1]["received"] >= 1 and weeks[2]["received"] >= 6, "the week's items are in it"


async def test_a_unit_stays_counted_for_an_item_it_transferred_to_another_district(system, producer):
    """The statistics of a region count what its units did with items now elsewhere: a unit that
    transferred (转办) an item to another district has it counted as transferred, whether the item
    is counted in the day counts, reopened there, or counted again."""
    tag = uuid.uuid4().hex[:6]
    first, elsewhere = f"{REGION}.tax.x{tag}", f"310110.tax.x{tag}"
    item = Item(system, producer, first)
    await item.dispatch("11-03T10:00", first)
    await item.send(events.WorkItemAcknowledged, "11-03T11:00", "acknowledged")
    await item.dispatch("11-03T15:00", elsewhere, previous_unit_code=first, restarts_clock=False)
    await item.send(events.WorkItemResolved, "11-04T11:00", "resolved", resolution={"outcome": "issued"})
    supervisor = system.auth("supervisor", region="310000")
    scheduler = system.runtimes["notifier"].scheduler

    async def first_unit(resolved_elsewhere: int):
        async def row():
            # The other district first: once its figure shows the last event, the first unit's
            # row read after it shows every event before (one item's events come in order).
            wide = {"from": PERIOD["from"], "to": PERIOD["to"], "region": "310000"}
            city = (await system.notifier.get("/v1/stats/units", params=wide, headers=supervisor)).json()
            other = {r["unit_code"]: r for r in city["units"]}.get(elsewhere, {})
            shown = (await system.notifier.get("/v1/stats/units", params=PERIOD, headers=supervisor)).json()
            there = {r["unit_code"]: r for r in shown["units"]}.get(first)
            return there if there and other.get("resolved") == resolved_elsewhere else None

        return await eventually(row)

    before = await first_unit(resolved_elsewhere=1)
    assert (before["received"], before["transferred"], before["kept"]) == (1, 1, 0)
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    assert await first_unit(resolved_elsewhere=1) == before
    await item.send(events.WorkItemReopened, "11-05T09:00", "in_progress", score=2)
    assert await first_unit(resolved_elsewhere=0) == before, "reopened in the other district: still counted here"
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    assert await first_unit(resolved_elsewhere=0) == before


async def test_a_renamed_unit_has_one_row_under_its_latest_name_counted_or_not(system, producer):
    """A unit renamed within the period (its items carry the new name from some day on) has one
    row, under the name it had last, whether its days are counted or read from the records."""
    unit = f"{REGION}.tax.n{uuid.uuid4().hex[:6]}"
    earlier, later = Item(system, producer, unit), Item(system, producer, unit)
    await earlier.dispatch("11-03T10:00", unit, unit_name="浦东新区税务局（旧称）")
    await later.dispatch("11-04T10:00", unit, unit_name="浦东新区税务局")
    supervisor = system.auth("supervisor", region="310000")
    scheduler = system.runtimes["notifier"].scheduler

    async def its_rows():
        shown = (await system.notifier.get("/v1/stats/units", params=PERIOD, headers=supervisor)).json()
        rows = [row for row in shown["units"] if row["unit_code"] == unit]
        return rows if rows and rows[0]["received"] == 2 else None

    read_live = await eventually(its_rows)
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    counted = await its_rows()
    for rows in (read_live, counted):
        assert [(row["unit_name"], row["received"]) for row in rows] == [("浦东新区税务局", 2)]


async def test_a_record_dispatched_within_the_hour_waits_to_be_counted_and_reads_the_same(system, producer):
    """A fresh item is counted only once it was dispatched an hour ago (day_counts.FRESH): until then
    the statistics read it as it is, and its unit's row is the same before and after."""
    unit = f"{REGION}.tax.f{uuid.uuid4().hex[:6]}"
    item, now = Item(system, producer, unit), utcnow()
    await item.dispatch(now, unit)
    supervisor = system.auth("supervisor", region="310000")
    today = now.astimezone(SHANGHAI).date()
    period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)), "region": REGION}

    async def its_row():
        shown = (await system.notifier.get("/v1/stats/units", params=period, headers=supervisor)).json()
        rows = [row for row in shown["units"] if row["unit_code"] == unit]
        return rows[0] if rows and rows[0]["received"] == 1 else None

    async def counted() -> bool:
        async with scheduler.sessions() as session:
            return await session.scalar(select(SlaRecord.counted).where(SlaRecord.work_item_id == item.id))

    read_live = await eventually(its_row)
    scheduler = system.runtimes["notifier"].scheduler
    while await day_counts.count_records(scheduler.sessions, scheduler.calendar):
        pass
    assert not await counted(), "dispatched within the hour: not counted yet"
    async with scheduler.sessions() as session, session.begin():  # an hour and more later
        await day_counts.count_some(session, scheduler.calendar, now + day_counts.FRESH + timedelta(minutes=1))
    assert await counted()
    assert await its_row() == read_live
