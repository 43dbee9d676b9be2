"""Each item's clock as the notifier words it (``POST /v1/countdowns``, services/notifier/
countdown.py): which deadline counts, the working days left or overdue, paused during 补正. The
pages never count working days themselves, so the enterprise, the clerk, the coordinator and the
supervisor read the same text for the same item at the same moment."""

from __future__ import annotations

import asyncio

import structlog

from .apis import ApiError, ServiceClient

log = structlog.get_logger(__name__)
CHUNK = 500  # items per call: the notifier takes at most 500 ids at once


async def countdowns(api: ServiceClient, *, request_id: str | None = None, items=()) -> dict[str, dict]:
    """The countdown of each item (by work item id) of one request, or of the items named. The
    notifier away: no countdowns (the page still shows what it has), said in the log."""
    rows = await clock_rows(api, request_id=request_id, items=items)
    return {item_id: row["countdown"] for item_id, row in rows.items()}


async def clock_rows(api: ServiceClient, *, request_id: str | None = None, items=()) -> dict[str, dict]:
    """The notifier's whole answer per item: the countdown, whether its enterprise may 催办 it now
    (``urge``) and its unit's public telephone (``unit_contact``)."""
    ids = list(dict.fromkeys(items))
    calls = [{"request_ids": [request_id]}] if request_id else []
    calls += [{"work_item_ids": ids[n : n + CHUNK]} for n in range(0, len(ids), CHUNK)]
    try:
        answers = await asyncio.gather(*(api.post("notifier", "/v1/countdowns", json=body) for body in calls))
    except ApiError as error:
        if error.status == 401:
            raise
        log.warning("web.countdowns_unavailable", status=error.status, error=error.message)
        return {}
    return {row["work_item_id"]: row for answer in answers for row in answer}


def most_pressing(found: list[dict]) -> dict | None:
    """The countdown a request's summary shows: the most overdue, else the nearest deadline, else a
    paused clock; finished items none."""
    running = [c for c in found if c and not c["finished"]]
    late = [c for c in running if c["overdue"]]
    if late:
        return max(late, key=lambda c: c["working_hours"])
    counting = [c for c in running if not c["paused"] and c["deadline"] and c["due_at"]]
    if counting:
        return min(counting, key=lambda c: c["working_hours"])
    return next((c for c in running if c["paused"]), None)
