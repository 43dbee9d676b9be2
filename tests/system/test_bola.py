"""Broken object-level authorisation, tried on every object endpoint: one request of one
enterprise in 黄埔区 (440112), with an attachment, a work item at 440112.tax, an extension request,
a certificate; a second naming its Shanghai subsidiary with the subsidiary's 授权委托书 (an item at
310115.tax); the enterprise-group registry's relation of the two; and each endpoint asked by its
rightful callers (who must get it) and by another enterprise, another unit, a supervisor and an
admin of the neighbouring 番禺区 (440113) and no one (who must get nothing: 401, 403 or 404, and
not one byte of the object in the answer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from shared.clock import SHANGHAI, utcnow
from tests.intake.groups import related
from tests.support import CERTIFICATE, MINGLUO, MINGLUO_SH, OTHER_CO, PDF_BYTES, certificate_request, eventually

OWNER_SUB = f"enterprise-{MINGLUO}"  # the sub of system.enterprise()
SUBSIDIARY = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}
LETTER = "%PDF-1.7\n% 授权委托书 BOLA\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".encode()


@dataclass
class World:
    request_id: str
    reference_no: str
    item_id: str
    attachment_id: str
    certificate_id: str
    extension_id: str
    subsidiary_request_id: str
    subsidiary_item_id: str
    letter_id: str
    supervision_id: str
    tomorrow: str
    template_id: int
    parent: str = MINGLUO
    subsidiary: str = MINGLUO_SH
    enterprise_message_id: int = 0  # 已签收, in the owner's message centre
    unit_message_id: int = 0  # 新工单待签收, in 440112.tax's
    secrets: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def world(system) -> World:
    upload = await system.enterprise().upload()
    created = await system.enterprise().submit(items=("tax",), attachments=[upload["id"]])
    code = "440112.tax"
    item = await system.routed_item(created["id"], code)
    await system.clerk(code).act(item["id"], "acknowledge")
    certificate = (await system.clerk(code).upload(item["id"])).json()
    await system.clerk(code).act(item["id"], "extension", days=2, reason="BOLA-内部理由")
    detail = (await system.router.get(f"/v1/workitems/{item['id']}", headers=caller(system, "unit"))).json()
    [extension] = detail["extensions"]

    async def sla_known():
        return (
            await system.notifier.get(f"/v1/sla/{item['id']}", headers=caller(system, "supervisor"))
        ).status_code == 200

    await eventually(sla_known)
    subsidiary_request, subsidiary_item, letter = await _subsidiary_request(system)
    tomorrow = (utcnow().astimezone(SHANGHAI).date() + timedelta(days=1)).isoformat()
    supervision = await system.notifier.post(
        "/v1/supervisions",
        json={"unit_code": code, "note": "BOLA-督办事项", "due_on": tomorrow},
        headers=caller(system, "supervisor"),
    )
    assert supervision.status_code == 201, supervision.text
    template = await system.router.post(
        f"/v1/units/{code}/templates", json=TEMPLATE_BODY, headers=caller(system, "unit_lead")
    )
    assert template.status_code == 201, template.text
    world = World(
        request_id=created["id"],
        reference_no=created["reference_no"],
        item_id=item["id"],
        attachment_id=upload["id"],
        certificate_id=certificate["id"],
        extension_id=extension["id"],
        subsidiary_request_id=subsidiary_request["id"],
        subsidiary_item_id=subsidiary_item,
        letter_id=letter["id"],
        supervision_id=supervision.json()["id"],
        tomorrow=tomorrow,
        template_id=template.json()["id"],
        # What a stranger must never read (ids they sent may be echoed back; these may not).
        secrets=[
            created["reference_no"],
            "广州明珞装备股份有限公司",
            "明珞(上海)科技有限公司",
            "BOLA-内部理由",
            "BOLA-督办事项",
            upload["sha256"],
            letter["sha256"],
            "BOLA-模板标题",
            "BOLA-模板正文",
        ],
    )
    world.enterprise_message_id = await _message(system, "owner", item["id"], "cn.xiaoer.workitem.acknowledged")
    world.unit_message_id = await _message(system, "unit", item["id"], "cn.xiaoer.workitem.dispatched")
    return world


async def _message(system, who: str, item_id: str, kind: str) -> int:
    """The id of the in-app message of ``kind`` about the item that ``who``'s message centre holds."""

    async def found():
        mine = await system.notifier.get("/v1/messages", params={"limit": 100}, headers=caller(system, who))
        return next((m["id"] for m in mine.json()["items"] if (m["work_item_id"], m["kind"]) == (item_id, kind)), None)

    return await eventually(found)


