"""回访 after 办结 (issue 29 item 8): the enterprise says whether its problem was solved, once per
finished item, beside its rating; a liaison officer who serves it records a call instead; nobody
else may. The router logs it on the item (the clerk reads it) and the notifier counts it."""

from __future__ import annotations

import uuid

from shared.validation import make_uscc
from tests.support import certificate_request, eventually


async def resolved_item(system, unit: str = "440112.commerce", kind: str = "commerce"):
    """An enterprise of its own and a one-item request; the item not yet resolved."""
    uscc = make_uscc(f"91440112MA{uuid.uuid4().int % 10**7:07d}")
    enterprise = system.enterprise(uscc)
    created = await enterprise.submit(certificate_request(enterprise=uscc, items=(kind,)))
    item = (await system.routed_item(created["id"], unit))["id"]
    await enterprise.wait_for_items(created["id"], 1)  # intake's read model knows the item too
    return uscc, enterprise, created["id"], item


async def resolve(system, unit: str, item: str, request_id: str, enterprise) -> None:
    clerk = system.clerk(unit)
    await clerk.act(item, "acknowledge")
    await clerk.act(item, "resolve", outcome="not_issued", note="存在一起行政处罚")

    async def shown():
        body = await enterprise.request(request_id)
        return body if [i["status"] for i in body["work_items"]] == ["resolved"] else None

    await eventually(shown)


async def test_the_enterprise_answers_the_follow_up_once_after_resolution(system):
    _uscc, enterprise, request_id, item = await resolved_item(system)
    path = f"/v1/requests/{request_id}/follow-ups"
    early = await system.intake.post(path, json={"work_item_id": item, "result": "solved"}, headers=enterprise.headers)
    assert early.status_code == 409 and early.json()["code"] == "not_resolved"

    await resolve(system, "440112.commerce", item, request_id, enterprise)
    [offered] = (await system.intake.get(path, headers=enterprise.headers)).json()
    assert offered["may_follow_up"] is True and offered["follow_up"] is None

    phone = {"work_item_id": item, "result": "solved", "method": "phone"}
    refused = await system.intake.post(path, json=phone, headers=enterprise.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "method"

    body = {"work_item_id": item, "result": "partly", "comment": "证明已开，但还需补一份说明"}
    given = await system.intake.post(path, json=body, headers=enterprise.headers)
    assert given.status_code == 201, given.text
    assert (given.json()["result_name"], given.json()["method"], given.json()["method_name"]) == (
        "部分解决",
        "online",
        "线上回访",
    )
    again = await system.intake.post(path, json={**body, "result": "solved"}, headers=enterprise.headers)
    assert again.status_code == 409 and again.json()["code"] == "already_followed_up"
    [shown] = (await system.intake.get(path, headers=enterprise.headers)).json()
    assert shown["may_follow_up"] is False and shown["follow_up"]["result"] == "partly"
    timeline = (await enterprise.request(request_id))["timeline"]
    assert any(e["event"] == "request.followed_up" and "部分解决" in e["summary"] for e in timeline)

    # The unit reads it on the item's record (the router logged it); the state stays 已办结.
    async def logged():
        found = (await system.clerk("440112.commerce").item(item)).json()
        return found if any(e["action"] == "follow-up" for e in found["history"]) else None

    found = await eventually(logged, timeout=30)
    entry = next(e for e in found["history"] if e["action"] == "follow-up")
    assert entry["note"] == "线上回访：部分解决。证明已开，但还需补一份说明" and found["state"] == "resolved"

    # The rating beside it still works: the 回访 did not close the item.
    rated = await system.intake.post(
        f"/v1/requests/{request_id}/ratings", json={"work_item_id": item, "score": 4}, headers=enterprise.headers
    )
    assert rated.status_code == 201


async def test_a_liaison_officer_records_a_call_for_an_enterprise_served_only(system):
    uscc, enterprise, request_id, item = await resolved_item(system, "440112.statistics", "statistics")
    await resolve(system, "440112.statistics", item, request_id, enterprise)
    path = f"/v1/requests/{request_id}/follow-ups"
    body = {"work_item_id": item, "result": "unsolved", "comment": "电话联系企业，问题仍在"}

    stranger = system.auth("liaison", usccs=[make_uscc("91440112MA59C5XK1"[:17])], sub="another-liaison")
    assert (await system.intake.post(path, json=body, headers=stranger)).status_code == 404
    supervisor = system.auth("supervisor", region="440112")
    assert (await system.intake.post(path, json=body, headers=supervisor)).status_code == 403
    [seen] = (await system.intake.get(path, headers=supervisor)).json()
    assert seen["may_follow_up"] is False, "a supervisor reads but answers for nobody"
    online = await system.intake.post(
        path, json={**body, "method": "online"}, headers=system.auth("liaison", usccs=[uscc], sub="liaison-x")
    )
    assert online.status_code == 422

    liaison = system.auth("liaison", usccs=[uscc], sub="liaison-x", name="黄埔区驻企联络员")
    given = await system.intake.post(path, json=body, headers=liaison)
    assert given.status_code == 201, given.text
    out = given.json()
    assert (out["method"], out["method_name"], out["result_name"]) == ("phone", "电话回访", "未解决")
    assert (out["recorded_by_role"], out["recorded_by_name"]) == ("liaison", "黄埔区驻企联络员")
    [shown] = (await system.intake.get(path, headers=enterprise.headers)).json()
    assert shown["follow_up"]["comment"] == "电话联系企业，问题仍在"
