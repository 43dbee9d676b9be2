"""The liaison officer's home (驻企联络员, issue 29 item 7) in intake: one enterprise's requests
chosen in SQL before the page is cut (``GET /v1/requests?uscc=``), only an enterprise one acts for;
and ``GET /v1/enterprises``: each enterprise served, named, with its open, waiting (补正, 待上传报告,
待评价) and overdue requests, the most urgent first."""

from __future__ import annotations

import uuid
from datetime import timedelta

from shared.clock import fix_reading_now, utcnow
from shared.validation import make_uscc
from tests.support import certificate_request, eventually


def new_uscc(district: str = "440112") -> str:
    return make_uscc(f"91{district}MA{uuid.uuid4().int % 10**8:08d}"[:17])


def body_for(uscc: str, name: str, **extra) -> dict:
    body = certificate_request(enterprise=uscc, **extra)
    body["enterprise"]["name"] = name
    return body


async def submitted(system, uscc: str, name: str, **extra) -> dict:
    response = await system.intake.post(
        "/v1/requests", json=body_for(uscc, name, **extra), headers=system.auth("enterprise", usccs=[uscc])
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_one_enterprises_requests_are_chosen_before_the_page_is_cut(system):
    quiet, busy = new_uscc(), new_uscc()
    older = [(await submitted(system, quiet, "安静企业有限公司"))["id"] for _ in range(2)]
    newer = [(await submitted(system, busy, "繁忙企业有限公司"))["id"] for _ in range(3)]
    liaison = system.auth("liaison", usccs=[quiet, busy], sub="liaison-home-tests")

    whole = (await system.intake.get("/v1/requests", params={"limit": 2}, headers=liaison)).json()
    assert {i["id"] for i in whole["items"]} <= set(newer), "the first page is the busy enterprise's"

    chosen = await system.intake.get("/v1/requests", params={"limit": 2, "uscc": quiet}, headers=liaison)
    assert chosen.status_code == 200
    assert {i["id"] for i in chosen.json()["items"]} == set(older) and chosen.json()["next_cursor"] is None

    first = (await system.intake.get("/v1/requests", params={"limit": 2, "uscc": busy}, headers=liaison)).json()
    params = {"limit": 2, "uscc": busy, "cursor": first["next_cursor"]}
    second = (await system.intake.get("/v1/requests", params=params, headers=liaison)).json()
    assert [i["id"] for i in first["items"] + second["items"]] == list(reversed(newer))
    assert second["next_cursor"] is None
    assert all(i["enterprise_uscc"] == busy for i in first["items"] + second["items"])


async def test_only_an_enterprise_one_acts_for_may_be_chosen(system):
    mine, theirs = new_uscc(), new_uscc("310115")
    await submitted(system, theirs, "别家企业有限公司", region="310115")
    liaison = system.auth("liaison", usccs=[mine], sub="liaison-home-tests")
    refused = await system.intake.get("/v1/requests", params={"uscc": theirs}, headers=liaison)
    assert refused.status_code == 403 and theirs not in refused.text
    assert refused.json()["errors"][0]["field"] == "uscc"
    enterprise = system.auth("enterprise", usccs=[mine])
    assert (await system.intake.get("/v1/requests", params={"uscc": theirs}, headers=enterprise)).status_code == 403
    # A supervisor elsewhere may filter, and its region still decides: nothing of 浦东 in 黄埔.
    supervisor = system.auth("supervisor", region="440112")
    seen = await system.intake.get("/v1/requests", params={"uscc": theirs}, headers=supervisor)
    assert seen.status_code == 200 and seen.json()["items"] == []
    bad = await system.intake.get("/v1/requests", params={"uscc": "not-a-uscc"}, headers=liaison)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_the_enterprises_served_come_named_and_counted_most_urgent_first(system):
    waiting, late, subsidiary, calm = new_uscc(), new_uscc(), new_uscc("310115"), new_uscc()
    calm_request = await submitted(system, calm, "平静企业有限公司")
    withdrawn = await system.intake.post(
        f"/v1/requests/{calm_request['id']}/withdraw", json={}, headers=system.auth("enterprise", usccs=[calm])
    )
    assert withdrawn.status_code == 202  # a withdrawn request is neither open nor overdue
    supplement = await submitted(system, waiting, "待补正企业有限公司", items=("tax",))
    overdue = await submitted(system, late, "超期企业有限公司", items=("statistics",))
    # The subsidiary never submitted: its name comes from the enterprise-group registry.
    related = await system.intake.put(
        f"/v1/relations/{waiting}/{subsidiary}",
        json={
            "parent_name": "待补正企业有限公司",
            "parent_region": "440112",
            "subject_name": "待补正（上海）子公司",
            "subject_region": "310115",
        },
        headers=system.auth("admin", sub="liaison-home-tests"),
    )
    assert related.status_code == 200, related.text
    item = (await system.routed_item(supplement["id"], "440112.tax"))["id"]
    await system.routed_item(overdue["id"], "440112.statistics")
    tax = system.clerk("440112.tax")
    await tax.act(item, "acknowledge")
    await tax.act(item, "request-supplement", note="请补充材料")
    liaison = system.auth("liaison", usccs=[calm, subsidiary, waiting, late], sub="liaison-home-tests")

    async def counted():
        found = (await system.intake.get("/v1/enterprises", headers=liaison)).json()
        by_uscc = {e["uscc"]: e for e in found}
        ready = (by_uscc[late]["overdue"], by_uscc[waiting]["waiting"], by_uscc[waiting]["overdue"]) == (1, 1, 0)
        return found if ready else None

    # Sixty days on, the unsigned statistics item is past its 签收 limit; the 补正 waits, its clock paused.
    fix_reading_now(utcnow() + timedelta(days=60))
    try:
        found = await eventually(counted, timeout=45)
    finally:
        fix_reading_now(None)
    assert [e["uscc"] for e in found] == [late, waiting, calm, subsidiary]
    by_uscc = {e["uscc"]: e for e in found}
    assert {k: by_uscc[late][k] for k in ("overdue", "waiting", "open", "total")} == {
        "overdue": 1,
        "waiting": 0,
        "open": 1,
        "total": 1,
    }
    assert (by_uscc[waiting]["overdue"], by_uscc[waiting]["waiting"], by_uscc[waiting]["open"]) == (0, 1, 1)
    assert by_uscc[subsidiary]["name"] == "待补正（上海）子公司" and by_uscc[subsidiary]["total"] == 0
    assert by_uscc[calm]["name"] == "平静企业有限公司" and by_uscc[calm]["region_code"] == "440112"
    assert (by_uscc[calm]["total"], by_uscc[calm]["open"], by_uscc[calm]["overdue"]) == (1, 0, 0)

    # Read now, nothing is overdue yet.
    now = {e["uscc"]: e for e in (await system.intake.get("/v1/enterprises", headers=liaison)).json()}
    assert now[late]["overdue"] == 0


async def test_the_enterprises_list_is_for_enterprises_and_liaison_officers(system):
    uscc = new_uscc()
    own = await system.intake.get("/v1/enterprises", headers=system.auth("enterprise", usccs=[uscc], name="某企业"))
    assert own.status_code == 200 and [e["uscc"] for e in own.json()] == [uscc]
    for headers in (system.auth("supervisor", region="440112"), system.auth("department", unit="440112.tax")):
        assert (await system.intake.get("/v1/enterprises", headers=headers)).status_code == 403
    assert (await system.intake.get("/v1/enterprises")).status_code == 401
