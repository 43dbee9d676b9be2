"""One work item's life, as the services would have recorded it: the moves its units, the
coordinating office, the enterprise and the supervisors make, each at a time drawn from a
distribution (working time for the units, calendar time for the enterprise), cut off at the end of
the year. What the item is at that instant is what the databases hold; what happened before it is
the history (the router's log, intake's timeline, the notifier's notifications).

The clocks follow ``services/notifier/clocks.py``: both run from dispatch, a 补正 pauses the 办结
clock and the working time left counts again from the answer, an approved extension moves the
deadline by N working days from the old one, a return gives the coordinator a new 签收 clock and
its dispatch restarts both, a 转办 restarts nothing, a poor first rating (≤ 2) reopens the item
with a new 办结 clock."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from shared.vocabulary import OPEN_STATES

from .clock import BusinessTime

HOUR = 3600.0
DAY = 86400.0

# How long things take: lognormal (median, sigma); units in working seconds, the enterprise's in
# calendar seconds. Handling time runs from 签收 to 办结.
ACKNOWLEDGE = (1.2 * HOUR, 1.3)
ACKNOWLEDGE_EMERGENCY = (12 * 60.0, 0.8)  # calendar time: emergencies are signed for at any hour
HANDLING = {
    "compliance_certificate": (10 * HOUR, 0.9),
    "consultation": (6 * HOUR, 0.9),
    "problem": (40 * HOUR, 0.8),
    "emergency": (2 * HOUR, 0.8),
}
STUCK = 0.004  # items a unit leaves lying: handling × 8
UNIT_PACE = 0.35  # sigma of each unit's own pace (a factor on its handling times)

P_PROGRESS = 0.25
P_SUPPLEMENT = 0.06
P_SUPPLEMENT_UNANSWERED = 0.05  # the enterprise never answers: paused for good
SUPPLEMENT_ANSWER = (1.5 * DAY, 0.8)
P_EXTENSION = 0.03
P_EXTENSION_APPROVED = 0.8
EXTENSION_DECISION = (3 * HOUR, 1.0)
P_RETURN = 0.025
P_TRANSFER = 0.015
COORDINATOR_DISPATCH = (3 * HOUR, 1.0)
P_RATED = 0.45
RATING_DELAY = (20 * HOUR, 1.0)
SCORES = ((5, 0.70), (4, 0.20), (3, 0.06), (2, 0.03), (1, 0.01))
P_SECOND_RATING = 0.7
P_WITHDRAWN = 0.012
WITHDRAW_AFTER = (2 * DAY, 1.0)

PROGRESS_NOTES = (
    "已受理，正在核查企业信用记录",
    "已调取系统数据，正在审核",
    "正在与企业沟通核实情况",
    "已提交分管领导审批",
)
SUPPLEMENT_NOTES = (
    "请补充提供营业执照副本复印件（加盖公章）",
    "请补充提供授权委托书原件扫描件",
    "请补充近三年社保缴纳证明",
    "请补充提供项目备案材料",
)
SUPPLEMENT_ANSWER_TEXT = "已按要求补充材料，请查收"
EXTENSION_REASONS = ("需向上级部门调取历史档案", "涉及多个科室会签，需延长办理时间", "企业历史记录需进一步核实")
DENIAL_REASON = "理由不充分，请按期办结"
RETURN_REASONS = ("该企业不在本单位管辖范围", "非本单位职责，应由市级部门办理")
TRANSFER_REASON = "企业注册地已迁移，转至属地单位办理"
NOT_ISSUED_NOTE = "系统显示该企业在证明期内存在行政处罚记录，不予出具无违法违规证明"
ANSWERS = ("已电话答复企业并告知相关政策依据", "已协调相关单位解决，企业表示认可", "已书面答复企业，详见附件说明")
WITHDRAW_REASONS = ("企业已自行办理", "申请信息有误，将重新提交", None, None)
POOR_COMMENTS = ("办理时间太长", "材料要求反复变化", "答复未解决实际问题")
GOOD_COMMENT = "办事效率高，点赞"


def lognormal(rng: random.Random, spec: tuple[float, float]) -> float:
    median, sigma = spec
    return median * math.exp(rng.gauss(0.0, sigma))


def score(rng: random.Random) -> int:
    u, total = rng.random(), 0.0
    for value, share in SCORES:
        total += share
        if u < total:
            return value
    return SCORES[-1][0]


@dataclass
class Move:
    """One thing that happened to an item (a router move, or the enterprise's act it caused)."""

    at: float
    kind: str  # dispatched · acknowledged · progressed · supplement_requested · supplemented · resolved ·
    # returned · extension_requested · extension_decided · reopened · closed · cancelled
    state: str  # the item's state after it
    unit: str  # the unit holding the item after it
    actor: tuple[str, str, str] | None  # (role, id, name)
    note: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Clocks:
    """The item's SLA record as the notifier keeps it (the fields that move)."""

    dispatched_at: float
    acknowledge_due_at: float
    resolve_started_at: float
    resolve_due_at: float
    acknowledged_at: float | None = None
    paused_at: float | None = None
    remaining_seconds: float | None = None
    resolved_at: float | None = None
    resolved_on_time: bool | None = None
    score: int | None = None
    extended: bool = False
    returned_by: list = field(default_factory=list)


@dataclass
class Life:
    moves: list[Move]
    clocks: Clocks
    ratings: list[tuple[float, int, int, str | None]]  # (at, attempt, score, comment)
    extensions: list[dict]
    state: str
    unit: str
    kind: str  # department kind (a coordinator's item takes its handler's)
    routing_reason: str
    resolution: dict | None
    # Each change of the clocks: (at, what, resolve_started_at, resolve_due_at, acknowledge_due_at) after it.
    clock_segments: list[tuple[float, str, float, float, float]]

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


class ItemLife:
    """Draws one item's moves. ``ctx`` gives the calendar (``bt``), the units' pace, who acts,
    and which unit a return or a 转办 ends at."""

    def __init__(self, ctx, rng: random.Random, bt: BusinessTime, end: float) -> None:
        self.ctx, self.rng, self.bt, self.end = ctx, rng, bt, end

    def run(self, request, item: dict, t0: float, withdrawn_at: float | None) -> Life:
        bt = self.bt
        limits = request.limits
        clocks = Clocks(
            dispatched_at=t0,
            acknowledge_due_at=bt.due(t0, limits["acknowledge_amount"], limits["acknowledge_unit"]),
            resolve_started_at=t0,
            resolve_due_at=bt.due(t0, limits["resolve_amount"], limits["resolve_unit"]),
        )
        self.moves: list[Move] = [Move(t0, "dispatched", "dispatched", item["unit_code"], None)]
        self.life = Life(
            self.moves, clocks, [], [], "dispatched", item["unit_code"], item["department_kind"],
            item["routing_reason"], None, [(t0, "start", t0, clocks.resolve_due_at, clocks.acknowledge_due_at)],
        )  # fmt: skip
        self.request, self.item, self.clocks = request, item, clocks
        self.stop = min(self.end, withdrawn_at) if withdrawn_at else self.end
        self._work(t0)
        if withdrawn_at and withdrawn_at <= self.end and self.life.state in OPEN_STATES:
            self._move(withdrawn_at, "cancelled", "cancelled", request.submitter_actor, request.withdraw_reason)
        return self.life

    # --- the path ----------------------------------------------------------------------------------
    def _work(self, t: float) -> None:
        """From a dispatch at ``t`` to the item's end (or the year's)."""
        rng, bt, life = self.rng, self.bt, self.life
        if life.kind == "coordinator":  # 人工分拨: the coordinating office finds the unit
            t = bt.add(t, lognormal(rng, COORDINATOR_DISPATCH))
            target = self.ctx.handler_for(life.unit, rng)
            if target is None or not self._dispatch(t, target):
                return
        pace = self.ctx.pace(life.unit)
        t = self._acknowledge_at(t, pace)
        if rng.random() < P_RETURN and life.kind != "coordinator":
            target = self.ctx.alternative(life.unit, life.kind, rng)
            if target is not None:
                if not self._move(
                    t, "returned", "returned", self.ctx.clerk(life.unit, rng), rng.choice(RETURN_REASONS)
                ):
                    return
                t = bt.add(t, lognormal(rng, COORDINATOR_DISPATCH))
                if not self._dispatch(t, target):
                    return
                return self._work_after_dispatch(t)
        if not self._move(t, "acknowledged", "acknowledged", self.ctx.clerk(life.unit, rng)):
            return
        self._handle(t, pace)

    def _work_after_dispatch(self, t: float) -> None:
        pace = self.ctx.pace(self.life.unit)
        t = self._acknowledge_at(t, pace)
        if self._move(t, "acknowledged", "acknowledged", self.ctx.clerk(self.life.unit, self.rng)):
            self._handle(t, pace)

    def _acknowledge_at(self, t: float, pace: float) -> float:
        if self.request.type == "emergency":
            return t + lognormal(self.rng, ACKNOWLEDGE_EMERGENCY)
        return self.bt.add(t, lognormal(self.rng, ACKNOWLEDGE) * pace)

    def _handle(self, t: float, pace: float) -> None:
        """From 签收 to 办结 and the enterprise's rating."""
        rng, bt, life = self.rng, self.bt, self.life
        need = lognormal(rng, HANDLING[self.request.type]) * pace * (8 if rng.random() < STUCK else 1)
        if rng.random() < P_TRANSFER:
            target = self.ctx.alternative(life.unit, life.kind, rng)
            if target is not None:
                t = bt.add(t, need * 0.2)
                if not self._move(t, "dispatched", "dispatched", self.ctx.clerk(life.unit, rng), TRANSFER_REASON,
                                  transfer=True, to=target):  # fmt: skip
                    return
                return self._work_after_dispatch(t)
        if rng.random() < P_PROGRESS:
            if not self._move(bt.add(t, need * rng.uniform(0.3, 0.7)), "progressed", "in_progress",
                              self.ctx.clerk(life.unit, rng), rng.choice(PROGRESS_NOTES)):  # fmt: skip
                return
        if rng.random() < P_EXTENSION:
            if not self._extension(t, rng):
                return
        done = bt.add(t, need)
        if rng.random() < P_SUPPLEMENT:
            asked = bt.add(t, need * 0.3)
            if not self._move(asked, "supplement_requested", "awaiting_supplement", self.ctx.clerk(life.unit, rng),
                              rng.choice(SUPPLEMENT_NOTES)):  # fmt: skip
                return
            if rng.random() < P_SUPPLEMENT_UNANSWERED:
                return
            answered = asked + lognormal(rng, SUPPLEMENT_ANSWER)
            if not self._move(answered, "supplemented", "in_progress", self.request.submitter_actor,
                              SUPPLEMENT_ANSWER_TEXT):  # fmt: skip
                return
            done = bt.add(answered, need * 0.7)
        if not self._resolve(done, rng):
            return
        self._rate(done, rng, attempt=1)

    def _extension(self, t: float, rng: random.Random) -> bool:
        c = self.clocks
        if c.resolve_due_at <= t:
            return True  # asked only before the deadline
        asked = self.bt.add(t, 0.6 * self.bt.between(t, c.resolve_due_at))
        days = rng.choice((3, 5, 10))
        reason = rng.choice(EXTENSION_REASONS)
        extension = {"id": self.ctx.uuid(rng), "days": days, "reason": reason, "created_at": asked,
                     "requested_by": self.ctx.clerk(self.life.unit, rng)}  # fmt: skip
        if not self._move(asked, "extension_requested", self.life.state, extension["requested_by"],
                          f"{days} 个工作日：{reason}", extension=extension):  # fmt: skip
            return False
        decided = self.bt.add(asked, lognormal(rng, EXTENSION_DECISION))
        approved = rng.random() < P_EXTENSION_APPROVED
        supervisor = self.ctx.supervisor(self.item["subject_region"])
        decision = {**extension, "state": "approved" if approved else "denied", "decided_at": decided,
                    "decided_by": supervisor, "decision_reason": None if approved else DENIAL_REASON}  # fmt: skip
        if not self._move(decided, "extension_decided", self.life.state, supervisor,
                          decision["decision_reason"], extension=decision, approved=approved):  # fmt: skip
            self.life.extensions.append({**extension, "state": "pending"})
            return False
        self.life.extensions.append(decision)
        return True

    def _resolve(self, t: float, rng: random.Random) -> bool:
        if self.request.type == "compliance_certificate":
            if rng.random() < 0.93:
                resolution = {"outcome": "issued", "document_no": self.ctx.document_no(self.life.kind, t, rng),
                              "note": None, "documents": []}  # fmt: skip
            else:
                resolution = {"outcome": "not_issued", "document_no": None, "note": NOT_ISSUED_NOTE, "documents": []}
        else:
            resolution = {"outcome": "answered", "document_no": None, "note": rng.choice(ANSWERS), "documents": []}
        return self._move(t, "resolved", "resolved", self.ctx.clerk(self.life.unit, rng), resolution["note"],
                          resolution=resolution)  # fmt: skip

    def _rate(self, resolved: float, rng: random.Random, attempt: int) -> None:
        if rng.random() >= (P_RATED if attempt == 1 else P_SECOND_RATING):
            return
        t = resolved + lognormal(rng, RATING_DELAY)
        value = score(rng)
        poor = attempt == 1 and value <= 2
        comment = rng.choice(POOR_COMMENTS) if value <= 2 else (GOOD_COMMENT if rng.random() < 0.1 else None)
        if t > self.stop:
            return
        self.life.ratings.append((t, attempt, value, comment))
        verdict = self.ctx.rating_name(value)
        if poor:
            note = f"企业评价：{verdict}，申请重办" + (f"。{comment}" if comment else "")
            if not self._move(t, "reopened", "in_progress", self.request.submitter_actor, note, score=value,
                              comment=comment):  # fmt: skip
                return
            redo = self.bt.add(t, lognormal(self.rng, HANDLING[self.request.type]))
            if self._resolve(redo, rng):
                self._rate(redo, rng, attempt=2)
            return
        note = f"企业评价：{verdict}" + (f"。{comment}" if comment else "")
        self._move(t, "closed", "closed", self.request.submitter_actor, note, score=value, comment=comment)

    # --- applying a move ------------------------------------------------------------------------------
    def _dispatch(self, t: float, target: str) -> bool:
        holder = self.life.unit
        reason = f"{self.ctx.unit_name(holder)}人工分拨至 {self.ctx.unit_name(target)}"
        return self._move(t, "dispatched", "dispatched", self.ctx.clerk(holder, self.rng), None,
                          to=target, coordinator=True, reason=reason)  # fmt: skip

    def _move(self, t: float, kind: str, state: str, actor, note: str | None = None, **extra) -> bool:
        """Records the move unless the year (or the enterprise's withdrawal) ended first."""
        life, c = self.life, self.clocks
        if t > self.stop:
            return False
        unit = life.unit
        if kind == "returned":
            unit = self.ctx.coordinator_of(self.item["subject_region"], self.request.home)
        elif kind == "dispatched":
            unit = extra["to"]
        self.moves.append(Move(t, kind, state, unit, actor, note, extra))
        previous = life.unit
        life.state, life.unit = state, unit
        bt, limits = self.bt, self.request.limits
        segment = None
        match kind:
            case "acknowledged":
                c.acknowledged_at = t
            case "supplement_requested":
                c.paused_at = t
                c.remaining_seconds = bt.between(t, c.resolve_due_at)
                segment = "pause"
            case "supplemented":
                if c.remaining_seconds and c.remaining_seconds > 0:
                    c.resolve_due_at = bt.add(t, c.remaining_seconds)
                c.paused_at = c.remaining_seconds = None
                segment = "replan"
            case "resolved":
                c.resolved_at = t
                c.resolved_on_time = t <= c.resolve_due_at
                life.resolution = extra["resolution"]
                segment = "resolved"
            case "reopened":
                c.score = extra["score"]
                c.resolved_at = c.resolved_on_time = None
                life.resolution = None
                c.resolve_started_at = t
                c.resolve_due_at = bt.due(t, limits["resolve_amount"], limits["resolve_unit"])
                segment = "restart_resolve"
            case "closed":
                c.score = extra["score"]
                segment = "end"
            case "cancelled":
                segment = "end"
            case "returned":
                c.returned_by = [*c.returned_by, previous]
                c.acknowledged_at = None
                c.acknowledge_due_at = bt.due(t, limits["acknowledge_amount"], limits["acknowledge_unit"])
                segment = "returned"
            case "dispatched" if extra.get("coordinator"):
                life.routing_reason = extra["reason"]
                if life.kind == "coordinator":
                    life.kind = self.ctx.unit_kind(unit)
                c.acknowledge_due_at = bt.due(t, limits["acknowledge_amount"], limits["acknowledge_unit"])
                c.acknowledged_at = c.paused_at = c.remaining_seconds = None
                c.resolve_started_at = t
                c.resolve_due_at = bt.due(t, limits["resolve_amount"], limits["resolve_unit"])
                segment = "start"
            case "extension_decided" if extra.get("approved"):
                c.extended = True
                c.resolve_due_at = bt.add_working_days(c.resolve_due_at, extra["extension"]["days"])
                segment = "replan"
        if segment is not None:
            life.clock_segments.append((t, segment, c.resolve_started_at, c.resolve_due_at, c.acknowledge_due_at))
        return True
