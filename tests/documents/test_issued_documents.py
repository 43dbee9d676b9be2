"""Issue 27, phase B: a certificate item resolved with 出具证明 is registered under a 核验码, and
anyone verifies it without an account — by code, by the QR code on the 核验单 or certificate,
and by the PDF they hold (byte for byte). Real broker, real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from services.router.document_models import VerificationLookup
from services.router.documents import codes, signing, verification
from services.router.issuance import Issuer, authority
from services.router.models import WorkItem
from shared import events
from shared.clock import utcnow
from shared.problems import Problem
from tests.documents.conftest import pdf_to_png
from tests.documents.issued import (
    acknowledged,
    body_without_ids,
    documents_of,
    issue_with_own_pdf,
    issue_written,
    own_pdf,
    public_client,
    slip_of,
    stored,
)
from tests.documents.test_certificates import decoded_qr_codes
from tests.support import header, read_topic, send_department_action
from tests.support.waiting import eventually

RESOLVED = events.WorkItemResolved.ce_type
ISSUED = events.DocumentIssued.ce_type


def upload(pdf: bytes) -> dict:
    return {"file": ("证明.pdf", pdf, "application/pdf")}


async def test_a_units_own_pdf_gets_a_slip_and_verifies_by_code_qr_and_file(system):
    doc, pdf = await issue_with_own_pdf(system)
    assert doc.form == "verification_slip" and doc.sha256 == verification.sha256_hex(pdf)
    assert doc.status == "valid" and codes.is_canonical(doc.code)
    slip_pdf = await stored(system, (await slip_of(system, doc)).sha256)
    [url] = decoded_qr_codes(pdf_to_png(slip_pdf, dpi=150))
    grouped = url.rsplit("/", 1)[1]
    assert grouped == codes.group(doc.code), "the QR code opens this document's page"
    async with public_client(system) as public:
        found = await public.get(f"/v1/verifications/{grouped}")
        assert found.status_code == 200, found.text
        body = found.json()
        assert (body["status"], body["status_name"], body["status_name_en"]) == ("valid", "有效", "Valid")
        assert body["unit"]["code"] == "440112.tax" and body["unit"]["region_name"].endswith("黄埔区")
        assert body["document_number"] == "穗埔税证〔2026〕7号" and body["kind"] == "tax"
        assert body["subject"]["uscc_masked"].count("*") == 12 and body["sha256"] == doc.sha256
        assert body["revoked_on"] is None and body["verify_url"] == url
        typed = await public.get(f"/v1/verifications/{doc.code.lower()}")  # as typed, lower case and ungrouped
        assert typed.json()["code"] == grouped
        qr_svg = await public.get(f"/v1/verifications/{grouped}/qr.svg")
        assert qr_svg.status_code == 200 and qr_svg.headers["content-type"].startswith("image/svg+xml")

        same = await public.post(
            f"/v1/verifications/{grouped}/file", files={"file": ("证明.pdf", pdf, "application/pdf")}
        )
        assert same.json() == {
            "match": True,
            "message": "与登记的文件一致",
            "message_en": "Identical to the registered file",
            "sha256": doc.sha256,
            "registered_sha256": doc.sha256,
        }
        tampered = pdf.replace(b"1 0 obj", b"2 0 obj")
        other = await public.post(
            f"/v1/verifications/{grouped}/file", files={"file": ("证明.pdf", tampered, "application/pdf")}
        )
        assert other.status_code == 200 and other.json()["match"] is False
        assert other.json()["message"] == "与登记的文件不一致"
    async with system.runtimes["router"].sessions() as session:
        logged = await session.scalar(select(func.count()).where(VerificationLookup.code == doc.code))
    assert logged == 4, "every lookup is logged for the issuing unit"


async def test_a_certificate_xiaoer_writes_is_signed_with_the_units_key_and_verifies(system):
    doc = await issue_written(system)
    assert doc.form == "certificate" and doc.slip_file_id is None
    pdf = await stored(system, doc.sha256)
    roots = authority(system.runtimes["router"].settings).trust_roots()
    check = await signing.async_validate_signed_pdf(pdf, roots)
    assert check.ok and check.unit_code == "440112.tax", check
    [url] = decoded_qr_codes(pdf_to_png(pdf, dpi=150))
    async with public_client(system) as public:
        assert (
            await public.get(url.replace(url.split("/verify/")[0] + "/verify", "/v1/verifications"))
        ).status_code == 200
        same = await public.post(
            f"/v1/verifications/{doc.code}/file", files={"file": ("证明.pdf", pdf, "application/pdf")}
        )
        assert same.json()["match"] is True


async def test_the_enterprise_gets_the_registered_files_with_the_result(system):
    doc, _pdf = await issue_with_own_pdf(system)
    slip = await slip_of(system, doc)

    def resolved(records):
        return [r for r in records if header(r, "ce_subject") == doc.item_id and header(r, "ce_type") == RESOLVED]

    [record] = resolved(
        await read_topic(system.settings.kafka_bootstrap_servers, events.WORKITEMS_EVENTS, until=resolved)
    )
    resolution = events.WorkItemResolved.model_validate_json(record.value).resolution
    assert {d.sha256 for d in resolution.documents} == {doc.sha256, slip.sha256}, "the PDF and its 核验单"


async def test_issued_is_announced_on_the_documents_topic(system):
    doc = await issue_written(system)
    records = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.DOCUMENTS_EVENTS,
        until=lambda rs: any(header(r, "ce_subject") == doc.code for r in rs),
    )
    [issued] = [
        r
        for r in records
        if header(r, "ce_subject") == doc.code and header(r, "ce_type") == "cn.xiaoer.document.issued"
    ]
    event = events.DocumentIssued.model_validate_json(issued.value)
    assert (event.sha256, event.form, event.unit_code) == (doc.sha256, "certificate", "440112.tax")


async def test_not_issued_gets_no_code(system):
    _, item_id, unit = await acknowledged(system, "emergency_management")
    refused = await system.clerk(unit).act(item_id, "resolve", outcome="not_issued", note="存在处罚记录")
    assert refused.status_code == 200
    assert await documents_of(system, item_id) == []


async def test_malformed_and_unknown_codes_are_the_same_404(system):
    async with public_client(system) as public:
        unknown = await public.get(f"/v1/verifications/{codes.group(codes.new_code())}")
        malformed = await public.get("/v1/verifications/not-a-code-at-all")
        assert unknown.status_code == malformed.status_code == 404
        assert body_without_ids(unknown) == body_without_ids(malformed)
        assert unknown.json()["title"] == "未找到该核验码" or "未找到该核验码" in unknown.text
        refused = await public.post(
            f"/v1/verifications/{codes.new_code()}/file", files={"file": ("x.pdf", b"%PDF-1.7", "application/pdf")}
        )
        assert refused.status_code == 404


async def test_an_upload_that_is_no_pdf_or_too_large_is_refused_naming_file(system):
    doc, pdf = await issue_with_own_pdf(system)
    settings = system.runtimes["router"].settings
    async with public_client(system) as public:
        text = await public.post(
            f"/v1/verifications/{doc.code}/file", files={"file": ("a.pdf", b"hello", "application/pdf")}
        )
        assert text.status_code == 422
        [error] = text.json()["errors"]
        assert (error["field"], error["code"]) == ("file", "file_not_pdf")
        limit, settings.verification_pdf_max_bytes = settings.verification_pdf_max_bytes, 2048
        try:
            big = await public.post(f"/v1/verifications/{doc.code}/file", files=upload(pdf + b"0" * 4096))
        finally:
            settings.verification_pdf_max_bytes = limit
        assert big.status_code == 422 and big.json()["errors"][0]["code"] == "file_too_large"


async def test_a_burst_of_lookups_is_refused_with_retry_after(system):
    doc, _pdf = await issue_with_own_pdf(system)
    allowed = int(system.runtimes["router"].settings.verification_rate_limit.split("/")[0])
    async with public_client(system) as public:
        answers = [(await public.get(f"/v1/verifications/{doc.code}")).status_code for _ in range(allowed + 1)]
        assert answers == [200] * allowed + [429]
        refused = await public.get(f"/v1/verifications/{doc.code}")
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "稍后再试" in refused.json()["title"] or "秒后再试" in refused.json()["title"]
    async with public_client(system) as someone_else:
        assert (await someone_else.get(f"/v1/verifications/{doc.code}")).status_code == 200, "per client"


async def test_misses_are_limited_more_strictly_than_lookups(system):
    allowed = int(system.runtimes["router"].settings.verification_miss_limit.split("/")[0])
    async with public_client(system) as guesser:
        answers = [(await guesser.get(f"/v1/verifications/{codes.new_code()}")).status_code for _ in range(allowed + 1)]
    assert answers == [404] * allowed + [429]


async def test_the_pages_server_passes_each_readers_address_on_and_nobody_else_can(system):
    allowed = int(system.runtimes["router"].settings.verification_miss_limit.split("/")[0])
    suffix = uuid.uuid4().int % 250 + 1
    first, second = f"203.0.113.{suffix}", f"203.0.114.{suffix}"

    async def miss(client, forwarded: str) -> int:
        answer = await client.get(f"/v1/verifications/{codes.new_code()}", headers={"X-Forwarded-For": forwarded})
        return answer.status_code

    # system.router is at 127.0.0.1, a trusted proxy (the pages' server): each reader counts alone.
    assert [await miss(system.router, first) for _ in range(allowed + 1)] == [404] * allowed + [429]
    assert await miss(system.router, second) == 404, "another reader behind the same server"
    async with public_client(system) as spoofer:  # not trusted: its header changes nothing
        answers = [await miss(spoofer, f"192.0.2.{n}") for n in range(allowed + 1)]
    assert answers == [404] * allowed + [429]


async def test_a_department_system_asks_for_the_certificate_over_kafka_too(system, producer):
    _, item_id, unit = await acknowledged(system)
    await send_department_action(
        system,
        producer,
        unit,
        work_item_id=item_id,
        action="resolve",
        outcome="issued",
        document_no="穗埔税证〔2026〕10号",
        write_certificate=True,
    )
    [doc] = await eventually(lambda: documents_of(system, item_id))
    assert doc.form == "certificate" and doc.document_number == "穗埔税证〔2026〕10号"
    async with public_client(system) as public:
        assert (await public.get(f"/v1/verifications/{doc.code}")).json()["status"] == "valid"


async def test_the_verification_api_is_in_the_openapi_document(system):
    paths = (await system.router.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/verifications/{code}",
        "/v1/verifications/{code}/file",
        "/v1/verifications/batch",
        "/v1/documents",
        "/v1/documents/{code}/revocations",
        "/v1/shares",
        "/v1/shares/{token}",
    ):
        assert path in paths, path


async def test_without_the_units_key_a_certificate_is_refused_and_a_slip_goes_out_unsigned(system, tmp_path):
    _, item_id, _unit = await acknowledged(system)
    settings = system.runtimes["router"].settings.model_copy(
        update={"signing_ca": "file", "signing_ca_path": tmp_path}  # an outside CA's directory without the unit's file
    )
    pdf = own_pdf()
    ref = events.FileRef(
        id=str(uuid.uuid4()), name="证明.pdf", content_type="application/pdf", size=len(pdf),
        sha256=verification.sha256_hex(pdf),
    )  # fmt: skip
    actor = events.Actor(role="department", id="clerk", unit="440112.tax")
    async with system.runtimes["router"].sessions() as session:
        item = await session.get(WorkItem, item_id)
        issuer = Issuer(session, settings, utcnow())
        with pytest.raises(Problem) as refused:
            await issuer.issue(item, [], "穗埔税证〔2026〕11号", actor, write=True)
        assert refused.value.errors[0].field == "write_certificate"
        [slip] = await issuer.issue(item, [ref], "穗埔税证〔2026〕11号", actor, write=False)
        unsigned = await stored(system, slip.sha256)
        check = await signing.async_validate_signed_pdf(unsigned, [])
        assert not check.ok, "the 核验单 carries no unit signature"
        await session.rollback()
