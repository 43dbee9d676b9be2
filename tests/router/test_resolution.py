"""Row 3 of issue 25: 办结 means a document. 出具证明 on a certificate item needs the certificate
file, over HTTP and over Kafka alike (422 naming ``attachments``; the dead letter's reason over
Kafka); 不予出具 needs a reason, and the enterprise reads it beside the item and in its timeline."""

from __future__ import annotations

from shared import events
from tests.support import certificate_request, eventually, header, read_topic, send_department_action


async def acknowledged(system, kind: str, **request) -> tuple[dict, str, str]:
    """A request of one item of ``kind``, signed for at its 黄埔区 unit: (request, item id, unit)."""
    created = await system.enterprise().submit(certificate_request(items=(kind,), **request))
    code = f"440112.{kind}"
    item = await system.routed_item(created["id"], code)
    assert (await system.clerk(code).act(item["id"], "acknowledge")).status_code == 200
    return created, item["id"], code


async def test_an_issued_certificate_needs_its_file_over_http(system):
    created, item_id, code = await acknowledged(system, "housing_fund")
    clerk = system.clerk(code)
    without = await clerk.act(item_id, "resolve", outcome="issued", document_no="穗公积证〔2026〕1号")
    assert without.status_code == 422, without.text
    [error] = without.json()["errors"]
    assert (error["field"], error["code"]) == ("attachments", "certificate_file_missing")
    assert "证明文件" in error["message"]
    english = await system.router.post(
        f"/v1/workitems/{item_id}/resolve",
        json={"outcome": "issued", "document_no": "穗公积证〔2026〕1号"},
        headers={**clerk.headers, "Accept-Language": "en"},
    )
    assert "certificate needs its file" in english.json()["errors"][0]["message"]
    assert (await clerk.item(item_id)).json()["state"] == "acknowledged", "nothing changed"

    certificate = (await clerk.upload(item_id)).json()
    issued = await clerk.act(
        item_id, "resolve", outcome="issued", document_no="穗公积证〔2026〕1号", attachments=[certificate["id"]]
    )
    assert issued.status_code == 200, issued.text
    seen = await system.enterprise().wait_for_item(created["id"], item_id, "resolved")
    [entry] = [t for t in seen["timeline"] if t["event"] == "workitem.resolved"]
    names = {f["sha256"]: f["name"] for f in entry["files"]}
    assert certificate["sha256"] in names, "the enterprise can download it"
    assert len(names) == 2 and any(n.endswith("-核验单.pdf") for n in names.values()), "and its 核验单 (issue 27)"


async def test_not_issued_needs_a_reason_the_enterprise_reads(system):
    created, item_id, code = await acknowledged(system, "emergency_management")
    clerk = system.clerk(code)
    silent = await clerk.act(item_id, "resolve", outcome="not_issued")
    assert silent.status_code == 422 and silent.json()["errors"][0]["field"] == "note"
    reason = "近三年存在一起安全生产行政处罚记录"
    assert (await clerk.act(item_id, "resolve", outcome="not_issued", note=reason)).status_code == 200
    seen = await system.enterprise().wait_for_item(created["id"], item_id, "resolved")
    [item] = seen["work_items"]
    assert item["result"]["outcome"] == "not_issued" and item["result"]["note"] == reason
    assert any(reason in t["summary"] for t in seen["timeline"] if t["event"] == "workitem.resolved")


async def test_an_answer_to_a_problem_needs_no_file(system):
    body = certificate_request(type="consultation", items=["policy"], description="高新技术企业认定的条件")
    created = await system.enterprise().submit(body)
    [item] = await system.routed_items(created["id"], 1)
    clerk = system.clerk(item.unit_code)
    assert (await clerk.act(item.id, "acknowledge")).status_code == 200
    answered = await clerk.act(item.id, "resolve", outcome="answered", note="请参阅认定管理办法第十一条")
    assert answered.status_code == 200, answered.text


async def test_an_issued_certificate_needs_its_file_over_kafka_too(system, producer):
    created, item_id, code = await acknowledged(system, "urban_management")
    number = "穗黄城管证〔2026〕5号"
    without = await send_department_action(
        system, producer, code, work_item_id=item_id, action="resolve", outcome="issued", document_no=number
    )
    dead = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dlq(events.DEPT_RESPONSES),
        until=lambda rs: without in {header(r, "ce_id") for r in rs},
    )
    [reason] = [header(r, "x-error") for r in dead if header(r, "ce_id") == without]
    assert "422" in reason and "attachments" in reason and "needs its file" in reason

    certificate = (await system.clerk(code).upload(item_id)).json()  # a department system uploads over HTTP
    await send_department_action(
        system,
        producer,
        code,
        work_item_id=item_id,
        action="resolve",
        outcome="issued",
        document_no=number,
        attachments=[certificate["id"]],
    )
    seen = await system.enterprise().wait_for_item(created["id"], item_id, "resolved")
    assert seen["work_items"][0]["result"]["documents"][0]["id"] == certificate["id"]

    async def still_acknowledged_before():
        history = (await system.clerk(code).item(item_id)).json()["history"]
        return [h["action"] for h in history].count("resolve") == 1

    assert await eventually(still_acknowledged_before), "the refused action changed nothing"
