"""Measuring on the year, each figure beside the same call on empty databases of the same schema
in the same run (issue 28, target 4):

- every list the pages use — an enterprise's requests, a province's and a coordinating office's
  requests, the clerk queue (each tab, each filter, the tab counts), the coordinating office's
  queue, the overdue board, the extensions awaiting a decision, a unit's items — p95 of ``runs``
  calls, the first page and a deep one (cursor or offset, as the list pages);
- the unit statistics for the whole year and the whole province; the board's 8-week trend (eight
  calls, as the page makes them);
- the ledger export of about 100,000 rows as CSV and XLSX: time to the first byte, rows/s, and the
  intake process's peak resident memory growth (/proc, every 20 ms);
- the board and queue pages of the web service, p95;
- the SLA scheduler tick over the year's open items, against a tick over 1,000 of them copied
  into fresh databases with the same recipients;
- the newest migration of each service, down one step and up again, on a copy of the year's
  database (``CREATE DATABASE … TEMPLATE``: the kept year keeps its data), noting the tables it
  rewrote;
- ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement slower than 100 ms (plans.py).

Calls alternate between the year and the empty side so both meet the same load from the other
engineers' work on this 2-core machine; the load average is noted before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from common import machine

from . import loader, plans, sides
from .render import judged_seconds
from .sides import MemoryProbe, Side, Watchdog

TARGETS = {
    "list_p95_ms": 200,
    "stats_s": 1.0,
    "trend_ms": 500,
    "export_ttfb_s": 1.0,
    "export_rows_per_s": 20_000,
    "export_rss_mb": 100,
    "page_p95_ms": 300,
    "scheduler_ratio": 2.0,
}
# The whole-year statistics are asked this many times: the first call is a fresh process's first
# (its own start-up still running), the median of all is the figure judged; both are shown.
STATS_CALLS = 5
LIST_BUDGET_S = 60.0  # per list and side: fewer calls than ``runs`` when they are this slow
CALL_TIMEOUT_S = 600.0
EXPORT_ROWS = 100_000


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


class Caller:
    """Timed GETs against one side, as one principal."""

    def __init__(self, side: Side, token_claims: dict) -> None:
        self.side = side
        self.headers = {"Authorization": f"Bearer {side.stack.token(**token_claims)}"}
        self.client = httpx.AsyncClient(timeout=CALL_TIMEOUT_S)

    async def get(self, service: str, path: str, params=None) -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        response = await self.client.get(f"{self.side.url(service)}{path}", params=params, headers=self.headers)
        return (time.perf_counter() - started) * 1000, response


# --- choosing whom to act as ------------------------------------------------------------------------
async def choose(databases: dict[str, str]) -> dict:
    """The busiest unit, its region's coordinating office and city, the most active enterprise,
    and things to search for: taken from the year itself."""
    router = await asyncpg.connect(loader.dsn(databases["router"]))
    intake = await asyncpg.connect(loader.dsn(databases["intake"]))
    try:
        unit, items = await router.fetchrow(
            "SELECT unit_code, count(*) FROM work_items GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        region = unit.split(".")[0]
        city = region[:4] + "00"
        coordinator = (
            await router.fetchval(
                "SELECT unit_code FROM department_units WHERE kind = 'coordinator' AND region_code = $1", region
            )
            or f"{city}.coordinator"
        )
        sample = await router.fetchrow(
            "SELECT w.subject_name, w.subject_uscc, r.reference_no, r.enterprise_uscc FROM work_items w "
            "JOIN routed_requests r USING (request_id) WHERE w.unit_code = $1 ORDER BY w.created_at DESC LIMIT 1",
            unit,
        )
        enterprise, requests = await intake.fetchrow(
            "SELECT enterprise_uscc, count(*) FROM requests GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        enterprise_name = await intake.fetchval(
            "SELECT enterprise_name FROM requests WHERE enterprise_uscc = $1 LIMIT 1", enterprise
        )
    finally:
        await router.close()
        await intake.close()
    return {
        "unit": unit, "unit_items": items, "region": region, "city": city, "coordinator": coordinator,
        "subject_name": sample["subject_name"], "subject_uscc": sample["subject_uscc"],
        "reference_no": sample["reference_no"], "applicant_uscc": sample["enterprise_uscc"],
        "enterprise": enterprise, "enterprise_name": enterprise_name, "enterprise_requests": requests,
    }  # fmt: skip


def principals(picks: dict) -> dict[str, dict]:
    return {
        "enterprise": {"role": "enterprise", "sub": f"wx:{picks['enterprise']}", "usccs": [picks["enterprise"]],
                       "name": picks["enterprise_name"]},
        "province": {"role": "supervisor", "sub": "staff:dudao.440000", "region": "440000"},
        "city": {"role": "supervisor", "sub": f"staff:dudao.{picks['city']}", "region": picks["city"]},
        "clerk": {"role": "department", "sub": f"staff:{picks['unit']}", "unit": picks["unit"]},
        "coordinator": {"role": "department", "sub": f"staff:{picks['coordinator']}", "unit": picks["coordinator"]},
    }  # fmt: skip


# --- lists ----------------------------------------------------------------------------------------------
def list_specs(picks: dict) -> list[dict]:
    """(name, who, service, path, params, deep) of every list a page shows; ``deep`` says how its
    deep page is reached: ``cursor`` pages to follow, or an ``offset``."""
    queue = {"order": "deadline", "limit": 21}
    tab = {"new": ["dispatched"], "working": ["acknowledged", "in_progress"], "supplement": ["awaiting_supplement"],
           "done": ["closed", "resolved"], "returned": ["returned"]}  # fmt: skip
    now = datetime.now(UTC)
    specs = [
        ("enterprise: its requests (H5 list)", "enterprise", "intake", "/v1/requests", {"limit": 20}, {"cursor": 10}),
        ("province supervisor: requests", "province", "intake", "/v1/requests", {"limit": 20}, {"cursor": 100}),
        ("province supervisor: requests in progress", "province", "intake", "/v1/requests",
         {"limit": 20, "status": "in_progress"}, {"cursor": 20}),
        ("coordinating office: its region's requests", "coordinator", "intake", "/v1/requests", {"limit": 20},
         {"cursor": 50}),
    ]  # fmt: skip
    for code, states in tab.items():
        deep = {"offset": 2000} if code == "done" else None
        specs.append((f"clerk queue, tab {code}", "clerk", "router", "/v1/workitems", {**queue, "state": states}, deep))
    specs += [
        ("clerk queue, search a 受理编号", "clerk", "router", "/v1/workitems", {**queue, "q": picks["reference_no"]},
         None),
        ("clerk queue, search a subject's name", "clerk", "router", "/v1/workitems",
         {**queue, "q": picks["subject_name"][2:6]}, None),
        ("clerk queue, search a USCC", "clerk", "router", "/v1/workitems", {**queue, "q": picks["subject_uscc"]},
         None),
        ("clerk queue, filter enterprise", "clerk", "router", "/v1/workitems",
         {**queue, "enterprise": picks["applicant_uscc"]}, None),
        ("clerk queue, filter 已超期", "clerk", "router", "/v1/workitems", {**queue, "sla": "overdue"}, None),
        ("clerk queue, filter 暂停计时", "clerk", "router", "/v1/workitems", {**queue, "sla": "paused"}, None),
        ("clerk queue, filter 正常计时", "clerk", "router", "/v1/workitems", {**queue, "sla": "running"}, None),
        ("clerk queue, filter deadline in the next 7 days", "clerk", "router", "/v1/workitems",
         {**queue, "due_from": now.isoformat(), "due_to": (now + timedelta(days=7)).isoformat()}, None),
        ("clerk queue, filter extension pending", "clerk", "router", "/v1/workitems", {**queue, "extension": "pending"},
         None),
        ("clerk queue, tab counts", "clerk", "router", "/v1/workitems/counts", {}, None),
        ("clerk queue, tab counts of a search", "clerk", "router", "/v1/workitems/counts",
         {"q": picks["subject_name"][2:6]}, None),
        ("coordinator queue, tab returned", "coordinator", "router", "/v1/workitems",
         {**queue, "state": ["returned"]}, None),
        ("coordinator queue, tab new", "coordinator", "router", "/v1/workitems", {**queue, "state": ["dispatched"]},
         None),
        ("overdue board, province (first page of 100)", "province", "notifier", "/v1/overdue", {}, None),
        ("overdue board, city", "city", "notifier", "/v1/overdue", {}, None),
        ("overdue board, province, its summary", "province", "notifier", "/v1/overdue/summary", {}, None),
        ("extensions awaiting a decision, province", "province", "router", "/v1/workitems",
         {"extension": "pending", "order": "deadline"}, None),
        ("a unit's items (board drill-down)", "province", "router", "/v1/workitems",
         {"unit": picks["unit"], "order": "deadline", "limit": 200}, None),
        ("notification log, province", "province", "notifier", "/v1/notifications", {}, None),
    ]  # fmt: skip
    return [dict(zip(("name", "who", "service", "path", "params", "deep"), s, strict=True)) for s in specs]


async def timed_calls(callers: dict[str, Caller], spec: dict, params: dict, runs: int) -> dict:
    """``runs`` calls on each side, alternating; each side stops early past ``LIST_BUDGET_S``."""
    times: dict[str, list[float]] = {name: [] for name in callers}
    spent = dict.fromkeys(callers, 0.0)
    status: dict[str, int] = {}
    size: dict[str, int] = {}
    for _ in range(runs):
        for name, caller in callers.items():
            if spent[name] > LIST_BUDGET_S:
                continue
            ms, response = await caller.get(spec["service"], spec["path"], params.get(name, spec["params"]))
            times[name].append(ms)
            spent[name] += ms / 1000
            status[name] = response.status_code
            size[name] = len(response.content)
        if all(s > LIST_BUDGET_S for s in spent.values()):
            break
    return {
        name: {"p95_ms": p95(t), "median_ms": statistics.median(t) if t else None, "calls": len(t),
               "status": status.get(name), "bytes": size.get(name)}
        for name, t in times.items()
    }  # fmt: skip


async def deep_params(caller: Caller, spec: dict) -> dict | None:
    """The parameters of the list's deep page: the cursor after N pages (followed, untimed), or
    the offset the clerk page asks for page N."""
    deep = spec["deep"]
    if not deep:
        return None
    if "offset" in deep:
        return {**spec["params"], "offset": deep["offset"]}
    params, cursor, pages = dict(spec["params"]), None, 0
    for pages in range(1, deep["cursor"] + 1):  # noqa: B007
        _ms, response = await caller.get(
            spec["service"], spec["path"], {**params, "cursor": cursor} if cursor else params
        )
        cursor = response.json().get("next_cursor") if response.status_code == 200 else None
        if not cursor:
            break
    return {**params, "cursor": cursor, "_page": pages + 1} if cursor else None


async def lists(sides_: list[Side], picks: dict, runs: int) -> list[dict]:
    who = principals(picks)
    out = []
    for spec in list_specs(picks):
        callers = {side.name: Caller(side, who[spec["who"]]) for side in sides_}
        first = await timed_calls(callers, spec, {}, runs)
        row = {"name": spec["name"], "path": spec["path"], "params": spec["params"], "first": first}
        if spec["deep"]:
            deep = {name: await deep_params(c, spec) for name, c in callers.items()}
            reachable = {n: {k: v for k, v in d.items() if k != "_page"} for n, d in deep.items() if d}
            if reachable:
                row["deep"] = await timed_calls({n: callers[n] for n in reachable}, spec, reachable, runs)
                row["deep_page"] = {n: d.get("_page", d.get("offset")) for n, d in deep.items() if d}
            row["deep_asked"] = spec["deep"]
        print(f"  {spec['name']}: year p95 {first['year']['p95_ms']:.0f} ms, empty {first['empty']['p95_ms']:.0f} ms"
              + (f", deep {row['deep']['year']['p95_ms']:.0f} ms" if "deep" in row and "year" in row["deep"] else ""),
              flush=True)  # fmt: skip
        out.append(row)
        for caller in callers.values():
            await caller.client.aclose()
    return out


# --- statistics ------------------------------------------------------------------------------------------
async def guarded(side: Side, dog: Watchdog, service: str, call) -> dict:
    """One slow call that may be stopped by the watchdog or the timeout; the service is started
    again after either."""
    kills = len(dog.kills)
    started = time.perf_counter()
    probe = MemoryProbe(side.pid(service))
    try:
        with probe:
            _ms, response = await asyncio.wait_for(call(), CALL_TIMEOUT_S)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "status": response.status_code, "bytes": len(response.content),
                "rss_growth_mb": probe.growth / 2**20, "peak_rss_mb": probe.peak / 2**20}  # fmt: skip
    except (TimeoutError, httpx.HTTPError) as exc:
        seconds = time.perf_counter() - started
        killed = dog.kills[kills:]
        why = f"killed at {killed[0]['rss'] / 2**30:.1f} GiB resident" if killed else f"{type(exc).__name__}"
        await side.restart(service, why)
        return {"seconds": seconds, "failed": why, "peak_rss_mb": probe.peak / 2**20}


async def repeated(side: Side, dog: Watchdog, call) -> dict:
    """The first of ``STATS_CALLS`` calls (as ``guarded`` tells it), with every call's seconds and
    their median (``judged_seconds``); a call that failed or did not answer 200 ends the series and
    fails the figure."""
    first = await guarded(side, dog, "notifier", call)
    seconds = [first["seconds"]]
    while not first.get("failed") and len(seconds) < STATS_CALLS:
        again = await guarded(side, dog, "notifier", call)
        if again.get("failed") or again.get("status") != 200:
            return again | {"failed": again.get("failed") or f"HTTP {again.get('status')}", "calls_s": seconds}
        seconds.append(again["seconds"])
    if first.get("status") != 200 and not first.get("failed"):
        first = first | {"failed": f"HTTP {first.get('status')}"}
    return first | {"calls_s": seconds, "median_s": statistics.median(seconds)}


async def stats(sides_: list[Side], dog: Watchdog, picks: dict, state: dict) -> dict:
    start = date.fromisoformat(state["start"][:10])
    end = date.fromisoformat(state["end"][:10]) + timedelta(days=1)
    out: dict = {"period": [start.isoformat(), end.isoformat()]}
    who = principals(picks)["province"]
    for side in sides_:
        caller = Caller(side, who)
        year_params = {"from": start.isoformat(), "to": end.isoformat()}
        year = await repeated(side, dog, lambda c=caller, p=year_params: c.get("notifier", "/v1/stats/units", p))
        year = year | {"call": "whole year, whole province"}
        # As the board asks it since the seventh pass: the first page of 100 units by 收件数, 合计 of all.
        board_params = {**year_params, "sort": "received", "limit": 100}
        board = await repeated(side, dog, lambda c=caller, p=board_params: c.get("notifier", "/v1/stats/units", p))
        trend = []
        for n in range(8, 0, -1):
            week_end = end - timedelta(days=7 * (n - 1))
            week_params = {"from": (week_end - timedelta(days=7)).isoformat(), "to": week_end.isoformat()}
            week = await guarded(
                side, dog, "notifier", lambda c=caller, p=week_params: c.get("notifier", "/v1/stats/units", p)
            )
            trend.append(week)
            if week.get("failed"):
                break
        # What the board calls now: the eight weeks' totals in one call.
        one_call = await guarded(side, dog, "notifier", lambda c=caller: c.get(
            "notifier", "/v1/stats/trend", {"to": end.isoformat(), "weeks": 8}))  # fmt: skip
        out[side.name] = {"year": year, "board_page": board, "trend_weeks": trend,
                          "trend_seconds": sum(w["seconds"] for w in trend),
                          "trend_failed": any(w.get("failed") for w in trend),
                          "trend_call": one_call}  # fmt: skip
        print(f"  stats {side.name}: year {year.get('seconds'):.2f} s first, {judged_seconds(year):.2f} s median "
              f"{year.get('failed', '')}, as the board asks {judged_seconds(board):.2f} s median, trend "
              f"{out[side.name]['trend_seconds']:.1f} s as 8 calls, {one_call.get('seconds'):.2f} s as one",
              flush=True)  # fmt: skip
        await caller.client.aclose()
    return out


# --- the ledger export -----------------------------------------------------------------------------------
async def export_period(databases: dict[str, str], end: datetime) -> tuple[datetime, int]:
    """The start of the days back from ``end`` whose ledger (requests × work-item views) holds
    about ``EXPORT_ROWS`` rows, and how many."""
    conn = await asyncpg.connect(loader.dsn(databases["intake"]))
    try:
        rows = await conn.fetch(
            "SELECT date_trunc('day', r.created_at) AS day, count(*) AS n FROM requests r "
            "LEFT JOIN work_item_views v ON v.request_id = r.id GROUP BY 1 ORDER BY 1 DESC"
        )
    finally:
        await conn.close()
    total = 0
    for row in rows:
        total += row["n"]
        if total >= EXPORT_ROWS:
            return row["day"], total
    return rows[-1]["day"], total


async def exports(sides_: list[Side], picks: dict, databases: dict, end: datetime) -> dict:
    since, rows = await export_period(databases, end)
    params = {"from": since.isoformat(), "to": end.isoformat()}
    out: dict = {"from": since.isoformat(), "to": end.isoformat(), "rows_expected": rows}
    who = principals(picks)["province"]
    for fmt in ("csv", "xlsx"):
        out[fmt] = {}
        for side in sides_:
            caller = Caller(side, who)
            out[fmt][side.name] = await one_export(caller, side, {**params, "format": fmt}, fmt)
            await caller.client.aclose()
        y = out[fmt]["year"]
        rows = y.get("rows") or out["rows_expected"]
        first = y.get("ttfb_s") or float("nan")
        print(f"  ledger {fmt}: first byte {first:.2f} s, {rows:,} rows in {y.get('seconds', float('nan')):.1f} s, "
              f"RSS +{y.get('rss_growth_mb', 0):.0f} MB", flush=True)  # fmt: skip
    return out


async def one_export(caller: Caller, side: Side, params: dict, fmt: str) -> dict:
    await asyncio.sleep(1.0)  # the process settles: the baseline is its resting memory
    probe = MemoryProbe(side.pid("intake"))
    started = time.perf_counter()
    first = None
    size = 0
    lines = 0
    with probe:
        async with caller.client.stream(
            "GET", f"{side.url('intake')}/v1/ledger", params=params, headers=caller.headers
        ) as response:
            async for chunk in response.aiter_raw():
                if first is None:
                    first = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
            status = response.status_code
    seconds = time.perf_counter() - started
    rows = max(lines - 1, 0) if fmt == "csv" else None  # XLSX is zipped: its rows are the period's
    return {"status": status, "ttfb_s": first, "seconds": seconds, "bytes": size, "rows": rows,
            "rss_growth_mb": probe.growth / 2**20, "peak_rss_mb": probe.peak / 2**20}  # fmt: skip


# --- pages ----------------------------------------------------------------------------------------------------
async def pages(sides_: list[Side], dog: Watchdog, picks: dict, state: dict, runs: int) -> list[dict]:
    end = date.fromisoformat(state["end"][:10]) + timedelta(days=1)
    specs = [
        ("board: 超期督办 (province)", "dudao.440000", "/board/", runs),
        ("board: 延期审批 (province)", "dudao.440000", "/board/extensions", runs),
        ("clerk: queue, tab 待签收 (busiest unit)", picks["unit"], "/clerk/", runs),
        ("clerk: queue, tab 已办结 page 101", picks["unit"], "/clerk/?tab=done&page=101", runs),
        ("coordinator: queue, tab 已退回", picks["coordinator"], "/clerk/?tab=returned", runs),
        ("board: 单位统计, last 30 days and the 8-week trend (province)", "dudao.440000",
         f"/board/units?from={(end - timedelta(days=30)).isoformat()}&to={end.isoformat()}", max(runs // 4, 1)),
    ]  # fmt: skip
    out = []
    clients = {}
    for side in sides_:
        for username in {s[1] for s in specs}:
            clients[(side.name, username)] = await sides.signed_in(side.url("web"), username)
    for name, username, path, count in specs:
        row = {"name": name, "path": path}
        times = {s.name: [] for s in sides_}
        spent = dict.fromkeys(times, 0.0)
        status = {}
        for _ in range(count):
            for side in sides_:
                if spent[side.name] > LIST_BUDGET_S:
                    continue
                client = clients[(side.name, username)]
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    status[side.name] = response.status_code
                except httpx.HTTPError as exc:
                    status[side.name] = type(exc).__name__
                ms = (time.perf_counter() - started) * 1000
                times[side.name].append(ms)
                spent[side.name] += ms / 1000
        for side in sides_:
            t = times[side.name]
            row[side.name] = {"p95_ms": p95(t), "median_ms": statistics.median(t) if t else None, "calls": len(t),
                              "status": status.get(side.name)}  # fmt: skip
        print(f"  page {name}: year p95 {row['year']['p95_ms']:.0f} ms ({row['year']['status']}), empty "
              f"{row['empty']['p95_ms']:.0f} ms", flush=True)  # fmt: skip
        out.append(row)
        for side in sides_:  # a page whose API died under it: that service again before the next page
            for service in sides.SERVICES:
                if side.processes[service].poll() is not None:
                    await side.restart(service, f"exited during {name}")
    for client in clients.values():
        await client.aclose()
    for side in sides_:  # the pages' abandoned statistics (their 10 s API timeout) would run on
        await side.restart("notifier", "after the pages")
    return out


# --- the whole run ----------------------------------------------------------------------------------------
async def upgrade_pending(databases: dict[str, str]) -> dict:
    """The year brought to the code's head first; a migration added since it was made runs on
    its data here, timed."""
    before = await revisions(databases)
    seconds = loader.migrate(databases)
    after = await revisions(databases)
    return {"before": before, "after": after, "seconds": seconds, "ran": before != after}


async def revisions(databases: dict[str, str]) -> dict:
    out = {}
    for service, name in databases.items():
        conn = await asyncpg.connect(loader.dsn(name))
        try:
            out[service] = await conn.fetchval("SELECT version_num FROM alembic_version")
        finally:
            await conn.close()
    return out


async def empty_databases(world_seed: int) -> dict[str, str]:
    """Empty databases of the year's schema with the same department registry."""
    from .generate import load_registry
    from .world import World

    tag = uuid.uuid4().hex[:6]
    databases = {s: f"xiaoer_yearref_{s}_{tag}" for s in loader.SERVICES}
    for name in databases.values():
        await loader.create_database(name)
    loader.migrate(databases)
    await load_registry(World(world_seed), databases)
    return databases


