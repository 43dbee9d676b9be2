"""One day of the year: the requests submitted that day (Asia/Shanghai), their work items' lives to
the end of the year, and every row the three services would hold for them, per table, in the
column order of ``COLUMNS``. A day is the generator's unit of work: days are independent, drawn
from a seed of their own, so any worker can make any day and the same seed makes the same year."""

from __future__ import annotations

import inspect
import json
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from services.intake import submissions
from services.intake.schemas import RequestCreate
from services.intake.submissions import Receipt
from services.router import credit
from services.router.routing import plan
from shared import catalogue, events, regions
from shared.auth import Principal
from shared.clock import SHANGHAI
from shared.vocabulary import FINISHED_STATES, OPEN_STATES

from . import texts
from .clock import BusinessTime, at
from .context import Context
from .simulate import P_WITHDRAWN, WITHDRAW_AFTER, WITHDRAW_REASONS, ItemLife, Life, lognormal
from .world import (
    CATEGORY_SHARE,
    ENTERPRISE_SKEW,
    GIVEN,
    KIND_SHARE,
    SUBJECTS_SHARE,
    SURNAMES,
    TYPE_SHARE,
)

# The rows of each table, in this order (the loader keeps the columns the schema has).
COLUMNS = {
    "intake.requests": (
        "id", "reference_no", "type", "status", "enterprise_uscc", "enterprise_name", "enterprise_region", "body",
        "submitted_by_role", "submitted_by", "created_at", "updated_at",
    ),
    "intake.work_item_views": (
        "id", "request_id", "unit_code", "unit_name", "kind", "item", "subject_uscc", "subject_name", "status",
        "acknowledge_due_at", "due_at", "result", "last_actor", "version", "coverage", "updated_at",
    ),
    "intake.work_item_deadlines": ("work_item_id", "request_id", "acknowledge_due_at", "resolve_due_at", "paused"),
    "intake.timeline_entries": (
        "request_id", "occurred_at", "event", "work_item_id", "unit_code", "unit_name", "summary", "file_ids",
    ),
    "intake.item_ratings": ("work_item_id", "attempt", "request_id", "score", "comment", "rated_by", "created_at"),
    "router.routed_requests": (
        "request_id", "reference_no", "request_type", "enterprise_uscc", "body", "status", "received_at",
    ),
    "router.work_items": (
        "id", "request_id", "item", "department_kind", "unit_code", "subject_uscc", "subject_name", "subject_region",
        "state", "rule_id", "rule_version", "routing_reason", "credit_coverage", "version", "assisting_units",
        "resolution", "acknowledge_due_at", "resolve_due_at", "sla_paused", "created_at", "updated_at",
    ),
    "router.work_item_log": (
        "work_item_id", "action", "from_state", "to_state", "unit_code", "actor", "actor_name", "note", "at",
    ),
    "router.extensions": (
        "id", "work_item_id", "days", "reason", "state", "requested_by", "decided_by", "decision_reason",
        "created_at", "decided_at",
    ),
    "notifier.sla_records": (
        "work_item_id", "request_id", "reference_no", "request_type", "department_kind", "unit_code", "unit_name",
        "region_code", "enterprise_uscc", "subject_name", "subject_region", "state", "dispatched_at",
        "acknowledge_due_at", "acknowledged_at", "resolve_started_at", "resolve_due_at", "paused_at",
        "remaining_seconds", "resolved_at", "resolved_on_time", "score", "policy", "version", "extended",
        "returned_by", "holders",
    ),
    "notifier.sla_timers": ("work_item_id", "kind", "fire_at", "fired_at", "cancelled_at"),
    "notifier.notifications": (
        "dedupe_key", "work_item_id", "kind", "recipient_kind", "channel", "address", "title", "body", "urgent",
        "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at",
    ),
}  # fmt: skip
TABLES = tuple(COLUMNS)