async def _subsidiary_request(system) -> tuple[dict, str, dict]:
    """A request naming the subsidiary with its 授权委托书; the subsidiary related to its parent too."""
    await related(system, SUBSIDIARY)
    letter = await system.enterprise().upload(LETTER, "授权委托书.pdf")
    created = await system.enterprise().submit(
        certificate_request(subjects=[{**SUBSIDIARY, "authorization": letter["id"]}], items=("tax",))
    )
    items = await system.routed_items(created["id"], 2)
    [theirs] = [i for i in items if i.subject_uscc == MINGLUO_SH]
    assert theirs.unit_code == "310115.tax"
    return created, theirs.id, letter


def caller(system, who: str) -> dict[str, str]:
    return {
        "owner": lambda: system.auth("enterprise", usccs=[MINGLUO], sub=OWNER_SUB),
        "liaison": lambda: system.auth("liaison", usccs=[MINGLUO], sub="bola-liaison"),
        "unit": lambda: system.auth("department", unit="440112.tax", sub="clerk-440112.tax"),
        "unit_lead": lambda: system.auth("department", unit="440112.tax", lead=True, sub="lead-440112.tax"),
        "subject_unit": lambda: system.auth("department", unit="310115.tax", sub="clerk-310115.tax"),
        "supervisor": lambda: system.auth("supervisor", region="440112", sub="bola-supervisor"),
        "admin": lambda: system.auth("admin", region="440112", sub="bola-admin"),
        "other_enterprise": lambda: system.auth("enterprise", usccs=[OTHER_CO], sub="bola-other"),
        "other_unit": lambda: system.auth("department", unit="440112.commerce", sub="bola-other-clerk"),
        "lead": lambda: system.auth("department", unit="440112.tax", sub="lead-440112.tax", lead=True),
        "other_lead": lambda: system.auth("department", unit="440112.commerce", lead=True, sub="bola-other-lead"),
        "neighbour_supervisor": lambda: system.auth("supervisor", region="440113", sub="bola-neighbour"),
        "neighbour_admin": lambda: system.auth("admin", region="440113", sub="bola-neighbour-admin"),
        "other_liaison": lambda: system.auth("liaison", usccs=[OTHER_CO], sub="bola-other-liaison"),
        "nobody": lambda: {},
    }[who]()


STRANGERS = (
    "other_enterprise",
    "other_unit",
    "other_lead",
    "neighbour_supervisor",
    "neighbour_admin",
    "other_liaison",
    "nobody",
)
RELATION = "/v1/relations/{parent}/{subsidiary}"
TEMPLATES = "/v1/units/440112.tax/templates"
TEMPLATE_BODY = {"kind": "return", "title": "BOLA-模板标题", "body": "BOLA-模板正文"}
FILTERED_READS = {"/v1/countdowns"}  # a read by POST: what the caller may not see is left out
RELATION_BODY = {
    "parent_name": "广州明珞装备股份有限公司",
    "parent_region": "440112",
    "subject_name": "明珞(上海)科技有限公司",
    "subject_region": "310115",
}
ASSIGN_BODY = {"assignee_sub": "clerk-440112.tax", "assignee_name": "BOLA-承办人"}

