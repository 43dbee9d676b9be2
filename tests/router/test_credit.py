"""信用代证 (issue 12): a certificate bundle is split by the 专项信用报告 coverage in force for each
subject's province (and city) on the submission day. Covered kinds become items of state
``credit_report`` (no unit, no inbox message, no clock) until the enterprise uploads the report;
the rest route as before. On the real broker and database.

The coverage seed (services/router/credit_coverage.yaml) is loaded into the session's shared
registry by this module and, when it ends, an admin gives every region that covered something a
new version covering nothing — so the other test modules' requests (submitted afterwards) route
every kind to departments as they expect. What a subject's report covers is read from the seed
file here, never written out, so richer data keeps the tests true."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from services.notifier.models import CoveredItem, Notification
from services.router import credit
from services.router.models import CreditCoverage, CreditItem, WorkItem
from shared import events, regions
from shared.validation import make_uscc
from shared.vocabulary import WORK_ITEM_STATES
from tests.intake.groups import related
from tests.support import (
    MINGLUO,
    MINGLUO_SH,
    PDF_BYTES,
    PNG_BYTES,
    certificate_request,
    eventually,
    header,
    read_topics,
)

SH = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}
# A subsidiary in 苏州市虎丘区: 江苏省's list could not be read, 苏州市's own plan lists its areas.
SUZHOU = {"uscc": make_uscc("91320505MA1N7B4K2"), "name": "明珞(苏州)智能科技有限公司", "region_code": "320505"}
HUNAN = {"uscc": make_uscc("91430624MA4L12340"), "name": "明珞(湘阴)有限公司", "region_code": "430624"}
TEN = (
    "commerce",
    "statistics",
    "public_security",
    "ecology_environment",
    "transport",
    "tax",
    "customs",
    "market_regulation",
    "human_resources",
    "development_reform",
)
NATIONAL_ADMIN = {"sub": "credit-national-admin"}


def seeded_kinds(region_code: str, day: date | None = None) -> set[str]:
    """What the seed file says a subject in ``region_code`` may replace by its report on ``day``:
    the last version in force of its province and of its city, together."""
    day = day or date.today()
    in_force: dict[str, credit.SeedVersion] = {}
    for entry in credit.read_seed():
        if entry.region_code in regions.lineage(region_code) and entry.fields.effective_from <= day:
            in_force[entry.region_code] = entry  # the file lists each region's versions in order
    return {kind for entry in in_force.values() for kind in entry.fields.kinds}


def split(region_code: str, items=TEN) -> tuple[list[str], list[str]]:
    """(covered, to departments) for ``items`` of a subject in ``region_code``, from the seed file."""
    kinds = seeded_kinds(region_code)
    return [k for k in items if k in kinds], [k for k in items if k not in kinds]


GZ_COVERED, GZ_ROUTED = split("440112")
COVERED, ALSO_COVERED = GZ_COVERED[:2]  # two kinds Guangdong's report covers ...
ROUTED = GZ_ROUTED[0]  # ... and one it does not


def test_the_seed_gives_the_tests_something_to_split():
    assert len(GZ_COVERED) >= 2 and GZ_ROUTED, "Guangdong covers some of the ten kinds and not others"
    covered, routed = split("320505", ("tax", "commerce", "statistics", "customs"))
    assert covered and routed, "苏州市's plan covers some of these four and not the others"


@pytest.fixture(scope="module", autouse=True)
async def subsidiaries(system):
    """Who may ask about whom: the registry relates the subsidiaries these tests name to MINGLUO."""
    for subject in (SH, SUZHOU, HUNAN):
        await related(system, subject)


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


async def in_force(system, region_code: str) -> dict | None:
    shown = await system.router.get(f"/v1/credit-coverage/{region_code}", headers=system.enterprise().headers)
    return shown.json()["in_force"]


async def credit_items(system, request_id: str, count: int, check=lambda rows: True) -> list[CreditItem]:
    async def found():
        async with system.runtimes["router"].sessions() as session:
            rows = list(await session.scalars(select(CreditItem).where(CreditItem.request_id == request_id)))
            return rows if len(rows) == count and check(rows) else None

    return await eventually(found)


async def covered_in_notifier(system, item_ids, state: str) -> list[CoveredItem]:
    async def found():
        async with system.runtimes["notifier"].sessions() as session:
            rows = list(await session.scalars(select(CoveredItem).where(CoveredItem.work_item_id.in_(item_ids))))
            return rows if len(rows) == len(item_ids) and {r.state for r in rows} == {state} else None

    return await eventually(found)


async def request_seen(system, request_id: str, check):
    async def seen():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=system.enterprise().headers)).json()
        return body if check(body) else None

    return await eventually(seen)


async def upload_pdf(system, content=PDF_BYTES, name="专项信用报告.pdf", kind="application/pdf") -> dict:
    response = await system.intake.post(
        "/v1/attachments", files={"file": (name, content, kind)}, headers=system.enterprise().headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def workitem_events(system, request_id: str, until) -> list[dict]:
    """This request's ``workitems.events`` messages, with their ce_type, once ``until`` holds."""

    def mine(records):
        key = request_id.encode()
        return [json.loads(r.value) | {"_type": header(r, "ce_type")} for r in records if r.key == key]

    records = await read_topics(
        system.settings.kafka_bootstrap_servers, [events.WORKITEMS_EVENTS], until=lambda rs: until(mine(rs))
    )
    return mine(records)


