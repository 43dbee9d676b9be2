"""The queue's orders and its keyset pages (issue 29). Each order is a list of keys ending with the
item's id, so it is total: a page "after" the last item of the previous one (its cursor) is exact
however items were added meanwhile, in either direction. A descending order is the ascending one
read backwards, keys and tie-breaker alike."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_

from shared.problems import invalid_field
from shared.vocabulary import QUEUE_ORDERS, WORK_ITEM_STATES

from .models import WorkItem

_STATE_RANK = case({code: rank for rank, code in enumerate(WORK_ITEM_STATES)}, value=WorkItem.state, else_=99)

# Each order's keys: as SQL, as read from a row (for its cursor), and what a cursor must hold for
# it (checked before it reaches the database: a text where a number belongs is the caller's error).
_ID = (WorkItem.id, lambda i: i.id, "text")
_CREATED = (WorkItem.created_at, lambda i: i.created_at, "instant")
KEYS: dict[str, tuple[tuple[ColumnElement[Any], Callable[[WorkItem], Any], str], ...]] = {
    "deadline": (
        (WorkItem.no_deadline, lambda i: i.no_deadline, "number"),  # an item without one sorts last
        (WorkItem.current_due_at, lambda i: i.current_due_at, "instant or none"),
        _ID,
    ),
    "created": (_CREATED, _ID),
    "enterprise": ((WorkItem.subject_name, lambda i: i.subject_name, "text"), _ID),
    "state": (
        (_STATE_RANK, lambda i: list(WORK_ITEM_STATES).index(i.state) if i.state in WORK_ITEM_STATES else 99, "number"),
        _CREATED,
        _ID,
    ),
}
assert set(KEYS) == set(QUEUE_ORDERS), "every order a clerk can choose has its keys"


def _bad_cursor() -> Exception:
    return invalid_field(
        "after", "cursor_invalid", "翻页游标无效或与排序不符", "Invalid cursor, or one of another order"
    )


@dataclass
class Order:
    name: str = "created"
    descending: bool = False
    after: list[Any] | None = None  # the cursor's key values: the page starts after that item

    def clauses(self) -> list[ColumnElement[Any]]:
        return [column.desc() if self.descending else column.asc() for column, _read, _kind in KEYS[self.name]]

    def after_clause(self) -> ColumnElement[bool]:
        """The rows after the cursor's, in this order: lexicographically greater (less, descending)."""
        keys = [column for column, _read, _kind in KEYS[self.name]]
        alternatives, equal_so_far = [], []
        for column, value in zip(keys, self.after or [], strict=True):
            if value is None:  # no deadline: nothing lies strictly beyond it on this key
                beyond, same = false(), column.is_(None)
            else:
                beyond = column < value if self.descending else column > value
                same = column == value
            alternatives.append(and_(*equal_so_far, beyond))
            equal_so_far.append(same)
        return or_(*alternatives)

    def cursor_of(self, item: WorkItem) -> str:
        values = [_plain(read(item)) for _column, read, _kind in KEYS[self.name]]
        text = json.dumps({"o": self.name, "d": self.descending, "k": values}, ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode()

    def read_cursor(self, cursor: str) -> None:
        """Takes the page's start from ``cursor``, which must come from this very order."""
        keys = KEYS[self.name]
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            same_order = data["o"] == self.name and data["d"] == self.descending
            values = data["k"]
            if not same_order or not isinstance(values, list) or len(values) != len(keys):
                raise ValueError("another order's cursor")
            self.after = [_typed(value, kind) for value, (_column, _read, kind) in zip(values, keys, strict=True)]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
            raise _bad_cursor() from exc


def _plain(value: Any) -> Any:
    """A key's value for JSON: a datetime marked as one, to come back as one."""
    return {"at": value.isoformat()} if isinstance(value, datetime) else value


def _typed(value: Any, kind: str) -> Any:
    """A cursor's value as its key compares, or TypeError/ValueError when it cannot be one."""
    if value is None and kind == "instant or none":  # only the deadline may be missing
        return None
    if kind.startswith("instant"):
        at = datetime.fromisoformat(value["at"])
        if at.tzinfo is None:
            raise ValueError("an instant without its offset")
        return at
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31:
        return value
    if kind == "text" and isinstance(value, str) and len(value) <= 200 and "\x00" not in value:
        return value
    raise TypeError(f"not a {kind}: {value!r}")
