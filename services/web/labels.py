"""Names of the codes the APIs send, for people, in the page's language: every one comes from
shared/vocabulary.py or shared/catalogue.py (the pages keep no copy of them). Templates call
these functions (``{{ work_item_state(item.state) }}``); Python code too."""

from __future__ import annotations

from shared import catalogue, vocabulary
from shared.vocabulary import Terms

from .i18n import current


def _language() -> vocabulary.Language:
    return "en" if current() == "en" else "zh"


def _namer(terms: Terms):
    def name(code: str | None) -> str:
        return terms.name(code, _language()) if code is not None else ""

    return name


request_status = _namer(vocabulary.REQUEST_STATUSES)
work_item_state = _namer(vocabulary.WORK_ITEM_STATES)
move_name = _namer(vocabulary.MOVES)
outcome_name = _namer(vocabulary.OUTCOMES)
extension_state = _namer(vocabulary.EXTENSION_STATES)
credit_report_status = _namer(vocabulary.CREDIT_REPORT_STATUSES)
timer_kind = _namer(vocabulary.TIMER_KINDS)
notification_kind = _namer(vocabulary.NOTIFICATION_KINDS)
timer_state = _namer(vocabulary.TIMER_STATES)
channel_name = _namer(vocabulary.CHANNELS)
audience_name = _namer(vocabulary.AUDIENCES)
sending_state = _namer(vocabulary.SENDING_STATES)
role_name = _namer(vocabulary.ROLES)
kind_name = _namer(catalogue.DEPARTMENT_KINDS)
file_purpose = _namer(vocabulary.FILE_PURPOSES)
return_reason = _namer(vocabulary.RETURN_REASONS)
item_group = _namer(vocabulary.ITEM_GROUPS)
request_step = _namer(vocabulary.REQUEST_STEPS)
queue_tab = _namer(vocabulary.QUEUE_TABS)
sla_state = _namer(vocabulary.SLA_STATES)
queue_order = _namer(vocabulary.QUEUE_ORDERS)
deadline_name = _namer(vocabulary.DEADLINES)
subject_proof = _namer(vocabulary.SUBJECT_PROOFS)
relation_kind = _namer(vocabulary.RELATION_KINDS)
supervision_state = _namer(vocabulary.SUPERVISION_STATES)
supervision_timeliness = _namer(vocabulary.SUPERVISION_TIMELINESS)
follow_up_result = _namer(vocabulary.FOLLOW_UP_RESULTS)
follow_up_method = _namer(vocabulary.FOLLOW_UP_METHODS)


def rating_name(score: int) -> str:
    return vocabulary.rating_name(score, _language())


def clock(countdown: dict | None) -> str:
    """An item's countdown (the notifier's words) in the page's language."""
    if not countdown:
        return ""
    return countdown["en"] if _language() == "en" else countdown["zh"]


def options(terms: Terms) -> list[tuple[str, str]]:
    """(code, name) pairs for a form's choices, in the vocabulary's order."""
    return [(code, terms.name(code, _language())) for code in terms]


def outcome_options() -> list[tuple[str, str]]:
    return options(vocabulary.OUTCOMES)


def rating_options() -> list[tuple[int, str]]:
    return [(int(code), name) for code, name in options(vocabulary.RATING_LEVELS)]


def follow_up_options() -> list[tuple[str, str]]:
    return options(vocabulary.FOLLOW_UP_RESULTS)


def request_type(code: str) -> str:
    """守法证明 / Compliance certificates, from the shared catalogue (which has both languages)."""
    found = catalogue.REQUEST_TYPES.get(code)
    return found.en if found and _language() == "en" else found.zh if found else code


def item_name(request_type_code: str, item: str) -> str:
    """An item of a request type (a certificate's department kind, a problem's category)."""
    found = catalogue.REQUEST_TYPES.get(request_type_code)
    term = next((t for t in found.items if t.code == item), None) if found else None
    return term.name(_language()) if term else item


def purpose_name(code: str | None) -> str:
    """上市 / IPO: a request's purpose from the shared catalogue (a free text stays as it is)."""
    term = next((t for t in catalogue.PURPOSES if t.code == code), None)
    if term is None:
        return code or "—"
    return term.name(_language())


# Everything above, for templates.
TEMPLATE_GLOBALS = {
    name: globals()[name]
    for name in (
        "request_status",
        "work_item_state",
        "move_name",
        "outcome_name",
        "extension_state",
        "credit_report_status",
        "timer_kind",
        "timer_state",
        "channel_name",
        "audience_name",
        "sending_state",
        "role_name",
        "kind_name",
        "file_purpose",
        "return_reason",
        "item_group",
        "request_step",
        "queue_tab",
        "sla_state",
        "queue_order",
        "deadline_name",
        "subject_proof",
        "relation_kind",
        "supervision_state",
        "supervision_timeliness",
        "follow_up_result",
        "follow_up_method",
        "follow_up_options",
        "rating_name",
        "clock",
        "outcome_options",
        "rating_options",
        "request_type",
        "item_name",
        "purpose_name",
    )
}
