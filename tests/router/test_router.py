"""The router: routing a full certificate bundle, previews, and the whole work-item life cycle
over HTTP and over Kafka, including every refusal."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import func, select, update

from services.notifier.models import SlaRecord
from services.router.models import Extension, WorkItem, WorkItemLog
from shared import catalogue, db, events
from shared.validation import make_uscc
from tests.intake.groups import related
from tests.support import (
    MINGLUO,
    MINGLUO_SH,
    RACES_ON_POSTGRES_ONLY,
    backend_pid,
    certificate_request,
    eventually,
    header,
    read_topic,
    read_topics,
    send_department_action,
    waits_for,
)

PANYU_CO = make_uscc("91440113MA5D1234X")  # a subsidiary in 番禺区: no district units, falls back to the city
SH = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}
PANYU = {"uscc": PANYU_CO, "name": "明珞(番禺)制造有限公司", "region_code": "440113"}
ALL_KINDS = tuple(t.code for t in catalogue.CERTIFICATE_KINDS)


async def inbox(system, unit_code, until):
    return await read_topic(system.settings.kafka_bootstrap_servers, events.dept_inbox(unit_code), until=until)


def bodies(records, item_id):
    return [
        json.loads(r.value) | {"_type": header(r, "ce_type")} for r in records if header(r, "ce_subject") == item_id
    ]


# --- routing ---------------------------------------------------------------------------------------------
async def test_twenty_item_bundle_for_three_regions_lands_each_item_on_its_units_topic(system):
    assert len(ALL_KINDS) == 20
    for subsidiary in (SH, PANYU):
        await related(system, subsidiary)  # who may ask about whom: the registry relates them
    created = await system.enterprise().submit(subjects=[SH, PANYU], items=ALL_KINDS)
    items = await system.routed_items(created["id"], 60)
    region_of = {MINGLUO: "440112", MINGLUO_SH: "310115", PANYU_CO: "440100"}  # 番禺 falls back to 广州市
    expected = {(uscc, f"{region}.{kind}") for uscc, region in region_of.items() for kind in ALL_KINDS}
    assert {(i.subject_uscc, i.unit_code) for i in items} == expected
    assert all(i.rule_id is not None and i.rule_version >= 1 for i in items)
    panyu_tax = next(i for i in items if i.subject_uscc == PANYU_CO and i.item == "tax")
    assert "上级 广州市" in panyu_tax.routing_reason

    topics = sorted({events.dept_inbox(code) for _, code in expected})
    wanted = {i.id for i in items}
    records = await read_topics(
        system.settings.kafka_bootstrap_servers,
        topics,
        until=lambda rs: wanted <= {header(r, "ce_subject") for r in rs},
    )
    mine = [
        r
        for r in records
        if header(r, "ce_subject") in wanted and header(r, "ce_type") == events.WorkItemAssigned.ce_type
    ]
    assert len(mine) == 60, "exactly one assignment per work item (deadline notices follow separately)"
    by_id = {i.id: i for i in items}
    for record in mine:
        assert record.topic == events.dept_inbox(by_id[header(record, "ce_subject")].unit_code)
        assert json.loads(record.value)["unit_code"] == by_id[header(record, "ce_subject")].unit_code


async def test_preview_shows_the_units_and_creates_nothing(system):
    async with system.runtimes["router"].sessions() as session:
        before = await session.scalar(select(func.count()).select_from(WorkItem))
    body = certificate_request(subjects=[SH], items=("customs", "tax"))
    body["enterprise"]["region_code"] = "440118"  # 增城区: customs by 黄埔海关's coverage, tax by the city
    response = await system.router.post("/v1/routing/preview", json=body, headers=system.enterprise().headers)
    assert response.status_code == 200, response.text
    units = {(w["subject_uscc"], w["item"]): w["unit_code"] for w in response.json()["work_items"]}
    assert units == {
        (MINGLUO, "customs"): "440112.customs",
        (MINGLUO, "tax"): "440100.tax",
        (MINGLUO_SH, "customs"): "310115.customs",
        (MINGLUO_SH, "tax"): "310115.tax",
    }
    async with system.runtimes["router"].sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WorkItem)) == before


async def test_unmatched_items_go_to_a_coordinator(system):
    xiangyin = {"uscc": make_uscc("91430624MA4L12340"), "name": "明珞(湘阴)有限公司", "region_code": "430624"}
    response = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(subjects=[xiangyin], items=["tax"]),
        headers=system.enterprise().headers,
    )
    far = next(w for w in response.json()["work_items"] if w["subject_uscc"] == xiangyin["uscc"])
    # 湘阴县 has no units and no coordinating office: the enterprise's own region's office takes it.
    assert far["unit_code"] == "440112.coordinator"
    assert "均无 tax 单位" in far["reason"] and "人工分拨" in far["reason"]
    other = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(type="problem", items=["other"], description="其他问题"),
        headers=system.enterprise().headers,
    )
    assert other.json()["work_items"][0]["unit_code"] == "440112.coordinator"


async def test_rules_are_versioned_and_decisions_name_their_version(system):
    admin = system.auth("admin")
    changed = await system.router.post(
        "/v1/rules",
        json={"request_type": "consultation", "item": "legal", "department_kind": "government_services"},
        headers=admin,
    )
    assert changed.status_code == 201 and changed.json()["version"] == 2
    same = await system.router.post(
        "/v1/rules",
        json={"request_type": "consultation", "item": "legal", "department_kind": "government_services"},
        headers=admin,
    )
    assert same.status_code == 409
    created = await system.enterprise().submit(type="consultation", items=["legal"], description="合同纠纷咨询")
    [item] = await system.routed_items(created["id"], 1)
    assert item.unit_code == "440112.government_services" and item.rule_version == 2
    clerk = await system.router.post(
        "/v1/rules",
        json={"request_type": "x", "item": "y", "department_kind": "tax"},
        headers=system.clerk("440112.tax").headers,
    )
    assert clerk.status_code == 403


# --- life cycle over HTTP ------------------------------------------------------------------------------
async def test_happy_path_acknowledge_progress_resolve_and_rate(system):
    created = await system.enterprise().submit(items=("tax",))
    item = await system.routed_item(created["id"], "440112.tax")
    assert (await system.clerk("440112.tax").act(item["id"], "acknowledge")).json()["state"] == "acknowledged"
    assert (await system.clerk("440112.tax").act(item["id"], "progress", note="核查中")).json()[
        "state"
    ] == "in_progress"
    certificate = (await system.clerk("440112.tax").upload(item["id"])).json()
    resolved = await system.clerk("440112.tax").act(
        item["id"], "resolve", outcome="issued", document_no="穗黄税证〔2026〕12号", attachments=[certificate["id"]]
    )
    assert resolved.json()["state"] == "resolved"
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "resolved")
    assert seen["status"] == "awaiting_rating", "resolved, and the enterprise's turn to rate it"
    assert seen["work_items"][0]["result"]["document_no"] == "穗黄税证〔2026〕12号"
    assert [t["event"] for t in seen["timeline"]][-3:] == [
        "workitem.acknowledged",
        "workitem.progressed",
        "workitem.resolved",
    ]
    rating = await system.intake.post(
        f"/v1/requests/{created['id']}/ratings",
        json={"work_item_id": item["id"], "score": 5},
        headers=system.enterprise().headers,
    )
    assert rating.status_code == 201 and rating.json()["score_name"] == "非常满意"
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "closed")
    assert seen["status"] == "closed"


async def test_a_poor_rating_reopens_only_that_item_once_and_counts_for_that_unit_only(system):
    created = await system.enterprise().submit(items=("tax", "commerce"))
    items = await system.routed_items(created["id"], 2)
    tax = next(i for i in items if i.item == "tax")
    commerce = next(i for i in items if i.item == "commerce")
    await system.clerk(tax.unit_code).act(tax.id, "acknowledge")
    await system.clerk(tax.unit_code).act(tax.id, "resolve", outcome="not_issued", note="存在行政处罚记录")
    await system.enterprise().wait_for_item(created["id"], tax.id, "resolved")
    path = f"/v1/requests/{created['id']}/ratings"

    # The tax item is rated as soon as it is finished, while commerce still works on its own.
    poor = await system.intake.post(
        path, json={"work_item_id": tax.id, "score": 2, "comment": "处罚已撤销"}, headers=system.enterprise().headers
    )
    assert poor.status_code == 201 and poor.json()["reopened"] is True, poor.text
    seen = await system.enterprise().wait_for_item(created["id"], tax.id, "in_progress")
    assert next(i for i in seen["work_items"] if i["id"] == commerce.id)["status"] == "dispatched"
    records = await inbox(
        system, "440112.tax", lambda rs: any(b.get("notice") == "reopened" for b in bodies(rs, tax.id))
    )
    assert any("处罚已撤销" in (b.get("text") or "") for b in bodies(records, tax.id) if b.get("notice") == "reopened")
    history = (await system.router.get(f"/v1/workitems/{tax.id}", headers=system.clerk(tax.unit_code).headers)).json()
    assert any(h["action"] == "reopen" and "处罚已撤销" in h["note"] for h in history["history"])
    again = await system.intake.post(
        path, json={"work_item_id": tax.id, "score": 1}, headers=system.enterprise().headers
    )
    assert again.status_code == 409  # reopened: not finished, nothing to rate

    # After the redo, one more rating, which is final.
    certificate = (await system.clerk(tax.unit_code).upload(tax.id)).json()
    await system.clerk(tax.unit_code).act(
        tax.id, "resolve", outcome="issued", document_no="穗黄税证〔2026〕99号", attachments=[certificate["id"]]
    )
    await system.enterprise().wait_for_item(created["id"], tax.id, "resolved")
    final = await system.intake.post(
        path, json={"work_item_id": tax.id, "score": 1}, headers=system.enterprise().headers
    )
    assert final.status_code == 201 and final.json()["attempt"] == 2 and final.json()["reopened"] is False
    await system.enterprise().wait_for_item(created["id"], tax.id, "closed")
    third = await system.intake.post(
        path, json={"work_item_id": tax.id, "score": 5}, headers=system.enterprise().headers
    )
    assert third.status_code == 409 and third.json()["code"] == "already_rated"

    # 满意率 counts per unit from each item's rating: the tax unit's record holds the final 1,
    # the commerce unit's none.
    async def scores():
        async with system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(select(SlaRecord).where(SlaRecord.work_item_id.in_([tax.id, commerce.id])))
            found = {r.work_item_id: (r.unit_code, r.score) for r in rows}
        return found if found.get(tax.id, (None, None))[1] == 1 else None

    found = await eventually(scores)
    assert found[tax.id] == (tax.unit_code, 1) and found[commerce.id] == (commerce.unit_code, None)


async def test_return_goes_to_the_coordinator_who_dispatches_it_again(system):
    created = await system.enterprise().submit(items=("statistics",))
    item = await system.routed_item(created["id"], "440112.statistics")
    returned = await system.clerk("440112.statistics").act(item["id"], "return", reason="该企业不在本局统计范围")
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert returned.json()["unit_code"] == "440112.coordinator"
    assert (await system.clerk("440112.statistics").act(item["id"], "progress", note="x")).status_code == 404

    coordinator = system.clerk("440112.coordinator").headers
    queue = (await system.router.get("/v1/workitems", params={"state": "returned"}, headers=coordinator)).json()
    assert item["id"] in [w["id"] for w in queue]
    dispatched = await system.router.post(
        f"/v1/workitems/{item['id']}/dispatch", json={"to_unit": "440100.statistics"}, headers=coordinator
    )
    assert dispatched.status_code == 200 and dispatched.json()["unit_code"] == "440100.statistics"
    seen = await system.enterprise().wait_for_item(
        created["id"], item["id"], "dispatched", unit_code="440100.statistics"
    )
    assert "workitem.returned" in [t["event"] for t in seen["timeline"]]
    records = await inbox(system, "440100.statistics", lambda rs: bodies(rs, item["id"]))
    assert bodies(records, item["id"])[0]["_type"] == events.WorkItemAssigned.ce_type
    # Only a coordinator holding the item dispatches it.
    again = await system.router.post(
        f"/v1/workitems/{item['id']}/dispatch", json={"to_unit": "440112.tax"}, headers=coordinator
    )
    assert again.status_code == 404


async def test_transfer_moves_the_item_and_tells_both_units(system):
    created = await system.enterprise().submit(items=("commerce",))
    item = await system.routed_item(created["id"], "440112.commerce")
    await system.clerk("440112.commerce").act(item["id"], "acknowledge")
    moved = await system.clerk("440112.commerce").act(
        item["id"], "transfer", to_unit="440100.commerce", reason="市级办理"
    )
    assert moved.json()["state"] == "dispatched" and moved.json()["unit_code"] == "440100.commerce"
    new = await inbox(system, "440100.commerce", lambda rs: bodies(rs, item["id"]))
    assert bodies(new, item["id"])[0]["_type"] == events.WorkItemAssigned.ce_type
    old = await inbox(
        system, "440112.commerce", lambda rs: any(b.get("notice") == "transferred_away" for b in bodies(rs, item["id"]))
    )
    assert any(b.get("notice") == "transferred_away" for b in bodies(old, item["id"]))
    bad = await system.clerk("440100.commerce").act(item["id"], "transfer", to_unit="440100.nowhere", reason="x")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to_unit"


async def test_supplement_round_trip(system):
    created = await system.enterprise().submit(items=("market_regulation",))
    item = await system.routed_item(created["id"], "440112.market_regulation")
    await system.clerk("440112.market_regulation").act(item["id"], "acknowledge")
    asked = await system.clerk("440112.market_regulation").act(
        item["id"], "request-supplement", note="请补充近三年营业执照副本"
    )
    assert asked.json()["state"] == "awaiting_supplement"
    await system.enterprise().wait_for_item(created["id"], item["id"], "awaiting_supplement")

    upload = await system.intake.post(
        "/v1/attachments",
        files={"file": ("执照.pdf", b"%PDF-1.4 licence", "application/pdf")},
        headers=system.enterprise().headers,
    )
    answer = await system.intake.post(
        f"/v1/requests/{created['id']}/supplements",
        json={"work_item_id": item["id"], "text": "已上传执照副本", "attachments": [upload.json()["id"]]},
        headers=system.enterprise().headers,
    )
    assert answer.status_code == 202, answer.text
    await system.enterprise().wait_for_item(created["id"], item["id"], "in_progress")
    records = await inbox(
        system,
        "440112.market_regulation",
        lambda rs: any(b.get("notice") == "supplement_received" for b in bodies(rs, item["id"])),
    )
    notice = next(b for b in bodies(records, item["id"]) if b.get("notice") == "supplement_received")
    assert notice["text"] == "已上传执照副本" and "/download?expires=" in notice["attachment_links"][0]


async def test_co_handled_item_resolves_with_its_lead(system):
    created = await system.enterprise().submit(items=("ecology_environment",))
    lead = "440112.ecology_environment"
    item = await system.routed_item(created["id"], lead)
    await system.clerk(lead).act(item["id"], "acknowledge")
    added = await system.clerk(lead).act(
        item["id"], "assist", units=["440112.emergency_management"], note="请协助核查安全生产"
    )
    assert added.json()["assisting_units"] == ["440112.emergency_management"]
    helper = "440112.emergency_management"
    records = await inbox(system, helper, lambda rs: bodies(rs, item["id"]))
    assert bodies(records, item["id"])[0]["role"] == "assist"
    queue = (await system.router.get("/v1/workitems", headers=system.clerk(helper).headers)).json()
    assert item["id"] in [w["id"] for w in queue]

    contributed = await system.clerk(helper).act(item["id"], "progress", note="无安全生产违法记录")
    assert contributed.status_code == 200
    assert (await system.clerk(helper).act(item["id"], "resolve", outcome="answered", note="x")).status_code == 404
    certificate = (await system.clerk(lead).upload(item["id"])).json()
    await system.clerk(lead).act(
        item["id"], "resolve", outcome="issued", document_no="穗黄环证〔2026〕3号", attachments=[certificate["id"]]
    )
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "resolved")
    summaries = [t["summary"] for t in seen["timeline"]]
    assert any("协办意见" in s for s in summaries)
    assert not any("无安全生产违法记录" in s for s in summaries), "a co-handling opinion is between departments"


@RACES_ON_POSTGRES_ONLY
async def test_two_supervisors_deciding_one_extension_at_once_decide_it_once(system):
    """One supervisor's approval is being written when another's denial comes: the denial waits
    for it and is refused (409); else both were made and the notifier told of each."""
    created = await system.enterprise().submit(items=("housing_fund",))
    code = "440112.housing_fund"
    item = await system.routed_item(created["id"], code)
    await system.clerk(code).act(item["id"], "acknowledge")
    assert (await system.clerk(code).act(item["id"], "extension", days=3, reason="需调取历史记录")).status_code == 200
    runtime = system.runtimes["router"]
    async with runtime.sessions() as session:
        extension = await session.scalar(select(Extension).where(Extension.work_item_id == item["id"]))
    async with runtime.sessions() as approval:  # as the router's decision does: the item locked first
        await approval.scalars(db.to_change(select(WorkItem).where(WorkItem.id == item["id"])))
        await approval.execute(update(Extension).where(Extension.id == extension.id).values(state="approved"))
        holder = await backend_pid(approval)
        supervisor = system.auth("supervisor", region="440100")
        why = {"reason": "材料已齐"}
        denial = asyncio.create_task(
            system.router.post(f"/v1/extensions/{extension.id}/deny", json=why, headers=supervisor)
        )
        await eventually(lambda: waits_for(runtime, holder))
        await approval.commit()
        answer = await denial
    assert answer.status_code == 409, answer.text


async def test_extensions_approved_and_denied_by_a_supervisor(system):
    created = await system.enterprise().submit(items=("housing_fund",))
    code = "440112.housing_fund"
    item = await system.routed_item(created["id"], code)
    await system.clerk(code).act(item["id"], "acknowledge")
    asked = await system.clerk(code).act(item["id"], "extension", days=3, reason="需调取历史缴存记录")
    assert asked.status_code == 200
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(code).headers)).json()
    [extension] = detail["extensions"]
    assert extension["state"] == "pending"
    twice = await system.clerk(code).act(item["id"], "extension", days=2, reason="再申请")
    assert twice.status_code == 409 and twice.json()["code"] == "extension_pending"

    elsewhere = system.auth("supervisor", region="310000")
    assert (await system.router.post(f"/v1/extensions/{extension['id']}/approve", headers=elsewhere)).status_code == 404
    assert (
        await system.router.post(f"/v1/extensions/{extension['id']}/approve", headers=system.clerk(code).headers)
    ).status_code == 403
    supervisor = system.auth("supervisor", region="440100")
    approved = await system.router.post(f"/v1/extensions/{extension['id']}/approve", headers=supervisor)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    decided = await system.router.post(f"/v1/extensions/{extension['id']}/deny", headers=supervisor)
    assert decided.status_code == 409

    second = await system.clerk(code).act(item["id"], "extension", days=5, reason="仍需时间")
    assert second.status_code == 200
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(code).headers)).json()
    pending = next(x for x in detail["extensions"] if x["state"] == "pending")
    unexplained = await system.router.post(f"/v1/extensions/{pending['id']}/deny", headers=supervisor)
    assert unexplained.status_code == 422 and unexplained.json()["errors"][0]["field"] == "reason"
    denied = await system.router.post(
        f"/v1/extensions/{pending['id']}/deny", json={"reason": "缴存记录可当日调取"}, headers=supervisor
    )
    assert denied.json()["state"] == "denied"
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(code).headers)).json()
    assert next(x for x in detail["extensions"] if x["id"] == pending["id"])["decision_reason"] == "缴存记录可当日调取"
    records = await inbox(
        system, code, lambda rs: any("缴存记录可当日调取" in (b.get("text") or "") for b in bodies(rs, item["id"]))
    )
    assert records
    seen = await eventually(lambda: _timeline_has(system, created["id"], "延期申请未获批准"))
    assert any("已批准" in t["summary"] for t in seen["timeline"])
    assert not any("缴存记录可当日调取" in t["summary"] or "历史缴存记录" in t["summary"] for t in seen["timeline"]), (
        "reasons between a unit and its supervisor stay off the enterprise's timeline"
    )


@RACES_ON_POSTGRES_ONLY
async def test_another_units_action_on_an_item_is_a_404_at_once_while_its_unit_works_on_it(system):
    """A unit's clerk sending an action for another unit's item gets 404 without locking it: the
    call neither waits for the owning unit's change in progress nor holds up its next one."""
    created = await system.enterprise().submit(items=("tax",))
    [routed] = await system.routed_items(created["id"], 1)
    runtime = system.runtimes["router"]
    async with runtime.sessions() as owner:
        await owner.begin()
        await owner.scalars(db.to_change(select(WorkItem).where(WorkItem.id == routed.id)))
        sent = system.clerk("440112.housing_fund").act(routed.id, "acknowledge")
        answer = await asyncio.wait_for(sent, timeout=10)  # locked as well, it would wait for the owner
        await owner.rollback()
    assert answer.status_code == 404, answer.text


