"""Row 7 of issue 25: the unit statistics add up. On random items — each held by one to four
units in turn, let go by 退回, 转办 or dispatch, signed or not, resolved, rated, paused — 合计 is
the unit rows' counts summed, the region rows add up to it too, and every rate of every row is one
of its counts over another (hypothesis)."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.notifier import day_counts, stats
from services.notifier.models import SlaRecord, UnitDayCounts
from services.notifier.workcal import WorkingCalendar
from shared.vocabulary import OPEN_STATES

CALENDAR = WorkingCalendar()
START = datetime.fromisoformat("2025-11-03T09:00:00+08:00")
NOW = START + timedelta(days=9)
UNITS = [f"{region}.tax" for region in ("440112", "440113", "310115")] + ["440112.coordinator"]
hours = st.integers(min_value=0, max_value=24 * 14)


def at(h: int) -> datetime:
    return START + timedelta(hours=h)


@st.composite
def records(draw) -> SlaRecord:
    units = draw(st.lists(st.sampled_from(UNITS), min_size=1, max_size=4))
    moments = sorted(draw(st.lists(hours, min_size=len(units) + 1, max_size=len(units) + 1)))
    state = draw(
        st.sampled_from(
            ["dispatched", "acknowledged", "in_progress", "awaiting_supplement", "resolved", "closed", "cancelled"]
        )
    )
    ended = state not in OPEN_STATES  # the item ended with its last holder (holders.follow)
    holders = []
    for i, unit in enumerate(units):
        last = i == len(units) - 1
        received, left = at(moments[i]), at(moments[i + 1])
        signed = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=48)))
        holders.append(
            {
                "unit_code": unit,
                "unit_name": unit,
                "region_code": unit.split(".")[0],
                "received_at": received.isoformat(),
                "acknowledge_due_at": (received + timedelta(hours=draw(st.integers(1, 40)))).isoformat(),
                "acknowledged_at": None if signed is None else (received + timedelta(hours=signed)).isoformat(),
                "left_at": None if last else left.isoformat(),
                "left_how": None if last else draw(st.sampled_from(["returned", "transferred", "dispatched"])),
                "ended_at": at(moments[-1] + 30).isoformat() if last and ended else None,
            }
        )
    resolved = state in ("resolved", "closed")
    return SlaRecord(
        work_item_id=str(draw(st.uuids())),
        request_type=draw(st.sampled_from(["compliance_certificate", "problem"])),
        unit_code=units[-1],
        region_code=units[-1].split(".")[0],
        state=state,
        dispatched_at=at(moments[0]),
        acknowledge_due_at=at(moments[-1] + 8),
        acknowledged_at=at(moments[-1] + 1) if state != "dispatched" else None,
        resolve_due_at=at(moments[0] + draw(st.integers(8, 300))),
        resolved_at=at(moments[-1] + 30) if resolved else None,
        resolved_on_time=draw(st.booleans()) if resolved else None,
        paused_at=at(moments[-1] + 2) if state == "awaiting_supplement" else None,
        score=draw(st.one_of(st.none(), st.integers(1, 5))) if state == "closed" else None,
        extended=draw(st.booleans()),
        holders=holders,
    )


def assert_rates_follow_counts(row: dict) -> None:
    for rate, (part, whole) in stats.RATES.items():
        expected = round(row[part] / row[whole], 4) if row[whole] else None
        assert row[rate] == expected, (rate, row)
        assert expected is None or 0 <= expected <= 1, (rate, row)


@settings(max_examples=200, deadline=None)
@given(st.lists(records(), max_size=25))
def test_the_total_is_the_unit_rows_added_up(items):
    result = stats.grouped_records(items, CALENDAR, NOW)
    total = result["total"]
    for field in stats.COUNTS:
        assert total[field] == sum(row[field] for row in result["units"]), field
        assert total[field] == sum(row[field] for row in result["regions"]), field
        assert total[field] == sum(row[field] for row in result["request_types"]), field
    for row in [*result["units"], *result["regions"], total]:
        assert_rates_follow_counts(row)
        assert row["acknowledged_on_time"] + row["acknowledged_late"] <= row["acknowledge_counted"] <= row["received"]
        assert row["returned"] + row["transferred"] + row["kept"] <= row["received"]
    assert total["received"] == sum(len(r.holders) for r in items), "every unit that held an item has it counted"
    assert {row["unit_code"] for row in result["units"]} == {h["unit_code"] for r in items for h in r.holders}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(records(), st.integers(0, 3)), max_size=25))
def test_parts_counted_apart_add_up_to_the_figures_of_all(items):
    """What day_counts does: the records' holdings counted in separate parts (days) and added up
    give the very figures of reading them all at once, handling times included."""
    records_only = [record for record, _ in items]
    apart = [
        part
        for day in range(4)
        for part in stats.parts_of(stats.holdings_in([r for r, d in items if d == day], None), CALENDAR, NOW, None)
    ]
    assert stats.grouped(apart, CALENDAR) == stats.grouped_records(records_only, CALENDAR, NOW)


@st.composite
def parts(draw) -> stats.Part:
    """A unit's part as the day counts give it: any counts, a few handling times or none."""
    unit = draw(st.integers(0, 6))
    counts = draw(st.lists(st.integers(0, 5), min_size=len(stats.COUNTS), max_size=len(stats.COUNTS)))
    hours = draw(st.lists(st.integers(0, 40).map(lambda h: h / 4), max_size=4))
    request_type = draw(st.sampled_from(["compliance_certificate", "financing"]))
    return stats.Part(
        f"44011{unit}.tax", f"第{unit}税务所", f"44011{unit}", request_type,
        dict(zip(stats.COUNTS, counts, strict=True)), np.array(hours, dtype=np.float64), START,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(parts(), max_size=12), st.sampled_from(stats.SORTABLE), st.booleans(), st.integers(0, 6))
