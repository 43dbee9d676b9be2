"""Statistics units are judged on: 签收及时率, 办结率, 按时办结率, handling time in working hours,
延期率, 退回率, 转办率, open and overdue now, 被催办次数 (urging.py), 满意率 and 解决率 (from the
回访 after 办结) — for every unit that held an item
dispatched in the period (holders.py), so a unit that returned or transferred an item has its row
and is counted for it. Every figure of a row comes from its counts, and 合计 from the rows' counts
summed: the total adds up. The definitions travel with the table (``COLUMNS``).

They count department work only: an item a 专项信用报告 covered (信用代证) has no clock and no
unit. What the report absorbed is its own figure per province and city, 证明替代率
(substitution.py). A long period adds up the day counts day_counts.py keeps."""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

import numpy as np

from shared import catalogue, regions
from shared.vocabulary import OPEN_STATES

from .holders import RETURNED, TRANSFERRED, Holding, holdings_of
from .models import SlaRecord
from .workcal import WorkingCalendar

# The unit table's columns: field, Chinese header, English header, and what it counts (Chinese,
# English). The definitions travel with the table (``definitions``), so the page shows them under it.
COLUMNS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "received",
        "收件数",
        "Received",
        "统计期内派单的工单中派给该单位的（含其后退回、转办的）",
        "Items dispatched in the period that the unit was given, including those it returned or transferred",
    ),
    ("acknowledged_on_time", "按时签收", "Signed on time", "在签收时限内签收的", "Signed for within the 签收 limit"),
    ("acknowledged_late", "超时签收", "Signed late", "过了签收时限才签收的", "Signed for after the 签收 limit"),
    (
        "acknowledge_counted",
        "应签收数",
        "Due for signing",
        "已签收的，加上签收时限已过仍未签收的；时限未到的不计",
        "Those signed for, and those unsigned past their 签收 limit; none whose limit is still ahead",
    ),
    ("response_rate", "签收及时率", "Signed-on-time rate", "按时签收 ÷ 应签收数", "Signed on time ÷ due for signing"),
    (
        "kept",
        "留办数",
        "Kept",
        "收件数减去退回、转办和分拨出去的",
        "Received, less those returned, transferred or dispatched on",
    ),
    ("resolved", "办结数", "Resolved", "该单位办结的", "Resolved by the unit"),
    ("resolution_rate", "办结率", "Resolution rate", "办结数 ÷ 留办数", "Resolved ÷ kept"),
    ("resolved_on_time", "按时办结", "Resolved on time", "在办结时限内办结的", "Resolved within the limit"),
    (
        "resolve_counted",
        "应办结数",
        "Due for resolution",
        "已办结的，加上办结时限已过仍未办结的；时限未到或暂停计时的不计",
        "Those resolved, and those unresolved past their limit; none whose limit is ahead or whose clock is paused",
    ),
    ("on_time_rate", "按时办结率", "On-time rate", "按时办结 ÷ 应办结数", "Resolved on time ÷ due for resolution"),
    (
        "median_handling_hours",
        "办理时长中位数（工作小时）",
        "Median handling (working hours)",
        "从派单到办结的工作时间的中位数",
        "Median working time from dispatch to resolution",
    ),
    (
        "p90_handling_hours",
        "办理时长 P90（工作小时）",
        "P90 handling (working hours)",
        "90% 的工单在此时间内办结",
        "90 % of items were resolved within this",
    ),
    (
        "median_handling_days",
        "办理时长中位数（工作日）",
        "Median handling (working days)",
        "同上，以工作日计",
        "The same in working days",
    ),
    (
        "p90_handling_days",
        "办理时长 P90（工作日）",
        "P90 handling (working days)",
        "同上，以工作日计",
        "The same in working days",
    ),
    ("extended", "延期数", "Extended", "获批延期的", "Granted an extension"),
    ("extension_rate", "延期率", "Extension rate", "延期数 ÷ 留办数", "Extended ÷ kept"),
    (
        "returned",
        "退回数",
        "Returned",
        "退回协调办的，计入退回的单位",
        "Returned to the coordinating office, counted for the unit that returned it",
    ),
    ("return_rate", "退回率", "Return rate", "退回数 ÷ 收件数", "Returned ÷ received"),
    (
        "transferred",
        "转办数",
        "Transferred",
        "转给其他单位的，计入转办的单位",
        "Transferred to another unit, counted for the unit that transferred it",
    ),
    ("transfer_rate", "转办率", "Transfer rate", "转办数 ÷ 收件数", "Transferred ÷ received"),
    ("open_now", "在办", "Open now", "现在仍由该单位办理的", "Still with the unit now"),
    (
        "overdue_now",
        "当前超期",
        "Overdue now",
        "现在已过当前时限（签收或办结）的；暂停计时的不计",
        "Past the deadline that counts now (签收 or 办结); none whose clock is paused",
    ),
    (
        "urged",
        "被催办次数",
        "Chased by enterprises",
        "企业（或驻企联络员）对工单的催办次数，计入催办时承办的单位；每个工单每个工作日至多一次",
        "Times enterprises (or liaison officers) chased an item, counted for the unit holding it then; "
        "at most once per item per working day",
    ),
    ("rated", "评价数", "Rated", "企业已评价的", "Rated by the enterprise"),
    ("satisfied", "满意数", "Satisfied", "评价为满意或非常满意的", "Rated satisfied or very satisfied"),
    ("satisfaction_rate", "满意率", "Satisfaction rate", "满意数 ÷ 评价数", "Satisfied ÷ rated"),
    (
        "followed_up",
        "回访数",
        "Followed up",
        "办结后已回访的（企业在线回答，或驻企联络员电话、上门回访）",
        "Followed up after resolution (answered online by the enterprise, or by a liaison officer's call or visit)",
    ),
    ("solved", "已解决", "Solved", "回访结果为已解决的", "Followed up as solved"),
    ("partly_solved", "部分解决", "Partly solved", "回访结果为部分解决的", "Followed up as partly solved"),
    (
        "solution_rate",
        "解决率",
        "Solved rate",
        "已解决 ÷ 回访数（部分解决不计为解决）",
        "Solved ÷ followed up (partly solved is not solved)",
    ),
)
FIELDS = tuple(field for field, *_ in COLUMNS)
# Rates, each the share of one count in another (the total's rates come from its summed counts).
RATES = {
    "response_rate": ("acknowledged_on_time", "acknowledge_counted"),
    "resolution_rate": ("resolved", "kept"),
    "on_time_rate": ("resolved_on_time", "resolve_counted"),
    "extension_rate": ("extended", "kept"),
    "return_rate": ("returned", "received"),
    "transfer_rate": ("transferred", "received"),
    "satisfaction_rate": ("satisfied", "rated"),
    "solution_rate": ("solved", "followed_up"),
}
HOURS = ("median_handling_hours", "p90_handling_hours", "median_handling_days", "p90_handling_days")
COUNTS = tuple(f for f in FIELDS if f not in RATES and f not in HOURS)
SORTABLE = ("unit_name", *FIELDS)  # what the unit table may be sorted by


