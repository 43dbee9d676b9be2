"""The 问题台账 (ledger): one row per work item (per request while none exists) in the caller's
scope, in Chinese (states, outcomes, items, times in Asia/Shanghai), with who acted last;
exported as JSON, CSV (UTF-8 with BOM so Excel opens Chinese text) or XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, regions
from shared.auth import Principal
from shared.clock import SHANGHAI
from shared.vocabulary import OUTCOMES, REQUEST_STATUSES, WORK_ITEM_STATES

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


def _item_name(request_type: str, item: str) -> str:
    known = catalogue.REQUEST_TYPES.get(request_type)
    names = {t.code: t.zh for t in known.items} if known else {}
    return names.get(item, item)


def _local(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


async def rows(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    type_: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    unit_code: str | None,
) -> list[dict]:
    joined = select(Request, WorkItemView).outerjoin(WorkItemView, WorkItemView.request_id == Request.id)
    query = filtered(visible(principal, joined), status, type_, created_from, created_to)
    if unit_code:
        query = query.where(WorkItemView.unit_code == unit_code)
    result = await session.execute(query.order_by(Request.created_at, Request.id, WorkItemView.unit_code))
    out = []
    for request, item in result.all():
        request_type = catalogue.REQUEST_TYPES.get(request.type)
        out.append(
            {
                "reference_no": request.reference_no,
                "request_type": request_type.zh if request_type else request.type,
                "request_status": REQUEST_STATUSES.zh(request.status),
                "enterprise_uscc": request.enterprise_uscc,
                "enterprise_name": request.enterprise_name,
                "region": regions.full_name(request.enterprise_region),
                "submitted_at": _local(request.created_at),
                "work_item_id": item.id if item else "",
                "unit_code": item.unit_code if item else "",
                "unit_name": item.unit_name if item else "",
                "item": _item_name(request.type, item.item) if item else "",
                "subject_name": item.subject_name if item else "",
                "work_item_status": WORK_ITEM_STATES.zh(item.status) if item else "",
                "due_at": _local(item.due_at) if item else "",
                "outcome": LEDGER_OUTCOMES.get((item.result or {}).get("outcome", ""), "") if item else "",
                "document_no": (item.result or {}).get("document_no") or "" if item else "",
                "coverage": (item.coverage or "") if item else "",
                "last_actor": (item.last_actor or "") if item else "",
                "updated_at": _local(item.updated_at if item else request.updated_at),
            }
        )
    return out


def to_csv(data: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([zh for _, zh in COLUMNS])
    for row in data:
        writer.writerow([row[key] for key, _ in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(data: list[dict]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("问题台账")
    bold = workbook.add_format({"bold": True})
    for col, (_, zh) in enumerate(COLUMNS):
        sheet.write(0, col, zh, bold)
    for r, row in enumerate(data, start=1):
        for col, (key, _) in enumerate(COLUMNS):
            sheet.write_string(r, col, str(row[key]))
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()