def test_a_page_of_units_is_that_page_of_the_whole_table_in_its_order(parts, sort, desc, offset):
    """Only the page's units get their figures (stats.UnitPage); the page is the very rows of the
    whole table sorted by the figure (those without it last, ties in unit-code order), 合计 and
    the count still every unit's."""
    limit = 3
    whole = stats.grouped(parts, CALENDAR)
    page = stats.grouped(parts, CALENDAR, stats.UnitPage(sort, desc, offset, limit))
    having = sorted((r for r in whole["units"] if r[sort] is not None), key=lambda r: r[sort], reverse=desc)
    ordered = having + [r for r in whole["units"] if r[sort] is None]
    assert page["units"] == ordered[offset : offset + limit]
    assert (page["total"], page["unit_count"], page["regions"]) == (
        whole["total"],
        len(whole["units"]),
        whole["regions"],
    )


@given(st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=60))
def test_median_and_p90_are_the_statistics_modules_own(values):
    """The handling-time percentiles, picked out of the times in any order with the statistics
    module's own arithmetic: the very same floats."""
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) > 1 else ordered[0]
    assert stats.median_and_p90(np.array(values)) == (statistics.median(ordered), p90)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300_000), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
@example([250_000, 3, 0, 120_000, 1], 7)  # more than PICK_APART_FROM in all: dealt to the threads
def test_many_runs_picked_apart_are_each_runs_own(sizes, seed):
    """A province's year's rows are picked in threads, dealt by size: each row still gets its own
    times' median and p90, in its place (dealt to four pickers whatever the machine's cores)."""
    rng = np.random.default_rng(seed)
    runs = [rng.lognormal(3, 1, size) for size in sizes]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stats, "PICKERS", 4)
        assert stats.medians_and_p90s(runs) == [stats.median_and_p90(run) for run in runs]


@given(
    st.lists(st.sampled_from([0.5, 1.0, 2.25, 7.0, 8.0]), max_size=30),
    st.lists(st.sampled_from([0.5, 1.0, 2.25, 7.0, 9.5]), max_size=30),
)
def test_hours_taken_off_are_a_multiset_difference(hours, gone):
    """What a record had added comes off its day's hours value by value, each as often as it is
    gone (Counter subtraction), repeated values included; a value not there takes nothing."""
    left = day_counts._taken_off(np.array(hours), gone)
    assert Counter(left.tolist()) == Counter(hours) - Counter(gone)


@settings(max_examples=200, deadline=None)
@given(records(), st.integers(min_value=-24 * 20, max_value=24 * 20))
def test_a_record_counted_at_one_instant_reads_the_same_as_it_is_at_another(record, hours_later):
    """What counting keeps of a record at one instant (day_counts.moving_apart), with its MOVING
    counts at another reckoned as the statistics' SQL does — from what counting noted on the
    record and the record's own clocks — gives its counts read as it is at that other instant."""
    later = NOW + timedelta(hours=hours_later)
    kept = {(p.unit_code, p.region_code): p.counts for p in day_counts.moving_apart(record, CALENDAR, NOW, {})}
    if record.counted_holder_unit is not None:
        counts = kept[(record.counted_holder_unit, record.counted_holder_region)]
        due = record.counted_sign_due_at
        counts["acknowledge_counted"] += int(due is not None and due < later)
        counts["resolve_counted"] += int(record.past_resolve_limit(later))
        counts["overdue_now"] += int(record.is_overdue(later))
    as_it_is = stats.parts_of(stats.holdings_in([record], None), CALENDAR, later)
    assert kept == {(p.unit_code, p.region_code): p.counts for p in as_it_is}


def test_what_a_record_added_before_notifier_0019_comes_off_its_row():
    """Records counted before notifier 0019 kept no ``open_now`` in what they added (they were all
    settled): when one changes, its counts come off its day's row all the same."""
    key = (UnitDayCounts, START.date(), "440112.tax", "440112", "problem")
    ids = {"unit_code": key[2], "unit_name": "天河区税务局", "region_code": key[3], "request_type": key[4]}
    before_0019 = {**ids, "counts": dict.fromkeys(day_counts.KEPT, 1), "hours": [2.5], "named_at": START.isoformat()}
    del before_0019["counts"]["open_now"]
    open_one = {**ids, "counts": dict.fromkeys(day_counts.KEPT, 1), "hours": [], "named_at": START.isoformat()}
    rows = {}
    day_counts._apply(rows, key, 1, open_one)
    day_counts._apply(rows, key, 1, before_0019)
    day_counts._apply(rows, key, -1, before_0019)
    row = rows[key]
    assert (row.received, row.open_now, row.resolved) == (1, 1, 1)