def definitions() -> list[dict[str, str]]:
    return [
        {"field": field, "zh": zh, "en": en, "definition_zh": about_zh, "definition_en": about_en}
        for field, zh, en, about_zh, about_en in COLUMNS
    ]


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _resolved(record: SlaRecord) -> bool:
    return record.resolved_at is not None or record.state == "closed"


def counts_of(holdings: list[Holding], now: datetime, urged: dict[tuple[str, str], int] | None = None) -> dict:
    """What a set of holdings adds up to, as counts only (rates and times come from these).
    ``urged``: 被催办次数 per (item, unit that held it when chased), urging.counts_by_holder."""
    held = {(h.record.work_item_id, h.unit_code) for h in holdings}  # a unit that held an item twice: once
    signed = [h for h in holdings if h.acknowledged_at is not None]
    on_time = sum(1 for h in signed if h.acknowledge_due_at is None or h.acknowledged_at <= h.acknowledge_due_at)
    unsigned_late = sum(
        1
        for h in holdings
        if h.acknowledged_at is None and h.acknowledge_due_at is not None and h.acknowledge_due_at < (h.ended_at or now)
    )
    kept = [h for h in holdings if h.current]
    resolved = [h for h in kept if _resolved(h.record)]
    rated = [h for h in kept if h.record.score is not None]
    followed = [h.record.follow_up_result for h in kept if h.record.follow_up_result is not None]
    return {
        "received": len(holdings),
        "acknowledged_on_time": on_time,
        "acknowledged_late": len(signed) - on_time,
        "acknowledge_counted": len(signed) + unsigned_late,
        "kept": len(kept),
        "resolved": len(resolved),
        "resolved_on_time": sum(1 for h in resolved if h.record.resolved_on_time),
        "resolve_counted": len(resolved) + sum(1 for h in kept if h.record.past_resolve_limit(now)),
        "extended": sum(1 for h in kept if h.record.extended),
        "returned": sum(1 for h in holdings if h.let_go == RETURNED),
        "transferred": sum(1 for h in holdings if h.let_go == TRANSFERRED),
        "open_now": sum(1 for h in kept if h.record.state in OPEN_STATES),
        "overdue_now": sum(1 for h in kept if h.record.is_overdue(now)),
        "urged": sum((urged or {}).get(key, 0) for key in held),
        "rated": len(rated),
        "satisfied": sum(1 for h in rated if h.record.score >= 4),
        "followed_up": len(followed),
        "solved": followed.count("solved"),
        "partly_solved": followed.count("partly"),
    }


