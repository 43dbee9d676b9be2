"""The 问题台账 (ledger): one row per work item (per request while none exists) in the caller's
scope, in Chinese (states, outcomes, items, times in Asia/Shanghai), with who acted last;
exported as JSON, CSV (UTF-8 with BOM so Excel opens Chinese text) or XLSX. Both files are streamed
as they are read (XLSX zipped on the fly, xlsx_stream.py), so a year's ledger keeps the process's
memory flat and its first bytes leave at once."""

from __future__ import annotations

import csv
import functools
import io
import operator
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import catalogue, regions
from shared.auth import Principal
from shared.clock import SHANGHAI
from shared.vocabulary import OUTCOMES, REQUEST_STATUSES, WORK_ITEM_STATES

from . import xlsx_stream
from .access import visible
from .listing import filtered
from .models import Request, WorkItemView

# 信用代证: an uploaded report is the item's result; it reads as the item's state does.
LEDGER_OUTCOMES = {**OUTCOMES.names(), "credit_report": WORK_ITEM_STATES.zh("credit_report_uploaded")}

COLUMNS = (
    ("reference_no", "受理编号"),
    ("request_type", "诉求类型"),
    ("request_status", "诉求状态"),
    ("enterprise_uscc", "统一社会信用代码"),
    ("enterprise_name", "企业名称"),
    ("region", "所在地区"),
    ("submitted_at", "提交时间"),
    ("work_item_id", "工单编号"),
    ("unit_code", "承办单位代码"),
    ("unit_name", "承办单位"),
    ("item", "事项"),
    ("subject_name", "主体"),
    ("work_item_status", "工单状态"),
    ("due_at", "办理时限"),
    ("outcome", "办理结果"),
    ("document_no", "文号"),
    ("coverage", "信用代证覆盖版本"),
    ("last_actor", "最后操作人"),
    ("updated_at", "最后更新时间"),
)


@functools.cache  # once per (type, item), not once per exported row
def _item_name(request_type: str, item: str) -> str:
    known = catalogue.REQUEST_TYPES.get(request_type)
    names = {t.code: t.zh for t in known.items} if known else {}
    return names.get(item, item)


_EPOCH, _MINUTE = datetime(1970, 1, 1, tzinfo=UTC), timedelta(minutes=1)  # whole minutes, exactly


def local_minute(value: datetime | None) -> str:
    """``2026-03-01 10:22`` in Asia/Shanghai. Three times a row, and a ledger's rows share their
    minutes (a request's items its submission's): each minute is written once."""
    return _minute((value - _EPOCH) // _MINUTE) if value else ""


@functools.lru_cache(maxsize=2**16)
def _minute(minute: int) -> str:
    return (_EPOCH + minute * _MINUTE).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# Rows are read from the database, and written out, this many at a time.
CHUNK = 1000
_READ = (
    Request.reference_no,
    Request.type,
    Request.status,
    Request.enterprise_uscc,
    Request.enterprise_name,
    Request.enterprise_region,
    Request.created_at,
    Request.updated_at,
    WorkItemView.id.label("work_item_id"),
    WorkItemView.unit_code,
    WorkItemView.unit_name,
    WorkItemView.item,
    WorkItemView.subject_name,
    WorkItemView.status.label("work_item_status"),
    WorkItemView.due_at,
    # Two values of the item's result, not the whole JSON decoded for each row.
    WorkItemView.result["outcome"].as_string().label("outcome"),
    WorkItemView.result["document_no"].as_string().label("document_no"),
    WorkItemView.coverage,
    WorkItemView.last_actor,
    WorkItemView.updated_at.label("item_updated_at"),
)


def query(
    principal: Principal,
    *,
    status: str | None,
    type_: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    unit_code: str | None,
) -> Select:
    """The ledger's rows in ``principal``'s scope, oldest request first, as plain columns (no ORM
    objects: an export of a year reads hundreds of thousands of them)."""
    joined = select(*_READ).select_from(Request).outerjoin(WorkItemView, WorkItemView.request_id == Request.id)
    selected = filtered(visible(principal, joined), status, type_, created_from, created_to)
    if unit_code:
        selected = selected.where(WorkItemView.unit_code == unit_code)
    return selected.order_by(Request.created_at, Request.id, WorkItemView.unit_code)


async def rows(sessions: async_sessionmaker[AsyncSession], selected: Select) -> AsyncIterator[dict]:
    """The ledger's rows as they come from the database (a server-side cursor, ``CHUNK`` rows at
    a time), in a session of their own: a streamed export outlives the request's session."""
    async with sessions() as session, session.begin():
        # Plain rows by the connection (no ORM loading), a chunk at a time: one switch into the
        # database driver per chunk, not per row (docs/benchmarks.md).
        connection = await session.connection()
        result = await connection.stream(selected.execution_options(yield_per=CHUNK))
        async for chunk in result.partitions():
            for found in chunk:
                yield _row(*found)


def _row(  # the columns of _READ, in order: a row's values by position, not looked up by name
    reference_no,
    type_,
    status,
    enterprise_uscc,
    enterprise_name,
    enterprise_region,
    created_at,
    updated_at,
    work_item_id,
    unit_code,
    unit_name,
    item,
    subject_name,
    work_item_status,
    due_at,
    outcome,
    document_no,
    coverage,
    last_actor,
    item_updated_at,
) -> dict:
    request_type = catalogue.REQUEST_TYPES.get(type_)
    has_item = work_item_id is not None
    return {
        "reference_no": reference_no,
        "request_type": request_type.zh if request_type else type_,
        "request_status": REQUEST_STATUSES.zh(status),
        "enterprise_uscc": enterprise_uscc,
        "enterprise_name": enterprise_name,
        "region": regions.full_name(enterprise_region),
        "submitted_at": local_minute(created_at),
        "work_item_id": work_item_id or "",
        "unit_code": unit_code or "",
        "unit_name": unit_name or "",
        "item": _item_name(type_, item) if has_item else "",
        "subject_name": subject_name or "",
        "work_item_status": WORK_ITEM_STATES.zh(work_item_status) if has_item else "",
        "due_at": local_minute(due_at) if has_item else "",
        "outcome": LEDGER_OUTCOMES.get(outcome or "", "") if has_item else "",
        "document_no": str(document_no or "") if has_item else "",
        "coverage": coverage or "",
        "last_actor": last_actor or "",
        "updated_at": local_minute(item_updated_at if has_item else updated_at),
    }


async def csv_chunks(data: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (so Excel opens Chinese text), the header first, then ``CHUNK`` rows at a
    time: the first bytes leave before the last rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([zh for _, zh in COLUMNS])
    written = 0
    async for row in data:
        writer.writerow([row[key] for key, _ in COLUMNS])
        written += 1
        if written % CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(data: AsyncGenerator[dict, None]) -> AsyncIterator[bytes]:
    """The ledger as an XLSX workbook, streamed as it is read (xlsx_stream.py): header in bold and
    frozen, one row per work item. A sheet holds 1,048,576 rows; past that the last row says so."""

    in_order = operator.itemgetter(*(key for key, _ in COLUMNS))  # every value is text already

    async def values() -> AsyncIterator[tuple[str, ...]]:
        try:
            async for row in data:
                yield in_order(row)
        finally:  # closed early at Excel's last row: the rows' session ends now, not when collected
            await data.aclose()

    too_many = "……以下从略：Excel 一张表最多 1,048,576 行，全部记录请导出 CSV"
    return xlsx_stream.workbook("问题台账", [zh for _, zh in COLUMNS], values(), too_many=too_many)
