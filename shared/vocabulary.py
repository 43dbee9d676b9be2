"""The words xiaoer speaks, each defined once as a term (code, Chinese, English).

Every service and every page takes its names from here: a work item's state on the clerk's
queue, in the enterprise's timeline, in the ledger export and in an error message is one string.
The codes are what the APIs and events carry; a person reads ``zh`` (or ``en`` in English mode).

To add a state, a move, an outcome or a timer kind: add its term here first. Which moves lead
from which states is the router's rule (``services/router/transitions.py``); which timers a clock
plans is the notifier's (``services/notifier/clocks.py``); this module only names them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

Language = Literal["zh", "en"]


@dataclass(frozen=True)
class Term:
    code: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "zh": self.zh, "en": self.en}

    def name(self, language: Language = "zh") -> str:
        return self.en if language == "en" else self.zh


class Terms(Mapping[str, Term]):
    """An ordered set of terms looked up by code. ``name(code)`` gives the Chinese (or English)
    name, and an unknown code as it is: a page never fails on a code a newer service sends."""

    def __init__(self, *terms: Term) -> None:
        self._terms = {term.code: term for term in terms}
        if len(self._terms) != len(terms):
            raise ValueError("a code is defined twice")

    def __getitem__(self, code: str) -> Term:
        return self._terms[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    def name(self, code: str, language: Language = "zh") -> str:
        term = self._terms.get(code)
        return term.name(language) if term else code

    def zh(self, code: str) -> str:
        return self.name(code, "zh")

    def names(self, language: Language = "zh") -> dict[str, str]:
        return {code: term.name(language) for code, term in self._terms.items()}


# --- Work items ---------------------------------------------------------------------------------
WORK_ITEM_STATES = Terms(
    Term("dispatched", "待签收", "To acknowledge"),
    Term("acknowledged", "已签收", "Acknowledged"),
    Term("in_progress", "办理中", "In progress"),
    Term("awaiting_supplement", "待补正", "Awaiting supplement"),
    Term("resolved", "已办结", "Resolved"),
    Term("closed", "已评价", "Rated"),
    Term("returned", "已退回", "Returned"),
    Term("cancelled", "已撤销", "Cancelled"),
    # 信用代证: covered by the subject's 专项信用报告 (no unit, no clock).
    Term("credit_report", "待上传专项信用报告", "Credit report to upload"),
    Term("credit_report_uploaded", "已由专项信用报告替代", "Replaced by the credit report"),
    # The unit sent the item back to the enterprise (e.g. 主体授权不符): it ends there.
    Term("returned_to_enterprise", "已退回企业", "Returned to the enterprise"),
)
# Which states still await a unit's work (clocks run, the item counts as open), and which are done.
OPEN_STATES = frozenset({"dispatched", "acknowledged", "in_progress", "awaiting_supplement", "returned"})
FINISHED_STATES = frozenset({"resolved", "closed", "cancelled", "credit_report_uploaded", "returned_to_enterprise"})
# Resolved (办结), rated or not: what a 回访 follows and what ratings are asked for.
RESOLVED_STATES = frozenset({"resolved", "closed"})

# The tabs of a unit's queue (router ``GET /v1/workitems/counts``), each with the states it shows.
QUEUE_TABS = Terms(
    Term("new", "待签收", "To acknowledge"),
    Term("working", "办理中", "In progress"),
    Term("supplement", "待补正", "Awaiting supplement"),
    Term("done", "已办结", "Finished"),
    Term("returned", "已退回", "Returned"),
)
TAB_STATES: dict[str, tuple[str, ...]] = {
    "new": ("dispatched",),
    "working": ("acknowledged", "in_progress"),
    "supplement": ("awaiting_supplement",),
    "done": ("resolved", "closed", "cancelled", "returned_to_enterprise"),
    "returned": ("returned",),
}


def tab_of(state: str) -> str | None:
    """The queue tab an item in ``state`` is shown on (None: no unit's queue shows it)."""
    return next((tab for tab, states in TAB_STATES.items() if state in states), None)


# Where an item's clock stands, as a queue filters by it (router ``GET /v1/workitems?sla=``).
SLA_STATES = Terms(
    Term("overdue", "已超期", "Overdue"),
    Term("paused", "暂停计时", "Paused"),
    Term("running", "正常计时", "Running"),
)
# How a clerk sorts the queue (router ``GET /v1/workitems?order=``), and the deadline windows it
# narrows it to (the pages turn them into ``due_from``/``due_to``, or ``sla=overdue``).
QUEUE_ORDERS = Terms(
    Term("deadline", "期限", "Deadline"),
    Term("created", "收到时间", "Received"),
    Term("enterprise", "企业", "Enterprise"),
    Term("state", "状态", "State"),
)
DUE_WINDOWS = Terms(
    Term("today", "今天到期", "Due today"),
    Term("week", "本周到期", "Due this week"),
    Term("overdue", "已超期", "Overdue"),
)

# Which deadline of an item counts now (services/notifier/countdown.py).
DEADLINES = Terms(
    Term("acknowledge", "签收", "Acknowledgement"),
    Term("resolve", "办结", "Resolution"),
)

# The moves of the life cycle (services/router/transitions.py says from where to where, and who).
MOVES = Terms(
    Term("acknowledge", "签收", "Acknowledge"),
    Term("progress", "进展", "Record progress"),
    Term("request-supplement", "要求补正", "Request a supplement"),
    Term("resolve", "办结", "Resolve"),
    Term("return", "退回", "Return"),
    Term("transfer", "转办", "Transfer"),
    Term("assist", "会办", "Invite units to assist"),
    Term("extension", "申请延期", "Request an extension"),
    Term("dispatch", "分拨", "Dispatch"),
    Term("withdraw", "撤回", "Withdraw"),
    Term("supplemented", "补正材料", "Supplement"),
    Term("reopen", "重办", "Reopened"),
    Term("close", "评价办结", "Rated and closed"),
    Term("return-to-enterprise", "退回企业", "Return to the enterprise"),
    Term("revoke-document", "撤销证明", "Revoke the document"),
    Term("follow-up", "回访", "Follow-up"),  # not a move: the item's state stays; its log records it
    # Who in the unit handles it (承办人, issue 29): no state changes, recorded in the item's history.
    Term("claim", "认领", "Take"),
    Term("assign", "指派承办人", "Assign"),
)

# Why a unit gives an item back (``return`` with ``reason_class``): to the coordinating office for
# another unit, or to the enterprise when the subject's authorisation does not hold.
RETURN_REASONS = Terms(
    Term("not_competent", "非本单位职责", "Not this unit's responsibility"),
    Term("subject_authorization", "主体授权不符", "The subject's authorisation does not hold"),
)

# A unit's reply templates (常用语, kept by its lead, issue 29): which move's text each one fills —
# 补正's note (what the enterprise must add) or 退回's reason.
REPLY_TEMPLATE_KINDS = Terms(
    Term("supplement", "补正", "Request for a supplement"),
    Term("return", "退回", "Return"),
)

# The placeholders a reply template may hold, written {企业名称}; each is filled from the item the
# template is used on (services/router/reply_templates.py).
TEMPLATE_PLACEHOLDERS = Terms(
    Term("企业名称", "工单所涉企业的名称", "the name of the enterprise the item is about"),
    Term("事项", "事项名称，如“税务”", "the item, e.g. 税务 (tax)"),
    Term("诉求编号", "受理编号，如 XE-20261122-000123", "the reference number, e.g. XE-20261122-000123"),
)

# How a unit resolves an item.
OUTCOMES = Terms(
    Term("issued", "出具证明", "Certificate issued"),
    Term("not_issued", "不予出具", "Not issued"),
    Term("answered", "已答复", "Answered"),
)

EXTENSION_STATES = Terms(
    Term("pending", "待审批", "Pending"),
    Term("approved", "已批准", "Approved"),
    Term("denied", "未批准", "Denied"),
)

# --- Requests -----------------------------------------------------------------------------------
# A request's status, as its work items show it (services/intake/read_model.overall_status).
REQUEST_STATUSES = Terms(
    Term("submitted", "已提交", "Submitted"),
    Term("dispatched", "已派单", "Dispatched"),
    Term("in_progress", "办理中", "In progress"),
    Term("resolved", "已办结", "Resolved"),
    Term("closed", "已评价", "Rated"),
    Term("withdrawn", "已撤回", "Withdrawn"),
    # The enterprise's turn (待您处理): such requests sort first in its list.
    Term("awaiting_supplement", "待补正", "Supplement awaited"),
    Term("awaiting_report", "待上传报告", "Credit report awaited"),
    Term("awaiting_rating", "待评价", "Rating awaited"),
)
AWAITING_ENTERPRISE = frozenset({"awaiting_supplement", "awaiting_report", "awaiting_rating"})
# Requests with every item finished: nothing left to withdraw, no clock to show.
FINISHED_REQUESTS = frozenset({"withdrawn", "resolved", "closed", "awaiting_rating"})

# A request's items as the enterprise counts them (its summary: 待签收 4 · 办理中 3 · …), each
# group with the states it holds; ``your_`` groups are the enterprise's turn.
ITEM_GROUPS = Terms(
    Term("to_acknowledge", "待签收", "To acknowledge"),
    Term("in_progress", "办理中", "In progress"),
    Term("your_supplement", "待您补正", "Your supplement"),
    Term("your_credit_report", "待上传报告", "Your credit report"),
    Term("finished", "已办结", "Finished"),
    Term("returned_to_enterprise", "已退回企业", "Returned to you"),
    Term("cancelled", "已撤销", "Cancelled"),
)
GROUP_STATES: dict[str, tuple[str, ...]] = {
    "to_acknowledge": ("dispatched", "returned"),
    "in_progress": ("acknowledged", "in_progress"),
    "your_supplement": ("awaiting_supplement",),
    "your_credit_report": ("credit_report",),
    "finished": ("resolved", "closed", "credit_report_uploaded"),
    "returned_to_enterprise": ("returned_to_enterprise",),
    "cancelled": ("cancelled",),
}
# A request's steps (提交 → 受理 → 办理 → 办结).
REQUEST_STEPS = Terms(
    Term("submitted", "提交", "Submitted"),
    Term("accepted", "受理", "Accepted"),
    Term("handling", "办理", "Handling"),
    Term("done", "办结", "Done"),
)

# --- Who may ask about whom (issue 25) ----------------------------------------------------------
# How a request proves it may name a subject: the applicant itself, a relation in the
# enterprise-group registry, or the subject's 授权委托书 attached for it.
SUBJECT_PROOFS = Terms(
    Term("applicant", "申请企业本身", "The applicant itself"),
    Term("group_registry", "集团关系登记", "Enterprise-group registry"),
    Term("authorization", "授权委托书", "Letter of authorisation"),
)
RELATION_KINDS = Terms(
    Term("subsidiary", "子公司", "Subsidiary"),
    Term("branch", "分支机构", "Branch"),
)
# What a file of a request is for.
FILE_PURPOSES = Terms(
    Term("attachment", "申请材料", "Application material"),
    Term("supplement", "补正材料", "Supplement"),
    Term("supplement_form", "补正通知附件", "Supplement form"),
    Term("issued", "出具文书", "Issued document"),
    Term("credit_report", "专项信用报告", "Credit report"),
    Term("authorization", "授权委托书", "Letter of authorisation"),
)

# A subject's 专项信用报告 on a request.
CREDIT_REPORT_STATUSES = Terms(
    Term("to_obtain", "待上传", "To upload"),
    Term("uploaded", "已上传", "Uploaded"),
    Term("withdrawn", "已撤销", "Cancelled"),
)

# --- Ratings (政务服务好差评, five levels) ------------------------------------------------------
RATING_LEVELS = Terms(
    Term("5", "非常满意", "Very satisfied"),
    Term("4", "满意", "Satisfied"),
    Term("3", "基本满意", "Fairly satisfied"),
    Term("2", "不满意", "Dissatisfied"),
    Term("1", "非常不满意", "Very dissatisfied"),
)
POOR_RATING = 2  # this score or lower reopens the item (重办), once


def rating_name(score: int, language: Language = "zh") -> str:
    return RATING_LEVELS.name(str(score), language)


# --- 回访 (follow-up after 办结, 12345 practice): was the problem solved, and how it was asked --------
FOLLOW_UP_RESULTS = Terms(
    Term("solved", "已解决", "Solved"),
    Term("partly", "部分解决", "Partly solved"),
    Term("unsolved", "未解决", "Not solved"),
)
FOLLOW_UP_METHODS = Terms(
    Term("online", "线上回访", "Online"),  # the enterprise answers on its request page
    Term("phone", "电话回访", "By phone"),  # a liaison officer calls and records the answer
    Term("visit", "上门回访", "In person"),
)


# --- SLA timers and notifications (notifier) ----------------------------------------------------
TIMER_KINDS = Terms(
    Term("acknowledge_due", "签收催办", "Acknowledgement chase"),
    Term("acknowledge_escalate", "签收督办", "Acknowledgement escalation"),
    Term("acknowledge_public_notice", "签收通报", "Acknowledgement public notice"),
    Term("remind_50", "办理预警（50%）", "Handling reminder (50%)"),
    Term("remind_80", "办理预警（80%）", "Handling reminder (80%)"),
    Term("due", "催办", "Chase"),
    Term("escalate", "督办", "Escalation"),
    Term("public_notice", "通报", "Public notice"),
    Term("follow_up", "回访", "Follow-up"),
    # Not a timer: the enterprise's own 催办 of its late item (issue 29), told like the timers' 催办.
    Term("enterprise_urge", "企业催办", "Chase by the enterprise"),
    # Not timers either: a supervisor's 督办单 to a unit, and the unit's answer to it (issue 29).
    Term("unit_supervision", "督办单", "Supervision order"),
    Term("supervision_answered", "督办答复", "Answer to a supervision order"),
)
# A supervisor's 督办单 to a unit (notifier, issue 29): open until the unit answers it.
SUPERVISION_STATES = Terms(
    Term("open", "待答复", "Awaiting answer"),
    Term("answered", "已答复", "Answered"),
)
# Whether the unit answered by the deadline the supervisor set (or, still open, whether it has passed).
SUPERVISION_TIMELINESS = Terms(
    Term("on_time", "按时答复", "Answered on time"),
    Term("late", "逾期答复", "Answered late"),
    Term("pending", "未到期", "Not yet due"),
    Term("overdue", "已逾期未答复", "Overdue, unanswered"),
)
# Notes between supervisors and the unit on one work item (router): never shown to the enterprise.
INTERNAL_COMMENT = Term("internal_comment", "内部批注", "Internal comment")
# What an in-app message is about, by its notification's kind (a timer kind, a work-item event's
# type, or one of the notifier's own): the tag the message centre shows beside its title.
MESSAGE_KINDS = Terms(
    *(term for term in TIMER_KINDS.values() if term.code != "follow_up"),
    Term("follow_up", "请评价", "Please rate"),  # the 回访 as the enterprise reads it
    Term("cn.xiaoer.workitem.dispatched", "新工单待签收", "New item to sign for"),
    Term("cn.xiaoer.workitem.acknowledged", "已签收", "Signed for"),
    Term("cn.xiaoer.workitem.supplement_requested", "待您补正", "Supplement needed"),
    Term("cn.xiaoer.workitem.supplemented", "企业已补正", "Supplement received"),
    Term("cn.xiaoer.workitem.resolved", "已办结", "Resolved"),
    Term("cn.xiaoer.workitem.returned_to_enterprise", "已退回", "Returned"),
    Term("cn.xiaoer.workitem.document_revoked", "证明已撤销", "Certificate revoked"),
    Term("credit_report_awaited", "待上传", "Report to upload"),
)
# What a notification is about, as the supervisor's 通知记录 of an item names it: a timer's kind,
# or news of the item (its event's type), named for someone watching the unit, not for its reader.
NOTIFICATION_KINDS = Terms(
    *TIMER_KINDS.values(),
    Term("cn.xiaoer.workitem.dispatched", "派单通知", "Item dispatched"),
    Term("cn.xiaoer.workitem.acknowledged", "签收通知", "Item signed for"),
    Term("cn.xiaoer.workitem.supplement_requested", "补正通知", "Supplement requested"),
    Term("cn.xiaoer.workitem.supplemented", "补正送达", "Supplement received"),
    Term("cn.xiaoer.workitem.resolved", "办结通知", "Item resolved"),
    Term("cn.xiaoer.workitem.returned_to_enterprise", "退回通知", "Item returned"),
    Term("cn.xiaoer.workitem.document_revoked", "证明撤销通知", "Certificate revoked"),
    Term("credit_report_awaited", "待上传报告", "Report to upload"),
)
TIMER_STATES = Terms(
    Term("pending", "待触发", "Pending"),
    Term("fired", "已触发", "Fired"),
    Term("cancelled", "已取消", "Cancelled"),
)
CHANNELS = Terms(
    Term("wechat", "微信", "WeChat"),
    Term("email", "邮件", "E-mail"),
    Term("webhook", "接口回调", "Webhook"),
    Term("topic", "消息总线", "Event stream"),
    # The message centre (消息中心) on every signed-in page: stored for its audience, read per person.
    Term("inbox", "站内消息", "In-app message"),
)
AUDIENCES = Terms(
    Term("unit", "承办单位", "Handling unit"),
    Term("leadership", "单位领导", "Unit leadership"),
    Term("supervisor", "督办人员", "Supervisor"),
    Term("enterprise", "企业", "Enterprise"),
)
SENDING_STATES = Terms(
    Term("pending", "待发送", "Pending"),
    Term("sent", "已发送", "Sent"),
    Term("failed", "发送失败", "Failed"),
)

# --- People ----------------------------------------------------------------------------------------
ROLES = Terms(
    Term("enterprise", "企业", "Enterprise"),
    Term("liaison", "驻企联络员", "Liaison officer"),
    Term("department", "部门", "Department"),
    Term("coordinator", "协调员", "Coordinator"),
    Term("supervisor", "督办人员", "Supervisor"),
    Term("admin", "管理员", "Administrator"),
    Term("system", "系统", "System"),
)


# --- Issued documents (issue 27: 核验码, verification, revocation) -----------------------------------
# Why an issuing unit (or its supervisor) revoked a document. The class is what the public
# verification shows; the unit's own words stay on its record.
REVOCATION_REASONS = Terms(
    Term("content_error", "内容有误", "Content error"),
    Term("duplicate", "重复出具", "Issued twice"),
    Term("revoked_by_law", "依法撤销", "Revoked by law"),
    Term("other", "其他", "Other"),
)

# A document's status on the public verification.
DOCUMENT_STATUSES = Terms(
    Term("valid", "有效", "Valid"),
    Term("revoked", "已撤销", "Revoked"),
)

# Whether a genuine certificate is still within the window in which readers (保荐机构, the
# exchange) usually accept it. Past the window it stays genuine: it is only older than advised.
USE_WINDOW_STATES = Terms(
    Term("within", "在建议使用期内", "Within the advised period of use"),
    Term("past", "超出建议使用期", "Past the advised period of use"),
)

# What the byte-identity check of an uploaded PDF found.
IDENTITY_RESULTS = Terms(
    Term("identical", "与登记的文件一致", "Identical to the registered file"),
    Term("different", "与登记的文件不一致", "Not identical to the registered file"),
)

# What xiaoer issues with a 核验码: a certificate it wrote and signed for the unit, or the
# one-page verification slip (核验单) beside a PDF the unit uploaded from its own system.
DOCUMENT_FORMS = Terms(
    Term("certificate", "证明", "Certificate"),
    Term("verification_slip", "核验单", "Verification slip"),
)

# How a document was looked up (verification_lookups.channel).
LOOKUP_CHANNELS = Terms(
    Term("code", "核验码", "Code"),
    Term("file", "文件比对", "File comparison"),
    Term("batch", "批量核验", "Batch"),
    Term("share", "分享链接", "Share link"),
)
