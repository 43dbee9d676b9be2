"""Names of the codes the APIs send, for people: Chinese msgids, translated where shown
(``{{ _(request_status(code)) }}``). Kept equal to the services' own names by
tests/test_web_foundation.py (the web service may not import their code)."""

from __future__ import annotations

from shared import catalogue

from .i18n import N_, current

# intake's request status (services/intake/read_model.REQUEST_STATUS_NAMES)
REQUEST_STATUS = {
    "submitted": N_("已提交"),
    "dispatched": N_("已派单"),
    "in_progress": N_("办理中"),
    "resolved": N_("已办结"),
    "closed": N_("已评价"),
    "withdrawn": N_("已撤回"),
}

# a work item's state (shared.events.STATE_NAMES)
WORK_ITEM_STATE = {
    "dispatched": N_("待签收"),
    "acknowledged": N_("已签收"),
    "in_progress": N_("办理中"),
    "awaiting_supplement": N_("待补正"),
    "resolved": N_("已办结"),
    "closed": N_("已评价"),
    "returned": N_("已退回"),
    "cancelled": N_("已撤销"),
    "credit_report": N_("待上传专项信用报告"),
    "credit_report_uploaded": N_("已由专项信用报告替代"),
}


def request_status(code: str) -> str:
    return REQUEST_STATUS.get(code, code)


def work_item_state(code: str) -> str:
    return WORK_ITEM_STATE.get(code, code)


def _term(zh: str, en: str) -> str:
    return en if current() == "en" else zh


def request_type(code: str) -> str:
    """守法证明 / Compliance certificates, from the shared catalogue (which has both languages)."""
    found = catalogue.REQUEST_TYPES.get(code)
    return _term(found.zh, found.en) if found else code


def item_name(request_type_code: str, item: str) -> str:
    """An item of a request type (a certificate's department kind, a problem's category)."""
    found = catalogue.REQUEST_TYPES.get(request_type_code)
    term = next((t for t in found.items if t.code == item), None) if found else None
    return _term(term.zh, term.en) if term else item
