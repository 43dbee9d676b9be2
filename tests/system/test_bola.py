"""Broken object-level authorisation, tried on every object endpoint: one request of one
enterprise in 黄埔区 (440112), with an attachment, a work item at 440112.tax, an extension request,
a certificate, and each endpoint asked by its rightful callers (who must get it) and by another
enterprise, another unit, a supervisor of the neighbouring 番禺区 (440113) and no one (who must
get nothing: 401, 403 or 404, and not one byte of the object in the answer)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.support import CERTIFICATE, MINGLUO, OTHER_CO, PDF_BYTES, eventually

OWNER_SUB = f"enterprise-{MINGLUO}"  # the sub of system.enterprise()


@dataclass
class World:
    request_id: str
    reference_no: str
    item_id: str
    attachment_id: str
    certificate_id: str
    extension_id: str
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
    return World(
        request_id=created["id"],
        reference_no=created["reference_no"],
        item_id=item["id"],
        attachment_id=upload["id"],
        certificate_id=certificate["id"],
        extension_id=extension["id"],
        # What a stranger must never read (ids they sent may be echoed back; these may not).
        secrets=[created["reference_no"], "广州明珞装备股份有限公司", "BOLA-内部理由", upload["sha256"]],
    )


def caller(system, who: str) -> dict[str, str]:
    return {
        "owner": lambda: system.auth("enterprise", usccs=[MINGLUO], sub=OWNER_SUB),
        "liaison": lambda: system.auth("liaison", usccs=[MINGLUO], sub="bola-liaison"),
        "unit": lambda: system.auth("department", unit="440112.tax", sub="clerk-440112.tax"),
        "supervisor": lambda: system.auth("supervisor", region="440112", sub="bola-supervisor"),
        "other_enterprise": lambda: system.auth("enterprise", usccs=[OTHER_CO], sub="bola-other"),
        "other_unit": lambda: system.auth("department", unit="440112.commerce", sub="bola-other-clerk"),
        "neighbour_supervisor": lambda: system.auth("supervisor", region="440113", sub="bola-neighbour"),
        "nobody": lambda: {},
    }[who]()


STRANGERS = ("other_enterprise", "other_unit", "neighbour_supervisor", "nobody")

# service, method, path template, body, rightful callers
ENDPOINTS = [
    ("intake", "GET", "/v1/requests/{request_id}", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/requests/{request_id}/ratings", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/requests/{request_id}/files/{attachment_id}", None, ("owner", "liaison", "supervisor")),
    ("intake", "GET", "/v1/attachments/{attachment_id}", None, ("owner",)),
    ("intake", "POST", "/v1/requests/{request_id}/supplements", {"work_item_id": "{item_id}", "text": "x"}, ()),
    ("intake", "POST", "/v1/requests/{request_id}/ratings", {"work_item_id": "{item_id}", "score": 5}, ()),
    ("router", "GET", "/v1/workitems/{item_id}", None, ("unit", "supervisor")),
    ("router", "GET", "/v1/workitems/{item_id}/files/{attachment_id}", None, ("unit", "supervisor")),
    ("router", "GET", "/v1/workitems/{item_id}/files/{certificate_id}", None, ("unit", "supervisor")),
    ("router", "POST", "/v1/workitems/{item_id}/progress", {"note": "BOLA"}, ("unit",)),
    ("router", "POST", "/v1/extensions/{extension_id}/approve", None, ()),
    ("notifier", "GET", "/v1/sla/{item_id}", None, ("unit", "supervisor")),
    ("notifier", "GET", "/v1/notifications?work_item_id={item_id}", None, ("supervisor",)),
]
# Moves the rightful caller could make are left out of the "rightful" column above when making
# them would change the world the other rows look at (a rating, a supplement, an approval); their
# strangers' rows are what this test is about.


def _fill(template, world: World):
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: _fill(v, world) for k, v in template.items()}
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
    listing = response.status_code == 200 and "?" in path and response.json() == []  # a filtered list: empty
    assert listing or response.status_code in (401, 403, 404), f"{who}: {response.status_code} {response.text[:200]}"
    text = response.text
    assert not any(secret in text for secret in world.secrets), f"{who} learned something: {text[:200]}"
    assert PDF_BYTES not in response.content and CERTIFICATE not in response.content
    if who == "nobody":
        assert response.status_code == 401


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
