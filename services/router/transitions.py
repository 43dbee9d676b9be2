"""The work-item life cycle as data: for each move, the states it may start from, the state it
leads to, who may make it, and what it requires. The HTTP handlers, the Kafka command handler and
the ``allowed_actions`` every work item shows all read this one table.

    dispatched ─acknowledge→ acknowledged ─progress→ in_progress ─resolve→ resolved ─close→ closed
        │  └──────return──────┘ → returned (at the coordinator) ─dispatch→ dispatched    │
        │  └─return (主体授权不符)─┘ → returned_to_enterprise (the end, the enterprise reads why)
        │                 request-supplement → awaiting_supplement ─supplemented→ in_progress
        └ transfer (from dispatched, acknowledged, in_progress) → dispatched at another unit
    assist, extension: no change of state;  withdraw: every open item → cancelled;
    a poor rating reopens the named resolved items → in_progress (重办)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.problems import Problem, invalid_field
from shared.vocabulary import MOVES as MOVE_NAMES
from shared.vocabulary import OPEN_STATES, WORK_ITEM_STATES

# Who makes a move: the unit holding the item, the coordinating office holding it, or the
# enterprise (its actions arrive on ``requests.updates``).
Actor = Literal["unit", "coordinator", "enterprise"]


@dataclass(frozen=True)
class Need:
    """A field a move cannot go without, and what to tell the caller who left it out."""

    field: str
    zh: str
    en: str


@dataclass(frozen=True)
class Move:
    name: str  # its term in shared.vocabulary.MOVES names it for people
    starts: frozenset[str]
    to: str | None  # None: the item keeps its state (assist, extension)
    by: Actor
    needs: tuple[Need, ...] = ()
    listed: bool = True  # False: asked for through another move (return-to-enterprise through return)

    @property
    def zh(self) -> str:
        return MOVE_NAMES.zh(self.name)


def _states(*names: str) -> frozenset[str]:
    return frozenset(names)


NOTE_PROGRESS = Need("note", "请填写办理进展", "Describe the progress")
TARGET = Need("to_unit", "请选择目标单位", "Name the target unit")

MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        Move("acknowledge", _states("dispatched"), "acknowledged", "unit"),
        Move("progress", _states("acknowledged", "in_progress"), "in_progress", "unit", (NOTE_PROGRESS,)),
        Move(
            "request-supplement",
            _states("acknowledged", "in_progress"),
            "awaiting_supplement",
            "unit",
            (Need("note", "请说明需要补正的材料", "Say what the enterprise must supply"),),
        ),
        # What a resolution needs depends on its outcome: see Lifecycle.resolve.
        Move("resolve", _states("acknowledged", "in_progress"), "resolved", "unit"),
        Move(
            "return",
            _states("dispatched", "acknowledged"),
            "returned",
            "unit",
            (Need("reason", "退回须说明理由", "A return needs a reason"),),
        ),
        # A return whose reason class is 主体授权不符: the item goes back to the enterprise and ends.
        Move(
            "return-to-enterprise",
            _states("dispatched", "acknowledged"),
            "returned_to_enterprise",
            "unit",
            (Need("reason", "请说明退回理由，企业会看到", "Give the reason; the enterprise reads it"),),
            listed=False,
        ),
        Move(
            "transfer",
            _states("dispatched", "acknowledged", "in_progress"),
            "dispatched",
            "unit",
            (TARGET, Need("reason", "转办须说明理由", "A transfer needs a reason")),
        ),
        Move(
            "assist",
            _states("acknowledged", "in_progress"),
            None,
            "unit",
            (Need("units", "请选择协办单位", "Name the assisting units"),),
        ),
        Move(
            "extension",
            _states("acknowledged", "in_progress", "awaiting_supplement"),
            None,
            "unit",
            (
                Need("days", "请填写延期的工作日数", "Give the number of working days"),
                Need("reason", "请说明延期理由", "Give the reason for the extension"),
            ),
        ),
        Move("dispatch", _states("returned", "dispatched"), "dispatched", "coordinator", (TARGET,)),
        Move("withdraw", OPEN_STATES, "cancelled", "enterprise"),
        Move("supplemented", _states("awaiting_supplement"), "in_progress", "enterprise"),
        Move("reopen", _states("resolved"), "in_progress", "enterprise"),
        Move("close", _states("resolved"), "closed", "enterprise"),
    )
}
# What a unit can send to ``POST /v1/workitems/{id}/{action}`` or ``dept.responses``.
UNIT_ACTIONS = tuple(name for name, move in MOVES.items() if move.by == "unit" and move.listed)
# An assisting unit (会办) gives its contribution as a "progress"; it moves nothing.
CONTRIBUTION = "progress"


def allowed_actions(state: str) -> list[str]:
    """The moves a unit holding an item in ``state`` may make (shown with every work item)."""
    return [name for name in UNIT_ACTIONS if state in MOVES[name].starts]


def department_move(action: str) -> Move:
    """A move a department (a unit or a coordinating office) may ask for by name; 404 for others."""
    move = MOVES.get(action)
    if move is None or move.by == "enterprise":
        raise Problem(404, "unknown_action", f"未知操作：{action}", f"Unknown action: {action}")
    return move


def check(move: Move, state: str, given: dict[str, object]) -> None:
    """Refuses a move its item's state does not allow (409) or that lacks what it needs (422)."""
    if state not in move.starts:
        raise Problem(
            409,
            "invalid_transition",
            f"当前状态“{WORK_ITEM_STATES.zh(state)}”下不能执行“{move.zh}”",
            f"'{move.name}' is not allowed while the work item is '{state}'",
            extra={"current_state": state, "allowed_actions": allowed_actions(state)},
        )
    for need in move.needs:
        if not given.get(need.field):
            raise invalid_field(need.field, "missing", need.zh, need.en)
