"""信用代证: which certificate kinds each province's (and city's) 专项信用报告 covers, as versioned
data, and the split of a compliance-certificate request into what the report covers and what
still goes to departments.

The seed is ``credit_coverage.yaml`` beside this module (its header says how it is read and
where each list comes from). It is validated whole when it is loaded — a malformed entry refuses
the load with every bad entry named, and nothing is written — so a submission never meets bad
coverage data. Admins add versions with ``PUT /v1/credit-coverage/{region}``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.clock import SHANGHAI, utcnow
from shared.validation import bilingual_error

from . import messages
from .models import CreditCoverage, CreditItem, RoutedRequest

SEED_FILE = Path(__file__).with_name("credit_coverage.yaml")
CERTIFICATE_CODES = {t.code for t in catalogue.CERTIFICATE_KINDS}


class CoverageFileError(ValueError):
    """The coverage file cannot be loaded; ``problems`` names every bad entry."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"信用代证覆盖数据有误，未加载 / coverage data refused, nothing loaded ({path}):\n  "
            + "\n  ".join(problems)
        )


# --- validation (the file's entries and the admin API share these models) ---------------------------
def _certificate_kind(value: str) -> str:
    if value not in CERTIFICATE_CODES:
        raise bilingual_error(
            "kind_unknown", f"不是守法证明事项代码：{value}", f"Not a compliance-certificate kind: {value}"
        )
    return value


CertificateKind = Annotated[str, AfterValidator(_certificate_kind)]


def coverage_region(value: str) -> str:
    """Coverage is kept per province, or per prefecture-level city that adds to its province's."""
    region = regions.get(value)
    if region is None or region.level not in ("province", "city"):
        raise bilingual_error(
            "region_level",
            f"须为省级或地市级行政区划代码：{value}",
            f"Must be a province or prefecture-level city code: {value}",
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceIn(Strict):
    """The public document the list comes from (document number, issuing office, date)."""

    document_no: str | None = Field(None, max_length=100)
    title: str = Field(min_length=2, max_length=300)
    issuer: str | None = Field(None, max_length=300)
    date: dt.date | None = None
    url: str | None = Field(None, max_length=1000)
    official_copy: bool = True


class SiteIn(Strict):
    name: str = Field(min_length=2, max_length=200, examples=["信用中国（广东）"])
    url: str | None = Field(None, max_length=500)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise bilingual_error("url_invalid", "下载地址须为 http(s) URL", "The site address is an http(s) URL")
        return value


class VersionFields(Strict):
    report_name: str = Field(min_length=2, max_length=200)
    areas_total: int | None = Field(None, ge=0, le=200)
    areas_complete: bool = False
    areas: list[str] = Field(default=[], max_length=200)
    kinds: list[CertificateKind] = Field(default=[], max_length=len(CERTIFICATE_CODES))
    source: SourceIn
    note: str | None = Field(None, max_length=4000)

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, kinds: list[str]) -> list[str]:
        if len(set(kinds)) != len(kinds):
            raise bilingual_error("kind_duplicate", "事项重复", "Kinds are repeated")
        return kinds


class FileVersion(VersionFields):
    effective_from: date


class FileRegion(Strict):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)  # provincial_note and the like
    name: str
    report_site: SiteIn | None = None
    versions: list[FileVersion] = []
    cities: dict[str, FileRegion] = {}

    @field_validator("versions")
    @classmethod
    def _increasing(cls, versions: list[FileVersion]) -> list[FileVersion]:
        days = [v.effective_from for v in versions]
        if any(later <= earlier for earlier, later in pairwise(days)):
            raise bilingual_error(
                "dates_not_increasing", "各版本生效日期须严格递增", "effective_from must strictly increase"
            )
        return versions


@dataclass(frozen=True)
class SeedVersion:
    region_code: str
    site: SiteIn
    fields: FileVersion


def _error_text(where: str, error: ValidationError) -> list[str]:
    return [f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]


def _region_versions(code: str, raw: Any, where: str, site: SiteIn | None, problems: list[str]) -> list[SeedVersion]:
    try:
        coverage_region(code)
        entry = FileRegion.model_validate(raw)
    except (ValueError, ValidationError) as error:
        problems.extend(_error_text(where, error) if isinstance(error, ValidationError) else [f"{where}: {error}"])
        return []
    site = entry.report_site or site
    if entry.versions and site is None:
        problems.append(f"{where}.report_site: 缺少下载网站 / no download site")
        return []
    found = [SeedVersion(code, site, v) for v in entry.versions]
    for city, city_raw in (raw.get("cities") or {}).items():
        city_code = str(city)
        if not regions.covers(code, city_code) or city_code == code:
            problems.append(f"{where}.cities.{city_code}: 不属于 {code} / not under {code}")
            continue
        found += _region_versions(city_code, city_raw, f"{where}.cities.{city_code}", site, problems)
    return found