@RACES_ON_POSTGRES_ONLY
async def test_a_clerks_action_at_the_moment_of_a_withdrawal_waits_for_it_and_is_refused(system):
    """A withdrawal's cancellation and a clerk's 签收 at the same moment: the 签收 waits for the
    cancellation and is refused (409), not written over it (the router would then show the item
    signed while intake showed it cancelled, both at the same version)."""
    created = await system.enterprise().submit(items=("tax",))
    [routed] = await system.routed_items(created["id"], 1)
    runtime = system.runtimes["router"]

    async def deadlines_in():  # the notifier's deadlines applied: nothing else of its own is on its way
        async with runtime.sessions() as session:
            return (await session.get(WorkItem, routed.id)).resolve_due_at

    await eventually(deadlines_in)
    async with runtime.sessions() as cancellation:
        await cancellation.begin()
        cancelled = dict(state="cancelled", version=WorkItem.version + 1)
        await cancellation.execute(update(WorkItem).where(WorkItem.id == routed.id).values(**cancelled))
        holder = await backend_pid(cancellation)
        signing = asyncio.create_task(system.clerk(routed.unit_code).act(routed.id, "acknowledge"))
        await eventually(lambda: waits_for(runtime, holder))
        await cancellation.commit()
        answer = await signing
    assert answer.status_code == 409, answer.text
    async with runtime.sessions() as session:
        assert (await session.get(WorkItem, routed.id)).state == "cancelled"