# --- the split: preview, stored request, inbox topics ------------------------------------------------------
async def test_a_guangzhou_enterprise_and_its_shanghai_subsidiary_split_ten_kinds(system):
    sh_covered, sh_routed = split("310115")
    gd, sh = await in_force(system, "440000"), await in_force(system, "310000")
    preview = await system.router.post(
        "/v1/routing/preview", json=certificate_request(subjects=[SH], items=TEN), headers=system.enterprise().headers
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    reports = {r["subject_uscc"]: r for r in shown["credit_reports"]}
    gz = reports[MINGLUO]
    assert [c["item"] for c in gz["covered_items"]] == GZ_COVERED
    assert gz["site"]["name"] == gd["site"]["name"] and gz["coverage"][0]["region_code"] == "440000"
    assert all("专项信用报告覆盖" in c["reason"] for c in gz["covered_items"])
    # Shanghai: what its seeded data covers (the list of its 41 领域 could not be read: nothing yet).
    assert [c["item"] for c in reports[MINGLUO_SH]["covered_items"]] == sh_covered
    assert (reports[MINGLUO_SH]["site"] is None) == (not sh_covered)
    routed = {(w["subject_uscc"], w["item"]): w for w in shown["work_items"]}
    assert set(routed) == {(MINGLUO, k) for k in GZ_ROUTED} | {(MINGLUO_SH, k) for k in sh_routed}
    assert "未覆盖此项" in routed[(MINGLUO, ROUTED)]["reason"]
    assert f"上海市第{sh['version']}版" in routed[(MINGLUO_SH, sh_routed[0])]["reason"]

    created = await system.enterprise().submit(subjects=[SH], items=TEN)
    covered = await credit_items(system, created["id"], len(GZ_COVERED) + len(sh_covered))
    items = await system.routed_items(created["id"], len(GZ_ROUTED) + len(sh_routed))
    assert {(c.subject_uscc, c.item) for c in covered} == {(MINGLUO, k) for k in GZ_COVERED} | {
        (MINGLUO_SH, k) for k in sh_covered
    }
    assert {(c.coverage_region, c.coverage_version, c.state) for c in covered if c.subject_uscc == MINGLUO} == {
        ("440000", gd["version"], "credit_report")
    }
    assert {(i.subject_uscc, i.unit_code) for i in items} == {(MINGLUO, f"440112.{k}") for k in GZ_ROUTED} | {
        (MINGLUO_SH, f"310115.{k}") for k in sh_routed
    }
    # Each routed item records, in a column, the coverage versions it was decided under.
    versions = {MINGLUO: [{"region_code": "440000", "version": gd["version"]}]}
    versions[MINGLUO_SH] = [{"region_code": "310000", "version": sh["version"]}]
    assert all(i.credit_coverage == versions[i.subject_uscc] for i in items)

    # The stored request shows the split: one report entry for the Guangzhou subject, with the site.
    seen = await request_seen(system, created["id"], lambda b: len(b["work_items"]) == 20 and b["credit_reports"])
    report = next(r for r in seen["credit_reports"] if r["subject_uscc"] == MINGLUO)
    assert report["status"] == "to_obtain" and report["status_name"] == "待上传"
    assert [i["code"] for i in report["items"]] == GZ_COVERED and report["site"]["name"] == gd["site"]["name"]
    assert report["coverage"] == [f"440000 v{gd['version']}"]
    by_status = {}
    for item in seen["work_items"]:
        by_status.setdefault(item["status"], set()).add((item["subject_uscc"], item["item"]))
    assert by_status["credit_report"] == {(MINGLUO, k) for k in GZ_COVERED} | {(MINGLUO_SH, k) for k in sh_covered}
    assert all(i["status_name"] == "待上传专项信用报告" for i in seen["work_items"] if i["status"] == "credit_report")
    label = {MINGLUO: f"440000 v{gd['version']}", MINGLUO_SH: f"310000 v{sh['version']}"}
    assert all(i["coverage"] == label[i["subject_uscc"]] for i in seen["work_items"]), "covered and routed alike"
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
    assert not {r.topic for r in mine} & {events.dept_inbox(f"440112.{k}") for k in GZ_COVERED}


async def test_certificate_anyway_routes_a_covered_kind_to_its_unit(system):
    catalogue = (await system.intake.get("/v1/catalogue")).json()["request_types"]
    form = {f["name"]: f for f in next(t for t in catalogue if t["code"] == "compliance_certificate")["form"]}
    assert form["certificate_anyway"]["label_zh"].startswith("仍需部门出具证明")
    created = await system.enterprise().submit(items=(COVERED, ALSO_COVERED), certificate_anyway=[COVERED])
    [anyway] = await system.routed_items(created["id"], 1)
    [kept] = await credit_items(system, created["id"], 1)
    assert anyway.unit_code == f"440112.{COVERED}" and "企业仍要求部门出具" in anyway.routing_reason
    assert anyway.credit_coverage == [{"region_code": "440000", "version": kept.coverage_version}]
    assert kept.item == ALSO_COVERED
    # Only kinds of the request may be named, and only on certificate requests.
    bad = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=[ROUTED], certificate_anyway=[COVERED]),
        headers=system.enterprise().headers,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "certificate_anyway"


