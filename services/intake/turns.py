""" "Your turn" is visible: what a request waits for from its enterprise — a 补正 a unit asked for,
a 专项信用报告 to upload, a finished item to rate — and what its status, its summary of items by
state (10 项：待签收 4 · 办理中 3 · 待您补正 1 · …) and its step (提交 → 受理 → 办理 → 办结) say.
The words are the vocabulary's (shared/vocabulary.py); this module decides which apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.events import reopens
from shared.vocabulary import FINISHED_STATES, GROUP_STATES, ITEM_GROUPS, REQUEST_STEPS

from .models import ItemRating, WorkItemView

# 信用代证: a covered item is fulfilled once the enterprise uploads the report (read_model too).
CREDIT_UPLOADED = "credit_report_uploaded"
# What the enterprise may be asked for, most pressing first, and the request status that says so.
TURNS = (
    ("supplement", "awaiting_supplement"),
    ("credit_report", "awaiting_report"),
    ("rating", "awaiting_rating"),
)
TURN_WORDS = {
    "supplement": ("{unit}要求补正材料（{subject}）", "{unit} asks for a supplement ({subject})"),
    "credit_report": ("请上传{subject}的专项信用报告", "Upload the credit report of {subject}"),
    "rating": ("请评价{unit}的办理结果（{subject}）", "Rate the result of {unit} ({subject})"),
}


@dataclass(frozen=True)
class Turn:
    kind: str  # supplement · credit_report · rating
    work_item_id: str
    unit_name: str
    subject_uscc: str
    subject_name: str

    def words(self) -> tuple[str, str]:
        zh, en = TURN_WORDS[self.kind]
        return (
            zh.format(unit=self.unit_name, subject=self.subject_name),
            en.format(unit=self.unit_name, subject=self.subject_name),
        )


def may_rate(item: WorkItemView, earlier: Sequence[ItemRating]) -> bool:
    """Whether the enterprise may rate ``item`` now: once it is resolved, and once more after a
    poor first rating reopened it (重办)."""
    if item.status != "resolved":
        return False
    return not earlier or (len(earlier) == 1 and reopens(1, earlier[0].score))


def awaited(items: Sequence[WorkItemView], ratings: dict[str, list[ItemRating]]) -> list[Turn]:
    """What the request waits for from its enterprise, most pressing first."""
    turns = []
    for kind, _ in TURNS:
        for item in items:
            due = (
                (kind == "supplement" and item.status == "awaiting_supplement")
                or (kind == "credit_report" and item.status == "credit_report")
                or (kind == "rating" and may_rate(item, ratings.get(item.id, [])))
            )
            if due:
                turns.append(Turn(kind, item.id, item.unit_name, item.subject_uscc, item.subject_name))
    return turns


def status(current: str, items: Sequence[WorkItemView], ratings: dict[str, list[ItemRating]]) -> str:
    """A request's status as its work items show it: the enterprise's turn first (待补正,
    待上传报告, 待评价), else how far the departments are."""
    if current == "withdrawn" or not items:
        return current
    turns = awaited(items, ratings)
    if turns:
        return dict(TURNS)[turns[0].kind]
    states = {item.status for item in items}
    # Done when every item is finished by its department or covered by an uploaded report.
    if states <= {"closed", "cancelled", CREDIT_UPLOADED} and states & {"closed", "cancelled"}:
        return "closed"
    if states <= FINISHED_STATES:
        return "resolved"
    if states <= {"dispatched", "returned", "credit_report"}:
        return "dispatched"
    return "in_progress"


def summary(items: Sequence[WorkItemView]) -> dict:
    """The request's items by group, and the line that says it (10 项：待签收 4 · 办理中 3 · …)."""
    counts = {code: sum(1 for i in items if i.status in GROUP_STATES[code]) for code in ITEM_GROUPS}
    shown = [code for code, n in counts.items() if n]
    return {
        "total": len(items),
        "groups": [
            {**ITEM_GROUPS[code].as_dict(), "count": counts[code], "your_turn": code.startswith("your_")}
            for code in ITEM_GROUPS
        ],
        "zh": f"{len(items)} 项：" + " · ".join(f"{ITEM_GROUPS[c].zh} {counts[c]}" for c in shown),
        "en": f"{len(items)} item{'s' if len(items) != 1 else ''}: "
        + " · ".join(f"{ITEM_GROUPS[c].en} {counts[c]}" for c in shown),
    }


def step(items: Sequence[WorkItemView], withdrawn: bool) -> dict:
    """Where the request stands on 提交 → 受理 → 办理 → 办结."""
    states = {i.status for i in items}
    if not items:
        at = 0
    elif states <= FINISHED_STATES:
        at = 3
    elif states - {"dispatched", "returned", "credit_report"}:
        at = 2
    else:
        at = 1
    codes = list(REQUEST_STEPS)
    return {
        "code": codes[at],
        "index": at,
        "withdrawn": withdrawn,
        "steps": [{**REQUEST_STEPS[c].as_dict(), "done": n < at, "current": n == at} for n, c in enumerate(codes)],
    }