def read_seed(path: Path = SEED_FILE) -> list[SeedVersion]:
    """Every version in the file, validated whole; raises :class:`CoverageFileError` naming each
    malformed entry (unknown kind, wrong region level, dates not increasing, missing field)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CoverageFileError(path, [str(error)]) from error
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("provinces"), dict):
        raise CoverageFileError(path, ["文件须含 schema: 1 与 provinces / needs schema: 1 and provinces"])
    problems: list[str] = []
    found: list[SeedVersion] = []
    for code, raw in data["provinces"].items():
        where = f"provinces.{code}"
        if regions.get(str(code)) is None or regions.get(str(code)).level != "province":
            problems.append(f"{where}: 不是省级行政区划代码 / not a province code")
            continue
        found += _region_versions(str(code), raw if isinstance(raw, dict) else {}, where, None, problems)
    if problems:
        raise CoverageFileError(path, problems)
    return found


def shanghai_start(day: date) -> datetime:
    """A calendar day's start in Asia/Shanghai, the instant a version dated that day takes effect."""
    return datetime.combine(day, time.min, SHANGHAI)


async def seed(session: AsyncSession, path: Path = SEED_FILE) -> int | None:
    """Loads the seed file into an empty coverage table (never over an admin's versions); None
    when versions exist already. The file is validated before anything is written."""
    versions = read_seed(path)
    if await session.scalar(select(CreditCoverage.id).limit(1)) is not None:
        return None
    numbers: dict[str, int] = defaultdict(int)
    for entry in versions:
        numbers[entry.region_code] += 1
        session.add(row_for(entry.region_code, numbers[entry.region_code], entry.fields, entry.site, path.name))
    await session.flush()
    return len(versions)


def row_for(region_code: str, version: int, fields: VersionFields, site: SiteIn, by: str, at=None) -> CreditCoverage:
    effective = at or shanghai_start(fields.effective_from)
    return CreditCoverage(
        region_code=region_code,
        version=version,
        effective_from=effective,
        kinds=list(fields.kinds),
        areas=list(fields.areas),
        areas_total=fields.areas_total,
        areas_complete=fields.areas_complete,
        report_name=fields.report_name,
        site_name=site.name,
        site_url=site.url,
        source=fields.source.model_dump(mode="json"),
        note=fields.note,
        created_by=by,
        created_at=utcnow(),
    )


async def add_version(
    session: AsyncSession, region_code: str, fields: VersionFields, site: SiteIn, by: str, effective_from: datetime
) -> CreditCoverage:
    """The region's next version, in force from ``effective_from`` (an admin's change: now)."""
    query = select(func.max(CreditCoverage.version)).where(CreditCoverage.region_code == region_code)
    last = await session.scalar(query)
    row = row_for(region_code, (last or 0) + 1, fields, site, by, at=effective_from)
    session.add(row)
    await session.flush()
    return row


# --- the split ------------------------------------------------------------------------------------------
@dataclass
class Split:
    """One subject's certificate kinds: covered by its report, or routed to departments (each with
    why), and the coverage versions in force for it."""

    subject: events.Subject
    in_force: list[CreditCoverage]
    covered: dict[str, CreditCoverage] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def routed(self, items: list[str]) -> list[str]:
        return [i for i in items if i not in self.covered]

    @property
    def versions_text(self) -> str:
        return "、".join(version_label(c) for c in self.in_force) or "无"


def version_label(coverage: CreditCoverage) -> str:
    day = coverage.effective_from.astimezone(SHANGHAI).date().isoformat()
    return f"{regions.full_name(coverage.region_code)}第{coverage.version}版（{day}起）"