# --- the enterprise's upload, everywhere ------------------------------------------------------------------
async def ratings_names(system, request_id: str) -> dict[str, str]:
    shown = await system.intake.get(f"/v1/requests/{request_id}/ratings", headers=system.enterprise().headers)
    return {i["work_item_id"]: i["status_name"] for i in shown.json()}


async def test_an_uploaded_report_fulfils_the_covered_items_everywhere_and_the_request_is_done_when_all_are(
    system,
):
    created = await system.enterprise().submit(items=(COVERED, ROUTED))
    [routed] = await system.routed_items(created["id"], 1)
    [covered] = await credit_items(system, created["id"], 1)
    await request_seen(system, created["id"], lambda b: b["credit_reports"] and len(b["work_items"]) == 2)
    url = f"/v1/requests/{created['id']}/credit-reports"
    # One name for the state wherever a person reads it: the request, the rating screen, the ledger.
    to_obtain = WORK_ITEM_STATES.zh("credit_report")
    assert to_obtain == "待上传专项信用报告" and (await ratings_names(system, created["id"]))[covered.id] == to_obtain

    # Refusals name the field: a subject with nothing covered, a file that is not a PDF.
    pdf = await upload_pdf(system)
    nothing = await system.intake.post(
        url, json={"subject_uscc": MINGLUO_SH, "attachment_id": pdf["id"]}, headers=system.enterprise().headers
    )
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["field"] == "subject_uscc"
    png = await upload_pdf(system, content=PNG_BYTES, name="截图.png", kind="image/png")
    not_pdf = await system.intake.post(
        url, json={"subject_uscc": MINGLUO, "attachment_id": png["id"]}, headers=system.enterprise().headers
    )
    assert not_pdf.status_code == 422 and not_pdf.json()["errors"][0]["field"] == "attachment_id"

    uploaded = await system.intake.post(
        url, json={"subject_uscc": MINGLUO, "attachment_id": pdf["id"]}, headers=system.enterprise().headers
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["status"] == "uploaded" and uploaded.json()["file"]["purpose_name"] == "专项信用报告"
    seen = (await system.intake.get(f"/v1/requests/{created['id']}", headers=system.enterprise().headers)).json()
    view = next(i for i in seen["work_items"] if i["id"] == covered.id)
    fulfilled = WORK_ITEM_STATES.zh("credit_report_uploaded")
    assert view["status"] == "credit_report_uploaded" and view["status_name"] == fulfilled == "已由专项信用报告替代"
    assert (await ratings_names(system, created["id"]))[covered.id] == fulfilled
    entry = next(t for t in seen["timeline"] if t["event"] == "credit_report.uploaded")
    assert "替代1项证明" in entry["summary"] and entry["files"][0]["id"] == pdf["id"]
    assert seen["status"] != "resolved", f"the {ROUTED} office has not answered yet"

    # The router and the notifier learn it from the upload event: the item is fulfilled there too.
    [confirmed] = await credit_items(system, created["id"], 1, lambda rows: rows[0].state == "credit_report_uploaded")
    assert confirmed.report_file_id == pdf["id"] and confirmed.version == 2
    await covered_in_notifier(system, [covered.id], "credit_report_uploaded")
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="credit-liaison")
    ledger = (await system.intake.get("/v1/ledger", headers=liaison)).json()["rows"]
    row = next(r for r in ledger if r["work_item_id"] == covered.id)
    assert row["work_item_status"] == fulfilled and row["outcome"] == fulfilled

    # A newer report (a longer period) replaces the file and fulfils nothing twice.
    newer = await upload_pdf(system, content=PDF_BYTES + b"% 60 months\n", name="专项信用报告-60个月.pdf")
    again = await system.intake.post(
        url, json={"subject_uscc": MINGLUO, "attachment_id": newer["id"]}, headers=system.enterprise().headers
    )
    assert again.status_code == 201, again.text
    await credit_items(system, created["id"], 1, lambda rows: rows[0].report_file_id == newer["id"])
    # A later event of the request marks the point up to which the router has published.
    await system.clerk(routed.unit_code).act(routed.id, "acknowledge")
    published = await workitem_events(
        system, created["id"], lambda es: any(e["_type"] == events.WorkItemAcknowledged.ce_type for e in es)
    )
    confirmations = [e for e in published if e["_type"] == events.WorkItemCreditReportUploaded.ce_type]
    assert [(e["work_item_id"], e["state"], e["version"], e["report"]["id"]) for e in confirmations] == [
        (covered.id, "credit_report_uploaded", 2, pdf["id"])
    ]

    certificate = (await system.clerk(routed.unit_code).upload(routed.id)).json()
    await system.clerk(routed.unit_code).act(
        routed.id, "resolve", outcome="issued", document_no="穗黄证〔2026〕12号", attachments=[certificate["id"]]
    )
    # Every item finished: done (办结), and the department's result waits for the enterprise's rating.
    await request_seen(
        system, created["id"], lambda b: b["status"] == "awaiting_rating" and b["step"]["code"] == "done"
    )


