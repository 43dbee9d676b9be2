"""Event contracts: the only thing the services share about each other's work.

Every message on Kafka is a CloudEvent 1.0 in binary mode (``ce_*`` headers, JSON body); the
body is one of the pydantic models below, chosen by ``ce_type``. ``xiaoer schemas`` writes their
JSON Schemas to ``docs/schemas/``, and ``docs/asyncapi.yaml`` describes the topics that carry them.

The contracts are grouped by who talks to whom, one module each: ``topics`` (names, sources),
``base`` (the event base, subject, actor, file reference), ``requests`` (intake → router,
notifier), ``workitems`` (router → intake, notifier), ``departments`` (router ↔ department
systems), ``notifier`` (deadlines, notifications), ``registry`` (router → notifier). Everything is
re-exported here, so ``events.WorkItemAssigned`` names a contract wherever it is defined; this
module adds the catalogue: ``EVENT_TYPES`` by ``ce_type`` and ``TOPICS`` (which travel where).
"""

from __future__ import annotations

from typing import Any

from shared.events.base import (
    Actor,
    Event,
    FileRef,
    Subject,
    SubjectProof,
)
from shared.events.departments import (
    DEPARTMENT_MOVES,
    DepartmentAction,
    DepartmentActionName,
    Handover,
    WorkItemAssigned,
    WorkItemNotice,
)
from shared.events.documents import (
    DOCUMENT_EVENTS,
    DocumentEvent,
    DocumentIssued,
    DocumentRevoked,
    DocumentVerified,
)
from shared.events.notifier import (
    NotificationSent,
    SlaUpdated,
)
from shared.events.registry import (
    Contact,
    SupervisingOfficeRegistered,
    UnitRegistered,
)
from shared.events.requests import (
    CreditReportUploaded,
    RequestSubmitted,
    RequestWithdrawn,
    SupplementProvided,
    WechatUserBound,
    WorkItemFollowUpGiven,
    WorkItemRated,
    reopens,
)
from shared.events.topics import (
    DEPT_RESPONSES,
    DLQ_SUFFIX,
    DOCUMENTS_EVENTS,
    NOTIFICATIONS,
    REGISTRY_EVENTS,
    REQUESTS_SUBMITTED,
    REQUESTS_UPDATES,
    SLA_EVENTS,
    SOURCE_INTAKE,
    SOURCE_NOTIFIER,
    SOURCE_ROUTER,
    USERS_EVENTS,
    WORKITEMS_EVENTS,
    dept_inbox,
    dlq,
    is_dlq,
)
from shared.events.workitems import (
    WORK_ITEM_EVENTS,
    CoverageVersion,
    Outcome,
    Resolution,
    WorkItemAcknowledged,
    WorkItemAssisted,
    WorkItemCancelled,
    WorkItemClosed,
    WorkItemCovered,
    WorkItemCreditReportUploaded,
    WorkItemDispatched,
    WorkItemDocumentRevoked,
    WorkItemEvent,
    WorkItemExtensionDecided,
    WorkItemExtensionRequested,
    WorkItemFollowedUp,
    WorkItemProgressed,
    WorkItemReopened,
    WorkItemResolved,
    WorkItemReturned,
    WorkItemReturnedToEnterprise,
    WorkItemState,
    WorkItemSupplemented,
    WorkItemSupplementRequested,
    credit_report_unit,
    is_credit_report_unit,
)

__all__ = [
    "DEPARTMENT_MOVES",
    "DEPT_RESPONSES",
    "DLQ_SUFFIX",
    "DOCUMENTS_EVENTS",
    "DOCUMENT_EVENTS",
    "EVENT_TYPES",
    "NOTIFICATIONS",
    "REGISTRY_EVENTS",
    "REQUESTS_SUBMITTED",
    "REQUESTS_UPDATES",
    "SLA_EVENTS",
    "SOURCE_INTAKE",
    "SOURCE_NOTIFIER",
    "SOURCE_ROUTER",
    "TOPICS",
    "USERS_EVENTS",
    "WORKITEMS_EVENTS",
    "WORK_ITEM_EVENTS",
    "Actor",
    "Contact",
    "CoverageVersion",
    "CreditReportUploaded",
    "DepartmentAction",
    "DepartmentActionName",
    "DocumentEvent",
    "DocumentIssued",
    "DocumentRevoked",
    "DocumentVerified",
    "Event",
    "FileRef",
    "Handover",
    "NotificationSent",
    "Outcome",
    "RequestSubmitted",
    "RequestWithdrawn",
    "Resolution",
    "SlaUpdated",
    "Subject",
    "SubjectProof",
    "SupervisingOfficeRegistered",
    "SupplementProvided",
    "UnitRegistered",
    "WechatUserBound",
    "WorkItemAcknowledged",
    "WorkItemAssigned",
    "WorkItemAssisted",
    "WorkItemCancelled",
    "WorkItemClosed",
    "WorkItemCovered",
    "WorkItemCreditReportUploaded",
    "WorkItemDispatched",
    "WorkItemDocumentRevoked",
    "WorkItemEvent",
    "WorkItemExtensionDecided",
    "WorkItemExtensionRequested",
    "WorkItemFollowUpGiven",
    "WorkItemFollowedUp",
    "WorkItemNotice",
    "WorkItemProgressed",
    "WorkItemRated",
    "WorkItemReopened",
    "WorkItemResolved",
    "WorkItemReturned",
    "WorkItemReturnedToEnterprise",
    "WorkItemState",
    "WorkItemSupplementRequested",
    "WorkItemSupplemented",
    "credit_report_unit",
    "dept_inbox",
    "dlq",
    "is_credit_report_unit",
    "is_dlq",
    "json_schemas",
    "reopens",
]