async def _timeline_has(system, request_id, text):
    seen = (await system.intake.get(f"/v1/requests/{request_id}", headers=system.enterprise().headers)).json()
    return seen if any(text in t["summary"] for t in seen["timeline"]) else None


async def test_withdrawal_cancels_open_items_and_tells_the_units(system):
    created = await system.enterprise().submit(items=("tax", "customs"))
    items = await system.routed_items(created["id"], 2)
    await system.clerk(items[0].unit_code).act(items[0].id, "acknowledge")
    response = await system.intake.post(
        f"/v1/requests/{created['id']}/withdraw", json={"reason": "上市计划推迟"}, headers=system.enterprise().headers
    )
    assert response.status_code == 202
    for i in items:
        await system.enterprise().wait_for_item(created["id"], i.id, "cancelled")
        records = await inbox(
            system, i.unit_code, lambda rs, i=i: any(b.get("notice") == "withdrawn" for b in bodies(rs, i.id))
        )
        assert any(b.get("notice") == "withdrawn" for b in bodies(records, i.id))
    seen = (await system.intake.get(f"/v1/requests/{created['id']}", headers=system.enterprise().headers)).json()
    assert seen["status"] == "withdrawn"
    assert (await system.clerk(items[0].unit_code).act(items[0].id, "progress", note="x")).status_code == 409


