"""Issue 29: a unit's reply templates for 补正 and 退回. Every clerk of the unit reads them, only
its lead (科长, the token's ``lead`` claim) writes them, another unit finds none (404); a
placeholder the vocabulary does not know is refused naming the field in Chinese and English, and
nothing is stored; an item's clerks get them filled with that item's enterprise, item and number."""

from __future__ import annotations

from services.router.reply_templates import placeholder_values
from shared.vocabulary import TEMPLATE_PLACEHOLDERS

UNIT = "440112.housing_construction"  # few other tests send work here
OTHER = "440112.natural_resources"
BASE = f"/v1/units/{UNIT}/templates"
SUPPLEMENT = {
    "kind": "supplement",
    "title": "缺营业执照",
    "body": "请{企业名称}就{事项}（{诉求编号}）补交营业执照副本。",
}


def lead(system, unit: str = UNIT) -> dict[str, str]:
    return system.auth("department", unit=unit, lead=True, sub=f"lead-{unit}")


def clerk(system, unit: str = UNIT) -> dict[str, str]:
    return system.auth("department", unit=unit, sub=f"clerk-{unit}")


async def test_the_lead_adds_changes_and_deletes_templates_and_every_clerk_reads_them(system):
    added = await system.router.post(BASE, json=SUPPLEMENT, headers=lead(system))
    assert added.status_code == 201, added.text
    template = added.json()
    assert (template["kind"], template["title"], template["unit_code"]) == ("supplement", "缺营业执照", UNIT)
    assert template["updated_by"] == f"lead-{UNIT}"

    listed = await system.router.get(BASE, params={"kind": "supplement"}, headers=clerk(system))
    assert listed.status_code == 200
    assert template["id"] in [t["id"] for t in listed.json()]
    returns = await system.router.get(BASE, params={"kind": "return"}, headers=clerk(system))
    assert template["id"] not in [t["id"] for t in returns.json()]

    changed = await system.router.put(
        f"{BASE}/{template['id']}",
        json={"kind": "return", "title": "非本单位职责", "body": "{事项}不属本局职责，请向规划和自然资源局申请。"},
        headers=lead(system),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["kind"], changed.json()["title"]) == ("return", "非本单位职责")
    returns = await system.router.get(BASE, params={"kind": "return"}, headers=clerk(system))
    assert [t["body"] for t in returns.json() if t["id"] == template["id"]] == [
        "{事项}不属本局职责，请向规划和自然资源局申请。"
    ]

    deleted = await system.router.delete(f"{BASE}/{template['id']}", headers=lead(system))
    assert deleted.status_code == 204
    after = await system.router.get(BASE, headers=clerk(system))
    assert template["id"] not in [t["id"] for t in after.json()]
    again = await system.router.delete(f"{BASE}/{template['id']}", headers=lead(system))
    assert again.status_code == 404


async def test_only_the_units_lead_writes_its_templates(system):
    refused = await system.router.post(BASE, json=SUPPLEMENT, headers=clerk(system))
    assert refused.status_code == 403 and refused.json()["code"] == "lead_only"
    assert "科长" in refused.json()["title"]
    template = (await system.router.post(BASE, json=SUPPLEMENT, headers=lead(system))).json()
    path = f"{BASE}/{template['id']}"
    change = await system.router.put(path, json={**SUPPLEMENT, "title": "改过"}, headers=clerk(system))
    remove = await system.router.delete(path, headers=clerk(system))
    assert (change.status_code, remove.status_code) == (403, 403)
    supervisor = await system.router.get(BASE, headers=system.auth("supervisor", region="440112"))
    assert supervisor.status_code == 403
    [kept] = [t for t in (await system.router.get(BASE, headers=clerk(system))).json() if t["id"] == template["id"]]
    assert kept["title"] == "缺营业执照", "a refused change changed nothing"


async def test_another_units_templates_are_not_found_even_by_its_lead(system):
    template = (await system.router.post(BASE, json=SUPPLEMENT, headers=lead(system))).json()
    path = f"{BASE}/{template['id']}"
    stranger = lead(system, OTHER)
    for response in (
        await system.router.get(BASE, headers=stranger),
        await system.router.post(BASE, json=SUPPLEMENT, headers=stranger),
        await system.router.put(path, json=SUPPLEMENT, headers=stranger),
        await system.router.delete(path, headers=stranger),
    ):
        assert response.status_code == 404, response.text
        assert "缺营业执照" not in response.text
    # Its own unit's path with another unit's template id: not there either.
    theirs = await system.router.put(f"/v1/units/{OTHER}/templates/{template['id']}", json=SUPPLEMENT, headers=stranger)
    assert theirs.status_code == 404 and theirs.json()["code"] == "template_not_found"
    own = await system.router.get(f"/v1/units/{OTHER}/templates", headers=stranger)
    assert template["id"] not in [t["id"] for t in own.json()]


async def test_an_unknown_placeholder_is_refused_in_both_languages_and_nothing_is_stored(system):
    before = len((await system.router.get(BASE, headers=clerk(system))).json())
    body = {**SUPPLEMENT, "body": "请{公司名}补交材料"}
    refused = await system.router.post(BASE, json=body, headers=lead(system))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"]) == ("body", "placeholder_unknown")
    assert "未知的占位符：{公司名}" in error["message"] and "{企业名称}" in error["message"]
    english = await system.router.post(BASE, json=body, headers={**lead(system), "Accept-Language": "en"})
    assert "Unknown placeholder: {公司名}" in english.json()["errors"][0]["message"]
    unclosed = await system.router.post(BASE, json={**SUPPLEMENT, "body": "请{企业名称补交"}, headers=lead(system))
    assert [e["code"] for e in unclosed.json()["errors"]] == ["placeholder_unclosed"]
    wrong_kind = await system.router.post(BASE, json={**SUPPLEMENT, "kind": "resolve"}, headers=lead(system))
    assert [e["field"] for e in wrong_kind.json()["errors"]] == ["kind"]
    assert len((await system.router.get(BASE, headers=clerk(system))).json()) == before


async def test_an_items_clerks_get_the_templates_filled_for_that_item(system):
    template = (await system.router.post(BASE, json=SUPPLEMENT, headers=lead(system))).json()
    created = await system.enterprise().submit(items=("housing_construction",))
    item = await system.routed_item(created["id"], UNIT)
    filled = await system.router.get(f"/v1/workitems/{item['id']}/templates", headers=clerk(system))
    assert filled.status_code == 200, filled.text
    [mine] = [t for t in filled.json() if t["id"] == template["id"]]
    assert (
        mine["text"] == f"请广州明珞装备股份有限公司就住房和城乡建设局（{created['reference_no']}）补交营业执照副本。"
    )
    others = await system.router.get(f"/v1/workitems/{item['id']}/templates", headers=clerk(system, OTHER))
    assert others.status_code == 404


def test_every_placeholder_of_the_vocabulary_has_a_value():
    class Item:
        subject_name, item = "某公司", "tax"

    class Request:
        request_type, reference_no = "compliance_certificate", "XE-1"

    assert set(placeholder_values(Item, Request)) == set(TEMPLATE_PLACEHOLDERS)
