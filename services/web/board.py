"""The supervisor board: what is overdue, per-unit figures, extension requests, notification
logs — from the notifier's and the router's APIs with the supervisor's token (their region)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from shared.clock import SHANGHAI, utcnow
from shared.vocabulary import OPEN_STATES

from . import labels
from .apis import ApiError, ServiceClient, Services, download
from .clocks import countdowns
from .i18n import N_, _, current
from .pages import NavItem, is_live_poll, render, render_live
from .session import flash, viewer_of

router = APIRouter(prefix="/board")
Overseer = viewer_of("supervisor", "admin")
ROLES = ("supervisor", "admin")
NAV = [
    NavItem(N_("超期督办"), "/board/", ROLES),
    NavItem(N_("单位统计"), "/board/units", ROLES),
    NavItem(N_("延期审批"), "/board/extensions", ROLES),
]
TREND_WEEKS = 8
UNITS_PER_PAGE = 100  # the units table a page at a time: a province has 2,400
ANSWER_DAYS = 3  # a 督办单's answer is due in three days unless the supervisor says otherwise


@dataclass(frozen=True)
class Column:
    """A figure of the unit table, as the notifier defines it (``definitions`` in its answer):
    the heading and what it counts, shown under the table, in the page's language."""

    field: str
    heading: str
    definition: str

    @property
    def kind(self) -> str:
        if self.field.endswith("_rate"):
            return "rate"
        return "days" if "handling" in self.field else "count"

    def shown(self, row: dict) -> str:
        """The row's figure as the table shows it: a rate in per cent to one decimal, none as —.
        Written here, not by a template macro: a province's table has 2,400 rows of 35 figures,
        and 85,000 macro calls were most of the page's second (docs/benchmarks.md)."""
        value = row.get(self.field)
        if value is None:
            return "—"
        return f"{value * 100:.1f}%" if self.kind == "rate" else str(value)


def _columns(stats: dict) -> list[Column]:
    en = current() == "en"
    return [
        Column(d["field"], d["en"] if en else d["zh"], d["definition_en"] if en else d["definition_zh"])
        for d in stats["definitions"]  # every column: each rate's two counts are in the table
    ]


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


async def _units(api: ServiceClient) -> dict[str, dict]:
    """The registry (the supervisor's region): a unit's name and kind by its code."""
    return {u["unit_code"]: u for u in await api.get("router", "/v1/units")}


OVERDUE_PAGE = 100  # rows of the overdue board per page


@router.get("/", name="board.overdue")
async def overdue(
    request: Request,
    viewer: Overseer,
    api: Services,
    region: Annotated[str, Query(max_length=12)] = "",
    unit: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(max_length=40)] = "",
    type: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=60)] = "",
    cursor: Annotated[str, Query(max_length=60)] = "",
):
    """What is overdue now, the oldest deadline first, a page at a time; the filters' choices and
    the count come from the notifier's summary (a province has thousands overdue)."""
    here = {"region": region, "unit": unit, "kind": kind, "type": type, "q": q}
    asked = {name: value for name, value in here.items() if value}  # the page's own query
    filters = {("request_type" if name == "type" else name): value for name, value in asked.items()}
    page = {"limit": OVERDUE_PAGE, **({"cursor": cursor} if cursor else {})}
    summary, answer, pending = await asyncio.gather(  # at once: the page waits for the slowest, not the sum
        api.get("notifier", "/v1/overdue/summary", params=filters),
        api.call("notifier", "GET", "/v1/overdue", params={**filters, **page}),
        pending_extensions(api),
    )
    after = answer.links.get("next", {}).get("url")
    context = {
        "rows": answer.json(),
        "pending": {p["item"]["id"]: p for p in pending},
        "total": summary["total"],
        "options": {
            "regions": [c["code"] for c in summary["regions"]],
            "units": [(c["code"], c["name"]) for c in summary["units"]],
            "kinds": [c["code"] for c in summary["kinds"]],
            "types": [c["code"] for c in summary["request_types"]],
        },
        "chosen": here,
        "first_page": "/board/?" + urlencode(asked) if cursor else None,
        "next_page": _board_page(asked, after),
    }
    if is_live_poll(request, "overdue-live"):  # the board asking whether anything changed
        return render_live(request, "board/_overdue.html", context)
    return render(request, "board/overdue.html", context)