# service, method, path template, body, rightful callers
ENDPOINTS = [
    ("intake", "GET", "/v1/requests/{request_id}", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/requests/{request_id}/ratings", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/requests/{request_id}/files/{attachment_id}", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/attachments/{attachment_id}", None, ("owner",)),
    ("intake", "POST", "/v1/requests/{request_id}/supplements", {"work_item_id": "{item_id}", "text": "x"}, ()),
    ("intake", "POST", "/v1/requests/{request_id}/ratings", {"work_item_id": "{item_id}", "score": 5}, ()),
    # 回访 and the liaison officer's list of one enterprise's requests (issue 29).
    ("intake", "GET", "/v1/requests/{request_id}/follow-ups", None, ("owner", "liaison", "supervisor")),
    ("intake", "POST", "/v1/requests/{request_id}/follow-ups", {"work_item_id": "{item_id}", "result": "solved"}, ()),
    ("intake", "GET", "/v1/requests?uscc={parent}", None, ("owner", "liaison", "supervisor", "admin")),
    ("router", "GET", "/v1/workitems/{item_id}", None, ("unit", "supervisor")),
    ("router", "GET", "/v1/workitems/{item_id}/files/{attachment_id}", None, ("unit", "supervisor")),
    ("router", "GET", "/v1/workitems/{item_id}/files/{certificate_id}", None, ("unit", "supervisor")),
    ("router", "POST", "/v1/workitems/{item_id}/progress", {"note": "BOLA"}, ("unit",)),
    ("router", "POST", "/v1/extensions/{extension_id}/approve", None, ()),
    # 承办人 (issue 29): the unit's clerk takes it, its lead assigns it (to the same clerk: the rows
    # may run in any order and leave the world as it was).
    ("router", "POST", "/v1/workitems/{item_id}/claim", None, ("unit",)),
    ("router", "POST", "/v1/workitems/{item_id}/assign", ASSIGN_BODY, ("lead",)),
    ("notifier", "GET", "/v1/sla/{item_id}", None, ("unit", "supervisor")),
    ("notifier", "GET", "/v1/notifications?work_item_id={item_id}", None, ("supervisor",)),
    ("notifier", "POST", "/v1/sla/{item_id}/urge", None, ()),  # 催办: the owner's own in tests/notifier/test_urge.py
    (
        "notifier",
        "POST",
        "/v1/countdowns",
        {"request_ids": ["{request_id}"]},
        ("owner", "liaison", "unit", "supervisor"),
    ),
    # 消息中心: a message is its audience's (an enterprise with its liaison officers, a unit).
    ("notifier", "GET", "/v1/messages/{enterprise_message_id}", None, ("owner", "liaison")),
    ("notifier", "POST", "/v1/messages/{enterprise_message_id}/read", None, ("owner", "liaison")),
    ("notifier", "GET", "/v1/messages/{unit_message_id}", None, ("unit",)),
    ("notifier", "POST", "/v1/messages/{unit_message_id}/read", None, ("unit",)),
    # Who may ask about whom: the subjects' proofs and the enterprise-group registry.
    (
        "intake",
        "GET",
        "/v1/requests/{subsidiary_request_id}/files/{letter_id}",
        None,
        ("owner", "liaison", "supervisor"),
    ),
    ("router", "GET", "/v1/workitems/{subsidiary_item_id}", None, ("subject_unit",)),
    ("router", "GET", "/v1/workitems/{subsidiary_item_id}/files/{letter_id}", None, ("subject_unit",)),
    ("intake", "GET", RELATION, None, ("owner", "liaison", "supervisor", "admin")),
    ("intake", "GET", "/v1/relations?parent_uscc={parent}", None, ("owner", "liaison", "supervisor", "admin")),
    ("intake", "PUT", RELATION, RELATION_BODY, ("liaison", "admin")),
    ("intake", "DELETE", RELATION, None, ()),
    # The board's actions (issue 29 item 6): 内部批注 on an item, a 督办单 to a unit of one's region.
    ("router", "GET", "/v1/workitems/{item_id}/comments", None, ("unit", "supervisor")),
    ("router", "POST", "/v1/workitems/{item_id}/comments", {"body": "BOLA 批注"}, ("unit", "supervisor")),
    (
        "notifier",
        "POST",
        "/v1/supervisions",
        {"unit_code": "440112.tax", "note": "BOLA 再督办", "due_on": "{tomorrow}"},
        ("supervisor", "admin"),
    ),
    ("notifier", "GET", "/v1/supervisions/{supervision_id}", None, ("unit", "supervisor", "admin")),
    ("notifier", "GET", "/v1/supervisions?unit=440112.tax", None, ("unit", "supervisor", "admin")),
    ("notifier", "POST", "/v1/supervisions/{supervision_id}/answer", {"answer": "BOLA 答复"}, ()),
    # A unit's reply templates (issue 29): its clerks read them, its lead writes them.
    ("router", "GET", TEMPLATES, None, ("unit", "unit_lead")),
    ("router", "PUT", TEMPLATES + "/{template_id}", TEMPLATE_BODY, ("unit_lead",)),
    ("router", "DELETE", TEMPLATES + "/{template_id}", None, ()),
    ("router", "GET", "/v1/workitems/{item_id}/templates", None, ("unit", "unit_lead")),
]
# Moves the rightful caller could make are left out of the "rightful" column above when making
# them would change the world the other rows look at (a rating, a supplement, an approval); their
# strangers' rows are what this test is about.


def _fill(template, world: World):
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: _fill(v, world) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, world) for v in template]
    return template.format(**world.__dict__) if isinstance(template, str) else template