# The counts of an open item that change as time passes, without the item changing: its holder's
# 签收 limit passing unsigned, its 办结 limit passing, being overdue. The day counts keep the rest
# and count these in SQL at every reading (day_counts.py).
MOVING = ("acknowledge_counted", "resolve_counted", "overdue_now")


def moving_of(holding: Holding, now: datetime) -> dict[str, int]:
    """What ``holding`` adds at ``now`` to the MOVING counts, as counts_of counts it: nothing unless
    it is an open item's current holding."""
    record, due = holding.record, holding.acknowledge_due_at
    if not holding.current or record.state not in OPEN_STATES:
        return dict.fromkeys(MOVING, 0)
    return {
        "acknowledge_counted": int(
            holding.acknowledged_at is None and holding.ended_at is None and due is not None and due < now
        ),
        "resolve_counted": int(record.past_resolve_limit(now)),
        "overdue_now": int(record.is_overdue(now)),
    }


def handling_hours(holdings: list[Holding], calendar: WorkingCalendar) -> np.ndarray:
    """Working hours from dispatch to resolution of the items resolved by their holders, in no
    order (``median_and_p90`` picks what it needs)."""
    return np.fromiter(
        (
            calendar.working_time_between(h.record.dispatched_at, h.record.resolved_at).total_seconds() / 3600
            for h in holdings
            if h.current and h.record.resolved_at is not None
        ),
        dtype=np.float64,
    )