def _board_page(asked: dict, api_next: str | None) -> str | None:
    """The board's address of the page after, from the notifier's next-page link."""
    if not api_next:
        return None
    cursor = parse_qs(urlsplit(api_next).query).get("cursor", [""])[0]
    return "/board/?" + urlencode({**asked, "cursor": cursor})


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    """The chosen period, [start, end): by default the last 30 days including today."""
    end = end or _today() + timedelta(days=1)
    start = start or end - timedelta(days=30)
    return start, end


@router.get("/units", name="board.units")
async def unit_figures(
    request: Request,
    viewer: Overseer,
    api: Services,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    sort: Annotated[str, Query(max_length=40)] = "received",
    desc: Annotated[bool, Query()] = True,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
):
    start, end = _period(start, end)
    if end <= start:
        flash(request, _("结束日期须晚于开始日期"), "error")
        return RedirectResponse("/board/units", status_code=303)
    period = {"from": start.isoformat(), "to": end.isoformat()}
    offset = (page - 1) * UNITS_PER_PAGE
    # A page of units, sorted by the notifier: a province has 2,400 (the CSV has them all).
    asked = {**period, "sort": sort, "desc": desc, "limit": UNITS_PER_PAGE, "offset": offset}
    (stats, sort), trend = await asyncio.gather(_sorted_units(api, asked), _weekly_trend(api, end))
    rows = stats["units"]
    if not rows and page > 1:  # past the last page (fewer units since, or an edited address)
        first_page = urlencode({**period, "sort": sort, "desc": str(desc).lower()})
        return RedirectResponse(f"/board/units?{first_page}", status_code=303)
    columns = _columns(stats)
    context = {
        # Each cell as (field, figure): the template's loop over the rows × 31 figures reads no
        # column and no index (docs/benchmarks.md).
        "rows": [{**row, "cells": [(c.field, c.shown(row)) for c in columns]} for row in rows],
        "total": stats["total"],
        "total_cells": [(c.field, c.shown(stats["total"])) for c in columns],
        "columns": columns,
        "start": start,
        "end": end,
        "last_day": end - timedelta(days=1),
        "sort": sort,
        "desc": desc,
        # An older notifier sends every unit and no count (the web deployed first).
        "pages": _pages(page, stats.get("unit_count", len(rows)), offset, len(rows)),
        "chart": {
            "units": [r["unit_name"] for r in rows],
            "received": [r["received"] for r in rows],
            "on_time": [_percent(r["on_time_rate"]) for r in rows],
            "labels": {"received": _("收件数"), "on_time": _("按时办结率") + " %"},
        },
        "trend": trend,
    }
    return render(request, "board/units.html", context)


async def _sorted_units(api: ServiceClient, asked: dict) -> tuple[dict, str]:
    """The notifier's page of units and the figure they are sorted by: 收件数 when the notifier
    knows no such figure (an edited address)."""
    try:
        return await api.get("notifier", "/v1/stats/units", params=asked), asked["sort"]
    except ApiError as error:
        if error.status != 422 or error.field("sort") is None:
            raise
        return await api.get("notifier", "/v1/stats/units", params={**asked, "sort": "received"}), "received"


