"""Known enterprises (valid USCCs), request bodies and file bytes the tests submit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from shared import events
from shared.validation import make_uscc

# Enterprises used across tests (valid USCCs with their check characters).
MINGLUO = make_uscc("91440112MA59C5XK0")  # 广州明珞装备股份有限公司, 黄埔区


MINGLUO_SH = make_uscc("91310115MA1H7A8K5")  # its subsidiary in 浦东新区


MINGLUO_YY = make_uscc("91430624MA4L12340")  # its subsidiary in 湘阴县 (no demo units: falls back)


OTHER_CO = make_uscc("91440112190353246")  # an unrelated enterprise in 黄埔区


def certificate_request(enterprise=MINGLUO, region="440112", subjects=(), items=("tax",), **extra) -> dict:
    body = {
        "type": "compliance_certificate",
        "enterprise": {"uscc": enterprise, "name": "广州明珞装备股份有限公司", "region_code": region},
        "subjects": list(subjects),
        "items": list(items),
        "period_months": 36,
        "purpose": "ipo",
        "description": "上市申报所需无违法违规证明",
        "contact": {"name": "张三", "mobile": "13800138000"},
    }
    body.update(extra)
    return body


# A certificate as a unit issues it (a PDF that names itself so).
CERTIFICATE = "%PDF-1.7\n% 无违法违规证明\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".encode()
PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def first_year_without_official_schedule() -> int:
    """The first year from now with no State Council schedule in chinese-calendar (2027 with
    version 1.11; later when a new version ships one), so tests never pin a year."""
    from services.notifier.workcal import WorkingCalendar

    calendar, year = WorkingCalendar(), date.today().year
    while calendar.schedule_source(year) != "fallback":
        year += 1
    return year


def numbered_event(seq: int, request_id: str | None = None) -> events.RequestWithdrawn:
    """A valid event that carries ``seq`` (its reason), for tests of delivery and order, where the
    event's type does not matter."""
    return events.RequestWithdrawn(
        request_id=request_id or f"r-{seq}",
        reason=str(seq),
        actor=events.Actor(role="enterprise", id=MINGLUO),
        occurred_at=datetime.now(UTC),
    )


def work_item_event(model: type[events.WorkItemEvent] = events.WorkItemDispatched, **fields) -> events.WorkItemEvent:
    """A valid work-item event as the router publishes it: 明珞's tax item at 黄埔区税务局, new ids,
    now, unversioned (every version applies), unless ``fields`` say otherwise; a dispatch carries
    its routing rule too."""
    defaults = dict(
        work_item_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference_no="XE-20251103-000001",
        request_type="compliance_certificate",
        item="tax",
        department_kind="tax",
        unit_code="440112.tax",
        unit_name="国家税务总局广州市黄埔区税务局",
        region_code="440112",
        subject_uscc=MINGLUO,
        subject_name="广州明珞装备股份有限公司",
        enterprise_uscc=MINGLUO,
        state="dispatched",
        occurred_at=datetime.now(UTC),
    )
    if model is events.WorkItemDispatched:
        defaults |= dict(rule_id=1, rule_version=1, routing_reason="test")
    return model(**defaults | fields)


def long_overdue_dispatch(reference: str, kind: str, unit_code: str, unit_name: str) -> events.WorkItemDispatched:
    """A work item of 明珞's dispatched to ``unit_code`` 60 days ago, long past any time limit: what
    the notifier makes overdue at once, for the pages that show overdue items."""
    return work_item_event(
        reference_no=reference,
        item=kind,
        department_kind=kind,
        unit_code=unit_code,
        unit_name=unit_name,
        region_code=unit_code.split(".")[0],
        occurred_at=datetime.now(UTC) - timedelta(days=60),
    )
