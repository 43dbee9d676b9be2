"""Issue 29, items 3 and 4 (the router's part): a clerk takes (认领) an item of their unit, the
unit's lead (科长) assigns and reassigns it, each change a line of the item's history; the queue
filters by 承办人, openness and kind of request, sorts by deadline, received, enterprise and state
in either direction, and its keyset pages add up to the whole list under every order; the lead
alone reads the figures per person."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from shared.validation import make_uscc
from shared.vocabulary import QUEUE_ORDERS, WORK_ITEM_STATES
from tests.support import certificate_request, eventually

UNIT = "440112.tax"


def people(system, tag: str) -> dict[str, dict[str, str]]:
    return {
        "lead": system.auth("department", unit=UNIT, lead=True, sub=f"lead-{tag}", name="王科长"),
        "li": system.auth("department", unit=UNIT, sub=f"li-{tag}", name="李四"),
        "zhang": system.auth("department", unit=UNIT, sub=f"zhang-{tag}", name="张三"),
    }


async def items_for(system, tag: str, names: list[str]) -> list[str]:
    """One tax item at UNIT per name, each for an enterprise of that name (tagged: this test's own)."""
    ids = []
    for name in names:
        uscc = make_uscc(f"91440112MA{uuid.uuid4().int % 10**7:07d}")
        body = certificate_request(enterprise=uscc, items=("tax",))
        body["enterprise"]["name"] = f"承办{tag}{name}有限公司"
        created = await system.enterprise(uscc).submit(body)
        [item] = await system.routed_items(created["id"], 1)
        ids.append(item.id)
    return ids


async def listed(system, headers, **params) -> list[dict]:
    response = await system.router.get("/v1/workitems", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_clerk_takes_an_item_and_the_lead_reassigns_it_in_its_history(system):
    tag = uuid.uuid4().hex[:6]
    who = people(system, tag)
    [item_id] = await items_for(system, tag, ["甲"])
    url = f"/v1/workitems/{item_id}"

    taken = await system.router.post(f"{url}/claim", headers=who["li"])
    assert taken.status_code == 200, taken.text
    assert (taken.json()["assignee_sub"], taken.json()["assignee_name"]) == (f"li-{tag}", "李四")
    again = await system.router.post(f"{url}/claim", headers=who["li"])
    assert again.status_code == 200, "taking one's own item again changes nothing"

    refused = await system.router.post(f"{url}/claim", headers=who["zhang"])
    assert refused.status_code == 403 and refused.json()["code"] == "assigned_to_another"
    assert "李四" in refused.json()["title"], "the refusal names who holds it"
    not_lead = await system.router.post(
        f"{url}/assign", json={"assignee_sub": f"zhang-{tag}", "assignee_name": "张三"}, headers=who["li"]
    )
    assert not_lead.status_code == 403 and not_lead.json()["code"] == "lead_only"

    moved = await system.router.post(
        f"{url}/assign", json={"assignee_sub": f"zhang-{tag}", "assignee_name": "张三"}, headers=who["lead"]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee_name"] == "张三"
    history = (await system.router.get(url, headers=who["zhang"])).json()["history"]
    lines = [(h["action"], h["actor_name"], h["note"]) for h in history if h["action"] in ("claim", "assign")]
    assert lines == [("claim", "李四", "承办人：李四"), ("assign", "王科长", "承办人：李四 → 张三")]
    assert all(h["from"] == h["to"] for h in history if h["action"] in ("claim", "assign")), "no state changes"

    blank = await system.router.post(
        f"{url}/assign", json={"assignee_sub": "", "assignee_name": "张三"}, headers=who["lead"]
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"].endswith("assignee_sub")
    assert (await system.router.get(url, headers=who["lead"])).json()["assignee_name"] == "张三", "nothing changed"


async def test_an_item_that_leaves_the_unit_leaves_its_assignee_behind(system):
    tag = uuid.uuid4().hex[:6]
    who = people(system, tag)
    [item_id] = await items_for(system, tag, ["乙"])
    assert (await system.router.post(f"/v1/workitems/{item_id}/claim", headers=who["li"])).status_code == 200
    clerk = system.clerk(UNIT)
    moved = await clerk.act(item_id, "transfer", to_unit="440112.market_regulation", reason="非本单位职责")
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee_sub"] is None
    theirs = system.auth("department", unit="440112.market_regulation", sub=f"mr-{tag}", name="赵六")
    assert (await system.router.post(f"/v1/workitems/{item_id}/claim", headers=theirs)).status_code == 200


async def test_the_queue_filters_by_assignee_openness_and_kind_and_the_lead_reads_figures(system):
    tag = uuid.uuid4().hex[:6]
    who = people(system, tag)
    mine, theirs, nobodys, done = await items_for(system, tag, ["甲", "乙", "丙", "丁"])
    for item_id, person in ((mine, "li"), (done, "li"), (theirs, "zhang")):
        assert (await system.router.post(f"/v1/workitems/{item_id}/claim", headers=who[person])).status_code == 200
    clerk = system.clerk(UNIT)
    assert (await clerk.act(done, "acknowledge")).status_code == 200
    resolved = await clerk.act(done, "resolve", outcome="not_issued", note="存在欠税记录")
    assert resolved.status_code == 200, resolved.text

    def ids(rows):
        return {r["id"] for r in rows}

    assert ids(await listed(system, who["li"], q=tag, assignee="me")) == {mine, done}
    assert ids(await listed(system, who["li"], q=tag, assignee="me", open="true")) == {mine}, "我的待办"
    assert ids(await listed(system, who["li"], q=tag, assignee="none")) == {nobodys}
    assert ids(await listed(system, who["lead"], q=tag, assignee=f"zhang-{tag}")) == {theirs}
    assert ids(await listed(system, who["li"], q=tag, request_type="consultation")) == set()
    assert len(await listed(system, who["li"], q=tag, request_type="compliance_certificate")) == 4
    counts = await system.router.get("/v1/workitems/counts", params={"q": tag, "assignee": "me"}, headers=who["li"])
    assert counts.json()["total"] == 2
    bad = await system.router.get("/v1/workitems", params={"request_type": "nonsense"}, headers=who["li"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("request_type")

    figures = await system.router.get("/v1/workitems/assignees", headers=who["lead"])
    assert figures.status_code == 200, figures.text
    by_person = {f["assignee_sub"]: f for f in figures.json()}
    assert by_person[f"li-{tag}"] == {
        "assignee_sub": f"li-{tag}",
        "assignee_name": "李四",
        "open": 1,
        "finished": 1,
        "finished_on_time": 1,
    }
    assert (by_person[f"zhang-{tag}"]["open"], by_person[f"zhang-{tag}"]["finished"]) == (1, 0)
    assert (await system.router.get("/v1/workitems/assignees", headers=who["li"])).status_code == 403


def sort_key(order: str, item: dict):
    due = item["acknowledge_due_at"] if item["state"] in ("dispatched", "returned") else item["resolve_due_at"]
    return {
        "deadline": (due is None, due or "", item["id"]),
        "created": (item["created_at"], item["id"]),
        "enterprise": (item["subject_name"], item["id"]),
        "state": (list(WORK_ITEM_STATES).index(item["state"]), item["created_at"], item["id"]),
    }[order]


@pytest.fixture(scope="module")
async def sorted_world(system):
    """Six items of three enterprises, in three states, each with its deadlines known."""
    tag = uuid.uuid4().hex[:6]
    ids = await items_for(system, tag, ["丙", "甲", "乙", "甲", "丙", "乙"])
    clerk = system.clerk(UNIT)
    for item_id in ids[:2]:
        assert (await clerk.act(item_id, "acknowledge")).status_code == 200
    assert (await clerk.act(ids[2], "acknowledge")).status_code == 200
    assert (await clerk.act(ids[2], "progress", note="已调取纳税记录")).status_code == 200

    async def deadlines_known():
        rows = await listed(system, clerk.headers, q=tag)
        due = [sort_key("deadline", r)[0] for r in rows]
        return rows if len(rows) == 6 and not any(due) else None

    await eventually(deadlines_known)
    return tag


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("order", list(QUEUE_ORDERS))
async def test_keyset_pages_add_up_to_the_whole_sorted_queue(system, sorted_world, order, descending):
    headers = system.clerk(UNIT).headers
    params = {"q": sorted_world, "order": order, "desc": str(descending).lower()}
    whole = await listed(system, headers, **params)
    assert [r["id"] for r in whole] == [
        r["id"] for r in sorted(whole, key=lambda r: sort_key(order, r), reverse=descending)
    ]
    pages, after = [], None
    while True:
        response = await system.router.get(
            "/v1/workitems", params={**params, "limit": 2, **({"after": after} if after else {})}, headers=headers
        )
        assert response.status_code == 200, response.text
        pages += [r["id"] for r in response.json()]
        after = response.headers.get("x-next-cursor")
        if not after:
            break
    assert pages == [r["id"] for r in whole]


async def test_a_cursor_of_another_order_or_a_broken_one_is_refused(system, sorted_world):
    headers = system.clerk(UNIT).headers
    first = await system.router.get(
        "/v1/workitems", params={"q": sorted_world, "order": "enterprise", "limit": 2}, headers=headers
    )
    cursor = first.headers["x-next-cursor"]
    for params in ({"order": "deadline", "after": cursor}, {"order": "enterprise", "desc": "true", "after": cursor}):
        refused = await system.router.get("/v1/workitems", params={"q": sorted_world, **params}, headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "cursor_invalid"
    broken = await system.router.get("/v1/workitems", params={"after": "not-a-cursor"}, headers=headers)
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "after"
    forged = [  # well-formed, but a number where a name belongs; an instant without its offset
        ("enterprise", {"o": "enterprise", "d": False, "k": [5, "x"]}),
        ("created", {"o": "created", "d": False, "k": [{"at": "2026-01-01T00:00:00"}, "x"]}),
        ("state", {"o": "state", "d": False, "k": [1, None, "x"]}),
    ]
    for order, body in forged:
        after = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
        refused = await system.router.get("/v1/workitems", params={"order": order, "after": after}, headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "cursor_invalid", refused.text
