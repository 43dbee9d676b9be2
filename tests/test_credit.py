"""信用代证 (issue 12): a certificate bundle is split by the 专项信用报告 coverage in force for each
subject's province on the submission day. Covered kinds become items of state ``credit_report``
(no unit, no inbox message, no clock); the rest route as before. On the real broker and database.

The coverage seed (services/router/credit_coverage.yaml) is loaded into the session's shared
registry by this module and, when it ends, an admin gives every province that covered something a
new version covering nothing — so the other test modules' requests (submitted afterwards) route
every kind to departments as they expect."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from services.router import credit
from services.router.models import CreditCoverage, CreditItem, WorkItem
from shared import events
from tests.support import (
    MINGLUO,
    MINGLUO_SH,
    PDF_BYTES,
    PNG_BYTES,
    certificate_request,
    eventually,
    header,
    make_uscc,
    read_topics,
)
from tests.test_router import act, enterprise, router_items, submit

SH = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}
# Guangdong's seeded version covers these five of the ten (and three more not asked here) ...
GD_COVERED = ("commerce", "statistics", "public_security", "ecology_environment", "transport")
# ... and not these (vertically managed or not in the part of its list that could be read).
GD_UNCOVERED = ("tax", "customs", "market_regulation", "human_resources", "development_reform")
TEN = GD_COVERED + GD_UNCOVERED
NATIONAL_ADMIN = {"sub": "credit-national-admin"}


@pytest.fixture(scope="module", autouse=True)
async def coverage(system):
    async with system.runtimes["router"].sessions() as session, session.begin():
        await credit.seed(session)
    yield
    # An admin's change like any other: the other modules' later requests see no coverage.
    admin = system.auth("admin", **NATIONAL_ADMIN)
    for current in (await system.router.get("/v1/credit-coverage", headers=admin)).json():
        if current["kinds"]:
            response = await system.router.put(
                f"/v1/credit-coverage/{current['region_code']}",
                json={**version_body(current), "kinds": [], "note": "测试结束：恢复为不覆盖"},
                headers=admin,
            )
            assert response.status_code == 201, response.text


def version_body(current: dict) -> dict:
    """A PUT body from a version as GET shows it."""
    keys = ("report_name", "areas_total", "areas_complete", "areas", "kinds", "source", "note")
    return {**{k: current[k] for k in keys}, "site": current["site"]}


async def credit_items(system, request_id: str, count: int) -> list[CreditItem]:
    async def check():
        async with system.runtimes["router"].sessions() as session:
            rows = list(await session.scalars(select(CreditItem).where(CreditItem.request_id == request_id)))
            return rows if len(rows) == count else None

    return await eventually(check)


async def request_seen(system, request_id: str, check):
    async def seen():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=enterprise(system))).json()
        return body if check(body) else None

    return await eventually(seen)


async def upload_pdf(system, content=PDF_BYTES, name="专项信用报告.pdf", kind="application/pdf") -> dict:
    response = await system.intake.post(
        "/v1/attachments", files={"file": (name, content, kind)}, headers=enterprise(system)
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- the split: preview, stored request, inbox topics ------------------------------------------------------
async def test_a_guangzhou_enterprise_and_its_shanghai_subsidiary_split_ten_kinds(system):
    body_kwargs = {"subjects": [SH], "items": TEN}
    preview = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(**body_kwargs),
        headers=enterprise(system),
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    reports = {r["subject_uscc"]: r for r in shown["credit_reports"]}
    gz = reports[MINGLUO]
    assert {c["item"] for c in gz["covered_items"]} == set(GD_COVERED)
    assert gz["site"]["name"] == "信用中国（广东）" and gz["coverage"][0]["region_code"] == "440000"
    assert all("专项信用报告覆盖" in c["reason"] for c in gz["covered_items"])
    # Shanghai: the data file records no list (it could not be found), so nothing is covered.
    assert reports[MINGLUO_SH]["covered_items"] == [] and reports[MINGLUO_SH]["site"] is None
    routed = {(w["subject_uscc"], w["item"]): w for w in shown["work_items"]}
    assert set(routed) == {(MINGLUO, k) for k in GD_UNCOVERED} | {(MINGLUO_SH, k) for k in TEN}
    assert "未覆盖此项" in routed[(MINGLUO, "tax")]["reason"]
    assert "上海市第2版" in routed[(MINGLUO_SH, "commerce")]["reason"]

    created = await submit(system, **body_kwargs)
    covered = await credit_items(system, created["id"], 5)
    items = await router_items(system, created["id"], 15)
    assert {(c.subject_uscc, c.item) for c in covered} == {(MINGLUO, k) for k in GD_COVERED}
    assert {(c.coverage_region, c.state) for c in covered} == {("440000", "credit_report")}
    assert {(i.subject_uscc, i.unit_code) for i in items} == {(MINGLUO, f"440112.{k}") for k in GD_UNCOVERED} | {
        (MINGLUO_SH, f"310115.{k}") for k in TEN
    }

    # The stored request shows the split: one report entry for the Guangzhou subject, with the site.
    seen = await request_seen(system, created["id"], lambda b: len(b["work_items"]) == 20 and b["credit_reports"])
    [report] = seen["credit_reports"]
    assert report["subject_uscc"] == MINGLUO and report["status"] == "to_obtain" and report["status_name"] == "待上传"
    assert {i["code"] for i in report["items"]} == set(GD_COVERED) and report["site"]["name"] == "信用中国（广东）"
    assert report["coverage"] == ["440000 v1"]
    by_status = {}
    for item in seen["work_items"]:
        by_status.setdefault(item["status"], set()).add((item["subject_uscc"], item["item"]))
    assert by_status["credit_report"] == {(MINGLUO, k) for k in GD_COVERED}
    assert all(i["status_name"] == "待上传专项信用报告" for i in seen["work_items"] if i["status"] == "credit_report")
    assert any("专项信用报告替代" in t["summary"] for t in seen["timeline"])

    # Only the uncovered kinds reach units' inbox topics.
    topics = sorted({events.dept_inbox(f"{r}.{k}") for r in ("440112", "310115") for k in TEN})
    wanted = {i.id for i in items}
    records = await read_topics(
        system.settings.kafka_bootstrap_servers,
        topics,
        until=lambda rs: wanted <= {header(r, "ce_subject") for r in rs},
    )
    mine = [r for r in records if json.loads(r.value).get("request_id") == created["id"]]
    assert {header(r, "ce_subject") for r in mine} == wanted
    assert not {r.topic for r in mine} & {events.dept_inbox(f"440112.{k}") for k in GD_COVERED}


async def test_certificate_anyway_routes_a_covered_kind_to_its_unit(system):
    catalogue = (await system.intake.get("/v1/catalogue")).json()["request_types"]
    form = {f["name"]: f for f in next(t for t in catalogue if t["code"] == "compliance_certificate")["form"]}
    assert form["certificate_anyway"]["label_zh"].startswith("仍需部门出具证明")
    created = await submit(system, items=("commerce", "statistics"), certificate_anyway=["commerce"])
    [commerce] = await router_items(system, created["id"], 1)
    [statistics] = await credit_items(system, created["id"], 1)
    assert commerce.unit_code == "440112.commerce" and "企业仍要求部门出具" in commerce.routing_reason
    assert statistics.item == "statistics"
    # Only kinds of the request may be named, and only on certificate requests.
    bad = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=["tax"], certificate_anyway=["commerce"]),
        headers=enterprise(system),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "certificate_anyway"


async def test_an_uploaded_report_fulfils_the_covered_items_and_the_request_is_done_when_all_are(system):
    created = await submit(system, items=("commerce", "tax"))
    [tax] = await router_items(system, created["id"], 1)
    await credit_items(system, created["id"], 1)
    await request_seen(system, created["id"], lambda b: b["credit_reports"] and len(b["work_items"]) == 2)
    url = f"/v1/requests/{created['id']}/credit-reports"

    # Refusals name the field: a subject with nothing covered, a file that is not a PDF.
    pdf = await upload_pdf(system)
    nothing = await system.intake.post(
        url, json={"subject_uscc": MINGLUO_SH, "attachment_id": pdf["id"]}, headers=enterprise(system)
    )
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["field"] == "subject_uscc"
    png = await upload_pdf(system, content=PNG_BYTES, name="截图.png", kind="image/png")
    not_pdf = await system.intake.post(
        url, json={"subject_uscc": MINGLUO, "attachment_id": png["id"]}, headers=enterprise(system)
    )
    assert not_pdf.status_code == 422 and not_pdf.json()["errors"][0]["field"] == "attachment_id"

    uploaded = await system.intake.post(
        url, json={"subject_uscc": MINGLUO, "attachment_id": pdf["id"]}, headers=enterprise(system)
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["status"] == "uploaded" and uploaded.json()["file"]["purpose_name"] == "专项信用报告"
    seen = (await system.intake.get(f"/v1/requests/{created['id']}", headers=enterprise(system))).json()
    commerce = next(i for i in seen["work_items"] if i["item"] == "commerce")
    assert commerce["status"] == "credit_report_uploaded" and commerce["status_name"] == "已由专项信用报告替代"
    entry = next(t for t in seen["timeline"] if t["event"] == "credit_report.uploaded")
    assert "替代1项证明" in entry["summary"] and entry["files"][0]["id"] == pdf["id"]
    assert seen["status"] != "resolved", "the tax office has not answered yet"

    await act(system, tax.id, "acknowledge", tax.unit_code)
    await act(system, tax.id, "resolve", tax.unit_code, outcome="issued", document_no="穗黄税证〔2026〕12号")
    await request_seen(system, created["id"], lambda b: b["status"] == "resolved")


# --- versions -------------------------------------------------------------------------------------------
async def test_an_admins_coverage_change_affects_only_requests_submitted_afterwards(system):
    before = await submit(system, items=("statistics", "tax"))
    await credit_items(system, before["id"], 1)
    current = (await system.router.get("/v1/credit-coverage/440000", headers=enterprise(system))).json()["in_force"]
    changed = {**version_body(current), "kinds": [k for k in current["kinds"] if k != "statistics"]}
    changed["note"] = "统计领域暂停以报告替代（测试）"

    # Scope and field-level refusals first.
    shanghai_admin = system.auth("admin", region="310000", sub="credit-sh-admin")
    assert (
        await system.router.put("/v1/credit-coverage/440000", json=changed, headers=shanghai_admin)
    ).status_code == 403
    gd_admin = system.auth("admin", region="440000", sub="credit-gd-admin")
    bad = await system.router.put("/v1/credit-coverage/440000", json={**changed, "kinds": ["taxes"]}, headers=gd_admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("kinds")
    district = await system.router.put("/v1/credit-coverage/440112", json=changed, headers=gd_admin)
    assert district.status_code == 422 and district.json()["errors"][0]["field"] == "region_code"
    past = (date.today() - timedelta(days=1)).isoformat() + "T00:00:00+08:00"
    late = await system.router.put(
        "/v1/credit-coverage/440000", json={**changed, "effective_from": past}, headers=gd_admin
    )
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "effective_from"
    naive = await system.router.put(
        "/v1/credit-coverage/440000", json={**changed, "effective_from": "2100-01-01T00:00:00"}, headers=gd_admin
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "effective_from"

    put = await system.router.put("/v1/credit-coverage/440000", json=changed, headers=gd_admin)
    assert put.status_code == 201, put.text
    assert put.json()["version"] == current["version"] + 1 and put.json()["created_by"] == "admin:credit-gd-admin"

    after = await submit(system, items=("statistics", "tax"))
    routed = {i.item: i for i in await router_items(system, after["id"], 2)}
    assert routed["statistics"].unit_code == "440112.statistics"
    assert f"广东省第{current['version'] + 1}版" in routed["statistics"].routing_reason
    [kept] = await credit_items(system, before["id"], 1)  # the earlier request keeps its version
    assert (kept.item, kept.coverage_version) == ("statistics", current["version"])

    restored = await system.router.put(
        "/v1/credit-coverage/440000", json={**changed, "kinds": current["kinds"], "note": "恢复"}, headers=gd_admin
    )
    assert restored.status_code == 201


async def test_a_province_with_no_data_routes_everything_as_before(system):
    hunan = {"uscc": make_uscc("91430624MA4L12340"), "name": "明珞(湘阴)有限公司", "region_code": "430624"}
    response = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(subjects=[hunan, SH], items=TEN),
        headers=enterprise(system),
    )
    shown = response.json()
    far = [w for w in shown["work_items"] if w["subject_uscc"] == hunan["uscc"]]
    assert {w["item"] for w in far} == set(TEN)
    assert all("暂无专项信用报告覆盖数据" in w["reason"] for w in far)
    assert {w["item"] for w in shown["work_items"] if w["subject_uscc"] == MINGLUO_SH} == set(TEN)


# --- ledger and statistics --------------------------------------------------------------------------------
async def substitution(system) -> dict:
    supervisor = system.auth("supervisor", region="440000", sub="credit-supervisor")
    response = await system.notifier.get("/v1/stats/credit-substitution", headers=supervisor)
    assert response.status_code == 200, response.text
    rows = {r["region_code"]: r for r in response.json()["regions"]}
    return rows.get("440000") or {"covered_by_credit_report": 0, "by_departments": 0}


async def test_the_ledger_and_statistics_show_the_split(system):
    baseline = await substitution(system)
    created = await submit(system, items=("commerce", "statistics", "tax"))
    covered = await credit_items(system, created["id"], 2)
    [tax] = await router_items(system, created["id"], 1)

    async def counted():
        now = await substitution(system)
        grew = now["covered_by_credit_report"] - baseline["covered_by_credit_report"] >= 2
        return now if grew and now["by_departments"] > baseline["by_departments"] else None

    now = await eventually(counted)
    assert 0 < now["substitution_rate"] < 1
    # No clock for a covered item; the department item has one; unit statistics know no report.
    supervisor = system.auth("supervisor", region="440000", sub="credit-supervisor")

    async def clock_of(item_id):
        return (await system.notifier.get(f"/v1/sla/{item_id}", headers=supervisor)).status_code == 200

    await eventually(lambda: clock_of(tax.id))
    assert not await clock_of(covered[0].id)
    units = (await system.notifier.get("/v1/stats/units", headers=supervisor)).json()
    assert not [u for u in units["units"] if u["unit_code"].startswith("credit.")]
    assert units["credit_substitution"]["label"] == "证明替代率"

    await request_seen(system, created["id"], lambda b: len(b["work_items"]) == 3)
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="credit-liaison")
    ledger = (await system.intake.get("/v1/ledger", headers=liaison)).json()["rows"]
    mine = [r for r in ledger if r["work_item_id"] in {c.id for c in covered}]
    assert len(mine) == 2
    assert {r["coverage"] for r in mine} == {f"440000 v{c.coverage_version}" for c in covered}
    assert {r["work_item_status"] for r in mine} == {"待上传专项信用报告"}


# --- the data file ----------------------------------------------------------------------------------------
async def test_a_malformed_coverage_entry_is_refused_at_load_time_with_every_fault_named(system, tmp_path: Path):
    assert len(credit.read_seed()) > 10  # the shipped file loads cleanly
    data = yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8"))
    data["provinces"]["440000"]["versions"][0]["kinds"].append("taxes")
    shanghai = data["provinces"]["310000"]["versions"]
    shanghai[1]["effective_from"] = shanghai[0]["effective_from"]
    del data["provinces"]["110000"]["versions"][0]["source"]
    broken = tmp_path / "credit_coverage.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    with pytest.raises(credit.CoverageFileError) as refused:
        credit.read_seed(broken)
    text = str(refused.value)
    assert "provinces.440000.versions.0.kinds.8" in text and "taxes" in text
    assert "provinces.310000.versions" in text and "provinces.110000.versions.0.source" in text
    assert len(refused.value.problems) == 3

    # Nothing is written from such a file, even into an empty table: the load fails before.
    async with system.runtimes["router"].sessions() as session:
        count = await session.scalar(select(func.count()).select_from(CreditCoverage))
        with pytest.raises(credit.CoverageFileError):
            await credit.seed(session, broken)
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(CreditCoverage)) == count
    # Submissions meanwhile route as usual: the refusal was at load time, never at submission.
    created = await submit(system, items=("tax",))
    [item] = await router_items(system, created["id"], 1)
    assert isinstance(item, WorkItem) and item.unit_code == "440112.tax"
