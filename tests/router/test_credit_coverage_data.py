"""信用代证 coverage data (issue 31): the seed file's every version cites its public source and
maps its 领域 to catalogue kinds as the header says, docs/credit-coverage.md is rendered from the
file as it stands, and for every province or city whose list is complete, a 20-kind certificate
bundle for a subject there is split by the real running system exactly as the list says.

What a region covers is always read from the seed file, never written out here, so richer data
keeps the tests true. The routing tests put the seed's versions in force for the regions they use
(another module may have left other versions in force) and put back what they found when done."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from itertools import pairwise
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from services.router import coverage_report, credit
from services.router.models import CreditItem, WorkItem
from shared import catalogue, regions
from shared.clock import SHANGHAI
from shared.validation import make_uscc
from tests.intake.groups import related
from tests.support import certificate_request, eventually

RAW = yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8"))
ALL_KINDS = [t.code for t in catalogue.CERTIFICATE_KINDS]  # the 20 usual certificates of an IPO filing
NATIONAL_ADMIN = {"sub": "coverage-data-admin"}


def entries() -> list[tuple[str, dict[str, Any]]]:
    """(code, entry) for every province and city in the file."""
    found = []
    for code, province in RAW["provinces"].items():
        found.append((str(code), province))
        found += [(str(c), city) for c, city in (province.get("cities") or {}).items()]
    return found


def versions() -> list[tuple[str, dict[str, Any]]]:
    return [(code, v) for code, entry in entries() for v in entry.get("versions") or []]


def version_id(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}@{item[1]['effective_from']}"


def today() -> date:
    return datetime.now(SHANGHAI).date()


# --- the file ----------------------------------------------------------------------------------------------
def test_the_file_loads_and_names_every_mainland_province():
    assert len(credit.read_seed()) == len(versions()), "the loader takes every version of the file"
    mainland = {r.code for r in coverage_report.mainland_provinces()}
    assert len(mainland) == 31 and set(map(str, RAW["provinces"])) == mainland
    for code, entry in entries():
        assert isinstance(entry.get("read_on"), date) and entry["read_on"] <= RAW["updated_on"], code
        if not entry.get("versions"):
            assert regions.get(code).level == "province" and entry.get("provincial_note"), code


@pytest.mark.parametrize("item", versions(), ids=version_id)
def test_every_version_cites_its_source(item):
    """Document number or title, issuer, date and the address where it was read; a field no copy
    printed stays empty only when the note says so in so many words."""
    code, version = item
    source, note = version["source"], version.get("note") or ""
    assert source.get("document_no") or source.get("title"), code
    assert str(source.get("url") or "").startswith(("http://", "https://")), code
    assert source.get("issuer") or "issuer not seen" in note, f"{code}: issuer, or the note says it was not seen"
    assert isinstance(source.get("date"), date) or "date not seen" in note, f"{code}: date, or the note says so"
    assert isinstance(version["effective_from"], date) and version["effective_from"] <= RAW["updated_on"], code


@pytest.mark.parametrize("item", versions(), ids=version_id)
def test_kinds_are_catalogue_kinds_and_equal_the_mapped_areas(item):
    code, version = item
    mapping = RAW["area_to_kind"]
    assert set(mapping.values()) <= credit.CERTIFICATE_CODES
    assert set(version["kinds"]) <= credit.CERTIFICATE_CODES and len(set(version["kinds"])) == len(version["kinds"])
    if version["areas"] == [coverage_report.ALL_AREAS]:
        assert version["areas_complete"] and set(version["kinds"]) == credit.CERTIFICATE_CODES, code
    else:
        assert set(version["kinds"]) == {mapping[a] for a in version["areas"] if a in mapping}, code
    if version["areas_complete"] and version["areas_total"]:
        assert len(version["areas"]) == version["areas_total"], f"{code}: a complete list has all its 领域"
    if version["areas_total"]:
        assert len(version["areas"]) <= version["areas_total"], code


@pytest.mark.parametrize("code", [c for c, e in entries() if len(e.get("versions") or []) > 1])
def test_effective_dates_strictly_increase(code):
    entry = dict(entries())[code]
    assert all(a["effective_from"] < b["effective_from"] for a, b in pairwise(entry["versions"]))


def test_the_document_is_current():
    text = coverage_report.render(yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8")))
    assert coverage_report.DOC_FILE.read_text(encoding="utf-8") == text, (
        "run `python -m services.router.coverage_report`: docs/credit-coverage.md is stale"
    )


# --- the document's table, on data made up here -----------------------------------------------------------
def made_up_version(day: str, kinds: list[str], complete: bool) -> dict[str, Any]:
    areas = [f"领域{k}" for k in kinds]
    return {
        "effective_from": date.fromisoformat(day),
        "report_name": "专项信用报告",
        "areas_total": len(areas) if complete else None,
        "areas_complete": complete,
        "areas": areas,
        "kinds": kinds,
        "source": {"document_no": "测〔2025〕1号", "title": "测试方案", "issuer": "测试局", "date": None, "url": None},
    }


def table_rows(text: str) -> dict[str, list[str]]:
    """The coverage table's rows by region code: [list state, 20 marks..., rate]."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 24 and cells[1].isdigit():
            rows[cells[1]] = cells[2:]
    return rows