async def test_the_enterprise_is_told_to_upload_the_report_once_per_subject(system):
    created = await system.enterprise().submit(items=(COVERED, ALSO_COVERED))
    covered = await credit_items(system, created["id"], 2)
    await covered_in_notifier(system, [c.id for c in covered], "credit_report")
    seen = await request_seen(system, created["id"], lambda b: b["status"] == "awaiting_report")
    assert seen["status_name"] == "待上传报告" and {t["kind"] for t in seen["your_turn"]} == {"credit_report"}
    assert "待上传报告 2" in seen["summary"]["zh"]

    async def told():
        async with system.runtimes["notifier"].sessions() as session:
            rows = list(
                await session.scalars(
                    select(Notification).where(
                        Notification.work_item_id.in_([c.id for c in covered]),
                        Notification.kind == "credit_report_awaited",
                    )
                )
            )
            return rows or None

    rows = await eventually(told)
    addresses = [(n.channel, n.address) for n in rows]  # its WeChat too, when an earlier test bound one
    assert ("topic", f"enterprise:{MINGLUO}") in addresses
    assert len(addresses) == len(set(addresses)), "told once for the two items, not once per item"
    assert {(n.recipient_kind, n.title) for n in rows} == {("enterprise", "请上传专项信用报告")}
    assert created["reference_no"] in rows[0].body and "下载后上传" in rows[0].body


