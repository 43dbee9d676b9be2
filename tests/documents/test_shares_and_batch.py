"""Issue 27, phase B: share links for a 保荐机构 (time-limited, revocable, 410 after either) and
batch verification (100 codes as JSON, a CSV of codes, a ZIP of PDFs; a CSV back with Chinese
headers). Real broker, real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest

from services.router.documents import codes
from shared.clock import fix_reading_now, utcnow
from tests.documents.issued import OTHER_HOLDER, issue_with_own_pdf, issue_written, public_client


@pytest.fixture
def reading_at():
    yield fix_reading_now
    fix_reading_now(None)


async def test_a_share_link_lists_the_chosen_documents_until_it_expires(system, reading_at):
    owner = system.enterprise(OTHER_HOLDER)
    first, _pdf = await issue_with_own_pdf(system, enterprise=owner)
    second = await issue_written(system, enterprise=owner)
    created = await system.router.post(
        "/v1/shares",
        json={"codes": [first.code, codes.group(second.code)], "expires_in_days": 3, "note": "中信证券"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    share = created.json()
    assert share["url"] == f"/share/{share['token']}" and share["active"]
    async with public_client(system) as sponsor:
        opened = await sponsor.get(f"/v1/shares/{share['token']}")
        assert opened.status_code == 200, opened.text
        assert [d["code"] for d in opened.json()["documents"]] == [codes.group(first.code), codes.group(second.code)]
        assert opened.json()["note"] == "中信证券"
        reading_at(utcnow() + timedelta(days=3) - timedelta(minutes=1))
        assert (await sponsor.get(f"/v1/shares/{share['token']}")).status_code == 200, "a minute before"
        reading_at(utcnow() + timedelta(days=3, minutes=1))
        gone = await sponsor.get(f"/v1/shares/{share['token']}")
        assert gone.status_code == 410 and gone.json()["code"] == "share_gone"
        assert (await sponsor.get("/v1/shares/not-a-token")).status_code == 404
    listed = await system.router.get("/v1/shares", headers=owner.headers)
    [mine] = [s for s in listed.json() if s["id"] == share["id"]]
    assert mine["token"] is None and mine["active"] is False, "expired, and the token is not kept"


async def test_a_revoked_share_link_is_gone_and_only_its_owner_may_revoke_it(system):
    owner = system.enterprise(OTHER_HOLDER)
    doc, _pdf = await issue_with_own_pdf(system, enterprise=owner)
    share = (
        await system.router.post("/v1/shares", json={"codes": [doc.code], "expires_in_days": 30}, headers=owner.headers)
    ).json()
    stranger = await system.router.delete(f"/v1/shares/{share['id']}", headers=system.enterprise().headers)
    assert stranger.status_code == 404
    assert (await system.router.delete(f"/v1/shares/{share['id']}", headers=owner.headers)).status_code == 204
    async with public_client(system) as sponsor:
        assert (await sponsor.get(f"/v1/shares/{share['token']}")).status_code == 410


async def test_only_ones_own_documents_can_be_shared(system):
    doc, _pdf = await issue_with_own_pdf(system, enterprise=system.enterprise(OTHER_HOLDER))
    refused = await system.router.post(
        "/v1/shares", json={"codes": [doc.code], "expires_in_days": 3}, headers=system.enterprise().headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "codes"
    too_long = await system.router.post(
        "/v1/shares", json={"codes": [doc.code], "expires_in_days": 91}, headers=system.enterprise(OTHER_HOLDER).headers
    )
    assert too_long.status_code == 422
    clerk = await system.router.post(
        "/v1/shares", json={"codes": [doc.code], "expires_in_days": 3}, headers=system.clerk(doc.unit_code).headers
    )
    assert clerk.status_code == 403


async def test_a_batch_of_100_codes_answers_each_in_order_as_json_and_csv(system):
    issued = [(await issue_with_own_pdf(system))[0] for _ in range(3)]
    revoked = await issue_written(system)
    clerk = system.clerk(revoked.unit_code)
    body = {"reason_class": "other", "reason": "测试撤销", "reopen": False}
    assert (
        await system.router.post(f"/v1/documents/{revoked.code}/revocations", json=body, headers=clerk.headers)
    ).is_success
    known = [d.code.lower() for d in issued] + [codes.group(revoked.code)]
    unknown = [codes.new_code() for _ in range(95)] + ["这不是核验码"]
    batch = known + unknown
    assert len(batch) == 100
    async with public_client(system) as sponsor:
        answer = await sponsor.post("/v1/verifications/batch", json={"codes": batch})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["input"] for r in results] == batch
        assert [r["status"] for r in results] == ["valid"] * 3 + ["revoked"] + ["not_found"] * 96
        assert [r["code"] for r in results[:4]] == [codes.group(d.code) for d in [*issued, revoked]]
        assert all(r["code"] is None and r["document"] is None for r in results[4:])
    async with public_client(system) as sponsor:
        as_csv = await sponsor.post("/v1/verifications/batch", json={"codes": known}, headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["输入", "核验码", "状态"] and "出具单位" in rows[0]
    assert [r[2] for r in rows[1:]] == ["有效"] * 3 + ["已撤销"]


async def test_a_csv_of_codes_and_a_zip_of_pdfs_are_verified_too(system):
    doc, pdf = await issue_with_own_pdf(system)
    upload = "核验码\n" + codes.group(doc.code) + "\n" + codes.new_code() + "\n"
    async with public_client(system) as sponsor:
        from_csv = await sponsor.post(
            "/v1/verifications/batch", files={"file": ("codes.csv", upload.encode("utf-8-sig"), "text/csv")}
        )
        assert [r["status"] for r in from_csv.json()["results"]] == ["valid", "not_found"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("税务证明.pdf", pdf)
        zipped.writestr("改过的.pdf", pdf.replace(b"%%EOF", b"%%EOF\n% changed"))
    async with public_client(system) as sponsor:
        from_zip = await sponsor.post(
            "/v1/verifications/batch", files={"file": ("pdfs.zip", archive.getvalue(), "application/zip")}
        )
    results = {r["input"]: r for r in from_zip.json()["results"]}
    assert (results["税务证明.pdf"]["match"], results["税务证明.pdf"]["code"]) == (True, codes.group(doc.code))
    assert (results["改过的.pdf"]["match"], results["改过的.pdf"]["status"]) == (False, "not_found")


async def test_a_batch_over_200_is_refused(system):
    async with public_client(system) as sponsor:
        refused = await sponsor.post("/v1/verifications/batch", json={"codes": [codes.new_code()] * 201})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "codes"


async def test_a_batch_file_that_is_neither_csv_nor_zip_is_refused_naming_file(system):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
    async with public_client(system) as sponsor:
        for content in (png, b"PK\x03\x04 not really a zip", "核验码".encode("gbk")):
            refused = await sponsor.post("/v1/verifications/batch", files={"file": ("x", content, "text/csv")})
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0] == {
                **refused.json()["errors"][0],
                "field": "file",
                "code": "file_not_csv_or_zip",
            }