CASES = [
    (service, method, path, body, who, who in rightful)
    for service, method, path, body, rightful in ENDPOINTS
    for who in (*rightful, *STRANGERS)
]


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "who", "allowed"),
    CASES,
    ids=[f"{m} {p} as {w}" for _, m, p, _, w, _ in CASES],
)
async def test_every_object_endpoint_answers_only_its_rightful_callers(
    system, world, service, method, path, body, who, allowed
):
    url = _fill(path, world)
    response = await system.clients[service].request(method, url, json=_fill(body, world), headers=caller(system, who))
    if allowed:
        assert response.status_code < 300, response.text
        return
    filtered = "?" in path or path in FILTERED_READS
    found = response.json() if response.status_code == 200 and filtered else None
    listing = found == [] or (isinstance(found, dict) and found.get("items") == [])  # a filtered list: empty
    assert listing or response.status_code in (401, 403, 404), f"{who}: {response.status_code} {response.text[:200]}"
    text = response.text
    assert not any(secret in text for secret in world.secrets), f"{who} learned something: {text[:200]}"
    assert PDF_BYTES not in response.content and CERTIFICATE not in response.content
    assert LETTER not in response.content
    if who == "nobody":
        assert response.status_code == 401


async def test_the_enterprises_list_holds_only_the_callers_own(system, world):
    """``GET /v1/enterprises`` names no object: it is the token's own enterprises, counted. The
    parent's enterprise and liaison officer see it named; another's see only their own; no unit,
    supervisor or admin has such a list."""
    for who in ("owner", "liaison"):
        [own] = (await system.intake.get("/v1/enterprises", headers=caller(system, who))).json()
        assert (own["uscc"], own["name"]) == (MINGLUO, "广州明珞装备股份有限公司") and own["total"] >= 2
    # The list names an enterprise as its latest request does; the suite's requests of the other
    # enterprise may carry the test data's default name (the parent's), so it files one as itself.
    own_name = certificate_request(enterprise=OTHER_CO)
    own_name["enterprise"]["name"] = "广州黄埔另一家科技有限公司"
    filed = await system.intake.post("/v1/requests", json=own_name, headers=caller(system, "other_enterprise"))
    assert filed.status_code == 201, filed.text
    for who in ("other_enterprise", "other_liaison"):
        response = await system.intake.get("/v1/enterprises", headers=caller(system, who))
        assert [e["name"] for e in response.json()] == ["广州黄埔另一家科技有限公司"]
        assert [e["uscc"] for e in response.json()] == [OTHER_CO]
        assert not any(secret in response.text for secret in world.secrets) and MINGLUO not in response.text
    for who in ("other_unit", "neighbour_supervisor", "neighbour_admin", "nobody"):
        response = await system.intake.get("/v1/enterprises", headers=caller(system, who))
        assert response.status_code in (401, 403) and MINGLUO not in response.text, who


