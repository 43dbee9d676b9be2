"""Row 2 of issue 25, who may ask about whom: an applicant names another subject only with proof —
a relation in the enterprise-group registry (kept by liaison officers for the enterprises they
serve and by admins for their region) or the subject's 授权委托书, a PDF uploaded for it. Without
either the submission is refused naming the subject, in Chinese and English, and nothing is
created; the proof travels with the request to the router, where the clerk sees it."""

from __future__ import annotations

import re
import uuid

from shared.validation import make_uscc
from tests.intake.groups import related
from tests.support import MINGLUO, OTHER_CO, PDF_BYTES, PNG_BYTES, certificate_request

UNRELATED = {"uscc": make_uscc("91310115MA1K4L9P2"), "name": "上海无关第三方有限公司", "region_code": "310115"}


def stranger() -> dict:
    """A company no one has related to anyone yet."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return {
        "uscc": make_uscc(f"91310115MA{digits}"[:17]),
        "name": f"上海子公司{digits}有限公司",
        "region_code": "310115",
    }


async def request_count(system) -> int:
    page = await system.intake.get("/v1/requests", params={"limit": 100}, headers=system.enterprise().headers)
    return len(page.json()["items"])


async def test_a_subject_without_proof_is_refused_naming_it(system):
    enterprise = system.enterprise()
    before = await request_count(system)
    body = certificate_request(subjects=[UNRELATED, stranger()])
    refused = await enterprise.post_request(body)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("subjects.0.uscc", "subject_not_authorized"),
        ("subjects.1.uscc", "subject_not_authorized"),
    ]
    assert "上海无关第三方有限公司" in errors[0]["message"] and "授权委托书" in errors[0]["message"]
    english = await enterprise.post_request(body, **{"Accept-Language": "en"})
    assert not re.search(
        r"[\u4e00-\u9fff]", english.json()["errors"][1]["message"].replace(body["subjects"][1]["name"], "")
    )
    assert "letter of authorisation" in english.json()["errors"][0]["message"]
    assert await request_count(system) == before, "nothing was created"


async def test_a_related_subject_is_accepted_and_its_proof_travels_to_the_clerk(system):
    subsidiary = stranger()
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="relations-liaison", name="陈联络")
    put = await system.intake.put(
        f"/v1/relations/{MINGLUO}/{subsidiary['uscc'].lower()}",
        json={
            "parent_name": "广州明珞装备股份有限公司",
            "parent_region": "440112",
            "subject_name": subsidiary["name"],
            "subject_region": "310115",
            "kind": "subsidiary",
        },
        headers=liaison,
    )
    assert put.status_code == 200, put.text
    assert put.json()["kind_name"] == "子公司" and put.json()["subject_uscc"] == subsidiary["uscc"]
    created = await system.enterprise().submit(subjects=[subsidiary], items=("tax",))
    seen = await system.enterprise().request(created["id"])
    proofs = {s["uscc"]: s["proof"] for s in seen["subjects"]}
    assert proofs[MINGLUO]["kind"] == "applicant" and proofs[subsidiary["uscc"]]["kind"] == "group_registry"
    items = await system.routed_items(created["id"], 2)
    [theirs] = [i for i in items if i.subject_uscc == subsidiary["uscc"]]
    shown = (await system.clerk(theirs.unit_code).item(theirs.id)).json()
    assert shown["subject_proof"] == {"kind": "group_registry", "kind_name": "集团关系登记", "file": None}


async def test_a_letter_of_authorisation_is_the_other_proof(system):
    enterprise = system.enterprise()
    subsidiary = stranger()
    png = await enterprise.upload(PNG_BYTES, "授权委托书.png")
    body = certificate_request(subjects=[{**subsidiary, "authorization": png["id"]}], items=("tax",))
    not_pdf = await enterprise.post_request(body)
    assert not_pdf.status_code == 422
    assert [(e["field"], e["code"]) for e in not_pdf.json()["errors"]] == [("subjects.0.authorization", "not_pdf")]
    others = await system.enterprise(OTHER_CO).upload(name="授权委托书.pdf")
    body["subjects"][0]["authorization"] = others["id"]
    foreign = await enterprise.post_request(body)
    assert [e["code"] for e in foreign.json()["errors"]] == ["attachment_unknown"], "someone else's upload"

    letter = await enterprise.upload(PDF_BYTES, "授权委托书.pdf")
    body["subjects"][0]["authorization"] = letter["id"]
    created = await enterprise.submit(body)
    seen = await enterprise.request(created["id"])
    [proof] = [s["proof"] for s in seen["subjects"] if s["uscc"] == subsidiary["uscc"]]
    assert proof["kind"] == "authorization" and proof["file"]["id"] == letter["id"]
    assert proof["file"]["purpose"] == "authorization" and proof["file"]["purpose_name"] == "授权委托书"
    items = await system.routed_items(created["id"], 2)
    [theirs] = [i for i in items if i.subject_uscc == subsidiary["uscc"]]
    clerk = system.clerk(theirs.unit_code)
    shown = (await clerk.item(theirs.id)).json()["subject_proof"]
    assert (shown["kind"], shown["kind_name"], shown["file"]["name"]) == (
        "authorization",
        "授权委托书",
        "授权委托书.pdf",
    )
    download = await system.router.get(shown["file"]["download_url"], headers=clerk.headers)
    assert download.status_code == 200 and download.content == PDF_BYTES
    # The unit of the applicant's own item reads the request's files, not another subject's letter.
    [own] = [i for i in items if i.subject_uscc != subsidiary["uscc"]]
    theirs_only = system.clerk(own.unit_code)
    assert letter["id"] not in [f["id"] for f in (await theirs_only.item(own.id)).json()["attachments"]]
    other_path = f"/v1/workitems/{own.id}/files/{letter['id']}"
    assert (await system.router.get(other_path, headers=theirs_only.headers)).status_code == 404


async def test_who_keeps_the_registry(system):
    subsidiary = stranger()
    path = f"/v1/relations/{MINGLUO}/{subsidiary['uscc']}"
    body = {
        "parent_name": "广州明珞装备股份有限公司",
        "parent_region": "440112",
        "subject_name": subsidiary["name"],
        "subject_region": "310115",
    }
    refused = {
        "the enterprise itself": system.enterprise().headers,
        "another enterprise's liaison": system.auth("liaison", usccs=[OTHER_CO]),
        "a Shanghai admin": system.auth("admin", region="310000"),
        "a supervisor": system.auth("supervisor", region="440112"),
        "a unit": system.auth("department", unit="440112.tax"),
    }
    for who, headers in refused.items():
        assert (await system.intake.put(path, json=body, headers=headers)).status_code == 403, who
    guangdong = system.auth("admin", region="440000", sub="relations-admin-gd")
    assert (await system.intake.put(path, json=body, headers=guangdong)).status_code == 200
    mine = await system.intake.get(
        "/v1/relations", params={"subject_uscc": subsidiary["uscc"]}, headers=system.enterprise().headers
    )
    assert [r["subject_uscc"] for r in mine.json()] == [subsidiary["uscc"]], "the enterprise reads its own"
    for who in ("another enterprise's liaison", "a Shanghai admin"):
        assert (await system.intake.get(path, headers=refused[who])).status_code == 404, who
        assert (await system.intake.delete(path, headers=refused[who])).status_code == 404, who
    elsewhere = await system.intake.get("/v1/relations", headers=refused["a Shanghai admin"])
    assert subsidiary["uscc"] not in [r["subject_uscc"] for r in elsewhere.json()]

    created = await system.enterprise().submit(subjects=[subsidiary], items=("tax",))
    assert created["id"]
    assert (await system.intake.delete(path, headers=system.auth("liaison", usccs=[MINGLUO]))).status_code == 204
    again = await system.enterprise().post_request(certificate_request(subjects=[subsidiary], items=("tax",)))
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "subjects.0.uscc"
    itself = await system.intake.put(f"/v1/relations/{MINGLUO}/{MINGLUO}", json=body, headers=guangdong)
    assert itself.status_code == 409


async def test_the_helper_relates_through_the_api(system):
    subsidiary = stranger()
    await related(system, subsidiary)
    assert (await system.enterprise().submit(subjects=[subsidiary], items=("tax",)))["id"]
