"""The supervisors' overdue board: ``GET /v1/overdue``, what is overdue now, the oldest deadline
first, a page at a time (``limit``, ``cursor``; the next page's address in the ``Link`` header,
RFC 8288), filtered by unit, department kind and request type; ``GET /v1/overdue/summary``, how
many there are and by what (the board's filter choices). A province has thousands overdue at a
time (issue 28: 6,610 on a year of Guangdong); a page computes the countdowns of its own rows only."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select, tuple_

from shared import regions
from shared.auth import Overseer
from shared.clock import reading_now
from shared.problems import invalid_field
from shared.web import DbSession

from .api import calendar_of, record_fields, region_of
from .countdown import countdown
from .models import SlaRecord
from .schemas import OverdueOut

router = APIRouter(prefix="/v1", tags=["sla"])
Code = Annotated[str | None, Query(max_length=100)]
CURSOR = re.compile(r"^(\d{1,16})_([0-9a-f-]{36})$")  # the last row's deadline (µs since 1970) and item


class Count(BaseModel):
    code: str
    name: str | None = Field(None, description="a unit's name")
    count: int


class OverdueSummaryOut(BaseModel):
    total: int = Field(description="overdue now, with the filters asked")
    regions: list[Count] = Field(description="by the unit's region (the filters' choices: region only)")
    units: list[Count]
    kinds: list[Count] = Field(description="by department kind")
    request_types: list[Count]


def _overdue(filters: Asked):
    conditions = [SlaRecord.is_overdue(reading_now())]
    if filters.region:
        conditions.append(regions.within(SlaRecord.region_code, filters.region))
    for column, wanted in (
        (SlaRecord.unit_code, filters.unit),
        (SlaRecord.department_kind, filters.kind),
        (SlaRecord.request_type, filters.request_type),
    ):
        if wanted:
            conditions.append(column == wanted)
    if filters.q:
        by_reference = SlaRecord.reference_no.contains(filters.q, autoescape=True)
        conditions.append(or_(by_reference, SlaRecord.subject_name.contains(filters.q, autoescape=True)))
    return conditions


def _cursor(cursor: str | None):
    if cursor is None:
        return None
    found = CURSOR.match(cursor)
    try:
        due = datetime.fromtimestamp(int(found[1]) / 1_000_000, UTC) if found else None
    except (ValueError, OverflowError, OSError):  # digits, but no instant a datetime can hold
        due = None
    if due is None:
        raise invalid_field("cursor", "cursor_invalid", "翻页游标无效", "Invalid cursor")
    return tuple_(SlaRecord.current_due_at, SlaRecord.work_item_id) > (due, found[2])


def _next(request: Request, last: SlaRecord) -> str:
    micros = round(last.current_due_at.timestamp() * 1_000_000)
    query = {**request.query_params, "cursor": f"{micros}_{last.work_item_id}"}
    return f'<{request.url.path}?{urlencode(query)}>; rel="next"'


@dataclass
class Asked:
    """The board's filters; the region the caller's, or a part of it."""

    region: str | None
    unit: str | None
    kind: str | None
    request_type: str | None
    q: str | None = None  # part of a 受理编号 or of the subject's name

    def region_only(self) -> Asked:
        return Asked(self.region, None, None, None)


def asked(
    principal: Overseer,
    region: Code = None,
    unit: Code = None,
    kind: Code = None,
    request_type: Code = None,
    q: Annotated[str | None, Query(max_length=60, description="part of a 受理编号 or a subject's name")] = None,
) -> Asked:
    return Asked(region_of(principal, region), unit, kind, request_type, q.strip() if q and q.strip() else None)


Filters = Annotated[Asked, Depends(asked)]


@router.get("/overdue", response_model=list[OverdueOut], summary="What is overdue now, oldest deadline first, a page")
async def overdue(
    request: Request,
    response: Response,
    session: DbSession,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=60)] = None,
) -> list[OverdueOut]:
    after = _cursor(cursor)
    now = reading_now()
    query = (
        select(SlaRecord)
        .where(*_overdue(filters), *([after] if after is not None else []))
        .order_by(SlaRecord.current_due_at, SlaRecord.work_item_id)
        .limit(limit + 1)
    )
    records = list(await session.scalars(query))
    if len(records) > limit:
        records = records[:limit]
        response.headers["Link"] = _next(request, records[-1])
    calendar = await calendar_of(request, session)
    out = []
    for r in records:
        shown = countdown(r, now, calendar)
        out.append(OverdueOut(**record_fields(r), overdue_working_hours=shown.working_hours, countdown=shown.as_dict()))
    return out


@router.get(
    "/overdue/summary",
    response_model=OverdueSummaryOut,
    summary="How many are overdue now, and by region, unit, department kind and request type",
)
async def overdue_summary(session: DbSession, filters: Filters) -> OverdueSummaryOut:
    # One grouped read (a province has thousands overdue); the count and the choices from it.
    key = (SlaRecord.region_code, SlaRecord.unit_code, SlaRecord.department_kind, SlaRecord.request_type)
    groups = (
        await session.execute(
            select(*key, func.max(SlaRecord.unit_name), func.count())
            .where(*_overdue(filters.region_only()))  # the choices: every unit, kind and type of the region
            .group_by(*key)
        )
    ).all()

    def asked_for(row) -> bool:
        _region, unit_code, kind_code, type_code, _name, _count = row
        wanted = ((filters.unit, unit_code), (filters.kind, kind_code), (filters.request_type, type_code))
        return all(not want or want == got for want, got in wanted)

    total = sum(row[-1] for row in groups if asked_for(row))
    if filters.q:  # a search is not among the groups' keys: counted by the database
        total = await session.scalar(select(func.count()).where(*_overdue(filters)))

    def by(index: int, named: bool = False) -> list[Count]:
        counts: dict[str, int] = defaultdict(int)
        names: dict[str, str] = {}
        for row in groups:
            counts[row[index]] += row[-1]
            names[row[index]] = row[4]
        return [Count(code=code, name=names[code] if named else None, count=n) for code, n in sorted(counts.items())]

    return OverdueSummaryOut(total=total, regions=by(0), units=by(1, named=True), kinds=by(2), request_types=by(3))