class CoverageBook:
    """Every coverage version (a few dozen rows); routing keeps it between batches with the
    registry (``routing.registry_snapshot``)."""

    def __init__(self, rows: list[CreditCoverage]):
        self.by_region: dict[str, list[CreditCoverage]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: (r.region_code, r.effective_from, r.version)):
            self.by_region[row.region_code].append(row)

    @classmethod
    async def load(cls, session: AsyncSession) -> CoverageBook:
        return cls(list(await session.scalars(select(CreditCoverage))))

    def version_in_force(self, region_code: str, at: datetime) -> CreditCoverage | None:
        """The version of ``region_code`` itself in force at ``at``: its latest dated at or before
        ``at`` (a version dated after ``at`` is not yet in force). The one place that says so."""
        current = [v for v in self.by_region.get(region_code, []) if v.effective_from <= at]
        return current[-1] if current else None

    def in_force(self, region_code: str, at: datetime) -> list[CreditCoverage]:
        """The versions in force at ``at`` for a subject in ``region_code``: its province's, then a
        city's that adds to it."""
        found = (self.version_in_force(code, at) for code in reversed(regions.lineage(region_code)))
        return [version for version in found if version is not None]

    def split(self, subject: events.Subject, items: list[str], anyway: list[str], at: datetime) -> Split:
        split = Split(subject, self.in_force(subject.region_code, at))
        for item in items:
            covering = next((c for c in split.in_force if item in (c.kinds or [])), None)
            if covering is not None and item not in anyway:
                split.covered[item] = covering
                split.reasons[item] = (
                    f"{version_label(covering)}专项信用报告覆盖{catalogue.DEPARTMENT_KINDS.zh(item)}领域，"
                    f"可从{covering.site_name}下载报告替代本项证明"
                )
            elif covering is not None:
                split.reasons[item] = f"专项信用报告（{version_label(covering)}）已覆盖，企业仍要求部门出具证明"
            elif split.in_force:
                split.reasons[item] = f"专项信用报告（{split.versions_text}）未覆盖此项，由部门出具"
            else:
                split.reasons[item] = f"{regions.full_name(subject.region_code)}暂无专项信用报告覆盖数据，由部门出具"
        return split


def versions_of(split: Split) -> list[dict[str, Any]]:
    """The coverage versions a subject's certificate items were decided under, as a work item
    stores them (``credit_coverage``) and its dispatch event carries them."""
    return [{"region_code": c.region_code, "version": c.version} for c in split.in_force]


def splits_for(book: CoverageBook, submitted: events.RequestSubmitted, at: datetime) -> list[Split] | None:
    """Each subject's split for a compliance-certificate request; None for other request types."""
    if submitted.request_type != catalogue.COMPLIANCE_CERTIFICATE:
        return None
    anyway = list(submitted.certificate_anyway or [])
    return [book.split(s, list(submitted.items), anyway, at) for s in submitted.subjects]


def coverage_out(row: CreditCoverage) -> dict[str, Any]:
    return {
        "region_code": row.region_code,
        "region_name": regions.full_name(row.region_code),
        "version": row.version,
        "effective_from": row.effective_from.isoformat(),
        "kinds": row.kinds,
        "kind_names": [catalogue.DEPARTMENT_KINDS.zh(k) for k in row.kinds],
        "areas": row.areas,
        "areas_total": row.areas_total,
        "areas_complete": row.areas_complete,
        "report_name": row.report_name,
        "site": {"name": row.site_name, "url": row.site_url},
        "source": row.source,
        "note": row.note,
        "created_by": row.created_by,
    }


# --- after routing: the report uploaded, the request withdrawn -----------------------------------------
UPLOADED = "credit_report_uploaded"


async def _covered_items(session: AsyncSession, request_id: str, **where: str) -> list[CreditItem]:
    query = select(CreditItem).where(CreditItem.request_id == request_id).order_by(CreditItem.item)
    for column, value in where.items():
        query = query.where(getattr(CreditItem, column) == value)
    return list(await session.scalars(query))


async def _move(
    session: AsyncSession, item: CreditItem, state: str, now: datetime
) -> tuple[CreditCoverage, RoutedRequest]:
    item.state, item.updated_at, item.version = state, now, (item.version or 1) + 1
    return await session.get(CreditCoverage, item.coverage_id), await session.get(RoutedRequest, item.request_id)


async def report_uploaded(session: AsyncSession, uploaded: events.CreditReportUploaded) -> int:
    """The subject's covered items still to obtain become fulfilled, each announced on
    ``workitems.events``; the number fulfilled. A repeated upload (a newer file) only records the
    file: the items were fulfilled already, so nothing is announced twice."""
    fulfilled = []
    for item in await _covered_items(session, uploaded.request_id, subject_uscc=uploaded.subject_uscc):
        item.report_file_id = uploaded.report.id
        if item.state == "credit_report":
            coverage, request = await _move(session, item, UPLOADED, uploaded.occurred_at)
            fulfilled.append(messages.credit_report_uploaded(item, coverage, request, uploaded))
    await messages.emit(session, fulfilled)
    return len(fulfilled)


async def withdraw(session: AsyncSession, withdrawn: events.RequestWithdrawn) -> int:
    """A withdrawn request's covered items still to obtain end as withdrawn (``cancelled``), as its
    open department items do; items a report already fulfilled stay fulfilled, as resolved ones do."""
    cancelled = []
    now = utcnow()
    for item in await _covered_items(session, withdrawn.request_id, state="credit_report"):
        coverage, request = await _move(session, item, "cancelled", now)
        cancelled.append(
            messages.credit_item_changed(
                item, coverage, request, events.WorkItemCancelled, now, withdrawn.actor, withdrawn.reason
            )
        )
    await messages.emit(session, cancelled)
    return len(cancelled)
