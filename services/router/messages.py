"""Every event the router emits, each built from the router's rows and added to its outbox in the
caller's transaction. Call sites say what happened; how it is encoded lives here.

- ``workitems.events``: every change of a work item, keyed by request (intake's timeline and the
  notifier's clocks read one request's items in order).
- ``dept.<unit>.inbox``: what a unit must act on (``WorkItemAssigned``) and what it should know
  (``WorkItemNotice``), keyed by work item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.messaging.encoding import OutgoingMessage
from shared.messaging.outbox import Outbox
from shared.signing import attachment_link

from .models import CreditCoverage, CreditItem, DepartmentUnit, NewWorkItem, RoutedRequest, WorkItem, outbox
from .settings import RouterSettings

OUTBOX = Outbox(outbox, events.SOURCE_ROUTER)


def item_event(
    item: WorkItem | NewWorkItem,
    unit: DepartmentUnit,
    request: RoutedRequest,
    event_type: type[events.WorkItemEvent],
    actor: events.Actor | None,
    note: str | None,
    now: datetime,
    **extra: Any,
) -> OutgoingMessage:
    """A ``workitems.events`` message describing the item as it now stands at ``unit``. Every
    message is a new version of the item, so readers can tell an older message from a newer one."""
    item.version = (item.version or 0) + 1
    if issubclass(event_type, events.WorkItemDispatched):
        # Whom the certificate is about and which 信用代证 coverage was consulted, on every dispatch.
        extra.setdefault("subject_region", item.subject_region)
        extra.setdefault("credit_coverage", item.credit_coverage or [])
    event = event_type(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        request_type=request.request_type,
        item=item.item,
        department_kind=item.department_kind,
        unit_code=unit.unit_code,
        unit_name=unit.name,
        region_code=unit.region_code,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        enterprise_uscc=request.enterprise_uscc,
        state=item.state,
        occurred_at=now,
        actor=actor,
        note=note,
        version=item.version,
        **extra,
    )
    return OUTBOX.message(event, topic=events.WORKITEMS_EVENTS, key=item.request_id, subject=item.id, time=now)


def credit_item_changed(
    item: CreditItem,
    coverage: CreditCoverage,
    request: RoutedRequest,
    event_type: type[events.WorkItemEvent],
    now: datetime,
    actor: events.Actor | None = None,
    note: str | None = None,
    **extra: Any,
) -> OutgoingMessage:
    """A ``workitems.events`` message about an item the subject's 专项信用报告 covers (信用代证):
    covered (``WorkItemCovered``), fulfilled by the uploaded report, or cancelled by a withdrawal.
    No inbox message goes with any of them: no department has work to do. The "unit" is the
    report, ``credit.<coverage region>``."""
    event = event_type(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        request_type=request.request_type,
        item=item.item,
        department_kind=item.item,
        unit_code=events.credit_report_unit(coverage.region_code),
        unit_name=f"专项信用报告（{coverage.site_name}）",
        region_code=coverage.region_code,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        enterprise_uscc=request.enterprise_uscc,
        state=item.state,
        occurred_at=now,
        actor=actor,
        note=note,
        version=item.version,
        **extra,
    )
    return OUTBOX.message(event, topic=events.WORKITEMS_EVENTS, key=item.request_id, subject=item.id, time=now)


def covered(item: CreditItem, coverage: CreditCoverage, request: RoutedRequest, now: datetime) -> OutgoingMessage:
    """An item of state ``credit_report``, announced once when the request is routed."""
    return credit_item_changed(
        item,
        coverage,
        request,
        events.WorkItemCovered,
        now,
        subject_region=item.subject_region,
        coverage_region=coverage.region_code,
        coverage_version=coverage.version,
        coverage_effective_from=coverage.effective_from,
        report_name=coverage.report_name,
        report_site_name=coverage.site_name,
        report_site_url=coverage.site_url,
        reason=item.reason,
    )


def credit_report_uploaded(
    item: CreditItem, coverage: CreditCoverage, request: RoutedRequest, uploaded: events.CreditReportUploaded
) -> OutgoingMessage:
    """The item is fulfilled: the enterprise uploaded the report that covers it."""
    return credit_item_changed(
        item,
        coverage,
        request,
        events.WorkItemCreditReportUploaded,
        uploaded.occurred_at,
        actor=uploaded.actor,
        subject_region=item.subject_region,
        coverage_region=coverage.region_code,
        coverage_version=coverage.version,
        report=uploaded.report,
    )


def signed_links(settings: RouterSettings, files: list[events.FileRef]) -> list[str]:
    """Time-limited links to intake's copy of ``files``, for department systems on Kafka."""
    return [
        attachment_link(
            settings.signing_key, settings.attachment_download_base, f.id, settings.attachment_link_ttl_seconds
        )
        for f in files
    ]


