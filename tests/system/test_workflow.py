"""The work as people do it: documents from the enterprise to the clerk and a certificate back,
who sees which contact details, who acted, the coordinator's queue, and the ledger in Chinese.
On the real broker and database; files in a local directory (SQLite run) or in a real
S3-compatible server (PostgreSQL run)."""

from __future__ import annotations

import csv
import io
import uuid

from sqlalchemy import func, select

from services.intake.models import FileDownload as IntakeDownload
from services.router.models import FileDownload as RouterDownload
from shared import events, files
from shared.messaging.encoding import decode, encode
from shared.settings import Settings
from shared.validation import make_uscc
from tests.intake.groups import related
from tests.support import CERTIFICATE, MINGLUO, OTHER_CO, PDF_BYTES, eventually, header, read_topic


async def test_a_certificate_goes_from_the_enterprises_upload_to_the_enterprises_hands(system):
    # The enterprise uploads a PDF and submits its request with it.
    mine = await system.enterprise().upload()
    created = await system.enterprise().submit(items=("tax",), attachments=[mine["id"]])
    code = "440112.tax"
    item = await system.routed_item(created["id"], code)

    # The clerk sees it on the work item over HTTP and downloads it.
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(code).headers)).json()
    [attachment] = detail["attachments"]
    assert {k: attachment[k] for k in ("name", "content_type", "size", "sha256")} == {
        "name": "营业执照.pdf",
        "content_type": "application/pdf",
        "size": len(PDF_BYTES),
        "sha256": mine["sha256"],
    }
    download = await system.router.get(attachment["download_url"], headers=system.clerk(code).headers)
    assert download.status_code == 200 and download.content == PDF_BYTES
    assert "filename*=UTF-8''" in download.headers["content-disposition"]
    # Another unit's clerk gets nothing, not even the item.
    assert (
        await system.router.get(attachment["download_url"], headers=system.clerk("440112.commerce").headers)
    ).status_code == 404

    # The clerk uploads the certificate and resolves with it.
    await system.clerk(code).act(item["id"], "acknowledge")
    uploaded = await system.clerk(code).upload(item["id"])
    assert uploaded.status_code == 201, uploaded.text
    certificate = uploaded.json()
    resolved = await system.clerk(code).act(
        item["id"], "resolve", outcome="issued", document_no="穗黄税证〔2026〕7号", attachments=[certificate["id"]]
    )
    assert resolved.status_code == 200, resolved.text

    # The enterprise finds it on its timeline and downloads it; so does its liaison officer.
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "resolved")
    entry = next(t for t in seen["timeline"] if t["event"] == "workitem.resolved")
    [issued, slip] = entry["files"]  # the unit's PDF, and the 核验单 xiaoer registered it with (issue 27)
    assert slip["name"] == "守法证明-核验单.pdf" and slip["purpose"] == "issued"
    assert issued["purpose"] == "issued" and issued["purpose_name"] == "出具文书" and issued["name"] == "守法证明.pdf"
    got = await system.intake.get(issued["download_url"], headers=system.enterprise().headers)
    assert got.status_code == 200 and got.content == CERTIFICATE
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="liaison-docs")
    assert (await system.intake.get(issued["download_url"], headers=liaison)).content == CERTIFICATE
    # The ledger says what came of it: the outcome in Chinese and the certificate's number.
    ledger = (await system.intake.get("/v1/ledger", headers=liaison)).json()["rows"]
    row = next(r for r in ledger if r["work_item_id"] == item["id"])
    shown = (row["outcome"], row["document_no"], row["work_item_status"])
    assert shown == ("出具证明", "穗黄税证〔2026〕7号", "已办结")
    supervisor = system.auth("supervisor", region="440112", sub="supervisor-docs")
    assert (await system.intake.get(issued["download_url"], headers=supervisor)).status_code == 200
    # Nobody else: another enterprise, a neighbouring district's supervisor.
    stranger = system.auth("enterprise", usccs=[OTHER_CO], sub="stranger-docs")
    assert (await system.intake.get(issued["download_url"], headers=stranger)).status_code == 404
    neighbour = system.auth("supervisor", region="440113", sub="neighbour-docs")
    assert (await system.intake.get(issued["download_url"], headers=neighbour)).status_code == 404
    assert {f["purpose"] for f in seen["files"]} == {"attachment", "issued"}

    # Every download is on record, by whom.
    async with system.runtimes["intake"].sessions() as session:
        who = set(
            await session.scalars(select(IntakeDownload.downloaded_by).where(IntakeDownload.file_id == issued["id"]))
        )
    assert who == {f"enterprise:enterprise-{MINGLUO}", "liaison:liaison-docs", "supervisor:supervisor-docs"}
    async with system.runtimes["router"].sessions() as session:
        who = set(
            await session.scalars(select(RouterDownload.downloaded_by).where(RouterDownload.file_id == mine["id"]))
        )
    assert who == {"department:clerk-440112.tax"}


