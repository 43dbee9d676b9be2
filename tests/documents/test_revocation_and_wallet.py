"""Issue 27, phase B: revocation (the issuing unit or a supervisor over its region; 已撤销 at once;
重办 when the unit says so; on both timelines and on Kafka), the enterprise's wallet and downloads,
and who may not do any of it. Real broker, real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.router.document_models import IssuedDocumentRow
from services.router.documents import codes
from services.router.models import WorkItem
from shared import db, events
from shared.clock import SHANGHAI, fix_reading_now, utcnow
from tests.documents.issued import HOLDER, OTHER_HOLDER, issue_with_own_pdf, issue_written, public_client, stored
from tests.support import RACES_ON_POSTGRES_ONLY, backend_pid, header, read_topic, waits_for
from tests.support.waiting import eventually

REASON = "文号填写错误，另行出具"


@pytest.fixture
def reading_at():
    """Answers about time (validity, share links) computed at a chosen instant; reset afterwards."""
    yield fix_reading_now
    fix_reading_now(None)


async def revoke(system, person, code: str, **body):
    fields = {"reason_class": "content_error", "reason": REASON, "reopen": False, **body}
    return await system.router.post(f"/v1/documents/{code}/revocations", json=fields, headers=person.headers)


async def test_a_revocation_shows_at_once_on_the_api_the_timelines_and_kafka(system):
    doc, _pdf = await issue_with_own_pdf(system)
    clerk = system.clerk(doc.unit_code)
    revoked = await revoke(system, clerk, codes.group(doc.code))
    assert revoked.status_code == 200, revoked.text
    async with public_client(system) as public:
        body = (await public.get(f"/v1/verifications/{doc.code}")).json()
    today = utcnow().astimezone(SHANGHAI).date().isoformat()
    assert (body["status"], body["status_name"], body["revoked_on"]) == ("revoked", "已撤销", today)
    assert (body["revocation_reason_class"], body["revocation_reason_name"]) == ("content_error", "内容有误")
    assert REASON not in str(body), "the unit's own words stay on its record"
    again = await revoke(system, clerk, doc.code)
    assert again.status_code == 409

    history = (await clerk.item(doc.item_id)).json()["history"]
    assert any(h["action"] == "revoke-document" and REASON in h["note"] for h in history), "the unit's timeline"
    item = (await clerk.item(doc.item_id)).json()
    assert item["state"] == "resolved", "no 重办 asked: the item stays resolved"
    assert item["documents"] == [{"code": codes.group(doc.code), "status": "revoked"}], "its page links the record"

    async def on_the_enterprises_timeline():
        seen = await system.enterprise(HOLDER).request(doc.request_id)
        return [t for t in seen["timeline"] if t["event"] == "workitem.document_revoked"]

    [entry] = await eventually(on_the_enterprises_timeline)
    assert "撤销" in entry["summary"] and "内容有误" in entry["summary"]

    async def the_enterprise_is_told():
        log = await system.notifier.get(
            "/v1/notifications", params={"work_item_id": doc.item_id}, headers=system.auth("admin")
        )
        return [n for n in log.json() if n["recipient_kind"] == "enterprise" and n["title"] == "证明已撤销"]

    told = await eventually(the_enterprise_is_told)
    assert "内容有误" in told[0]["body"] and "重新办理" not in told[0]["body"], told[0]["body"]

    def revoked_record(records):
        return [r for r in records if header(r, "ce_subject") == doc.code and header(r, "ce_type") == REVOKED]

    bootstrap = system.settings.kafka_bootstrap_servers
    [record] = revoked_record(await read_topic(bootstrap, events.DOCUMENTS_EVENTS, until=revoked_record))
    event = events.DocumentRevoked.model_validate_json(record.value)
    assert (event.reason_class, event.reason, event.reopen) == ("content_error", REASON, False)


REVOKED = events.DocumentRevoked.ce_type


async def test_a_revocation_with_redo_reopens_the_item_for_a_new_certificate(system):
    doc = await issue_written(system)
    clerk = system.clerk(doc.unit_code)
    assert (await revoke(system, clerk, doc.code, reason_class="duplicate", reopen=True)).status_code == 200
    assert (await clerk.item(doc.item_id)).json()["state"] == "in_progress"
    await system.enterprise(HOLDER).wait_for_item(doc.request_id, doc.item_id, "in_progress")
    again = await clerk.act(
        doc.item_id, "resolve", outcome="issued", document_no="穗埔税证〔2026〕9号", write_certificate=True
    )
    assert again.status_code == 200, again.text
    async with public_client(system) as public:
        old = (await public.get(f"/v1/verifications/{doc.code}")).json()
    assert old["status"] == "revoked" and old["revocation_reason_name"] == "重复出具"


async def test_only_the_issuing_unit_or_a_supervisor_over_its_region_may_revoke(system):
    doc, _pdf = await issue_with_own_pdf(system)
    refusals = {
        "another unit": (system.clerk("440112.commerce"), 404),
        "a neighbouring supervisor": (system.supervisor("440113"), 404),
        "the enterprise": (system.enterprise(HOLDER), 403),
        "a national admin": (system.admin(), 403),
    }
    for who, (person, status) in refusals.items():
        answer = await revoke(system, person, doc.code)
        assert answer.status_code == status, f"{who}: {answer.text}"
    async with public_client(system) as public:
        assert (await public.get(f"/v1/verifications/{doc.code}")).json()["status"] == "valid"
    by_supervisor = await revoke(system, system.supervisor("440100"), doc.code, reason_class="revoked_by_law")
    assert by_supervisor.status_code == 200 and by_supervisor.json()["status"] == "revoked"


async def test_the_wallet_holds_the_enterprises_documents_and_only_theirs(system, reading_at):
    doc, _pdf = await issue_with_own_pdf(system, enterprise=system.enterprise(OTHER_HOLDER))
    mine = await system.router.get("/v1/documents", headers=system.enterprise(OTHER_HOLDER).headers)
    [row] = [r for r in mine.json() if r["code"] == codes.group(doc.code)]
    assert row["item_id"] == doc.item_id and row["download"] == f"/v1/documents/{doc.code}/file"
    assert (row["expired"], row["expiring_soon"]) == (False, False)
    others = await system.router.get("/v1/documents", headers=system.enterprise().headers)
    assert codes.group(doc.code) not in {r["code"] for r in others.json()}
    assert (await system.router.get("/v1/documents", headers=system.clerk(doc.unit_code).headers)).status_code == 403
    filtered = await system.router.get(
        "/v1/documents", params={"status": "revoked"}, headers=system.enterprise(OTHER_HOLDER).headers
    )
    assert codes.group(doc.code) not in {r["code"] for r in filtered.json()}

    def wallet_at(day_offset: int):
        valid_until = doc.valid_until
        reading_at(_noon(valid_until + timedelta(days=day_offset)))
        return system.router.get(f"/v1/documents/{doc.code}", headers=system.enterprise(OTHER_HOLDER).headers)

    soon = (await wallet_at(-3)).json()
    assert (soon["expiring_soon"], soon["expired"]) == (True, False)
    late = (await wallet_at(1)).json()
    assert (late["expiring_soon"], late["expired"], late["use_window"]) == (False, True, "past")


def _noon(day):
    from datetime import datetime, time

    return datetime.combine(day, time(12), tzinfo=SHANGHAI)


async def test_downloads_go_to_the_enterprise_the_issuing_unit_and_overseers_only(system):
    doc, pdf = await issue_with_own_pdf(system, enterprise=system.enterprise(OTHER_HOLDER))
    allowed = [system.enterprise(OTHER_HOLDER), system.clerk(doc.unit_code), system.supervisor("440112")]
    refused = [system.enterprise(), system.clerk("440112.commerce"), system.supervisor("440113")]
    for person in allowed:
        got = await system.router.get(f"/v1/documents/{doc.code}/file", headers=person.headers)
        assert got.status_code == 200 and got.content == pdf, person.claims
        slip = await system.router.get(f"/v1/documents/{doc.code}/slip", headers=person.headers)
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF-")
        assert slip.content == await stored(system, doc_slip_sha(slip.content))
    for person in refused:
        got = await system.router.get(f"/v1/documents/{doc.code}/file", headers=person.headers)
        assert got.status_code == 404, person.claims
    assert (await system.router.get(f"/v1/documents/{doc.code}/file")).status_code == 401


def doc_slip_sha(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


async def test_the_issuing_unit_sees_how_its_document_was_verified(system):
    doc, pdf = await issue_with_own_pdf(system)
    async with public_client(system) as public:
        await public.get(f"/v1/verifications/{doc.code}")
        await public.post(f"/v1/verifications/{doc.code}/file", files={"file": ("x.pdf", pdf, "application/pdf")})
    seen = await system.router.get(f"/v1/documents/{doc.code}/lookups", headers=system.clerk(doc.unit_code).headers)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["count"] == 2 and body["by_channel"] == {"code": 1, "file": 1, "batch": 0, "share": 0}
    assert [r["channel_name"] for r in body["recent"]] == ["文件比对", "核验码"]
    assert body["recent"][0]["match"] is True and "client" not in body["recent"][0]
    for person, status in ((system.enterprise(HOLDER), 403), (system.clerk("440112.commerce"), 404)):
        got = await system.router.get(f"/v1/documents/{doc.code}/lookups", headers=person.headers)
        assert got.status_code == status


@RACES_ON_POSTGRES_ONLY
async def test_a_document_revoked_twice_at_once_is_revoked_once(system):
    """A revocation is being written when a second comes: the second waits for it and is refused
    (409), not made again (two revocations on the record, two notices to the enterprise)."""
    doc, _pdf = await issue_with_own_pdf(system)
    runtime = system.runtimes["router"]
    async with runtime.sessions() as first:  # as the router's revocation does: the item locked first
        await first.scalars(db.to_change(select(WorkItem).where(WorkItem.id == doc.item_id)))
        revoked = update(IssuedDocumentRow).where(IssuedDocumentRow.code == doc.code).values(status="revoked")
        await first.execute(revoked)
        holder = await backend_pid(first)
        second = asyncio.create_task(revoke(system, system.clerk(doc.unit_code), doc.code))
        await eventually(lambda: waits_for(runtime, holder))
        await first.commit()
        answer = await second
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "document_revoked"
