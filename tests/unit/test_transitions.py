"""The work-item life cycle table: what it allows from each state, and that it refuses the rest
with the reasons a department sees."""

from __future__ import annotations

from typing import get_args

import pytest

from services.router import transitions
from shared.events import WorkItemState
from shared.problems import Problem
from shared.vocabulary import OPEN_STATES, WORK_ITEM_STATES


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        ("dispatched", ["acknowledge", "return", "transfer"]),
        ("acknowledged", ["progress", "request-supplement", "resolve", "return", "transfer", "assist", "extension"]),
        ("in_progress", ["progress", "request-supplement", "resolve", "transfer", "assist", "extension"]),
        ("awaiting_supplement", ["extension"]),
        ("returned", []),  # at the coordinating office, which dispatches it on
        ("resolved", []),
        ("closed", []),
        ("cancelled", []),
    ],
)
def test_allowed_actions_by_state(state, allowed):
    assert transitions.allowed_actions(state) == allowed


def test_every_move_starts_and_ends_in_known_states():
    states = set(get_args(WorkItemState))
    assert set(WORK_ITEM_STATES) == states, "every state has its Chinese name"
    for move in transitions.MOVES.values():
        assert move.starts <= states, move.name
        assert move.to is None or move.to in states, move.name
    assert transitions.MOVES["withdraw"].starts == OPEN_STATES


def test_a_move_from_the_wrong_state_is_refused_with_what_is_allowed():
    with pytest.raises(Problem) as refused:
        transitions.check(transitions.MOVES["resolve"], "dispatched", {})
    assert refused.value.status == 409
    assert refused.value.extra == {
        "current_state": "dispatched",
        "allowed_actions": ["acknowledge", "return", "transfer"],
    }
    assert "待签收" in refused.value.zh and "办结" in refused.value.zh


@pytest.mark.parametrize(
    ("action", "given", "field"),
    [
        ("progress", {}, "note"),
        ("return", {"note": "x"}, "reason"),
        ("extension", {"reason": "材料多"}, "days"),
        ("extension", {"days": 3}, "reason"),
        ("transfer", {}, "to_unit"),
        ("transfer", {"to_unit": "440100.commerce", "note": "x"}, "reason"),
    ],
)
def test_a_move_without_what_it_needs_names_the_field(action, given, field):
    move = transitions.MOVES[action]
    state = next(iter(sorted(move.starts)))
    with pytest.raises(Problem) as refused:
        transitions.check(move, state, given)
    assert refused.value.status == 422 and refused.value.errors[0].field == field


def test_departments_cannot_ask_for_the_enterprises_moves():
    for action in ("withdraw", "supplemented", "reopen", "close", "fly"):
        with pytest.raises(Problem) as refused:
            transitions.department_move(action)
        assert refused.value.status == 404