async def test_files_in_moves_must_be_the_units_own_uploads_for_that_item(system):
    mine = await system.enterprise().upload()
    created = await system.enterprise().submit(items=("tax", "commerce"), attachments=[mine["id"]])
    items = {i.item: i for i in await system.routed_items(created["id"], 2)}
    tax, commerce = items["tax"], items["commerce"]
    await system.clerk(tax.unit_code).act(tax.id, "acknowledge")
    commerce_file = (await system.clerk(commerce.unit_code).upload(commerce.id)).json()

    for refused in (str(uuid.uuid4()), mine["id"], commerce_file["id"]):
        response = await system.clerk(tax.unit_code).act(
            tax.id, "resolve", outcome="issued", document_no="X1", attachments=[refused]
        )
        assert response.status_code == 422, refused
        assert response.json()["errors"][0]["field"] == "attachments"
    # Content decides, not the name; nothing is stored for a refused file.
    fake = await system.clerk(tax.unit_code).upload(tax.id, content=b"MZ\x90\x00", name="证明.pdf")
    assert fake.status_code == 415 and fake.json()["errors"][0]["field"] == "file"
    # An assisting unit may not upload the lead's documents.
    assert (await system.clerk(commerce.unit_code).upload(tax.id)).status_code == 404
    detail = (await system.router.get(f"/v1/workitems/{tax.id}", headers=system.clerk(tax.unit_code).headers)).json()
    assert detail["state"] == "acknowledged" and [a["purpose"] for a in detail["attachments"]] == ["attachment"]


async def test_a_supplement_request_carries_a_form_and_the_answer_carries_files(system):
    created = await system.enterprise().submit(items=("tax",))
    code = "440112.tax"
    item = await system.routed_item(created["id"], code)
    await system.clerk(code).act(item["id"], "acknowledge")
    form = (await system.clerk(code).upload(item["id"], name="补正告知书.pdf")).json()
    asked = await system.clerk(code).act(
        item["id"], "request-supplement", note="请填写并上传附表", attachments=[form["id"]]
    )
    assert asked.status_code == 200, asked.text
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "awaiting_supplement")
    [sent_form] = next(t for t in seen["timeline"] if t["event"] == "workitem.supplement_requested")["files"]
    assert (
        await system.intake.get(sent_form["download_url"], headers=system.enterprise().headers)
    ).content == CERTIFICATE

    answer = await system.enterprise().upload(name="附表.pdf")
    sent = await system.intake.post(
        f"/v1/requests/{created['id']}/supplements",
        json={"work_item_id": item["id"], "text": "附表已填写", "attachments": [answer["id"]]},
        headers=system.enterprise().headers,
    )
    assert sent.status_code == 202, sent.text

    async def answer_on_item():
        detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk(code).headers)).json()
        return detail if any(a["id"] == answer["id"] for a in detail["attachments"]) else None

    detail = await eventually(answer_on_item)
    supplement = next(a for a in detail["attachments"] if a["id"] == answer["id"])
    assert supplement["purpose"] == "supplement"
    assert (
        await system.router.get(supplement["download_url"], headers=system.clerk(code).headers)
    ).content == PDF_BYTES