# --- versions -------------------------------------------------------------------------------------------
async def test_an_admins_coverage_change_affects_only_requests_submitted_afterwards(system):
    before = await system.enterprise().submit(items=(ALSO_COVERED, ROUTED))
    await credit_items(system, before["id"], 1)
    current = await in_force(system, "440000")
    changed = {**version_body(current), "kinds": [k for k in current["kinds"] if k != ALSO_COVERED]}
    changed["note"] = "该领域暂停以报告替代（测试）"

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

    after = await system.enterprise().submit(items=(ALSO_COVERED, ROUTED))
    routed = {i.item: i for i in await system.routed_items(after["id"], 2)}
    assert routed[ALSO_COVERED].unit_code == f"440112.{ALSO_COVERED}"
    assert f"广东省第{current['version'] + 1}版" in routed[ALSO_COVERED].routing_reason
    assert routed[ALSO_COVERED].credit_coverage == [{"region_code": "440000", "version": current["version"] + 1}]
    [kept] = await credit_items(system, before["id"], 1)  # the earlier request keeps its version
    assert (kept.item, kept.coverage_version) == (ALSO_COVERED, current["version"])

    restored = await system.router.put(
        "/v1/credit-coverage/440000", json={**changed, "kinds": current["kinds"], "note": "恢复"}, headers=gd_admin
    )
    assert restored.status_code == 201


async def test_a_province_with_no_data_routes_everything_as_before(system):
    assert not seeded_kinds("430624"), "湖南省 and 岳阳市 have no coverage data"
    response = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(subjects=[HUNAN], items=TEN),
        headers=system.enterprise().headers,
    )
    far = [w for w in response.json()["work_items"] if w["subject_uscc"] == HUNAN["uscc"]]
    assert {w["item"] for w in far} == set(TEN)
    assert all("暂无专项信用报告覆盖数据" in w["reason"] for w in far)

    created = await system.enterprise().submit(subjects=[HUNAN], items=(COVERED, ROUTED))
    items = await system.routed_items(created["id"], 3)  # Guangzhou keeps COVERED to its report
    hunan = [i for i in items if i.subject_uscc == HUNAN["uscc"]]
    assert {i.item for i in hunan} == {COVERED, ROUTED} and all(i.credit_coverage == [] for i in hunan)
    assert {c.subject_uscc for c in await credit_items(system, created["id"], 1)} == {MINGLUO}


# --- withdrawal, ledger and statistics ----------------------------------------------------------------------
async def substitution(system, region: str = "440000", scope: str = "440000") -> dict:
    supervisor = system.auth("supervisor", region=scope, sub=f"credit-supervisor-{scope}")
    response = await system.notifier.get("/v1/stats/credit-substitution", headers=supervisor)
    assert response.status_code == 200, response.text
    rows = {r["region_code"]: r for r in response.json()["regions"]}
    zero = {"covered_by_credit_report": 0, "by_departments": 0, "fulfilled_by_credit_report": 0}
    return rows.get(region) or zero