def test_the_table_marks_covered_unknown_and_not_covered_and_counts_complete_provinces():
    two = ALL_KINDS[:2]
    data = {
        "seeded_on": date(2025, 1, 1),
        "updated_on": date(2025, 12, 1),
        "area_to_kind": {},
        "provinces": {
            "520000": {"name": "贵州省", "versions": [made_up_version("2025-09-05", two, True)]},
            "320000": {
                "name": "江苏省",
                "versions": [made_up_version("2025-09-30", ALL_KINDS[2:3], False)],
                "cities": {"320500": {"name": "苏州市", "versions": [made_up_version("2024-01-12", two, True)]}},
            },
            # in force only after the document's day: not counted
            "110000": {"name": "北京市", "versions": [made_up_version("2026-01-01", ALL_KINDS, True)]},
        },
    }
    text = coverage_report.render(data)
    rows = table_rows(text)
    assert len([c for c in rows if regions.get(c).level == "province"]) == 31
    assert rows["520000"][0] == "完整" and rows["520000"][1:3] == ["✓", "✓"] and set(rows["520000"][3:21]) == {"–"}
    assert rows["520000"][21] == "2/20（10%）"
    assert rows["320000"][1:4] == ["?", "?", "✓"] and rows["320000"][21] == "1/20（5%）"
    assert rows["320500"][1:4] == ["✓", "✓", "✓"], "a city's subjects have their province's report too"
    assert rows["320500"][4] == "–" and rows["320500"][21] == "3/20（15%）"
    assert set(rows["110000"][1:21]) == {"?"} and rows["110000"][21] == "0/20（0%）"
    assert "领域清单完整的省级行政区：1 / 31**（贵州省）" in text
    assert "测〔2025〕1号" in text and "（未见）" in text, "every version's source, a missing field said so"


# --- routing a 20-kind bundle where the list is complete ---------------------------------------------------
def seed_in_force(code: str) -> credit.SeedVersion | None:
    current = [s for s in credit.read_seed() if s.region_code == code and s.fields.effective_from <= today()]
    return current[-1] if current else None


def complete_regions() -> list[str]:
    """Provinces and cities whose seeded version in force today has a complete list."""
    return [code for code, _ in entries() if (s := seed_in_force(code)) is not None and s.fields.areas_complete]


def expected_covered(region_code: str) -> set[str]:
    """What a subject in ``region_code`` replaces by its report: its province's and city's kinds."""
    in_force = [seed_in_force(code) for code in regions.lineage(region_code)]
    return {kind for s in in_force if s is not None for kind in s.fields.kinds}