async def test_invalid_moves_and_foreign_units_are_refused_and_change_nothing(system):
    created = await system.enterprise().submit(items=("fire_rescue",))
    code = "440112.fire_rescue"
    item = await system.routed_item(created["id"], code)

    async def log_count():
        async with system.runtimes["router"].sessions() as session:
            return await session.scalar(
                select(func.count()).select_from(WorkItemLog).where(WorkItemLog.work_item_id == item["id"])
            )

    before = await log_count()
    early = await system.clerk(code).act(item["id"], "resolve", outcome="issued", document_no="1")
    assert early.status_code == 409
    assert early.json()["current_state"] == "dispatched"
    assert set(early.json()["allowed_actions"]) == {"acknowledge", "return", "transfer"}
    assert (await system.clerk("440112.tax").act(item["id"], "acknowledge")).status_code == 404, "another unit's item"
    assert (await system.clerk(code).act(item["id"], "fly")).status_code == 404
    assert (await system.clerk(code).act(item["id"], "return")).json()["errors"][0]["field"] == "reason"
    await system.clerk(code).act(item["id"], "acknowledge")
    no_number = await system.clerk(code).act(item["id"], "resolve", outcome="issued")
    assert no_number.status_code == 422 and no_number.json()["errors"][0]["field"] == "document_no"
    again = await system.clerk(code).act(item["id"], "acknowledge")
    assert again.status_code == 409 and again.json()["current_state"] == "acknowledged"
    assert (await log_count()) == before + 1, "only the one valid move was recorded"
    supervisor_acts = await system.router.post(
        f"/v1/workitems/{item['id']}/progress", json={"note": "x"}, headers=system.auth("supervisor", region="440112")
    )
    assert supervisor_acts.status_code == 403


