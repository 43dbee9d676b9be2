"""Topic names, and who writes each (``shared.events.TOPICS`` says which events travel where)."""

from __future__ import annotations

REQUESTS_SUBMITTED = "requests.submitted"  # intake → router: new requests
REQUESTS_UPDATES = "requests.updates"  # intake → router: withdrawals, supplements, ratings
SLA_EVENTS = "sla.events"  # notifier → intake: deadlines of each work item
USERS_EVENTS = "users.events"  # intake → notifier: how enterprise users can be reached
DEPT_RESPONSES = "dept.responses"  # department systems → router: actions on work items
WORKITEMS_EVENTS = "workitems.events"  # router → intake, notifier: every change of a work item
NOTIFICATIONS = "notifications"  # notifier → anyone: every notification sent
DOCUMENTS_EVENTS = "documents.events"  # router → department systems: documents issued, revoked, verified
REGISTRY_EVENTS = "registry.events"  # router → notifier: units and supervising offices, and how to reach them


def dept_inbox(unit_code: str) -> str:
    """A department unit's own topic, e.g. ``dept.440112.tax.inbox``."""
    return f"dept.{unit_code}.inbox"


DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Where a consumer of ``topic`` puts what it can never apply (shared.messaging.dead_letters)."""
    return topic + DLQ_SUFFIX


def is_dlq(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)


SOURCE_INTAKE = "/xiaoer/intake"
SOURCE_ROUTER = "/xiaoer/router"
SOURCE_NOTIFIER = "/xiaoer/notifier"