async def test_only_the_items_own_clerks_see_the_full_contact(system):
    created = await system.enterprise().submit(items=("tax",))
    item = await system.routed_item(created["id"], "440112.tax")
    clerk = (await system.router.get(f"/v1/workitems/{item['id']}", headers=system.clerk("440112.tax").headers)).json()
    assert clerk["contact"] == {"name": "张三", "mobile": "13800138000", "masked": False}
    supervisor = system.auth("supervisor", region="440112")
    overseen = (await system.router.get(f"/v1/workitems/{item['id']}", headers=supervisor)).json()
    assert overseen["contact"] == {"name": "张*", "mobile": "138****8000", "masked": True}


async def test_the_acting_person_is_on_the_history_the_enterprises_view_and_the_ledger(system):
    created = await system.enterprise().submit(items=("tax",))
    code = "440112.tax"
    item = await system.routed_item(created["id"], code)
    clerk = system.auth("department", unit=code, sub="clerk-li-si", name="李四")
    assert (
        await system.router.post(f"/v1/workitems/{item['id']}/acknowledge", json={}, headers=clerk)
    ).status_code == 200
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=clerk)).json()
    signed = next(h for h in detail["history"] if h["action"] == "acknowledge")
    assert signed["actor"] == "department:clerk-li-si" and signed["actor_name"] == "李四"
    assert signed["to_name"] == "已签收"

    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "acknowledged")
    assert seen["work_items"][0]["last_actor"] == "李四（部门）"
    assert seen["work_items"][0]["status_name"] == "已签收"
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="liaison-actor")
    ledger = await system.intake.get("/v1/ledger", params={"format": "csv"}, headers=liaison)
    rows = list(csv.DictReader(io.StringIO(ledger.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r["工单编号"] == item["id"])
    assert row["工单状态"] == "已签收" and row["最后操作人"] == "李四（部门）"
    assert row["事项"] == "税务局" and row["诉求状态"] == "办理中"
    assert row["最后更新时间"].count(":") == 1  # Asia/Shanghai, to the minute


async def test_the_coordinator_sees_why_an_item_came_back_and_dispatches_only_to_a_fitting_unit(system):
    created = await system.enterprise().submit(items=("statistics",))
    item = await system.routed_item(created["id"], "440112.statistics")
    await system.clerk("440112.statistics").act(item["id"], "return", reason="该企业不在本局统计范围")
    coordinator = system.clerk("440112.coordinator").headers
    queue = (await system.router.get("/v1/workitems", params={"state": "returned"}, headers=coordinator)).json()
    returned = next(w for w in queue if w["id"] == item["id"])
    assert returned["returned"]["reason"] == "该企业不在本局统计范围"
    assert returned["returned"]["by_unit"] == "440112.statistics"
    assert returned["state_name"] == "已退回"

    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=coordinator)).json()
    candidates = [c["unit_code"] for c in detail["dispatch_candidates"]]
    assert candidates and all(c.endswith(".statistics") for c in candidates)
    assert candidates[0] == "440100.statistics", "units serving the subject's region come first"
    wrong = await system.router.post(
        f"/v1/workitems/{item['id']}/dispatch", json={"to_unit": "440112.tax"}, headers=coordinator
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "to_unit"
    # The reason stays between the departments: the enterprise sees only that it was re-dispatched.
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "returned")
    assert not any("统计范围" in t["summary"] for t in seen["timeline"])


async def test_both_file_stores_keep_content_once_and_serve_it_back(system, object_storage, tmp_path):
    local = files.LocalFileStore(tmp_path / "files")
    settings = Settings(_env_file=None, files_backend="s3", **{**object_storage, "s3_bucket": "xiaoer-store-test"})
    s3 = files.S3FileStore(settings)
    source = tmp_path / "certificate.pdf"
    source.write_bytes(CERTIFICATE)
    for store in (local, s3):
        assert not await store.exists("a" * 64)
        await store.put("a" * 64, source, "application/pdf")
        await store.put("a" * 64, source, "application/pdf")  # the same bytes again: kept once
        assert await store.exists("a" * 64)
        assert b"".join([chunk async for chunk in store.chunks("a" * 64)]) == CERTIFICATE