# --- life cycle over Kafka ----------------------------------------------------------------------------
async def send_action(system, producer, unit_code, source=None, **fields):
    # Signed with the unit's key, as a department system must (tests/router/test_department_identity.py).
    return await send_department_action(system, producer, unit_code, source=source, **fields)


async def test_department_systems_act_over_kafka_and_bad_actions_go_to_the_dlq(system, producer):
    created = await system.enterprise().submit(items=("medical_security",))
    code = "440112.medical_security"
    item = await system.routed_item(created["id"], code)

    await send_action(system, producer, code, work_item_id=item["id"], action="acknowledge")
    await system.enterprise().wait_for_item(created["id"], item["id"], "acknowledged")

    forged = await send_action(
        system,
        producer,
        code,
        source="/departments/440112.tax",
        work_item_id=item["id"],
        action="resolve",
        outcome="issued",
        document_no="X",
    )
    foreign = await send_action(system, producer, "440112.tax", work_item_id=item["id"], action="progress", note="x")
    invalid = await send_action(system, producer, code, work_item_id=item["id"], action="acknowledge")
    incomplete = await send_action(system, producer, code, work_item_id=item["id"], action="resolve", outcome="issued")

    certificate = (await system.clerk(code).upload(item["id"])).json()  # a department system uploads over HTTP
    await send_action(
        system,
        producer,
        code,
        work_item_id=item["id"],
        action="resolve",
        outcome="issued",
        document_no="穗黄医保证〔2026〕8号",
        attachments=[certificate["id"]],
    )
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "resolved")
    assert seen["work_items"][0]["result"]["document_no"] == "穗黄医保证〔2026〕8号"

    wanted = {forged, foreign, invalid, incomplete}
    dead = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dlq(events.DEPT_RESPONSES),
        until=lambda rs: wanted <= {header(r, "ce_id") for r in rs},
    )
    reasons = {header(r, "ce_id"): header(r, "x-error") for r in dead if header(r, "ce_id") in wanted}
    assert "may not act for unit" in reasons[forged]
    assert "404 work_item_not_found" in reasons[foreign]
    assert "409 invalid_transition" in reasons[invalid]
    assert "document_no" in reasons[incomplete]


