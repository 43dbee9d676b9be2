"""Row 5 of issue 25: what a request's status, summary and step say, from its items alone."""

from __future__ import annotations

from services.intake import turns
from services.intake.models import ItemRating, WorkItemView


def items(*states: str) -> list[WorkItemView]:
    return [
        WorkItemView(id=f"i{n}", status=s, unit_name=f"单位{n}", subject_uscc="X", subject_name="明珞")
        for n, s in enumerate(states)
    ]


def test_the_enterprises_turn_comes_first_in_the_status():
    assert turns.status("dispatched", items("dispatched", "in_progress", "awaiting_supplement"), {}) == (
        "awaiting_supplement"
    )
    assert turns.status("dispatched", items("dispatched", "credit_report"), {}) == "awaiting_report"
    assert turns.status("in_progress", items("in_progress", "resolved"), {}) == "awaiting_rating"
    rated = {"i1": [ItemRating(attempt=1, score=5)]}
    assert turns.status("in_progress", items("in_progress", "resolved"), rated) == "in_progress"
    poor = {"i0": [ItemRating(attempt=1, score=1)]}
    assert turns.status("in_progress", items("resolved"), poor) == "awaiting_rating", "once more after a redo"
    assert turns.status("withdrawn", items("awaiting_supplement"), {}) == "withdrawn"
    assert turns.status("in_progress", items("closed", "credit_report_uploaded"), {}) == "closed"
    assert turns.status("submitted", [], {}) == "submitted"


def test_the_summary_counts_items_by_group_and_says_it():
    shown = turns.summary(
        items(
            *["dispatched"] * 4, *["in_progress"] * 2, "acknowledged", "awaiting_supplement", "credit_report", "closed"
        )
    )
    assert shown["zh"] == "10 项：待签收 4 · 办理中 3 · 待您补正 1 · 待上传报告 1 · 已办结 1"
    assert (
        shown["en"]
        == "10 items: To acknowledge 4 · In progress 3 · Your supplement 1 · Your credit report 1 · Finished 1"
    )
    assert sum(g["count"] for g in shown["groups"]) == shown["total"] == 10
    assert {g["code"] for g in shown["groups"] if g["your_turn"]} == {"your_supplement", "your_credit_report"}


def test_the_step_follows_the_items():
    assert [turns.step(i, False)["code"] for i in ([], items("dispatched"), items("dispatched", "acknowledged"))] == [
        "submitted",
        "accepted",
        "handling",
    ]
    done = turns.step(items("resolved", "cancelled"), False)
    assert done["code"] == "done" and [s["done"] for s in done["steps"]] == [True, True, True, False]
    assert [s["zh"] for s in done["steps"]] == ["提交", "受理", "办理", "办结"]
