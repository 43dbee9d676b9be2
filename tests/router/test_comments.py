"""Issue 29 item 6 — 内部批注 on a work item: the supervisors over it and the unit holding it read
and write them in the item's detail; the enterprise never sees them (not in its request, timeline
or any answer it can get), and no one outside the item's scope reads or adds one."""

from __future__ import annotations

from tests.support import MINGLUO

UNIT = "440112.tax"


async def test_comments_are_for_staff_in_scope_and_never_reach_the_enterprise(system):
    created = await system.enterprise().submit(items=("tax",))
    item = (await system.routed_item(created["id"], UNIT))["id"]
    supervisor, clerk = system.supervisor("440112"), system.clerk(UNIT)

    note = "内部批注：请核实该企业近三年处罚记录后再出具"
    added = await system.router.post(f"/v1/workitems/{item}/comments", json={"body": note}, headers=supervisor.headers)
    assert added.status_code == 201, added.text
    assert (added.json()["author_role"], added.json()["author_role_name"]) == ("supervisor", "督办人员")
    reply = await system.router.post(
        f"/v1/workitems/{item}/comments", json={"body": "已核实，无处罚记录"}, headers=clerk.headers
    )
    assert reply.status_code == 201 and reply.json()["author_unit_name"] == "广州市黄埔区税务局"

    for reader in (supervisor, clerk):
        detail = (await system.router.get(f"/v1/workitems/{item}", headers=reader.headers)).json()
        assert [c["body"] for c in detail["comments"]] == [note, "已核实，无处罚记录"]
        listed = await system.router.get(f"/v1/workitems/{item}/comments", headers=reader.headers)
        assert [c["body"] for c in listed.json()] == [note, "已核实，无处罚记录"]

    blank = await system.router.post(f"/v1/workitems/{item}/comments", json={"body": "  "}, headers=clerk.headers)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body"

    owner = system.auth("enterprise", usccs=[MINGLUO], sub=f"enterprise-{MINGLUO}")
    for method, body in (("GET", None), ("POST", {"body": "企业想看"})):
        refused = await system.router.request(method, f"/v1/workitems/{item}/comments", json=body, headers=owner)
        assert refused.status_code == 403 and note not in refused.text
    await clerk.act(item, "acknowledge")  # a later event reaches intake, and still no comment with it
    await system.enterprise().wait_for_item(created["id"], item, "acknowledged")
    for path in (f"/v1/requests/{created['id']}", "/v1/requests"):
        seen = await system.intake.get(path, headers=owner)
        assert seen.status_code == 200
        assert note not in seen.text and "已核实，无处罚记录" not in seen.text