async def test_registry_admin_creates_units_with_their_topics(system):
    admin = system.auth("admin")
    code = f"440112.tax.{uuid.uuid4().hex[:6]}"
    created = await system.router.put(
        f"/v1/units/{code}",
        headers=admin,
        json={
            "unit_code": code,
            "name": "国家税务总局广州市黄埔区税务局第二税务所",
            "kind": "tax",
            "region_code": "440112",
        },
    )
    assert created.status_code == 200, created.text
    assert created.json()["inbox_topic"] == f"dept.{code}.inbox"
    await read_topic(system.settings.kafka_bootstrap_servers, f"dept.{code}.inbox", until=lambda rs: True)
    bad = await system.router.put(
        f"/v1/units/{code}",
        headers=admin,
        json={"unit_code": code, "name": "x", "kind": "wizardry", "region_code": "440112"},
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"name", "kind"}
    coverage = await system.router.put(
        "/v1/coverage", headers=admin, json={"kind": "customs", "region_code": "440115", "unit_code": "440112.customs"}
    )
    assert coverage.status_code == 200
    preview = await system.router.post(
        "/v1/routing/preview",
        headers=admin,
        json={
            "type": "compliance_certificate",
            "items": ["customs"],
            "enterprise": {"uscc": MINGLUO, "name": "广州明珞装备股份有限公司", "region_code": "440115"},
        },
    )
    assert preview.json()["work_items"][0]["unit_name"] == "黄埔海关"