LOG_ACTION = {
    "acknowledged": "acknowledge",
    "progressed": "progress",
    "supplement_requested": "request-supplement",
    "supplemented": "supplemented",
    "resolved": "resolve",
    "returned": "return",
    "extension_requested": "extension",
    "reopened": "reopen",
    "closed": "close",
    "cancelled": "withdraw",
}
ENDING = ("resolved", "closed", "cancelled")
RESOLVE_TIMERS = ("remind_50", "remind_80", "due", "escalate", "public_notice")
OFFICIALS = ("unit", "leadership", "supervisor")
PURPOSES = (("ipo", 35), ("bond_issue", 10), ("refinancing", 15), ("merger", 10), ("bidding", 20), ("other", 10))
DESCRIPTIONS = {
    "financing": "企业扩大生产需要流动资金，希望了解贴息贷款和融资担保政策",
    "hiring": "新厂区投产急需招聘技术工人，希望协助对接职业院校",
    "talent": "引进的高层次人才子女入学和住房问题需要协调",
    "approvals": "新建厂房规划许可办理进度缓慢，请协调加快审批",
    "utilities": "园区供电容量不足，新增生产线无法按期投产",
    "land_planning": "企业用地性质变更手续需要指导",
    "policy": "咨询高新技术企业认定和研发费用加计扣除政策",
    "legal": "与供应商合同纠纷，希望获得法律咨询服务",
    "tax_relief": "咨询小微企业增值税减免政策的适用条件",
    "customs_clearance": "出口货物通关时间长，希望了解提前申报等便利措施",
    "infrastructure": "厂区门口道路破损严重，影响货车通行",
    "other": "企业经营中遇到其他困难，希望政府协调解决",
}


@dataclass
class Submitted:
    """One request as the simulation needs it."""

    id: str
    reference_no: str
    type: str
    enterprise: object
    home: str
    submitted_at: float
    submitter: Principal
    submitter_actor: tuple[str, str, str]
    limits: dict
    withdraw_reason: str | None = None


def submission(receipt: Receipt, body: RequestCreate, principal: Principal):
    """The request as intake stores it and as it tells the router (``submissions``' own
    functions); subsidiaries are proven by the enterprise-group registry (issue 25), where this
    intake keeps proofs."""
    proofs = None
    if "proofs" in inspect.signature(submissions.submitted_event).parameters:
        proofs = [events.SubjectProof(kind="group_registry") for _ in body.subjects]
        event = submissions.submitted_event(receipt, body, principal, [], proofs)
    else:
        event = submissions.submitted_event(receipt, body, principal, [])
    if proofs is not None and hasattr(submissions, "stored_body"):
        return event, submissions.stored_body(body, proofs)
    return event, body.model_dump(mode="json")


def day_seed(seed: int, day: date) -> int:
    return seed * 1_000_003 + day.toordinal()


def arrivals(ctx: Context, day: date, count: int, rng: random.Random) -> list[float]:
    """When the day's requests come: on a working day mostly in business hours (a morning and an
    afternoon peak), otherwise spread over the waking hours."""
    working = ctx.bt.calendar.is_working_day(day)
    times = []
    for _ in range(count):
        if working and rng.random() < 0.85:
            hour = rng.gauss(10.3, 1.1) if rng.random() < 0.5 else rng.gauss(15.5, 1.3)
            hour = min(max(hour, 8.0), 20.0)
        else:
            hour = rng.uniform(7.0, 23.5)
        times.append(datetime.combine(day, time(0), SHANGHAI).timestamp() + hour * 3600)
    times.sort()
    return [t for t in times if ctx.start <= t < ctx.end]