EVENT_TYPES: dict[str, type[Event]] = {
    model.ce_type: model
    for model in (
        RequestSubmitted,
        RequestWithdrawn,
        SupplementProvided,
        WorkItemRated,
        WorkItemFollowUpGiven,
        CreditReportUploaded,
        *WORK_ITEM_EVENTS,
        WorkItemAssigned,
        WorkItemNotice,
        SlaUpdated,
        NotificationSent,
        WechatUserBound,
        DepartmentAction,
        UnitRegistered,
        SupervisingOfficeRegistered,
        *DOCUMENT_EVENTS,
    )
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {ce_type: model.model_json_schema() for ce_type, model in EVENT_TYPES.items()}


# --- Which messages travel on which topic (docs/asyncapi.yaml is generated from this) ---------------
TOPICS: dict[str, dict[str, Any]] = {
    REQUESTS_SUBMITTED: {
        "description": "New requests, from intake to the router. Key: request id.",
        "messages": [RequestSubmitted],
        "from": "intake",
        "to": ["router"],
    },
    REQUESTS_UPDATES: {
        "description": (
            "What an enterprise does after submitting: withdraw, answer a 补正, rate, answer the 回访 (or its "
            "liaison officer records one), upload a 专项信用报告 (信用代证). Key: request id."
        ),
        "messages": [RequestWithdrawn, SupplementProvided, WorkItemRated, WorkItemFollowUpGiven, CreditReportUploaded],
        "from": "intake",
        "to": ["router"],
    },
    "dept.{unit_code}.inbox": {
        "description": (
            "One department unit's own work: new items (lead or assisting), deadlines, and news about items it "
            "holds. Only that unit's items, with signed attachment links and no personal data it does not need. "
            "Items a province's 专项信用报告 covers (信用代证, cn.xiaoer.workitem.covered) never come here. "
            "Key: work item id."
        ),
        "messages": [WorkItemAssigned, WorkItemNotice],
        "from": "router",
        "to": ["department systems"],
    },
    DEPT_RESPONSES: {
        "description": (
            "Department systems' actions on their items, validated like the HTTP API. ce_source must be "
            "/departments/<unit_code>, and each message is signed with the unit's key (xiaoer units credentials): "
            "CloudEvents extension headers ce_xiaoerkeyid (the key id) and ce_xiaoersignature (hex HMAC-SHA256 "
            "of the canonical string described in services/router/credentials.py). An unsigned, forged, revoked "
            "or other unit's message changes nothing. Refused actions go to dept.responses.dlq with the reason "
            "in x-error."
        ),
        "messages": [DepartmentAction],
        "from": "department systems",
        "to": ["router"],
    },
    WORKITEMS_EVENTS: {
        "description": (
            "Every change of every work item, and the items a 专项信用报告 covers (信用代证: state credit_report, "
            "no unit; credit_report_uploaded once the enterprise uploads the report; cancelled on withdrawal). "
            "Key: request id (per-request order)."
        ),
        "messages": list(WORK_ITEM_EVENTS),
        "from": "router",
        "to": ["intake", "notifier"],
    },
    SLA_EVENTS: {
        "description": "Deadlines of each work item when its clock starts, pauses, resumes or is extended.",
        "messages": [SlaUpdated],
        "from": "notifier",
        "to": ["intake", "router"],
    },
    USERS_EVENTS: {
        "description": "How enterprise users can be reached (their WeChat openid, once bound). Key: openid.",
        "messages": [WechatUserBound],
        "from": "intake",
        "to": ["notifier"],
    },
    REGISTRY_EVENTS: {
        "description": (
            "The department registry as it changes (API, `xiaoer units import`, the demo seed): each unit and "
            "supervising office with its contacts. Key: unit code or region code."
        ),
        "messages": [UnitRegistered, SupervisingOfficeRegistered],
        "from": "router",
        "to": ["notifier"],
    },
    DOCUMENTS_EVENTS: {
        "description": (
            "Documents issued with a 核验码 when a unit resolves a certificate item with 出具证明 (the certificate "
            "xiaoer wrote and signed, or the 核验单 beside the unit's own PDF), their revocations, and every "
            "lookup of them (no data about who looked). Key: the code."
        ),
        "messages": list(DOCUMENT_EVENTS),
        "from": "router",
        "to": ["department systems", "dashboards"],
    },
    NOTIFICATIONS: {
        "description": "Every notification the notifier issues, whatever other channels carry it. Key: work item id.",
        "messages": [NotificationSent],
        "from": "notifier",
        "to": ["dashboards", "department systems"],
    },
}