# --- a city's own registry ----------------------------------------------------------------------------------
# 临湘市: a region no other test routes to (the registry is shared by the whole session).
LINXIANG_YAML = """
units:
  - unit_code: 430682.tax
    name: 临湘市税务局
    kind: tax
    region_code: "430682"
    supervising_office: 临湘市人民政府督查室
    contacts:
      - {role: clerk, name: 赵六, email: tax.{tag}@linxiang.gov.cn}
  - unit_code: 430682.coordinator
    name: 临湘市营商环境协调办公室
    kind: coordinator
    region_code: "430682"
supervisors:
  - {region_code: "430682", name: 临湘市人民政府督查室, contacts: [{email: dudao.{tag}@linxiang.gov.cn}]}
"""
LINXIANG_CO = make_uscc("91430682MA4L5678A")


async def test_an_imported_registry_routes_a_new_region_and_notifies_its_recipient(system, tmp_path):
    from services.notifier.models import Notification, Recipient
    from services.router import registry, registry_file
    from services.router.models import DepartmentUnit

    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "linxiang.yaml"
    path.write_text(LINXIANG_YAML.replace("{tag}", tag), encoding="utf-8")
    data = registry_file.parse(path)  # what `xiaoer units import` does, then loads it in one transaction
    async with system.runtimes["router"].sessions() as session, session.begin():
        assert not await registry.is_empty(session)
        counts = await registry.load_registry(session, data)
    assert counts["units"] == 2 and counts["supervisors"] == 1
    system.runtimes["router"].relay.notify()

    subsidiary = {"uscc": LINXIANG_CO, "name": "明珞(临湘)精密有限公司", "region_code": "430682"}
    await related(system, subsidiary)  # who may ask about whom: the registry relates them
    created = await system.enterprise().submit(subjects=[subsidiary], items=("tax",))
    items = await system.routed_items(created["id"], 2)
    assert {i.unit_code for i in items} == {"440112.tax", "430682.tax"}, "the new region's item goes to the new unit"

    async def recipient_known():
        async with system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(select(Recipient).where(Recipient.key == "430682.tax"))
            return [r for r in rows if r.address == f"tax.{tag}@linxiang.gov.cn"] or None

    [recipient] = await eventually(recipient_known)
    assert recipient.region_code == "430682" and recipient.source == "registry"

    item = next(i for i in items if i.unit_code == "430682.tax")
    record = await eventually(lambda: _sla_record(system, item.id))
    scheduler = system.runtimes["notifier"].scheduler
    while await scheduler.fire_due_timers(record.acknowledge_due_at):  # other tests' timers fall due too
        pass

    async def notified():
        async with system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(select(Notification).where(Notification.work_item_id == item.id))
            return [n for n in rows if n.address == f"tax.{tag}@linxiang.gov.cn"] or None

    [sent] = await eventually(notified)
    assert sent.kind == "acknowledge_due"

    # A restart's demo seed does not touch a registry that has units: a deactivated unit stays so.
    async with system.runtimes["router"].sessions() as session, session.begin():
        (await session.get(DepartmentUnit, "430682.tax")).active = False
    async with system.runtimes["router"].sessions() as session, session.begin():
        assert await registry.seed_demo(session) is None
    async with system.runtimes["router"].sessions() as session:
        assert (await session.get(DepartmentUnit, "430682.tax")).active is False


