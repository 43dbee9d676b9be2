"""Row 12 of issue 25, the API side: a USCC is taken as people paste it — spaces inside, lower
case, full-width characters — trimmed and upper-cased before it is checked, wherever one is
accepted (intake's submission and credit-report upload, the router's preview)."""

from __future__ import annotations

from tests.support import MINGLUO, OTHER_CO, certificate_request


def pasted(uscc: str) -> str:
    """How a USCC arrives from a phone: grouped by spaces, lower case, the first digits full-width."""
    spaced = " ".join(uscc[i : i + 4] for i in range(0, len(uscc), 4)).lower()
    return " " + "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in spaced[:4]) + spaced[4:] + "\u3000"


async def test_a_pasted_uscc_is_compacted_and_accepted(system):
    enterprise = system.enterprise()
    body = certificate_request()
    body["enterprise"]["uscc"] = pasted(MINGLUO)
    assert body["enterprise"]["uscc"] != MINGLUO
    created = await enterprise.submit(body)
    seen = await enterprise.request(created["id"])
    assert seen["enterprise"]["uscc"] == MINGLUO


async def test_the_router_preview_compacts_a_pasted_uscc_too(system):
    body = certificate_request()
    body["enterprise"]["uscc"] = pasted(MINGLUO)
    preview = await system.router.post("/v1/routing/preview", json=body, headers=system.enterprise().headers)
    assert preview.status_code == 200, preview.text
    assert {item["subject_uscc"] for item in preview.json()["work_items"]} == {MINGLUO}


async def test_a_uscc_that_is_wrong_after_compacting_is_still_refused(system):
    body = certificate_request()
    body["enterprise"]["uscc"] = pasted(MINGLUO)[:-3]  # one character short
    refused = await system.enterprise().post_request(body)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["enterprise.uscc"]


async def test_a_credit_report_names_its_subject_by_a_pasted_uscc(system):
    """No item of this request is covered: the answer is about that, not about the USCC's form."""
    enterprise = system.enterprise()
    created = await enterprise.submit()
    upload = await enterprise.upload(name="专项信用报告.pdf")
    refused = await system.intake.post(
        f"/v1/requests/{created['id']}/credit-reports",
        json={"subject_uscc": pasted(MINGLUO), "attachment_id": upload["id"]},
        headers=enterprise.headers,
    )
    assert refused.status_code == 422
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("subject_uscc", "no_credit_report")]


async def test_a_clerk_finds_an_item_by_a_pasted_uscc(system):
    enterprise = system.enterprise(OTHER_CO)
    created = await enterprise.submit(certificate_request(enterprise=OTHER_CO, items=("tax",)))
    item = await system.routed_item(created["id"], "440112.tax")
    found = await system.router.get(
        "/v1/workitems", params={"q": pasted(OTHER_CO), "limit": 500}, headers=system.clerk("440112.tax").headers
    )
    assert found.status_code == 200, found.text
    assert item["id"] in [i["id"] for i in found.json()]