def subject_in(region_code: str, number: int) -> dict[str, str]:
    district = next(
        r.code for r in regions.all_regions() if r.level == "district" and region_code in regions.lineage(r.code)
    )
    uscc = make_uscc(f"91{district}MA1{number:06d}")
    return {"uscc": uscc, "name": f"明珞({regions.full_name(district)})测试有限公司", "region_code": district}


REGIONS = complete_regions()


def put_body(seeded: credit.SeedVersion) -> dict[str, Any]:
    fields = seeded.fields.model_dump(mode="json", exclude={"effective_from"})
    return {**fields, "site": seeded.site.model_dump(mode="json")}


def shown_body(shown: dict[str, Any]) -> dict[str, Any]:
    keys = ("report_name", "areas_total", "areas_complete", "areas", "kinds", "source", "note")
    return {**{k: shown[k] for k in keys}, "site": shown["site"]}


@pytest.fixture(scope="module")
async def seeded_in_force(system):
    """The seed's versions in force for every region the routing tests use; what was in force
    before is put back afterwards (nothing is changed when this module seeded an empty table)."""
    async with system.runtimes["router"].sessions() as session, session.begin():
        await credit.seed(session)
    admin = system.auth("admin", **NATIONAL_ADMIN)
    codes = {c for region in REGIONS for c in regions.lineage(region) if seed_in_force(c) is not None}
    found: dict[str, dict[str, Any] | None] = {}
    for code in sorted(codes):
        shown = (await system.router.get(f"/v1/credit-coverage/{code}", headers=admin)).json()["in_force"]
        if shown is None or set(shown["kinds"]) != set(seed_in_force(code).fields.kinds):
            response = await system.router.put(
                f"/v1/credit-coverage/{code}", json=put_body(seed_in_force(code)), headers=admin
            )
            assert response.status_code == 201, response.text
            found[code] = shown
    yield
    for code, before in found.items():
        body = shown_body(before) if before else {**put_body(seed_in_force(code)), "kinds": []}
        response = await system.router.put(f"/v1/credit-coverage/{code}", json=body, headers=admin)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
async def submitted(system, seeded_in_force) -> dict[str, tuple[dict[str, str], str]]:
    """One 20-kind bundle per region, submitted at once: region -> (its subject, request id)."""
    subjects = {region: subject_in(region, number) for number, region in enumerate(REGIONS, start=1)}
    for subject in subjects.values():
        await related(system, subject)  # who may ask about whom: the registry relates them

    async def submit(subject):
        body = certificate_request(subjects=[subject], items=ALL_KINDS)
        response = await system.intake.post("/v1/requests", json=body, headers=system.enterprise().headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    ids = await asyncio.gather(*(submit(subjects[region]) for region in REGIONS))
    return {region: (subjects[region], request_id) for region, request_id in zip(REGIONS, ids, strict=True)}


def test_the_complete_lists_include_a_province():
    assert any(regions.get(code).level == "province" for code in REGIONS), REGIONS


@pytest.mark.parametrize("region", REGIONS)
async def test_a_twenty_kind_bundle_is_split_as_the_complete_list_says(system, submitted, region):
    subject, request_id = submitted[region]
    covered = expected_covered(region)

    async def split():
        async with system.runtimes["router"].sessions() as session:
            mine = (CreditItem.request_id == request_id, CreditItem.subject_uscc == subject["uscc"])
            by_report = list(await session.scalars(select(CreditItem).where(*mine)))
            mine = (WorkItem.request_id == request_id, WorkItem.subject_uscc == subject["uscc"])
            by_departments = list(await session.scalars(select(WorkItem).where(*mine)))
        return (by_report, by_departments) if len(by_report) + len(by_departments) == len(ALL_KINDS) else None

    by_report, by_departments = await eventually(split)
    assert {i.item for i in by_report} == covered
    assert {i.item for i in by_departments} == set(ALL_KINDS) - covered
    assert {i.state for i in by_report} <= {"credit_report"}
    assert {i.coverage_region for i in by_report} <= set(regions.lineage(region))