async def test_a_unit_renamed_by_hand_in_sql_is_routed_under_its_new_name_at_once(system):
    """Routing keeps its snapshot of the registry between batches and reloads it when the
    registry's generation moves; a database trigger raises that on any change, also on one made
    outside xiaoer (migration 0008). Without the trigger the second request would still be
    routed under the old name."""
    from sqlalchemy import text

    first = await system.enterprise().submit(items=("tax",))
    [before] = await system.routed_items(first["id"], 1)  # routed: the snapshot is loaded
    renamed = f"国家税务总局广州市黄埔区税务局（{uuid.uuid4().hex[:6]}）"
    rename = text("UPDATE department_units SET name = :name WHERE unit_code = '440112.tax'")
    async with system.runtimes["router"].sessions() as session, session.begin():
        old = await session.scalar(text("SELECT name FROM department_units WHERE unit_code = '440112.tax'"))
        await session.execute(rename, {"name": renamed})
    try:
        second = await system.enterprise().submit(items=("tax",))
        [after] = await system.routed_items(second["id"], 1)
        assert renamed not in before.routing_reason
        assert renamed in after.routing_reason, after.routing_reason
    finally:
        async with system.runtimes["router"].sessions() as session, session.begin():
            await session.execute(rename, {"name": old})


async def test_a_batch_that_fails_after_loading_the_registry_leaves_it_usable(system):
    """Routing keeps the registry it loaded between batches. A batch that loads it and then fails
    (a transient error, say) rolls its session back; the kept objects must still be readable by
    the next batch, or routing would stall until the registry next changed."""
    from sqlalchemy import text

    from services.router import routing

    runtime = system.runtimes["router"]
    async with runtime.sessions() as session, session.begin():  # a change: the next load is fresh
        await session.execute(text("UPDATE registry_generation SET generation = generation + 1"))
    try:
        async with runtime.sessions() as session, session.begin():
            registry, _ = await routing.registry_snapshot(session)
            raise RuntimeError("the batch fails after loading")
    except RuntimeError:
        pass
    async with runtime.sessions() as session, session.begin():
        again, _ = await routing.registry_snapshot(session)
        assert again is registry, "the same snapshot, kept"
        assert again.units["440112.tax"].name.endswith("税务局")
    created = await system.enterprise().submit(items=("tax",))
    [item] = await system.routed_items(created["id"], 1)
    assert item.unit_code == "440112.tax"


async def _sla_record(system, item_id):
    from services.notifier.models import SlaRecord

    async with system.runtimes["notifier"].sessions() as session:
        return await session.get(SlaRecord, item_id)


def test_a_registry_file_is_refused_whole_with_every_problem_named(tmp_path):
    from services.router import registry_file

    path = tmp_path / "units.csv"
    path.write_text(
        "unit_code,name,kind,region_code,clerk_email\n"
        "430624.tax,湘阴县税务局,tax,430624,tax@xiangyin.gov.cn\n"
        "430624.spaceport,湘阴县航天局,spaceport,430624,\n"
        "430624.customs,湘阴海关,customs,999999,not-an-address\n",
        encoding="utf-8",
    )
    try:
        registry_file.parse(path)
    except registry_file.RegistryFileError as refused:
        problems = refused.problems
    else:
        raise AssertionError("a file with bad lines must be refused")
    assert len(problems) == 2
    assert problems[0].startswith("第 3 行") and "spaceport" in problems[0]
    assert problems[1].startswith("第 4 行") and "region_code" in problems[1] and "email" in problems[1]
    path.write_text("unit_code,name,kind,region_code,clerk_email\n430624.tax,湘阴县税务局,tax,430624,a@b.cn\n")
    assert registry_file.parse(path)["units"][0]["contacts"] == [
        {"role": "clerk", "name": None, "email": "a@b.cn", "webhook": None, "wechat_openid": None}
    ]


def test_the_example_registry_in_deploy_is_valid():
    from pathlib import Path

    from services.router import registry_file

    data = registry_file.parse(Path(__file__).resolve().parents[2] / "deploy" / "registry.example.yaml")
    assert {u["unit_code"] for u in data["units"]} >= {"430624.tax", "430600.customs"}