async def test_the_other_moves_over_kafka(system, producer):
    created = await system.enterprise().submit(items=("urban_management",))
    first = "440112.urban_management"
    item = await system.routed_item(created["id"], first)
    send = lambda unit_code, **fields: send_action(system, producer, unit_code, work_item_id=item["id"], **fields)  # noqa: E731

    await send(first, action="acknowledge")
    await send(first, action="request-supplement", note="请补充场地租赁合同")
    await system.enterprise().wait_for_item(created["id"], item["id"], "awaiting_supplement")
    answer = await system.intake.post(
        f"/v1/requests/{created['id']}/supplements",
        json={"work_item_id": item["id"], "text": "合同已上传"},
        headers=system.enterprise().headers,
    )
    assert answer.status_code == 202
    await system.enterprise().wait_for_item(created["id"], item["id"], "in_progress")

    await send(first, action="transfer", to_unit="440100.urban_management", reason="市级权限")
    await system.enterprise().wait_for_item(
        created["id"], item["id"], "dispatched", unit_code="440100.urban_management"
    )
    await send("440100.urban_management", action="return", reason="应由区级办理")
    # Back to the coordinating office of the subject's own region, whoever returned it.
    await system.enterprise().wait_for_item(created["id"], item["id"], "returned", unit_code="440112.coordinator")
    await send("440112.coordinator", action="dispatch", to_unit=first)
    await system.enterprise().wait_for_item(created["id"], item["id"], "dispatched", unit_code=first)

    await send(first, action="acknowledge")
    await send(first, action="extension", days=2, reason="需现场核查")
    detail = await eventually(lambda: _pending_extension(system, item["id"], first))
    assert detail["days"] == 2
    history = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(first).headers)).json()[
        "history"
    ]
    assert [h["action"] for h in history] == [
        "acknowledge",
        "request-supplement",
        "supplemented",
        "transfer",
        "return",
        "dispatch",
        "acknowledge",
        "extension",
    ]


async def _pending_extension(system, item_id, unit_code):
    detail = (await system.router.get(f"/v1/workitems/{item_id}", headers=system.clerk(unit_code).headers)).json()
    return next((x for x in detail.get("extensions", []) if x["state"] == "pending"), None)
