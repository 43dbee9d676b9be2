"""What a clerk narrows and sorts the queue by (issue 25 row 8, issue 29 item 4), in one object:
the page's own parameters (its links, the hidden fields of a saved view) and the router's (which
does the filtering and sorting in SQL). A saved view keeps the page's parameters, so a relative
window (今天到期, 本周到期) means the day or week it is opened in, in Asia/Shanghai."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from shared import catalogue
from shared.clock import SHANGHAI, reading_now
from shared.vocabulary import DUE_WINDOWS, QUEUE_ORDERS, SLA_STATES

from .session import STAFF_SUB

DEFAULT_SORT = "deadline"


def _day(text: str) -> date | None:
    """A date field as a form sends it: empty (no filter) or YYYY-MM-DD; anything else is ignored."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _start_of(day: date) -> str:
    return datetime.combine(day, time(), SHANGHAI).isoformat()


@dataclass(frozen=True)
class QueueFilters:
    """Every field optional; what the page does not know is dropped (never an error page)."""

    q: str = ""
    enterprise: str = ""
    due_from: date | None = None
    due_to: date | None = None
    sla: str = ""
    due: str = ""  # today · week · overdue
    assignee: str = ""  # me · none · a colleague's username
    request_type: str = ""
    open: bool = False  # only what is still open (我的待办)
    sort: str = DEFAULT_SORT
    desc: bool = False

    @classmethod
    def read(cls, fields: dict) -> QueueFilters:
        """From the page's parameters (a request's query, a saved view), each checked."""

        def text(name: str) -> str:
            return str(fields.get(name) or "").strip()[:100]

        return cls(
            q=text("q"),
            enterprise=text("enterprise"),
            due_from=_day(text("due_from")),
            due_to=_day(text("due_to")),
            sla=text("sla") if text("sla") in SLA_STATES else "",
            due=text("due") if text("due") in DUE_WINDOWS else "",
            assignee=text("assignee"),
            request_type=text("request_type") if text("request_type") in catalogue.REQUEST_TYPES else "",
            open=text("open") in ("1", "true"),
            sort=text("sort") if text("sort") in QUEUE_ORDERS else DEFAULT_SORT,
            desc=text("desc") in ("1", "true"),
        )

    @property
    def active(self) -> bool:
        """Whether anything narrows the queue (then it shows every tab's hits at once)."""
        narrowing = replace(self, sort=DEFAULT_SORT, desc=False)
        return narrowing != QueueFilters()

    def params(self) -> dict[str, str]:
        """The page's parameters that differ from the defaults, as its links and saved views carry them."""
        fields = asdict(self)
        fields["due_from"] = self.due_from.isoformat() if self.due_from else ""
        fields["due_to"] = self.due_to.isoformat() if self.due_to else ""
        fields["open"] = "1" if self.open else ""
        fields["desc"] = "1" if self.desc else ""
        fields["sort"] = self.sort if self.sort != DEFAULT_SORT else ""
        return {name: value for name, value in fields.items() if value}

    def query(self, **more) -> str:
        """This page's address with ``more`` changed (tab, page, sort …); empty values dropped."""
        fields = {**self.params(), **{k: ("1" if v is True else v) for k, v in more.items()}}
        return "/clerk/?" + urlencode({k: v for k, v in fields.items() if v not in ("", None, False)})

    def sorted_by(self, order: str, **more) -> str:
        """The address sorting by ``order``: ascending, or the other way when it is the order already."""
        reverse = self.sort == order and not self.desc
        return self.query(sort="" if order == DEFAULT_SORT else order, desc=reverse, **more)

    def api_params(self) -> dict:
        """The router's query parameters (days start at midnight in Asia/Shanghai)."""
        params: dict = {"order": self.sort, "desc": "true" if self.desc else "false"}
        for name in ("q", "enterprise", "sla", "request_type"):
            if getattr(self, name):
                params[name] = getattr(self, name)
        if self.due_from:
            params["due_from"] = _start_of(self.due_from)
        if self.due_to:  # to the end of that day
            params["due_to"] = _start_of(self.due_to + timedelta(days=1))
        params.update(self._window())
        if self.assignee:
            params["assignee"] = self.assignee if self.assignee in ("me", "none") else STAFF_SUB + self.assignee
        if self.open:
            params["open"] = "true"
        return params

    def _window(self) -> dict[str, str]:
        """今天到期: due today; 本周到期: due this week, Monday to Sunday; 已超期: past the deadline."""
        if self.due == "overdue":
            return {"sla": "overdue"}
        today = reading_now().astimezone(SHANGHAI).date()
        if self.due == "today":
            return {"due_from": _start_of(today), "due_to": _start_of(today + timedelta(days=1))}
        if self.due == "week":
            monday = today - timedelta(days=today.weekday())
            return {"due_from": _start_of(monday), "due_to": _start_of(monday + timedelta(days=7))}
        return {}


MY_TODO = QueueFilters(assignee="me", open=True)  # 我的待办: what I handle and is still open