async def test_a_regional_admin_changes_and_sees_only_recipients_of_its_region(system):
    body = {"kind": "unit", "key": "440112.tax", "channel": "email", "address": f"x{uuid.uuid4().hex[:6]}@hp.gov.cn"}
    huangpu, xuhui = system.auth("admin", region="440112"), system.auth("admin", region="310104")

    async def added():  # the unit's region reaches the notifier with the registry's events
        response = await system.notifier.post("/v1/recipients", json=body, headers=huangpu)
        return response if response.status_code == 201 else None

    await eventually(added)
    refused = await system.notifier.post("/v1/recipients", json={**body, "address": "y@xh.gov.cn"}, headers=xuhui)
    assert refused.status_code == 404
    unknown = await system.notifier.post("/v1/recipients", json={**body, "key": "440112.nothing"}, headers=huangpu)
    assert unknown.status_code == 404
    seen = (await system.notifier.get("/v1/recipients", params={"key": "440112.tax"}, headers=huangpu)).json()
    assert body["address"] in {r["address"] for r in seen}
    assert {r["source"] for r in seen} == {"registry", "api"}, "the demo registry's contacts and the admin's"
    assert (await system.notifier.get("/v1/recipients", params={"key": "440112.tax"}, headers=xuhui)).json() == []


async def test_an_older_event_of_an_item_changes_nothing_its_readers_hold(system, producer):
    """A dead letter replayed after a fix, or an outbox range republished, can bring an item's past
    event after its newer ones. Intake's view and the notifier's clocks keep the later state; the
    enterprise's timeline still gets the past event as history."""
    created = await system.enterprise().submit(items=("tax",))
    code = "440112.tax"
    item = await system.routed_item(created["id"], code)
    dispatched = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.WORKITEMS_EVENTS,
        until=lambda records: any(_is(r, item["id"], events.WorkItemDispatched) for r in records),
    )
    [first] = [decode(r).data for r in dispatched if _is(r, item["id"], events.WorkItemDispatched)]
    assert first.version == 1
    await system.clerk(code).act(item["id"], "acknowledge")
    certificate = (await system.clerk(code).upload(item["id"])).json()
    resolved = await system.clerk(code).act(
        item["id"], "resolve", outcome="issued", document_no="X-7", attachments=[certificate["id"]]
    )
    assert resolved.status_code == 200
    seen = await system.enterprise().wait_for_item(created["id"], item["id"], "resolved")
    record = await eventually(lambda: _record_in(system, item["id"], "resolved"))
    assert record.version == 3

    # The dispatch once more, under an id no consumer has applied (as a replayed dead letter).
    replayed = encode(
        first, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, subject=item["id"], key=created["id"]
    )
    await producer.send_and_wait(
        replayed.topic,
        replayed.value,
        key=replayed.key.encode(),
        headers=replayed.kafka_headers(),
    )
    replayed_id = replayed.headers["ce_id"]
    await eventually(lambda: _applied(system, "intake", replayed_id))
    await eventually(lambda: _applied(system, "notifier", replayed_id))

    after = (await system.intake.get(f"/v1/requests/{created['id']}", headers=system.enterprise().headers)).json()
    [view] = [i for i in after["work_items"] if i["id"] == item["id"]]
    assert view["status"] == "resolved" and after["status"] == seen["status"]
    dispatch_entries = [t for t in after["timeline"] if t["event"] == "workitem.dispatched"]
    assert len(dispatch_entries) == 1 + len([t for t in seen["timeline"] if t["event"] == "workitem.dispatched"])
    record = await _record_in(system, item["id"], "resolved")
    assert record is not None and record.version == 3 and record.resolved_at is not None


def _is(record, item_id: str, event_type) -> bool:
    return header(record, "ce_subject") == item_id and header(record, "ce_type") == event_type.ce_type


async def _record_in(system, item_id: str, state: str):
    found = await _sla_record(system, item_id)
    return found if found is not None and found.state == state else None


async def _applied(system, service: str, event_id: str) -> bool:
    runtime = system.runtimes[service]
    async with runtime.sessions() as session:
        return bool(await session.scalar(select(func.count()).where(runtime.processed.c.event_id == event_id)))
