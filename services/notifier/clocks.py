"""The SLA clocks of work items: what each work-item event does to them, and the timers they
set. Every change of a deadline is published on ``sla.events`` for intake and the router."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.clock import SHANGHAI

from . import holders, messages, notify, policies
from .models import SlaRecord, SlaTimer
from .settings import NotifierSettings
from .workcal import WorkingCalendar

RESOLVE_TIMERS = ("remind_50", "remind_80", "due", "escalate", "public_notice")
# An item nobody signs for escalates like an overdue one: 催办 at the acknowledge deadline, 督办
# one working day later, 通报 five working days later.
ACKNOWLEDGE_TIMERS = ("acknowledge_due", "acknowledge_escalate", "acknowledge_public_notice")


class Clocks:
    def __init__(self, session: AsyncSession, calendar: WorkingCalendar, settings: NotifierSettings) -> None:
        self.session = session
        self.calendar = calendar
        self.settings = settings
        # Timers planned and not yet written: written with one INSERT, before anything reads or
        # cancels timers, and at the end of a batch (``write_timers``). Eight per dispatched
        # item, a backlog's worth at a time: as ORM objects they were most of the drain's CPU.
        self._timers: list[dict] = []
        # The batch's notifications, written with one INSERT at its end, and the recipients they
        # were addressed to, looked up once per audience and key (no recipient changes in a batch
        # of work-item events).
        self._notifications: list[dict] = []
        self._recipients: dict = {}

    # --- timers ------------------------------------------------------------------------------------
    def resolve_timer_plan(self, record: SlaRecord, start: datetime, due: datetime) -> list[tuple[str, datetime]]:
        """Reminders at 50 % and 80 % of the time, 催办 at the deadline, 督办 one working day
        after it, 通报 five working days after it. Calendar-minute policies count plain time."""
        day = self.calendar.working_day_length
        if record.policy.get("resolve_unit") == "minutes":
            total = due - start
            at = lambda fraction: start + total * fraction  # noqa: E731
        else:
            total = self.calendar.working_time_between(start, due)
            at = lambda fraction: self.calendar.add_working_time(start, total * fraction) if total else due  # noqa: E731
        return [
            ("remind_50", at(0.5)),
            ("remind_80", at(0.8)),
            ("due", due),
            ("escalate", self.calendar.add_working_time(due, day)),
            ("public_notice", self.calendar.add_working_time(due, 5 * day)),
        ]

    def acknowledge_timer_plan(self, due: datetime) -> list[tuple[str, datetime]]:
        day = self.calendar.working_day_length
        return [
            ("acknowledge_due", due),
            ("acknowledge_escalate", self.calendar.add_working_time(due, day)),
            ("acknowledge_public_notice", self.calendar.add_working_time(due, 5 * day)),
        ]

    async def cancel_timers(self, record: SlaRecord, now: datetime, kinds: tuple[str, ...] | None = None) -> None:
        await self.write_timers()
        query = update(SlaTimer).where(
            SlaTimer.work_item_id == record.work_item_id, SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None)
        )
        if kinds:
            query = query.where(SlaTimer.kind.in_(kinds))
        await self.session.execute(query.values(cancelled_at=now))

    def add_timers(self, record: SlaRecord, plan: list[tuple[str, datetime]]) -> None:
        self._timers += [{"work_item_id": record.work_item_id, "kind": kind, "fire_at": at} for kind, at in plan]

    async def write_timers(self) -> None:
        if self._timers:
            rows, self._timers = self._timers, []
            await self.session.flush()  # their records first (foreign key)
            await self.session.execute(insert(SlaTimer.__table__), rows)

    # --- moves -------------------------------------------------------------------------------------------
    async def apply_all(self, batch: list[tuple[events.WorkItemEvent, str]]) -> None:
        """A consumer batch of work-item events (with their event ids), in order. The batch's SLA
        records are read with one query, the new ones written together before their timers, and
        the deadline events emitted with one INSERT: draining a backlog spends its time here."""
        ids = {event.work_item_id for event, _ in batch}
        found = await self.session.scalars(select(SlaRecord).where(SlaRecord.work_item_id.in_(ids)))
        records: dict[str, SlaRecord] = {record.work_item_id: record for record in found}
        new: set[str] = set()
        deadlines = []
        # No flush until the batch's end (or a timer must be cancelled): a record is then written
        # once as the batch left it — a new one by one INSERT of them all — not once per statement
        # an event's handling sends.
        with self.session.no_autoflush:
            dispatches = [
                event
                for event, _ in batch
                if isinstance(event, events.WorkItemDispatched) and event.work_item_id not in records
            ]
            limits = await policies.limits_for(self.session, {_policy_key(event) for event in dispatches})
            for event in dispatches:
                if event.work_item_id not in records:  # (an item dispatched twice in the batch: once)
                    records[event.work_item_id] = self._new_record(event, limits[_policy_key(event)])
                    new.add(event.work_item_id)
            for event, event_id in batch:
                record = records.get(event.work_item_id)
                if await self.apply(record, event, event_id, new=event.work_item_id in new):
                    deadlines.append(messages.deadlines_message(record, event.occurred_at))
                new.discard(event.work_item_id)  # a second event of it in the batch finds it as it was left
        await self.session.flush()  # the records, before the rows that refer to them
        await self.write_timers()
        await notify.insert(self.session, self._notifications)
        self._notifications = []
        await messages.emit(self.session, deadlines)

    async def apply(self, record: SlaRecord | None, event: events.WorkItemEvent, event_id: str, new: bool) -> bool:
        """One event on its item's clocks; whether it was applied (a deadline event is due)."""
        if record is None or (not new and event.older_than(record.version)):
            # An item this notifier never saw dispatched (e.g. before it was deployed), or a
            # replayed past event: the clocks already follow a later one.
            return False
        if isinstance(event, events.WorkItemDispatched):
            await self.dispatched(record, event, new)
        else:
            await self._move(record, event)
        record.version = max(record.version or 0, event.version)
        record.state = event.state
        record.unit_code, record.unit_name, record.region_code = event.unit_code, event.unit_name, event.region_code
        holders.follow(record, event)  # every unit that held it, for the statistics
        self._notifications += await notify.for_event(self.session, record, event, event_id, self._recipients)
        return True

    def _new_record(self, event: events.WorkItemDispatched, limits: policies.Limits) -> SlaRecord:
        record = SlaRecord(
            work_item_id=event.work_item_id,
            request_id=event.request_id,
            reference_no=event.reference_no,
            request_type=event.request_type,
            department_kind=event.department_kind,
            unit_code=event.unit_code,
            unit_name=event.unit_name,
            region_code=event.region_code,
            subject_region=event.subject_region,
            enterprise_uscc=event.enterprise_uscc,
            subject_name=event.subject_name,
            state=event.state,
            dispatched_at=event.occurred_at,
            policy=policies.as_dict(limits),
        )
        self._start_clocks(record, event.occurred_at)
        self.session.add(record)
        return record

    def _start_clocks(self, record: SlaRecord, now: datetime) -> None:
        limits = policies.Limits(**record.policy)
        record.acknowledge_due_at = policies.due(self.calendar, now, limits.acknowledge_amount, limits.acknowledge_unit)
        record.acknowledged_at = record.paused_at = record.remaining_seconds = None
        record.resolve_started_at = now
        record.resolve_due_at = policies.due(self.calendar, now, limits.resolve_amount, limits.resolve_unit)

    async def dispatched(self, record: SlaRecord, event: events.WorkItemDispatched, new: bool) -> None:
        """A unit received the item. On routing and on a coordinator's (re-)dispatch both clocks
        start now. The handling time limit counts from dispatch (派单), as in 12345 systems, so a
        late 签收 buys no time, and a unit's own 转办 restarts nothing: the next unit inherits the
        deadlines (the router's history says who moved it and why)."""
        now = event.occurred_at
        if not new:
            if not event.restarts_clock:
                return  # a unit's 转办: the new unit inherits the deadlines, and the timers follow it
            await self.cancel_timers(record, now)
            self._start_clocks(record, now)  # a new record's started when it was made
        self.add_timers(
            record,
            self.acknowledge_timer_plan(record.acknowledge_due_at)
            + self.resolve_timer_plan(record, now, record.resolve_due_at),
        )

    async def _move(self, record: SlaRecord, event: events.WorkItemEvent) -> None:
        now = event.occurred_at
        limits = policies.Limits(**record.policy)
        match event:
            case events.WorkItemAcknowledged():
                # Signed for: the chase for 签收 stops; the handling clock runs on from dispatch.
                record.acknowledged_at = now
                await self.cancel_timers(record, now, ACKNOWLEDGE_TIMERS)
            case events.WorkItemSupplementRequested() if event.state in self.settings.sla_pausing_states:
                await self.pause(record, now)
            case events.WorkItemSupplemented():
                await self.resume(record, now)
            case events.WorkItemResolved():
                record.resolved_at = now
                record.resolved_on_time = record.resolve_due_at is None or now <= record.resolve_due_at
                await self.cancel_timers(record, now)
                # 回访: the enterprise is asked to rate it and say whether it is solved, the next working morning.
                self.add_timers(record, [("follow_up", self._next_morning(now))])
            case events.WorkItemReopened():
                record.score = event.score  # the dissatisfied rating stays on the unit's record
                record.resolved_at = record.resolved_on_time = None
                await self.cancel_timers(record, now)
                await self.start_resolve_clock(record, now, limits)
            case events.WorkItemClosed():
                record.score = event.score
                await self.cancel_timers(record, now)
            case events.WorkItemCancelled():
                await self.cancel_timers(record, now)
            case events.WorkItemFollowedUp(result=result):
                record.follow_up_result = result  # 回访: counted for the unit's 解决率
            case events.WorkItemReturned():
                # The unit that had it gives it back (退回率 counts it for that unit); at the
                # coordinator a fresh acknowledge clock runs for finding the right unit.
                record.returned_by = [*(record.returned_by or []), event.returned_by]
                await self.cancel_timers(record, now)
                record.acknowledged_at = None
                record.acknowledge_due_at = policies.due(
                    self.calendar, now, limits.acknowledge_amount, limits.acknowledge_unit
                )
                self.add_timers(record, self.acknowledge_timer_plan(record.acknowledge_due_at))
            case events.WorkItemExtensionDecided(approved=True, days=days) if record.resolve_due_at:
                record.extended = True
                await self.cancel_timers(record, now, RESOLVE_TIMERS)
                record.resolve_due_at = self.calendar.extend(record.resolve_due_at, days)
                await self.replan(record, now)

    async def start_resolve_clock(self, record: SlaRecord, start: datetime, limits: policies.Limits) -> None:
        await self.cancel_timers(record, start)
        record.resolve_started_at = start
        record.resolve_due_at = policies.due(self.calendar, start, limits.resolve_amount, limits.resolve_unit)
        self.add_timers(record, self.resolve_timer_plan(record, start, record.resolve_due_at))

    async def pause(self, record: SlaRecord, now: datetime) -> None:
        if record.paused_at is not None or record.resolve_due_at is None:
            return
        left = self.calendar.working_time_between(now, record.resolve_due_at)
        record.paused_at = now
        record.remaining_seconds = left.total_seconds()
        await self.cancel_timers(record, now, RESOLVE_TIMERS)

    async def resume(self, record: SlaRecord, now: datetime) -> None:
        """The working time left at the pause counts again from now, in working hours."""
        if record.paused_at is None:
            return
        left = timedelta(seconds=record.remaining_seconds or 0)
        if left > timedelta(0):
            record.resolve_due_at = self.calendar.add_working_time(now, left)
        record.paused_at = record.remaining_seconds = None
        await self.replan(record, now)

    async def replan(self, record: SlaRecord, now: datetime) -> None:
        """Timers for a moved deadline: those still ahead, and none of a kind that already fired
        on this resolve clock (a reminder fires once, however often the deadline moves)."""
        start = record.resolve_started_at or now
        await self.write_timers()
        fired = set(
            await self.session.scalars(
                select(SlaTimer.kind).where(
                    SlaTimer.work_item_id == record.work_item_id,
                    SlaTimer.fired_at.is_not(None),
                    SlaTimer.fire_at >= start,
                )
            )
        )
        plan = self.resolve_timer_plan(record, start, record.resolve_due_at)
        self.add_timers(record, [(kind, at) for kind, at in plan if at > now and kind not in fired])

    def _next_morning(self, now: datetime) -> datetime:
        day = self.calendar.next_working_day(now.astimezone(SHANGHAI).date())
        return datetime.combine(day, self.calendar.windows[0][0], SHANGHAI).astimezone(UTC)


def _policy_key(event: events.WorkItemDispatched) -> policies.Key:
    return (event.request_type, event.department_kind, event.region_code)