def assigned(
    settings: RouterSettings,
    item: WorkItem | NewWorkItem,
    unit: DepartmentUnit,
    request: RoutedRequest,
    now: datetime,
    role: str = "lead",
    submitted: events.RequestSubmitted | None = None,
    transfer: events.Handover | None = None,
) -> OutgoingMessage:
    """What a unit needs to work the item, on its own inbox topic. ``submitted``: the request's
    event when the caller has it parsed already (routing), instead of its stored copy;
    ``transfer``: who handed it over and why, when another unit transferred it (转办)."""
    submitted = submitted or events.RequestSubmitted.model_validate(request.body)
    subject = next((s for s in submitted.subjects if s.uscc == item.subject_uscc), None) or events.Subject(
        uscc=item.subject_uscc, name=item.subject_name, region_code=item.subject_region
    )
    authorization = subject.proof.authorization if subject.proof else None
    body = events.WorkItemAssigned(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=submitted.reference_no,
        request_type=submitted.request_type,
        item=item.item,
        unit_code=unit.unit_code,
        enterprise=submitted.enterprise,
        subject=subject,
        period_months=submitted.period_months,
        purpose=submitted.purpose,
        description=submitted.description,
        attachment_links=signed_links(settings, submitted.attachments),
        authorization_link=signed_links(settings, [authorization])[0] if authorization else None,
        role=role,
        transfer=transfer,
        dispatched_at=now,
    )
    return OUTBOX.message(body, topic=unit.inbox_topic, key=item.id, subject=item.id, time=now)


def notice(
    item: WorkItem, unit: DepartmentUnit, request: RoutedRequest, kind: str, now: datetime, **extra: Any
) -> OutgoingMessage:
    """Something a unit should know about an item it holds or held (a transfer, a withdrawal…)."""
    body = events.WorkItemNotice(
        work_item_id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        unit_code=unit.unit_code,
        notice=kind,
        occurred_at=now,
        **extra,
    )
    return OUTBOX.message(body, topic=unit.inbox_topic, key=item.id, subject=item.id, time=now)


def unit_registered(unit: DepartmentUnit, now: datetime) -> OutgoingMessage:
    body = events.UnitRegistered(
        unit_code=unit.unit_code,
        name=unit.name,
        kind=unit.kind,
        region_code=unit.region_code,
        active=unit.active,
        supervising_office=unit.supervising_office,
        contacts=[events.Contact.model_validate(c) for c in unit.contacts or []],
        phone=unit.phone,
        office_hours=unit.office_hours,
        occurred_at=now,
    )
    return OUTBOX.message(body, topic=events.REGISTRY_EVENTS, key=unit.unit_code, subject=unit.unit_code, time=now)


def supervisor_registered(entry: dict[str, Any], now: datetime) -> OutgoingMessage:
    body = events.SupervisingOfficeRegistered(
        region_code=entry["region_code"],
        name=entry["name"],
        contacts=[events.Contact.model_validate(c) for c in entry.get("contacts", [])],
        occurred_at=now,
    )
    return OUTBOX.message(
        body, topic=events.REGISTRY_EVENTS, key=entry["region_code"], subject=entry["region_code"], time=now
    )


async def emit(session: AsyncSession, messages: list[OutgoingMessage]) -> None:
    await OUTBOX.emit_all(session, messages)