def median_and_p90(hours: np.ndarray) -> tuple[float | None, float | None]:
    """``statistics.median`` and ``statistics.quantiles(n=10, method="inclusive")[-1]``: the same
    arithmetic on the same elements, so the very same floats. The elements are picked by
    ``np.partition`` (linear time) instead of a sort: a province's year has millions of handling
    times, and sorting them was seconds of every statistics call (docs/benchmarks.md)."""
    n = len(hours)
    if not n:
        return None, None
    j, delta = divmod(9 * (n - 1), 10)  # the p90 lies between the j-th and the next (inclusive method)
    wanted = sorted({max(n // 2 - 1, 0), n // 2, j, min(j + 1, n - 1)})
    at = dict(zip(wanted, np.partition(hours, wanted)[wanted].tolist(), strict=True))
    median = at[n // 2] if n % 2 else (at[n // 2 - 1] + at[n // 2]) / 2
    if n == 1:
        return median, at[0]
    return median, (at[j] * (10 - delta) + at[j + 1] * delta) / 10


# A province's year has 3.5 million handling times at each of the four levels (unit, region, request
# type, 合计): 0.22–0.32 s of np.partition, which lets the GIL go. Spread over the machine's cores
# (two here: 0.13–0.18 s, docs/benchmarks.md). A period of fewer is picked in the calling thread.
# The cores this process may run on (os.sched_getaffinity: Linux; elsewhere, as a laptop has them).
PICKERS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_pickers = ThreadPoolExecutor(max_workers=PICKERS, thread_name_prefix="stats-medians")
PICK_APART_FROM = 200_000  # handling times in all: fewer are not worth a thread


def medians_and_p90s(runs: list[np.ndarray]) -> list[tuple[float | None, float | None]]:
    """``median_and_p90`` of each array, in order. Many times: the arrays dealt to the pickers,
    the largest first, each to the least loaded, so that they finish together."""
    if PICKERS == 1 or sum(map(len, runs)) < PICK_APART_FROM:
        return [median_and_p90(run) for run in runs]
    shares: list[list[int]] = [[] for _ in range(PICKERS)]
    loads = [0] * PICKERS
    for at in sorted(range(len(runs)), key=lambda i: len(runs[i]), reverse=True):
        least = loads.index(min(loads))
        shares[least].append(at)
        loads[least] += len(runs[at])
    picked: list = [None] * len(runs)
    each = _pickers.map(lambda ats: [median_and_p90(runs[i]) for i in ats], shares)
    for share, results in zip(shares, each, strict=True):
        for at, result in zip(share, results, strict=True):
            picked[at] = result
    return picked


def together(runs) -> np.ndarray:
    """Arrays (or lists) of handling times as one array."""
    arrays = [np.asarray(run, dtype=np.float64) for run in runs]
    return np.concatenate(arrays) if arrays else np.empty(0)


def figures(counts: dict[str, int], picked: tuple[float | None, float | None], day_hours: float) -> dict:
    """A row's figures from its counts and its handling times' median and p90 (``median_and_p90``):
    every rate is one count of another."""
    rates = {name: rate(counts[part], counts[whole]) for name, (part, whole) in RATES.items()}
    every = {**counts, **rates, **_times(picked, day_hours)}
    return {field: every[field] for field in FIELDS}


def figure(field: str, counts: dict[str, int], picked: tuple[float | None, float | None], day_hours: float):
    """One of ``figures`` alone (a table sorted by it)."""
    if field in RATES:
        part, whole = RATES[field]
        return rate(counts[part], counts[whole])
    return _times(picked, day_hours)[field] if field in HOURS else counts[field]


def _times(picked: tuple[float | None, float | None], day_hours: float) -> dict[str, float | None]:
    median, p90 = picked
    return {
        "median_handling_hours": None if median is None else round(median, 2),
        "p90_handling_hours": None if p90 is None else round(p90, 2),
        "median_handling_days": None if median is None else round(median / day_hours, 2),
        "p90_handling_days": None if p90 is None else round(p90 / day_hours, 2),
    }


@dataclass
class Part:
    """What the holdings of one unit, region and request type add up to: counts and handling
    hours. Parts of the same unit (from different days, or some read from the records and some
    from the day counts) add up to what all its holdings together would (day_counts.py)."""

    unit_code: str
    unit_name: str
    region_code: str
    request_type: str
    counts: dict[str, int]
    hours: np.ndarray  # handling times, working hours, in no order
    named_at: datetime  # when the unit last received one of these items: its name then is the row's


def parts_of(
    holdings: list[Holding], calendar: WorkingCalendar, now: datetime, urged: dict | None = None
) -> list[Part]:
    """The holdings grouped by unit, region and request type, each group's counts and hours."""
    groups: dict[tuple[str, str, str], list[Holding]] = defaultdict(list)
    for h in holdings:
        groups[(h.unit_code, h.region_code, h.record.request_type)].append(h)
    parts = []
    for (unit, region, request_type), hs in groups.items():
        latest = max(hs, key=lambda h: (h.received_at, h.unit_name))
        counts, hours = counts_of(hs, now, urged), handling_hours(hs, calendar)
        parts.append(Part(unit, latest.unit_name, region, request_type, counts, hours, latest.received_at))
    return parts


@dataclass
class Row:
    key: dict[str, str]
    counts: dict[str, int]
    hours: np.ndarray


def _rows(parts: list[Part], by: str, key, counts: np.ndarray) -> list[Row]:
    """The parts added up per unit, region or request type (``by``: the Part's field); ``counts``
    the parts' counts as a matrix (``_counts_of``), summed a group at a time: a province's year
    has thousands of parts and nineteen counts each."""
    groups: dict[str, list[int]] = defaultdict(list)
    for at, part in enumerate(parts):
        groups[getattr(part, by)].append(at)
    rows = []
    for code, at in sorted(groups.items()):
        ps = [parts[i] for i in at]
        summed = dict(zip(COUNTS, counts[at].sum(axis=0).tolist(), strict=True))
        rows.append(Row(key(code, ps), summed, together(p.hours for p in ps)))
    return rows


def _counts_of(parts: list[Part]) -> np.ndarray:
    return np.array([[p.counts[field] for field in COUNTS] for p in parts], dtype=np.int64).reshape(-1, len(COUNTS))


def total_of(rows: list[Row] | list[Part], day_hours: float) -> dict:
    """合计 from the rows (or parts) themselves: their counts summed, their handling times together."""
    return figures(_summed(rows), median_and_p90(together(row.hours for row in rows)), day_hours)


def _summed(rows: list[Row] | list[Part]) -> dict[str, int]:
    return {field: sum(row.counts[field] for row in rows) for field in COUNTS}


def total_of_parts(parts: list[Part], calendar: WorkingCalendar) -> dict:
    """合计 alone (the trend's weeks): what ``grouped`` adds up from its unit rows, without the rows."""
    return total_of(parts, calendar.working_day_length.total_seconds() / 3600)


def holdings_in(records: list[SlaRecord], region: str | None) -> list[Holding]:
    """Every unit's hold of every record's item, those of units in ``region`` only when given."""
    return [h for r in records for h in holdings_of(r) if not region or regions.covers(region, h.region_code)]


@dataclass(frozen=True)
class UnitPage:
    """Which unit rows a table shows: sorted by one figure (SORTABLE; None: by unit code), a page
    of ``limit`` from ``offset`` (None: every unit)."""

    sort: str | None = None
    desc: bool = True
    offset: int = 0
    limit: int | None = None

    def of(self, units: list[Row], day_hours: float) -> list[Row]:
        """The page's rows. Sorted by a count or a rate, the units' handling times are not picked
        (a province has 2,400 units, a page shows 50); by a handling time, every unit's are."""
        ordered = units
        if self.sort == "unit_name":
            ordered = in_order(units, [row.key["unit_name"] for row in units], self.desc)
        elif self.sort:
            none = [(None, None)] * len(units)
            picked = medians_and_p90s([row.hours for row in units]) if self.sort in HOURS else none
            values = [figure(self.sort, row.counts, p, day_hours) for row, p in zip(units, picked, strict=True)]
            ordered = in_order(units, values, self.desc)
        return ordered[self.offset : self.offset + self.limit] if self.limit else ordered


def grouped(parts: list[Part], calendar: WorkingCalendar, page: UnitPage = UnitPage()) -> dict:
    """Per unit (every unit that held an item, or the ``page`` of them asked), region and request
    type, and 合计 from every unit row; ``unit_count``: how many units there are in all."""
    day_hours = calendar.working_day_length.total_seconds() / 3600
    counts = _counts_of(parts)
    units = _rows(parts, "unit_code", lambda code, ps: {"unit_code": code, "unit_name": _latest_name(ps)}, counts)
    places = _rows(parts, "region_code", lambda code, _: {"region_code": code, "region_name": _place(code)}, counts)
    types = _rows(
        parts, "request_type", lambda code, _: {"request_type": code, "request_type_name": _type_name(code)}, counts
    )
    levels = {"units": page.of(units, day_hours), "regions": places, "request_types": types}
    every = [row for rows in levels.values() for row in rows]
    *picked, total_picked = medians_and_p90s([*(row.hours for row in every), together(row.hours for row in units)])
    picks = iter(picked)  # in the order of ``every``: level by level, row by row
    out = {
        name: [{**row.key, **figures(row.counts, next(picks), day_hours)} for row in rows]
        for name, rows in levels.items()
    }
    total = figures(_summed(units), total_picked, day_hours)
    return {**out, "unit_count": len(units), "total": total, "definitions": definitions()}


def in_order(rows: list, values: list, desc: bool) -> list:
    """The rows by one figure (``values``, a row's each), ties in the rows' own order (unit code);
    those without it (a rate of nothing) last, whichever way: the table's worst are never hidden
    among them."""
    valued = list(zip(values, rows, strict=True))
    having = sorted((pair for pair in valued if pair[0] is not None), key=itemgetter(0), reverse=desc)
    return [row for _value, row in having] + [row for value, row in valued if value is None]


def _latest_name(parts: list[Part]) -> str:
    return max(parts, key=lambda p: (p.named_at, p.unit_name)).unit_name


def grouped_records(
    records: list[SlaRecord],
    calendar: WorkingCalendar,
    now: datetime,
    region: str | None = None,
    urged: dict[tuple[str, str], int] | None = None,
) -> dict:
    """``grouped`` straight from records (all of them read: for a few)."""
    return grouped(parts_of(holdings_in(records, region), calendar, now, urged), calendar)


def _place(code: str) -> str:
    return regions.full_name(code) if regions.exists(code) else code


def _type_name(code: str) -> str:
    request_type = catalogue.REQUEST_TYPES.get(code)
    return request_type.zh if request_type else code


def units_csv(result: dict, appended: list[list] | None = None) -> bytes:
    """The units' figures under Chinese headers, then 合计; after an empty line, ``appended`` (the
    证明替代率 table)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["单位代码", "单位名称", *(zh for _, zh, *_ in COLUMNS)])
    rows = [*result["units"], {"unit_code": "合计", "unit_name": "", **result["total"]}]
    for row in rows:
        writer.writerow([row["unit_code"], row["unit_name"], *("" if row[f] is None else row[f] for f in FIELDS)])
    if appended is not None:
        writer.writerow([])
        writer.writerows(appended)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