class DayBuilder:
    def __init__(self, ctx: Context, day: date, count: int, first_number: int) -> None:
        self.ctx, self.day, self.count = ctx, day, count
        self.first_number = first_number  # the day's first 受理编号 (1 unless the day was split)
        self.rng = random.Random(day_seed(ctx.seed, day))
        self.rows: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self.open_items = 0
        self.items = 0

    # --- requests -----------------------------------------------------------------------------------
    def build(self) -> dict[str, list[tuple]]:
        rng = self.rng
        for n, t in enumerate(arrivals(self.ctx, self.day, self.count, rng)):
            self.request(t, f"XE-{self.day:%Y%m%d}-{self.first_number + n:06d}", rng)
        return self.rows

    def _principal(self, enterprise, rng: random.Random) -> Principal:
        if rng.random() < 0.7:
            return Principal(
                sub=f"wx:{enterprise.uscc}", role="enterprise", name=enterprise.name, usccs=[enterprise.uscc]
            )
        district = enterprise.region_code
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
        return Principal(
            sub=f"liaison:{district}-{rng.randrange(1, 6)}", role="liaison", name=name, usccs=[enterprise.uscc]
        )

    def _body(self, request_type: str, enterprise, index: int, rng: random.Random) -> dict:
        world = self.ctx.world
        contact = {"name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2)),
                   "mobile": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"}  # fmt: skip
        raw = {"type": request_type, "enterprise": vars(enterprise), "contact": contact}
        if request_type == catalogue.COMPLIANCE_CERTIFICATE:
            group = world.subsidiaries(index)
            extra = min(rng.choices(list(SUBJECTS_SHARE), list(SUBJECTS_SHARE.values()))[0] - 1, len(group))
            subsidiaries = [vars(s) for s in rng.sample(group, extra)]
            items = [kind for kind, share in KIND_SHARE.items() if rng.random() < share] or ["tax"]
            raw |= {
                "subjects": subsidiaries,
                "items": items,
                "certificate_anyway": list(items),  # departments issue every one (see generate.py)
                "period_months": 36 if rng.random() < 0.8 else rng.choice((12, 24, 60)),
                "purpose": rng.choices([p for p, _ in PURPOSES], [w for _, w in PURPOSES])[0],
            }
        else:
            category = rng.choices(list(CATEGORY_SHARE), list(CATEGORY_SHARE.values()))[0]
            raw |= {"items": [category], "description": DESCRIPTIONS[category]}
        return raw

    def request(self, t: float, reference_no: str, rng: random.Random) -> None:
        ctx = self.ctx
        world = ctx.world
        request_type = rng.choices(list(TYPE_SHARE), list(TYPE_SHARE.values()))[0]
        index = int(len(world.enterprises) * rng.random() ** ENTERPRISE_SKEW)
        enterprise = world.enterprises[index]
        principal = self._principal(enterprise, rng)
        body = RequestCreate.model_validate(self._body(request_type, enterprise, index, rng))
        request_id = ctx.uuid(rng)
        submitted, stored = submission(Receipt(request_id, reference_no, at(t)), body, principal)
        request = Submitted(
            id=request_id, reference_no=reference_no, type=request_type, enterprise=enterprise,
            home=enterprise.region_code, submitted_at=t, submitter=principal,
            submitter_actor=(principal.role, principal.sub, principal.name), limits=ctx.limits(request_type),
        )  # fmt: skip
        withdrawn_at = None
        if rng.random() < P_WITHDRAWN:
            withdrawn_at = t + lognormal(rng, WITHDRAW_AFTER)
            request.withdraw_reason = rng.choice(WITHDRAW_REASONS)
        routed_at = t + rng.uniform(0.05, 0.4)
        splits = credit.splits_for(ctx.book, submitted, submitted.submitted_at)
        consulted = {s.subject.uscc: credit.versions_of(s) for s in splits or []}
        lives = []
        for decision in plan(ctx.registry, submitted, splits):
            item = {
                "id": ctx.uuid(rng),
                "item": decision.item,
                "department_kind": decision.department_kind,
                "unit_code": decision.unit.unit_code,
                "subject_uscc": decision.subject.uscc,
                "subject_name": decision.subject.name,
                "subject_region": decision.subject.region_code,
                "rule_id": decision.rule.id if decision.rule else None,
                "rule_version": decision.rule.version if decision.rule else None,
                "routing_reason": decision.reason,
                "credit_coverage": consulted.get(decision.subject.uscc),
            }
            life = ItemLife(ctx, rng, ctx.bt, ctx.end).run(request, item, routed_at, withdrawn_at)
            lives.append((item, life))
        self.items += len(lives)
        self.open_items += sum(1 for _, life in lives if life.open)
        withdrawn = (
            withdrawn_at is not None and withdrawn_at <= ctx.end and any(life.state == "cancelled" for _, life in lives)
        )
        self._request_rows(request, stored, submitted, lives, withdrawn, withdrawn_at, routed_at)
        for item, life in lives:
            self._item_rows(request, item, life)

    # --- rows -----------------------------------------------------------------------------------------
    def _request_rows(self, request, stored, submitted, lives, withdrawn, withdrawn_at, routed_at) -> None:
        states = {life.state for _, life in lives}
        if withdrawn:
            status = "withdrawn"
        elif states <= {"closed", "cancelled"} and states & {"closed", "cancelled"}:
            status = "closed"
        elif states <= FINISHED_STATES:
            status = "resolved"
        elif states <= {"dispatched", "returned"}:
            status = "dispatched"
        else:
            status = "in_progress"
        last = max([routed_at, *(life.moves[-1].at for _, life in lives)])
        enterprise = request.enterprise
        self.rows["intake.requests"].append((
            request.id, request.reference_no, request.type, status, enterprise.uscc, enterprise.name,
            enterprise.region_code, json.dumps(stored), request.submitter.role,
            request.submitter.sub, at(request.submitted_at), at(last + 0.02),
        ))  # fmt: skip
        self.rows["router.routed_requests"].append((
            request.id, request.reference_no, request.type, enterprise.uscc,
            json.dumps(submitted.model_dump(mode="json")), "withdrawn" if withdrawn else "active", at(routed_at),
        ))  # fmt: skip
        timeline = self.rows["intake.timeline_entries"]
        timeline.append((request.id, at(request.submitted_at), "request.submitted",
                         None, None, None, f"诉求已提交，受理编号 {request.reference_no}", "[]"))  # fmt: skip
        if withdrawn:
            reason = request.withdraw_reason
            timeline.append((request.id, at(withdrawn_at), "request.withdrawn", None, None, None,
                             "企业已撤回诉求" + (f"：{reason}" if reason else ""), "[]"))  # fmt: skip

    def _item_rows(self, request, item: dict, life: Life) -> None:
        ctx, rows = self.ctx, self.rows
        c = life.clocks
        unit = life.unit
        unit_name = ctx.unit_name(unit)
        last = life.moves[-1]
        coverage = item["credit_coverage"]
        label = "、".join(f"{v['region_code']} v{v['version']}" for v in coverage) if coverage else None
        paused = c.paused_at is not None
        version = len(life.moves)
        actor = f"{last.actor[2] or last.actor[1]}（{ROLE_NAMES[last.actor[0]]}）" if last.actor else None
        resolution = json.dumps(life.resolution) if life.resolution is not None else None
        rows["intake.work_item_views"].append((
            item["id"], request.id, unit, unit_name, life.kind, item["item"], item["subject_uscc"],
            item["subject_name"], life.state, at(c.acknowledge_due_at), at(c.resolve_due_at), resolution, actor,
            version, label, at(last.at + 0.03),
        ))  # fmt: skip
        rows["intake.work_item_deadlines"].append(
            (item["id"], request.id, at(c.acknowledge_due_at), at(c.resolve_due_at), paused)
        )
        coordinated = any(m.kind == "dispatched" and m.extra.get("coordinator") for m in life.moves)
        rows["router.work_items"].append((
            item["id"], request.id, item["item"], life.kind, unit, item["subject_uscc"], item["subject_name"],
            item["subject_region"], life.state, None if coordinated else item["rule_id"],
            None if coordinated else item["rule_version"], life.routing_reason,
            json.dumps(coverage) if coverage is not None else None, version, "[]", resolution,
            at(c.acknowledge_due_at), at(c.resolve_due_at), paused, at(life.moves[0].at), at(last.at),
        ))  # fmt: skip
        if life.moves[0].at >= ctx.history_since:
            self._history(request, item, life)
        for e in life.extensions:
            rows["router.extensions"].append((
                e["id"], item["id"], e["days"], e["reason"], e["state"], e["requested_by"][1],
                e["decided_by"][1] if e.get("decided_by") else None, e.get("decision_reason"), at(e["created_at"]),
                at(e["decided_at"]) if e.get("decided_at") else None,
            ))  # fmt: skip
        for rated_at, attempt, value, comment in life.ratings:
            rows["intake.item_ratings"].append(
                (item["id"], attempt, request.id, value, comment, request.submitter.sub, at(rated_at))
            )
        rows["notifier.sla_records"].append((
            item["id"], request.id, request.reference_no, request.type, item["department_kind"], unit, unit_name,
            ctx.unit_region(unit), request.enterprise.uscc, item["subject_name"], item["subject_region"],
            life.state, at(c.dispatched_at), at(c.acknowledge_due_at), _at(c.acknowledged_at),
            at(c.resolve_started_at), at(c.resolve_due_at), _at(c.paused_at), c.remaining_seconds,
            _at(c.resolved_at), c.resolved_on_time, c.score, json.dumps(request.limits), version, c.extended,
            json.dumps(c.returned_by), json.dumps(self._holders(life)),
        ))  # fmt: skip
        if life.open:
            self._timers(request, item, life, keep=True)
        elif life.moves[0].at >= ctx.history_since:
            self._timers(request, item, life, keep=False)

    def _history(self, request, item: dict, life: Life) -> None:
        """The router's log, intake's timeline (with the enterprise's own entries) and the
        enterprise's notifications of the item's moves (for the items of the last
        ``history_days``: see generate.py)."""
        ctx = self.ctx
        log, timeline = self.rows["router.work_item_log"], self.rows["intake.timeline_entries"]
        state, unit = None, None
        for move in life.moves:
            name = ctx.unit_name(move.unit)
            extra = move.extra
            if move.kind == "dispatched" and unit is not None:  # a coordinator's dispatch or a 转办
                extra = {**extra, "from_unit": unit}
            if state is not None:
                action = LOG_ACTION.get(move.kind)
                if move.kind == "dispatched":
                    action = "dispatch" if extra.get("coordinator") else "transfer"
                    note = extra.get("reason") if extra.get("coordinator") else move.note
                elif move.kind == "extension_decided":
                    action = "extension-" + extra["extension"]["state"]
                    note = move.note
                else:
                    note = move.note
                holder = unit if move.kind in ("returned", "dispatched") else move.unit  # who made the move
                actor = f"{move.actor[0]}:{move.actor[1]}"
                log.append((item["id"], action, state, move.state, holder, actor, move.actor[2], note, at(move.at)))
            if move.kind == "supplemented":
                timeline.append((request.id, at(move.at - 0.05), "request.supplement_provided", item["id"], unit,
                                 ctx.unit_name(unit), f"已向{ctx.unit_name(unit)}补正材料", "[]"))  # fmt: skip
            if move.kind in ("reopened", "closed"):
                score = extra["score"]
                timeline.append((request.id, at(move.at - 0.05), "request.rated", item["id"], unit, ctx.unit_name(unit),
                                 f"企业评价{ctx.unit_name(unit)}：{ctx.rating_name(score)}"
                                 + ("，申请重办" if move.kind == "reopened" else ""), "[]"))  # fmt: skip
            summary = texts.summary(move.kind, name, item["subject_name"], move.note, extra)
            timeline.append((request.id, at(move.at + 0.02), f"workitem.{move.kind}", item["id"], move.unit, name,
                             summary, "[]"))  # fmt: skip
            self._event_notification(request, item, life, move, name)
            state, unit = move.state, move.unit

    def _event_notification(self, request, item, life: Life, move, unit_name: str) -> None:
        messages = texts.event_messages(
            move.kind, unit_name, f"{request.reference_no}（{item['subject_name']}）",
            _acknowledge_due_at(life, move.at), _resolve_due_at(life, move.at), move.note, move.extra,
        )  # fmt: skip
        for audience, title, body in messages:
            address = f"{audience}:{move.unit if audience == 'unit' else request.enterprise.uscc}"
            cause = f"event:{self.ctx.uuid(self.rng)}"
            sent = move.at + 0.6
            self.rows["notifier.notifications"].append((
                f"{cause}:{audience}:topic:{address}", item["id"], f"cn.xiaoer.workitem.{move.kind}", audience,
                "topic", address, title, body, request.type == "emergency", "sent", 1, at(move.at + 0.1), None,
                at(move.at + 0.1), at(sent),
            ))  # fmt: skip

    # --- timers and what they said -----------------------------------------------------------------------
    def _timers(self, request, item: dict, life: Life, keep: bool) -> None:
        """Every timer the item's clocks planned, whether it fired, was cancelled or is pending at
        the year's end; the notifications of those that fired while their cause lasted. The timer
        rows are kept for open items only (what the scheduler reads)."""
        bt, end, inf = self.ctx.bt, self.ctx.end, float("inf")
        moves = life.moves
        times = [m.at for m in moves]
        segments = life.clock_segments
        acknowledged = [m.at for m in moves if m.kind == "acknowledged"]
        planned: list[tuple[str, float, float]] = []  # (kind, fire_at, cancelled at or inf)
        for n, (t, what, start, resolve_due, ack_due) in enumerate(segments):
            later = segments[n + 1 :]
            if what in ("start", "returned"):
                signed = next((a for a in acknowledged if a >= t), inf)
                ends = next((s[0] for s in later if s[1] in ("start", "returned", "resolved", "end")), inf)
                planned += [(kind, fire, min(signed, ends)) for kind, fire in bt_acknowledge_plan(bt, ack_due)]
            if what in ("start", "restart_resolve", "replan"):
                ends = later[0][0] if later else inf  # any change of the clocks cancels the plan
                fired = {k for k, f, cut in planned if k in RESOLVE_TIMERS and start <= f <= min(t, cut)}
                for kind, fire in bt_resolve_plan(bt, start, resolve_due, request.limits):
                    if what == "replan" and (fire <= t or kind in fired):
                        continue
                    planned.append((kind, fire, ends))
            if what == "resolved":
                planned.append(("follow_up", bt.next_morning(t), next((s[0] for s in later), inf)))
        timers = self.rows["notifier.sla_timers"]
        notify = life.moves[0].at >= self.ctx.history_since
        for kind, fire, cancelled in planned:
            fired = fire < cancelled and fire <= end
            if keep:
                if fired:
                    timers.append((item["id"], kind, at(fire), at(fire + 1.5), None))
                elif cancelled <= end:
                    timers.append((item["id"], kind, at(fire), None, at(cancelled)))
                else:
                    timers.append((item["id"], kind, at(fire), None, None))
            if fired and notify:
                holding = moves[bisect_right(times, fire) - 1]
                if _applies(kind, holding.state):
                    self._timer_notifications(request, item, life, kind, fire, holding)

    def _timer_notifications(self, request, item, life: Life, kind: str, fire: float, holding) -> None:
        ctx, bt = self.ctx, self.ctx.bt
        unit = holding.unit
        unit_name = ctx.unit_name(unit)
        region = ctx.unit_region(unit)
        ack_due, resolve_due = _dues_at(life, fire)
        label = f"{request.reference_no}（{item['subject_name']}）"
        urgent = request.type == "emergency"
        cause = f"timer:{self.rng.getrandbits(40)}"
        rows = self.rows["notifier.notifications"]
        for audience, title, body in texts.timer_messages(kind, unit_name, label, ack_due, resolve_due):
            send = fire
            if audience in OFFICIALS and not urgent:
                send = bt.next_business_instant(fire)
            if audience == "unit":
                targets, key = [("email", f"{unit}@gd.example.gov.cn")], unit
            elif audience == "leadership":
                targets, key = [("email", f"{unit}.leader@gd.example.gov.cn")], unit
            elif audience == "supervisor":
                targets = [("email", f"dudao.{code}@gd.example.gov.cn") for code in regions.lineage(region)]
                key = region
            else:
                targets, key = [], request.enterprise.uscc
            targets.append(("topic", f"{audience}:{key}"))
            for channel, address in targets:
                rows.append((
                    f"{cause}:{audience}:{channel}:{address}", item["id"], kind, audience, channel, address, title,
                    body, urgent, "sent", 1, at(send), None, at(fire + 0.5), at(send + 0.8),
                ))  # fmt: skip

    def _holders(self, life: Life) -> list[dict]:
        """``sla_records.holders`` as the notifier's ``holders.follow`` keeps it."""
        ctx = self.ctx
        holders: list[dict] = []
        for move in life.moves:
            current = holders[-1] if holders and holders[-1]["left_at"] is None else None
            iso = at(move.at).isoformat()
            ack_due = _dues_at(life, move.at)[0]
            if current is None or current["unit_code"] != move.unit:
                if current is not None:
                    how = (
                        "returned"
                        if move.kind == "returned"
                        else (
                            "transferred"
                            if move.kind == "dispatched" and not move.extra.get("coordinator")
                            else "dispatched"
                        )
                    )
                    current["left_at"], current["left_how"] = iso, how
                current = {
                    "unit_code": move.unit, "unit_name": ctx.unit_name(move.unit),
                    "region_code": ctx.unit_region(move.unit), "received_at": iso,
                    "acknowledge_due_at": at(ack_due).isoformat() if ack_due else None, "acknowledged_at": None,
                    "left_at": None, "left_how": None, "ended_at": None,
                }  # fmt: skip
                holders.append(current)
            if move.kind == "acknowledged":
                current["acknowledged_at"] = iso
            elif move.kind in ENDING:
                current["ended_at"] = current["ended_at"] or iso
            elif move.kind == "reopened":
                current["ended_at"] = None
        return holders


ROLE_NAMES = {"enterprise": "企业", "liaison": "驻企联络员", "department": "部门", "supervisor": "督办人员"}


def _at(t: float | None):
    return at(t) if t is not None else None


def _dues_at(life: Life, t: float) -> tuple[float, float]:
    """The 签收 and 办结 deadlines in force at ``t`` (for the texts of a timer firing then)."""
    ack, resolve = life.clock_segments[0][4], life.clock_segments[0][3]
    for when, _what, _start, resolve_due, ack_due in life.clock_segments:
        if when > t:
            break
        ack, resolve = ack_due, resolve_due
    return ack, resolve


def _applies(kind: str, state: str) -> bool:
    """``notify.timer_still_applies``: the chase for 签收 while nobody signed, the handling
    reminders while someone works on it, the follow-up while the result awaits its rating."""
    if kind.startswith("acknowledge_"):
        return state in ("dispatched", "returned")
    if kind == "follow_up":
        return state == "resolved"
    return state in ("acknowledged", "in_progress")


def bt_acknowledge_plan(bt: BusinessTime, due: float) -> list[tuple[str, float]]:
    day = bt.day_seconds
    return [("acknowledge_due", due), ("acknowledge_escalate", bt.add(due, day)),
            ("acknowledge_public_notice", bt.add(due, 5 * day))]  # fmt: skip


def bt_resolve_plan(bt: BusinessTime, start: float, due: float, limits: dict) -> list[tuple[str, float]]:
    """``Clocks.resolve_timer_plan``: 50 % and 80 % of the working time, the deadline, one and five
    working days after it (calendar-minute policies in plain time)."""
    day = bt.day_seconds
    if limits["resolve_unit"] == "minutes":
        total = due - start
        remind = [start + total * 0.5, start + total * 0.8]
    else:
        total = bt.between(start, due)
        remind = [bt.add(start, total * 0.5), bt.add(start, total * 0.8)] if total else [due, due]
    return [("remind_50", remind[0]), ("remind_80", remind[1]), ("due", due), ("escalate", bt.add(due, day)),
            ("public_notice", bt.add(due, 5 * day))]  # fmt: skip


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _resolve_due_at(life: Life, t: float) -> float:
    return _dues_at(life, t)[1]


def _acknowledge_due_at(life: Life, t: float) -> float:
    return _dues_at(life, t)[0]


__all__ = ["COLUMNS", "OPEN_STATES", "TABLES", "UTC", "DayBuilder", "days_of"]
