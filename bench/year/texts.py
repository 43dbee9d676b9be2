"""The words the services write into their tables, for the generated history: intake's timeline
summaries (``services/intake/timeline.summary``) and the notifier's notification texts
(``services/notifier/notify``). They are written here again because building an event object per
entry for 30 million entries would double the generation time; :func:`check` holds them equal to
the services' own on one example of each, so a change there fails the generator loudly."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from shared.clock import SHANGHAI
from shared.vocabulary import OUTCOMES, rating_name

PUBLIC_NOTES = ("progressed", "supplement_requested", "resolved", "cancelled")


def local(t: float | None) -> str:
    return datetime.fromtimestamp(t, SHANGHAI).strftime("%m月%d日 %H:%M") if t else "—"


def summary(kind: str, unit: str, subject: str, note: str | None, extra: dict) -> str:
    """The timeline entry of a router event (``timeline.summary``)."""
    match kind:
        case "dispatched" if extra.get("from_unit"):
            text = f"已转派至{unit}（{subject}）"
        case "dispatched":
            text = f"已派单至{unit}（{subject}）"
        case "acknowledged":
            text = f"{unit}已签收（{subject}）"
        case "progressed":
            text = f"{unit}办理中（{subject}）"
        case "supplement_requested":
            text = f"{unit}要求补正材料（{subject}）"
        case "supplemented":
            text = f"{unit}已收到补正材料（{subject}）"
        case "resolved":
            resolution = extra["resolution"]
            number = f"，文号 {resolution['document_no']}" if resolution["document_no"] else ""
            text = f"{unit}已办结：{OUTCOMES.zh(resolution['outcome'])}{number}（{subject}）"
        case "returned":
            text = f"部门退回，由{unit}重新分拨（{subject}）"
        case "extension_requested":
            text = f"{unit}申请延期 {extra['extension']['days']} 个工作日（{subject}）"
        case "extension_decided" if extra["approved"]:
            text = f"延期 {extra['extension']['days']} 个工作日已批准（{unit}，{subject}）"
        case "extension_decided":
            text = f"延期申请未获批准（{unit}，{subject}）"
        case "reopened":
            text = f"{unit}重新办理（{subject}）"
        case "closed":
            text = f"{unit}事项已评价：{rating_name(extra['score'])}（{subject}）"
        case "cancelled":
            text = f"{unit}事项已撤销（{subject}）"
        case _:
            raise ValueError(kind)
    return f"{text}：{note}" if note and kind in PUBLIC_NOTES else text


def event_messages(
    kind: str,
    unit: str,
    item: str,
    acknowledge_due: float | None,
    resolve_due: float | None,
    note: str | None,
    extra: dict,
) -> list[tuple[str, str, str]]:
    """(audience, title, body) of what the enterprise, or the unit of a new item or a 补正, is told
    of an event (``notify.event_messages``)."""
    if kind == "dispatched":
        return [("unit", "新工单待签收", f"{unit}收到新工单 {item}，请在 {local(acknowledge_due)} 前签收")]
    if kind == "supplemented":
        return [("unit", "企业已补正", f"企业已补充材料（{item}），计时恢复，请继续办理")]
    if kind == "acknowledged":
        return [("enterprise", "已签收", f"{unit}已签收您的诉求 {item}，办理时限 {local(resolve_due)}")]
    if kind == "supplement_requested":
        return [("enterprise", "请补正材料", f"{unit}需要您补充材料（{item}）：{note or ''}")]
    if kind == "resolved":
        outcome = OUTCOMES.zh(extra["resolution"]["outcome"])
        return [("enterprise", "已办结", f"{unit}已办结您的诉求 {item}：{outcome}，请查看并评价")]
    return []


def timer_messages(kind: str, unit: str, item: str, acknowledge_due: float, resolve_due: float):
    """(audience, title, body) for a timer that fired (``notify.timer_messages``)."""
    due = local(resolve_due)
    ack = local(acknowledge_due)
    return {
        "acknowledge_due": [
            ("unit", "签收催办", f"工单 {item} 未在时限 {ack} 前签收，请立即签收"),
            ("supervisor", "签收催办", f"{unit}的工单 {item} 未在时限 {ack} 前签收"),
        ],
        "acknowledge_escalate": [
            ("unit", "签收督办", f"工单 {item} 超过签收时限一个工作日仍未签收，已督办"),
            ("leadership", "签收督办", f"{unit}的工单 {item} 超过签收时限一个工作日仍未签收，请督促签收"),
            ("supervisor", "签收督办", f"{unit}的工单 {item} 超过签收时限一个工作日仍未签收"),
        ],
        "acknowledge_public_notice": [
            ("unit", "签收通报", f"工单 {item} 超过签收时限五个工作日仍未签收，已通报"),
            ("supervisor", "通报", f"{unit}的工单 {item} 超过签收时限五个工作日仍未签收，建议通报"),
        ],
        "remind_50": [("unit", "办理预警（50%）", f"工单 {item} 已用去一半办理时间，办理时限 {due}")],
        "remind_80": [("unit", "办理预警（80%）", f"工单 {item} 已用去 80% 办理时间，办理时限 {due}")],
        "due": [
            ("unit", "催办", f"工单 {item} 已到办理时限 {due}，请尽快办结或申请延期"),
            ("enterprise", "办理超时", f"您的诉求 {item} 在{unit}已超过办理时限，已催办"),
        ],
        "escalate": [
            ("leadership", "督办", f"{unit}的工单 {item} 已超时一个工作日（时限 {due}），请督促办理"),
            ("supervisor", "督办", f"{unit}的工单 {item} 已超时一个工作日（时限 {due}）"),
        ],
        "public_notice": [("supervisor", "通报", f"{unit}的工单 {item} 已超时五个工作日（时限 {due}），建议通报")],
        "follow_up": [
            ("enterprise", "回访", f"您的诉求 {item} 已由{unit}办结，请对办理结果进行评价，并告诉我们问题是否已解决")
        ],
    }[kind]


def check() -> None:
    """Raises if a text here differs from the service's own (one example of each)."""
    from services.intake import timeline
    from services.notifier import notify
    from shared import events

    t = datetime(2026, 6, 3, 2, 30, tzinfo=UTC)
    base = dict(
        work_item_id="w", request_id="r", reference_no="XE-20260603-000001", request_type="compliance_certificate",
        item="tax", department_kind="tax", unit_code="440305.tax", unit_name="国家税务总局深圳市南山区税务局",
        region_code="440305", subject_uscc="91440300MA5G00000X", subject_name="深圳华信电子科技有限公司",
        occurred_at=t, version=2,
    )  # fmt: skip
    resolution = {"outcome": "issued", "document_no": "粤税务证〔2026〕00012号", "note": None, "documents": []}
    extension = {"days": 5}
    routed = {"rule_id": None, "rule_version": None, "routing_reason": "r"}
    cases = [
        ("dispatched", events.WorkItemDispatched(**base, state="dispatched", **routed), None, {}),
        ("dispatched", events.WorkItemDispatched(**base, state="dispatched", previous_unit_code="x", **routed), None,
         {"from_unit": "x"}),
        ("acknowledged", events.WorkItemAcknowledged(**base, state="acknowledged"), None, {}),
        ("progressed", events.WorkItemProgressed(**base, state="in_progress", note="n"), "n", {}),
        ("supplement_requested", events.WorkItemSupplementRequested(**base, state="awaiting_supplement", note="n"),
         "n", {}),
        ("supplemented", events.WorkItemSupplemented(**base, state="in_progress"), None, {}),
        ("resolved", events.WorkItemResolved(**base, state="resolved", resolution=resolution), None,
         {"resolution": resolution}),
        ("returned", events.WorkItemReturned(**base, state="returned", returned_by="x"), None, {}),
        ("extension_requested", events.WorkItemExtensionRequested(**base, state="acknowledged", extension_id="e",
                                                                  days=5), None, {"extension": extension}),
        ("extension_decided", events.WorkItemExtensionDecided(**base, state="acknowledged", extension_id="e", days=5,
                                                              approved=True), None,
         {"extension": extension, "approved": True}),
        ("extension_decided", events.WorkItemExtensionDecided(**base, state="acknowledged", extension_id="e", days=5,
                                                              approved=False), None,
         {"extension": extension, "approved": False}),
        ("reopened", events.WorkItemReopened(**base, state="in_progress", score=2), None, {}),
        ("closed", events.WorkItemClosed(**base, state="closed", score=4), None, {"score": 4}),
        ("cancelled", events.WorkItemCancelled(**base, state="cancelled", note="n"), "n", {}),
    ]  # fmt: skip
    for kind, event, note, extra in cases:
        ours, theirs = summary(kind, base["unit_name"], base["subject_name"], note, extra), timeline.summary(event).zh
        if ours != theirs:
            raise AssertionError(f"timeline text of {kind} differs: {ours!r} != {theirs!r}")
    record = SimpleNamespace(
        reference_no=base["reference_no"], subject_name=base["subject_name"], unit_name=base["unit_name"],
        acknowledge_due_at=t, resolve_due_at=t, score=None,
    )  # fmt: skip
    item = f"{record.reference_no}（{record.subject_name}）"
    for kind in (
        "acknowledge_due", "acknowledge_escalate", "acknowledge_public_notice", "remind_50", "remind_80", "due",
        "escalate", "public_notice", "follow_up",
    ):  # fmt: skip
        ours = timer_messages(kind, record.unit_name, item, t.timestamp(), t.timestamp())
        if ours != notify.timer_messages(record, kind):
            raise AssertionError(f"notification text of {kind} differs")
    for kind, event, note, extra in cases:
        theirs = notify.event_messages(record, event)
        ours = event_messages(kind, record.unit_name, item, t.timestamp(), t.timestamp(), note, extra)
        if theirs != ours:
            raise AssertionError(f"notification text of the {kind} event differs: {ours!r} != {theirs!r}")