async def test_the_ledger_and_statistics_show_the_split(system):
    baseline, city_baseline = await substitution(system), await substitution(system, "440100")
    created = await system.enterprise().submit(items=(COVERED, ALSO_COVERED, ROUTED))
    covered = await credit_items(system, created["id"], 2)
    [routed] = await system.routed_items(created["id"], 1)

    async def counted():
        province, city = await substitution(system), await substitution(system, "440100")
        grew = all(
            now["covered_by_credit_report"] - then["covered_by_credit_report"] >= 2
            and now["by_departments"] > then["by_departments"]
            for now, then in ((province, baseline), (city, city_baseline))
        )
        return (province, city) if grew else None

    province, city = await eventually(counted)
    assert 0 < province["substitution_rate"] < 1 and province["level_name"] == "省级"
    assert city["level"] == "city" and city["region_name"] == "广州市", "a 黄埔区 subject counts in 广州市 too"
    # No clock for a covered item; the department item has one; unit statistics know no report.
    supervisor = system.auth("supervisor", region="440000", sub="credit-supervisor")

    async def clock_of(item_id):
        return (await system.notifier.get(f"/v1/sla/{item_id}", headers=supervisor)).status_code == 200

    await eventually(lambda: clock_of(routed.id))
    assert not await clock_of(covered[0].id)
    units = (await system.notifier.get("/v1/stats/units", headers=supervisor)).json()
    assert not [u for u in units["units"] if u["unit_code"].startswith("credit.")]
    assert units["credit_substitution"]["label"] == "证明替代率"

    await request_seen(system, created["id"], lambda b: len(b["work_items"]) == 3)
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="credit-liaison")
    ledger = (await system.intake.get("/v1/ledger", headers=liaison)).json()["rows"]
    mine = {r["work_item_id"]: r for r in ledger if r["work_item_id"] in {c.id for c in covered} | {routed.id}}
    assert len(mine) == 3
    version = f"440000 v{covered[0].coverage_version}"
    assert {r["coverage"] for r in mine.values()} == {version}, "covered and routed items name the version"
    assert {mine[c.id]["work_item_status"] for c in covered} == {"待上传专项信用报告"}


async def test_withdrawal_ends_covered_items_as_withdrawn_everywhere_and_statistics_count_by_city(system):
    """A Suzhou subsidiary: its department items go to the enterprise's own coordinating office in
    Guangzhou (no units near it), yet they count in 苏州市 and 江苏省, where the subject is."""
    items = ("tax", "commerce", "statistics", "customs")
    sz_covered, sz_routed = split("320505", items)
    gz_covered, gz_routed = split("440112", items)
    before = {code: await substitution(system, code, "320000") for code in ("320000", "320500")}
    preview = await system.router.post(
        "/v1/routing/preview",
        json=certificate_request(subjects=[SUZHOU], items=items),
        headers=system.enterprise().headers,
    )
    report = next(r for r in preview.json()["credit_reports"] if r["subject_uscc"] == SUZHOU["uscc"])
    assert [c["item"] for c in report["covered_items"]] == sz_covered and report["site"]["name"] == "信用苏州"
    assert "苏州市第1版" in report["covered_items"][0]["reason"]

    created = await system.enterprise().submit(subjects=[SUZHOU], items=items)
    covered = await credit_items(system, created["id"], len(sz_covered) + len(gz_covered))
    await system.routed_items(created["id"], len(sz_routed) + len(gz_routed))
    suzhou_items = [c.id for c in covered if c.subject_uscc == SUZHOU["uscc"]]
    await covered_in_notifier(system, [c.id for c in covered], "credit_report")

    async def counted(wanted_covered: int, wanted_dept: int):
        rows = {code: await substitution(system, code, "320000") for code in before}
        exact = all(
            rows[c]["covered_by_credit_report"] - before[c]["covered_by_credit_report"] == wanted_covered
            and rows[c]["by_departments"] - before[c]["by_departments"] == wanted_dept
            for c in before
        )
        return rows if exact else None

    rows = await eventually(lambda: counted(len(sz_covered), len(sz_routed)))
    assert rows["320500"]["level_name"] == "地市级" and rows["320000"]["level_name"] == "省级"

    # In the CSV exports too: the units' export ends with the 证明替代率 table, and its own export.
    supervisor = system.auth("supervisor", region="320000", sub="credit-supervisor-320000")
    units_csv = await system.notifier.get("/v1/stats/units", params={"format": "csv"}, headers=supervisor)
    table = list(csv.reader(io.StringIO(units_csv.content.decode("utf-8-sig"))))
    start = table.index(["证明替代率"])
    assert table[start - 1] == [] and table[start + 1][:4] == ["地区代码", "地区", "层级", "证明事项数"]
    by_code = {row[0]: row for row in table[start + 2 :]}
    assert by_code["320500"][1:3] == ["苏州市", "地市级"] and "合计" in by_code
    assert int(by_code["320500"][5]) == rows["320500"]["covered_by_credit_report"]
    own = await system.notifier.get("/v1/stats/credit-substitution", params={"format": "csv"}, headers=supervisor)
    assert own.headers["content-type"].startswith("text/csv")
    own_rows = {r["地区代码"]: r for r in csv.DictReader(io.StringIO(own.content.decode("utf-8-sig")))}
    assert int(own_rows["320000"]["部门出具"]) == rows["320000"]["by_departments"]
    assert set(own_rows) == {"320000", "320500", "合计"}, "a Jiangsu supervisor sees Jiangsu's rows only"

    withdrawn = await system.intake.post(
        f"/v1/requests/{created['id']}/withdraw",
        json={"reason": "改用专项信用报告"},
        headers=system.enterprise().headers,
    )
    assert withdrawn.status_code == 202, withdrawn.text
    # The router, intake and the notifier all end the covered items as withdrawn.
    await credit_items(system, created["id"], len(covered), lambda rs: {r.state for r in rs} == {"cancelled"})
    seen = await request_seen(
        system,
        created["id"],
        lambda b: (
            {i["status"] for i in b["work_items"] if i["id"] in suzhou_items} == {"cancelled"}
            and b["credit_reports"]
            and all(r["status"] == "withdrawn" for r in b["credit_reports"])
        ),
    )
    assert {r["status_name"] for r in seen["credit_reports"]} == {"已撤销"} and seen["status"] == "withdrawn"
    told = [t["summary"] for t in seen["timeline"] if t["work_item_id"] in suzhou_items]
    assert any("（由专项信用报告替代）已撤销" in t and t.endswith("：改用专项信用报告") for t in told)
    await covered_in_notifier(system, [c.id for c in covered], "cancelled")
    await eventually(lambda: counted(0, 0))

    def cancelled(published):
        return {e["work_item_id"]: e for e in published if e["_type"] == events.WorkItemCancelled.ce_type}

    published = await workitem_events(system, created["id"], lambda es: {c.id for c in covered} <= set(cancelled(es)))
    for item in covered:
        event = cancelled(published)[item.id]
        assert (event["unit_code"], event["version"], event["note"]) == (
            f"credit.{item.coverage_region}",
            2,
            "改用专项信用报告",
        )