async def web_database(tag: str, accounts: list[dict]) -> str:
    name = f"xiaoer_yearweb_{tag}_{uuid.uuid4().hex[:6]}"
    await loader.create_database(name)
    await asyncio.to_thread(sides.migrate_web, name)
    await sides.staff_accounts(name, accounts)
    return name


def staff(picks: dict) -> list[dict]:
    return [
        {"username": "dudao.440000", "display_name": "广东省人民政府督查室", "role": "supervisor",
         "region_code": "440000"},
        {"username": picks["unit"], "display_name": "办事员", "role": "department", "unit_code": picks["unit"],
         "region_code": picks["region"]},
        {"username": picks["coordinator"], "display_name": "协调员", "role": "coordinator",
         "unit_code": picks["coordinator"], "region_code": picks["coordinator"].split(".")[0]},
    ]  # fmt: skip


async def measure(runs: int = 50, skip: set[str] | None = None, plans_dir: Path | None = None, **_) -> dict:
    from . import migrations, scheduler

    skip = skip or set()
    state = loader.read_state()
    year = state["databases"]
    result: dict = {"machine": machine(), "load_average_before": os.getloadavg(), "runs": runs,
                    "year": {k: state[k] for k in ("start", "end", "databases", "history_days")}
                    | {"totals": state["load"]["totals"], "bytes": sum(state["database_bytes"].values())},
                    "targets": TARGETS}  # fmt: skip
    result["pending_migrations"] = await upgrade_pending(year)
    picks = await choose(year)
    result["picks"] = picks
    empty = await empty_databases(state["seed"])
    webs = {"year": await web_database("y", staff(picks)), "empty": await web_database("e", staff(picks))}
    log_from = plans.log_position()
    await plans.log_slow(list(year.values()), on=True)
    both = [Side("year", {**year, "web": webs["year"]}), Side("empty", {**empty, "web": webs["empty"]})]
    end = datetime.fromisoformat(state["end"])
    try:
        for side in both:
            await side.start()
        with Watchdog(both) as dog:
            if "lists" not in skip:
                result["lists"] = await lists(both, picks, runs)
            if "export" not in skip:
                result["export"] = await exports(both, picks, year, end)
            if "pages" not in skip:
                result["pages"] = await pages(both, dog, picks, state, runs)
            if "stats" not in skip:
                result["stats"] = await stats(both, dog, picks, state)
            result["watchdog"] = {"kills": dog.kills, "peaks_mb": {f"{s}.{v}": p / 2**20 for (s, v), p in
                                                                   dog.peaks.items()}}  # fmt: skip
        result["restarts"] = {side.name: side.killed for side in both}
    finally:
        for side in both:
            side.stop()
        await plans.log_slow(list(year.values()), on=False)
    if "scheduler" not in skip:
        result["scheduler"] = await scheduler.measure(year, end)
    if "migrations" not in skip:
        result["migrations"] = await migrations.measure(year)
    slow = plans.read_slow(log_from, set(year.values()))
    names = {name: service for service, name in year.items()}
    directory = plans_dir or loader.ROOT / "var" / "bench-year-plans"
    result["plans"] = await plans.explain(slow, directory, names)
    result["slow_statements"] = len(slow)
    for name in [*empty.values(), *webs.values()]:
        with contextlib.suppress(Exception):
            await loader.drop_database(name)
    result["load_average_after"] = os.getloadavg()
    return result