def _pages(page: int, unit_count: int, offset: int, shown: int) -> dict:
    """Where the page is among the units: which are shown, and the pages before and after."""
    last_page = max(1, -(-unit_count // UNITS_PER_PAGE))
    return {
        "count": unit_count,
        "first": offset + 1 if shown else 0,
        "last": offset + shown,
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < last_page else None,
        "more_than_one": last_page > 1,
    }


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


async def _weekly_trend(api: ServiceClient, end: date) -> dict:
    """The last weeks' totals, in one call (the notifier adds up its day counts week by week)."""
    params = {"to": end.isoformat(), "weeks": TREND_WEEKS}
    weeks = (await api.get("notifier", "/v1/stats/trend", params=params))["weeks"]
    return {
        "weeks": [date.fromisoformat(w["from"]).strftime("%m-%d") for w in weeks],
        "received": [w["received"] for w in weeks],
        "on_time": [_percent(w["on_time_rate"]) for w in weeks],
        "labels": {"received": _("收件数"), "on_time": _("按时办结率") + " %"},
    }


@router.get("/units.csv", name="board.units_csv")
async def unit_figures_csv(
    viewer: Overseer,
    api: Services,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
):
    """The notifier's CSV of the same figures (Chinese headings, 合计 last), for Excel."""
    start, end = _period(start, end)
    params = {"from": start.isoformat(), "to": end.isoformat(), "format": "csv"}
    return download(await api.call("notifier", "GET", "/v1/stats/units", params=params))


async def _unit_page(request: Request, api: ServiceClient, unit_code: str, status: int = 200, **extra):
    """Drill-down: the unit's work items (nearest deadline first, pending extensions decided in
    their rows), the form to 督办 it and its 督办单 with the unit's answers."""
    units = await _units(api)
    found = units.get(unit_code)
    if found is None:
        raise ApiError(404, "unit_not_found", _("单位不存在或不在您的督办范围内"))
    items = await api.get("router", "/v1/workitems", params={"unit": unit_code, "order": "deadline", "limit": 200})
    clocks = await countdowns(api, items=[i["id"] for i in items if i["state"] in OPEN_STATES])
    for item in items:
        item["countdown"] = clocks.get(item["id"])
    context = {
        "unit": found,
        "items": items,
        "pending": {p["item"]["id"]: p for p in await pending_extensions(api, unit_code)},
        "orders": await api.get("notifier", "/v1/supervisions", params={"unit": unit_code}),
        "form": {"note": "", "due_on": (_today() + timedelta(days=ANSWER_DAYS)).isoformat()},
        "error": None,
        **extra,
    }
    return render(request, "board/unit.html", context, status_code=status)


@router.get("/units/{unit_code}", name="board.unit_items")
async def unit_items(request: Request, unit_code: str, viewer: Overseer, api: Services):
    return await _unit_page(request, api, unit_code)


@router.post("/units/{unit_code}/supervise", name="board.supervise")
async def supervise(request: Request, unit_code: str, viewer: Overseer, api: Services):
    """督办 the unit: the notifier checks that it lies in the supervisor's region and tells it."""
    form = await request.form()
    fields = {"note": str(form.get("note") or ""), "due_on": str(form.get("due_on") or "")}
    try:
        await api.post("notifier", "/v1/supervisions", json={"unit_code": unit_code, **fields})
    except ApiError as error:
        if error.status == 404:
            raise
        return await _unit_page(request, api, unit_code, status=error.status, error=error, form=fields)
    flash(request, _("已发出督办单，单位答复后在此查看"), "success")
    return RedirectResponse(f"/board/units/{unit_code}", status_code=303)


async def pending_extensions(api: ServiceClient, unit: str | None = None) -> list[dict]:
    """The extension requests awaiting a decision (of one unit's items), each with its item: one
    call, each item of the list carrying its pending request."""
    params = {"extension": "pending", "order": "deadline", **({"unit": unit} if unit else {})}
    items = await api.get("router", "/v1/workitems", params=params)
    return [{"item": item, "extension": item["pending_extension"]} for item in items if item["pending_extension"]]


@router.get("/extensions", name="board.extensions")
async def extensions(request: Request, viewer: Overseer, api: Services):
    return render(request, "board/extensions.html", {"pending": await pending_extensions(api)})


@router.post("/extensions/{extension_id}/{decision}", name="board.decide")
async def decide(request: Request, extension_id: str, decision: str, viewer: Overseer, api: Services):
    """Approve or deny where the request is shown: htmx gets the decided block (or the forms again
    with the router's reason); without JavaScript, the extensions page with a flash."""
    form = await request.form()
    reason = str(form.get("reason") or "").strip() or None
    inline = bool(request.headers.get("HX-Request"))
    shape = "card" if form.get("shape") != "cell" else "cell"
    try:
        await api.post("router", f"/v1/extensions/{extension_id}/{decision}", json={"reason": reason})
    except ApiError as error:
        if error.status == 404:
            raise
        if inline:
            item = await api.get("router", f"/v1/workitems/{str(form.get('item') or '')[:36]}")
            [extension] = [x for x in item["extensions"] if x["id"] == extension_id] or [None]
            if extension is not None:
                p = {"item": item, "extension": extension}
                return render(request, "board/_decision_again.html", {"p": p, "shape": shape, "error": error})
        flash(request, error.field("reason") or error.message, "error")
        return RedirectResponse("/board/extensions", status_code=303)
    message = _("已批准延期") if decision == "approve" else _("已驳回延期申请")
    if inline:
        return render(request, "board/_decided.html", {"shape": shape, "message": message})
    flash(request, message, "success")
    return RedirectResponse("/board/extensions", status_code=303)


async def _found(call):
    """An API's answer, or None where it knows no such thing (each service sees its own part)."""
    try:
        return await call
    except ApiError as error:
        if error.status != 404:
            raise
        return None


@router.get("/items/{item_id}", name="board.item")
async def item_log(request: Request, item_id: str, viewer: Overseer, api: Services):
    """One item for a supervisor: its state and history, its timer plan and who was told what."""
    item = await _found(api.get("router", f"/v1/workitems/{item_id}"))
    sla = await _found(api.get("notifier", f"/v1/sla/{item_id}"))  # none: covered by a 专项信用报告
    if item is None and sla is None:
        raise ApiError(404, "work_item_not_found", _("工单不存在或不在您的督办范围内"))
    notices = await api.get("notifier", "/v1/notifications", params={"work_item_id": item_id})
    # Named here, not in the template: Jinja's gettext would read the "%" of "（50%）" as a format.
    for notice in notices:
        notice["kind_name"] = labels.notification_kind(notice["kind"])
    for timer in sla["timers"] if sla else []:
        timer["kind_name"] = labels.timer_kind(timer["kind"])
    context = {
        "item": item,
        "notices": notices,
        "sla": sla,
        "comments": item["comments"] if item else [],
        "comment_error": None,
    }
    return render(request, "board/item.html", context)


@router.post("/items/{item_id}/comments", name="board.comment")
async def comment(request: Request, item_id: str, viewer: Overseer, api: Services):
    """A 内部批注 on an item of the supervisor's region (the router checks the scope)."""
    return await add_comment(request, api, item_id, f"/board/items/{item_id}")


async def add_comment(request: Request, api: ServiceClient, item_id: str, page: str):
    """Board and workbench alike: htmx gets the comments section again, a plain form the page."""
    form = await request.form()
    error = None
    try:
        await api.post("router", f"/v1/workitems/{item_id}/comments", json={"body": str(form.get("body") or "")})
    except ApiError as failed:
        if failed.status == 404:
            raise
        error = failed
    if not request.headers.get("HX-Request"):
        if error is not None:
            flash(request, error.field("body") or error.message, "error")
        return RedirectResponse(f"{page}#comments", status_code=303)
    comments = await api.get("router", f"/v1/workitems/{item_id}/comments")
    context = {"comments": comments, "action": f"{page}/comments", "comment_error": error}
    return render(request, "staff/_comments.html", context)