# --- the data file ----------------------------------------------------------------------------------------
def test_every_seeded_version_maps_its_areas_to_kinds_and_cites_its_source():
    data = yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8"))
    mapping = data["area_to_kind"]
    for entry in credit.read_seed():
        fields = entry.fields
        assert fields.source.title and fields.source.url, entry.region_code
        if fields.areas == ["全部（应替尽替）"]:
            assert set(fields.kinds) == credit.CERTIFICATE_CODES, entry.region_code
            continue
        mapped = {mapping[a] for a in fields.areas if a in mapping}
        assert set(fields.kinds) == mapped, f"{entry.region_code} {fields.effective_from}"
        if fields.areas_complete and fields.areas_total:
            assert len(fields.areas) == fields.areas_total, entry.region_code


async def test_a_malformed_coverage_entry_is_refused_at_load_time_with_every_fault_named(system, tmp_path: Path):
    assert len(credit.read_seed()) > 10  # the shipped file loads cleanly
    data = yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8"))
    guangdong = data["provinces"]["440000"]["versions"][0]["kinds"]
    guangdong.append("taxes")
    shanghai = data["provinces"]["310000"]["versions"]
    shanghai[1]["effective_from"] = shanghai[0]["effective_from"]
    del data["provinces"]["110000"]["versions"][0]["source"]
    broken = tmp_path / "credit_coverage.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    with pytest.raises(credit.CoverageFileError) as refused:
        credit.read_seed(broken)
    text = str(refused.value)
    assert f"provinces.440000.versions.0.kinds.{len(guangdong) - 1}" in text and "taxes" in text
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
    created = await system.enterprise().submit(items=(ROUTED,))
    [item] = await system.routed_items(created["id"], 1)
    assert isinstance(item, WorkItem) and item.unit_code == f"440112.{ROUTED}"
