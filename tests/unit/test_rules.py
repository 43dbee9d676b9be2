"""The pure rules, tested without a broker or a database: where an item is routed, which items a
province's 专项信用报告 covers, a request's status from its items, what the timeline says, and
working days. Each takes plain objects and answers; the services' tests cover them end to end."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake import timeline, turns
from services.intake.models import WorkItemView
from services.notifier.workcal import WorkingCalendar
from services.router.credit import CoverageBook
from services.router.models import CreditCoverage, DepartmentUnit, RoutingRule, UnitCoverage
from services.router.routing import Registry, plan
from shared import events
from shared.clock import SHANGHAI
from tests.support import MINGLUO, MINGLUO_SH, work_item_event

NOW = datetime.now(UTC)
SUBJECT_HUANGPU = events.Subject(uscc=MINGLUO, name="广州明珞装备股份有限公司", region_code="440112")
SUBJECT_PANYU = events.Subject(uscc=MINGLUO_SH, name="明珞(番禺)制造有限公司", region_code="440113")


def unit(code: str, kind: str, region: str) -> DepartmentUnit:
    return DepartmentUnit(unit_code=code, name=f"{region}{kind}", kind=kind, region_code=region, active=True)


def rule(item: str, kind: str, number: int = 1) -> RoutingRule:
    return RoutingRule(id=number, request_type="compliance_certificate", item=item, department_kind=kind, version=1)


# --- routing: the unit for (kind, region), falling back district → city → province -------------------
REGISTRY = Registry(
    units=[
        unit("440112.tax", "tax", "440112"),
        unit("440100.tax", "tax", "440100"),
        unit("440100.customs", "customs", "440100"),
        unit("440112.coordinator", "coordinator", "440112"),
        unit("440113.coordinator", "coordinator", "440113"),
    ],
    coverage=[UnitCoverage(kind="customs", region_code="440113", unit_code="440100.customs")],
    rules=[rule("tax", "tax", 1), rule("customs", "customs", 2)],
)


def request(subjects: list[events.Subject], items: tuple[str, ...]) -> events.RequestSubmitted:
    return events.RequestSubmitted(
        request_id="r-1",
        reference_no="XE-1",
        request_type="compliance_certificate",
        enterprise=SUBJECT_HUANGPU,
        subjects=subjects,
        items=list(items),
        submitted_by=events.Actor(role="enterprise", id=MINGLUO),
        submitted_at=NOW,
    )


def test_an_item_goes_to_the_subjects_own_district_unit_first():
    [decision] = plan(REGISTRY, request([SUBJECT_HUANGPU], ("tax",)))
    assert decision.unit.unit_code == "440112.tax" and "本级" in decision.reason


def test_a_district_without_the_unit_falls_back_to_its_city():
    [decision] = plan(REGISTRY, request([SUBJECT_PANYU], ("tax",)))
    assert decision.unit.unit_code == "440100.tax" and "由上级 广州市单位" in decision.reason


def test_configured_coverage_wins_over_the_home_region_lookup():
    [decision] = plan(REGISTRY, request([SUBJECT_PANYU], ("customs",)))
    assert decision.unit.unit_code == "440100.customs"


def test_an_item_without_a_rule_goes_to_the_coordinating_office_of_the_subjects_region():
    [decision] = plan(REGISTRY, request([SUBJECT_PANYU], ("statistics",)))
    assert decision.unit.unit_code == "440113.coordinator" and decision.rule is None


# --- 信用代证: the versions in force on the submission day decide ----------------------------------
def version(region: str, number: int, days_ago: int, kinds: list[str]) -> CreditCoverage:
    return CreditCoverage(
        id=number,
        region_code=region,
        version=number,
        effective_from=NOW - timedelta(days=days_ago),
        kinds=kinds,
        report_name="专项信用报告",
        site_name="信用中国（广东）",
        source={},
    )


BOOK = CoverageBook(
    [
        version("440000", 1, 400, ["commerce"]),
        version("440000", 2, 10, ["commerce", "statistics"]),
        version("440000", 3, -5, ["commerce", "statistics", "tax"]),  # announced, not yet in force
        version("440100", 4, 30, ["housing_fund"]),  # the city adds to its province's list
    ]
)


def test_a_report_covers_what_the_province_and_city_versions_in_force_list():
    split = BOOK.split(SUBJECT_HUANGPU, ["commerce", "statistics", "tax", "housing_fund"], anyway=[], at=NOW)
    assert set(split.covered) == {"commerce", "statistics", "housing_fund"}
    assert split.routed(["commerce", "statistics", "tax", "housing_fund"]) == ["tax"]


def test_a_version_not_yet_in_force_and_one_asked_anyway_cover_nothing():
    earlier = BOOK.split(SUBJECT_HUANGPU, ["statistics", "commerce"], anyway=["commerce"], at=NOW - timedelta(days=20))
    assert earlier.covered == {}  # statistics came with version 2; commerce is asked of the office anyway


# --- a request's status, from its items' states ------------------------------------------------------
@pytest.mark.parametrize(
    ("states", "status"),
    [
        ({"dispatched"}, "dispatched"),
        ({"dispatched", "credit_report"}, "awaiting_report"),  # the enterprise uploads its report
        ({"dispatched", "acknowledged"}, "in_progress"),
        ({"resolved", "credit_report_uploaded"}, "awaiting_rating"),  # the enterprise's turn: rate it
        ({"resolved", "cancelled"}, "awaiting_rating"),
        ({"credit_report_uploaded", "cancelled"}, "closed"),
        ({"credit_report_uploaded"}, "resolved"),
        ({"closed", "credit_report_uploaded"}, "closed"),
    ],
)
def test_a_requests_status_follows_its_items(states, status):
    items = [WorkItemView(id=state, status=state) for state in states]
    assert turns.status("submitted", items, {}) == status


def test_a_withdrawn_request_stays_withdrawn_whatever_its_items_say():
    assert turns.status("withdrawn", [WorkItemView(id="w", status="resolved")], {}) == "withdrawn"


# --- the enterprise's timeline in words ---------------------------------------------------------------
FILE = events.FileRef(id="f", name="report.pdf", content_type="application/pdf", size=1, sha256="0" * 64)


def item_event(kind: type[events.WorkItemEvent], **fields) -> events.WorkItemEvent:
    common = dict(request_id="r-1", work_item_id="w-1", reference_no="XE-1", state="resolved", version=3)
    return work_item_event(kind, **common | {"occurred_at": NOW} | fields)


def test_the_timeline_names_the_unit_the_result_and_the_document_number():
    resolved = item_event(
        events.WorkItemResolved,
        actor=events.Actor(role="department", id="clerk"),
        resolution=events.Resolution(outcome="issued", document_no="穗黄税证〔2026〕1号"),
    )
    said = timeline.summary(resolved)
    assert (
        said.zh
        == "国家税务总局广州市黄埔区税务局已办结：出具证明，文号 穗黄税证〔2026〕1号（广州明珞装备股份有限公司）"
    )
    assert said.en == (
        "国家税务总局广州市黄埔区税务局 resolved it: Certificate issued, document no. 穗黄税证〔2026〕1号 "
        "(广州明珞装备股份有限公司)"
    )


CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("kind", events.WORK_ITEM_EVENTS, ids=lambda k: k.__name__)
def test_every_timeline_line_reads_in_english_apart_from_names_and_notes(kind):
    """Row 11 of issue 25: timeline lines, outcomes, credit notes and separators in English."""
    extra = {
        events.WorkItemDispatched: dict(rule_id=1, rule_version=1, routing_reason="r"),
        events.WorkItemResolved: dict(resolution=events.Resolution(outcome="not_issued", note="NOTE")),
        events.WorkItemReturned: dict(returned_by="440112.tax"),
        events.WorkItemReturnedToEnterprise: dict(reason_class="subject_authorization", returned_by="440112.tax"),
        events.WorkItemAssisted: dict(assisting_units=["440112.commerce"]),
        events.WorkItemExtensionRequested: dict(extension_id="x", days=3),
        events.WorkItemExtensionDecided: dict(extension_id="x", days=3, approved=False),
        events.WorkItemClosed: dict(score=4),
        events.WorkItemCovered: dict(
            subject_region="440112",
            coverage_region="440000",
            coverage_version=2,
            coverage_effective_from=NOW,
            report_name="REPORT",
            report_site_name="SITE",
            reason="r",
        ),
        events.WorkItemCreditReportUploaded: dict(
            subject_region="440112", coverage_region="440000", coverage_version=2, report=FILE
        ),
        events.WorkItemDocumentRevoked: dict(
            code="7KQ4M2XA9HTRC3VB",
            document_number="NO-1",
            reason_class="content_error",
            reason_name="内容有误",
            reopen=True,
        ),
        events.WorkItemFollowedUp: dict(result="partly", method="phone"),
    }.get(kind, {})
    said = timeline.summary(item_event(kind, note="NOTE", **extra))
    english = said.en.replace("国家税务总局广州市黄埔区税务局", "").replace("广州明珞装备股份有限公司", "")
    assert not CHINESE.search(english.replace("广东省", "")), said.en
    assert CHINESE.search(said.zh), said.zh


# --- working days (the official calendar of 2025, a fact of the State Council's schedule) ------------
def test_working_days_skip_the_national_day_holiday_and_count_its_make_up_day():
    calendar = WorkingCalendar()
    start = datetime(2025, 9, 30, 16, 0, tzinfo=SHANGHAI)
    due = calendar.add_working_days(start, 5)
    assert due.astimezone(SHANGHAI).date() == date(2025, 10, 14)  # 10-01..10-08 off, 10-11 (Saturday) worked