async def test_another_enterprise_cannot_name_someone_elses_subsidiary(system, world):
    """The registry relates the subsidiary to its parent, not to whoever names it."""
    body = certificate_request(enterprise=OTHER_CO, subjects=[SUBSIDIARY], items=("tax",))
    refused = await system.intake.post("/v1/requests", json=body, headers=caller(system, "other_enterprise"))
    assert refused.status_code == 422
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [
        ("subjects.0.uscc", "subject_not_authorized")
    ]
    letter = await system.intake.post(
        "/v1/requests",
        json={**body, "subjects": [{**SUBSIDIARY, "authorization": world.letter_id}]},
        headers=caller(system, "other_enterprise"),
    )
    assert letter.status_code == 422, "nor with the parent's copy of the 授权委托书"
    assert [e["code"] for e in letter.json()["errors"]] == ["attachment_unknown"]


async def test_only_the_units_lead_assigns_and_reads_the_figures_per_person(system, world):
    url = f"/v1/workitems/{world.item_id}/assign"
    refused = await system.router.post(url, json=ASSIGN_BODY, headers=caller(system, "unit"))
    assert refused.status_code == 403 and refused.json()["code"] == "lead_only", "a clerk who is not the lead"
    assigned = await system.router.post(url, json=ASSIGN_BODY, headers=caller(system, "lead"))
    assert assigned.status_code == 200, assigned.text

    figures = await system.router.get("/v1/workitems/assignees", headers=caller(system, "lead"))
    assert figures.status_code == 200 and ASSIGN_BODY["assignee_sub"] in figures.text
    for who in ("unit", "other_unit", "supervisor", "neighbour_supervisor", "admin", "owner", "nobody"):
        answer = await system.router.get("/v1/workitems/assignees", headers=caller(system, who))
        assert answer.status_code == (401 if who == "nobody" else 403), f"{who}: {answer.status_code}"
    theirs = await system.router.get("/v1/workitems/assignees", headers=caller(system, "other_lead"))
    assert theirs.status_code == 200 and ASSIGN_BODY["assignee_sub"] not in theirs.text, "their own unit's only"


# --- hostile input ----------------------------------------------------------------------------------------
async def test_oversized_and_deeply_nested_bodies_are_refused_cleanly(system):
    headers = caller(system, "owner")
    big = await system.intake.post(
        "/v1/requests",
        content=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={**headers, "content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["code"] == "body_too_large"

    async def streamed():  # no Content-Length: refused once the stream passes the limit
        for _ in range(40):
            yield b"a" * 65536

    chunked = await system.intake.post(
        "/v1/requests", content=streamed(), headers={**headers, "content-type": "application/json"}
    )
    assert chunked.status_code == 413
    deep = await system.intake.post(
        "/v1/requests", content=b"[" * 100_000 + b"]" * 100_000, headers={**headers, "content-type": "application/json"}
    )
    assert deep.status_code in (400, 413, 422) and deep.headers["content-type"].startswith("application/problem+json")
    nested = await system.intake.post(
        "/v1/requests", content=b"[" * 5_000 + b"]" * 5_000, headers={**headers, "content-type": "application/json"}
    )
    assert nested.status_code in (400, 422) and nested.headers["content-type"].startswith("application/problem+json")
