"""notifier's event handlers: work-item changes → SLA clocks, timers and enterprise news; items a
专项信用报告 covers → the 证明替代率 statistics only."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.messaging.applying import BatchHandler
from shared.messaging.encoding import ReceivedEvent

from . import calendar as work_calendar
from . import recipients, substitution, turns
from .clocks import Clocks
from .settings import NotifierSettings
from .workcal import WorkingCalendar


def handlers(calendar: WorkingCalendar, settings: NotifierSettings) -> dict:
    async def on_work_item_events(session: AsyncSession, batch: list[ReceivedEvent]) -> None:
        clocked = []
        for received in batch:
            if events.is_credit_report_unit(received.data.unit_code):
                # 信用代证: the report stands for the certificate; no unit, no clock. The enterprise is
                # told to upload it (its turn), once per request and subject.
                await substitution.credit_item_event(session, received.data)
                await turns.credit_report_awaited(session, received.data)
            else:
                clocked.append((received.data, received.id))
        if clocked:
            await work_calendar.refresh(session, calendar)
            await Clocks(session, calendar, settings).apply_all(clocked)

    on_work_item_event = BatchHandler(on_work_item_events)

    async def on_wechat_bound(session: AsyncSession, received: ReceivedEvent) -> None:
        bound: events.WechatUserBound = received.data
        for uscc in bound.usccs:
            await recipients.add(session, "enterprise", uscc, "wechat", bound.openid, None)

    async def on_unit_registered(session: AsyncSession, received: ReceivedEvent) -> None:
        await recipients.unit_registered(session, received.data)

    async def on_supervisor_registered(session: AsyncSession, received: ReceivedEvent) -> None:
        await recipients.supervisor_registered(session, received.data)

    return {
        **{model.ce_type: on_work_item_event for model in events.WORK_ITEM_EVENTS},
        events.WechatUserBound.ce_type: on_wechat_bound,
        events.UnitRegistered.ce_type: on_unit_registered,
        events.SupervisingOfficeRegistered.ce_type: on_supervisor_registered,
    }
