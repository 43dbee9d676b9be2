"""Routing over HTTP: the work items (and 专项信用报告) a request body would produce, and the
versioned rules that map (request type, item) to a department kind."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from shared import events, regions
from shared.auth import Admin, Anyone, Staff
from shared.catalogue import DEPARTMENT_KINDS
from shared.clock import utcnow
from shared.problems import Problem, invalid_field, refusals
from shared.web import DbSession

from .. import credit, registry
from ..models import RoutingRule
from ..routing import Decision, Registry, plan
from ..schemas import (
    CoverageVersionRef,
    CoveredItemOut,
    CreditReportPreviewOut,
    PreviewIn,
    PreviewItemOut,
    PreviewOut,
    RuleAddedOut,
    RuleIn,
    RuleOut,
    SiteOut,
)

router = APIRouter(prefix="/v1", tags=["routing"])


@router.post(
    "/routing/preview",
    response_model=PreviewOut,
    summary="The work items a request body would produce; creates nothing",
)
async def preview(body: PreviewIn, session: DbSession, _principal: Anyone) -> PreviewOut:
    if unknown := [k for k in body.certificate_anyway if k not in body.items]:
        raise invalid_field(
            "certificate_anyway",
            "kind_not_requested",
            f"仍要部门出具的事项须在所申请事项中：{', '.join(unknown)}",
            f"certificate_anyway names kinds not requested: {', '.join(unknown)}",
        )
    enterprise = events.Subject(**body.enterprise.model_dump())
    submitted = events.RequestSubmitted.model_construct(
        request_type=body.type,
        enterprise=enterprise,
        subjects=[enterprise] + [events.Subject(**s.model_dump()) for s in body.subjects],
        items=body.items,
        certificate_anyway=body.certificate_anyway,
    )
    # As if submitted now: the coverage in force today decides.
    splits = credit.splits_for(await credit.CoverageBook.load(session), submitted, utcnow())
    decisions = plan(await Registry.load(session), submitted, splits)
    return PreviewOut(
        work_items=[preview_item_out(d) for d in decisions],
        credit_reports=[credit_report_preview(split) for split in splits or []],
    )


def preview_item_out(decision: Decision) -> PreviewItemOut:
    return PreviewItemOut(
        subject_uscc=decision.subject.uscc,
        subject_name=decision.subject.name,
        item=decision.item,
        route="unit",
        department_kind=decision.department_kind,
        unit_code=decision.unit.unit_code,
        unit_name=decision.unit.name,
        inbox_topic=decision.unit.inbox_topic,
        rule_id=decision.rule.id if decision.rule else None,
        rule_version=decision.rule.version if decision.rule else None,
        reason=decision.reason,
    )


def credit_report_preview(split: credit.Split) -> CreditReportPreviewOut:
    """One subject's 专项信用报告 entry: the kinds it stands for and where it is downloaded."""
    first = next(iter(split.covered.values()), None)
    return CreditReportPreviewOut(
        subject_uscc=split.subject.uscc,
        subject_name=split.subject.name,
        subject_region=split.subject.region_code,
        coverage=[
            CoverageVersionRef(
                region_code=c.region_code, region_name=regions.full_name(c.region_code), version=c.version
            )
            for c in split.in_force
        ],
        covered_items=[
            CoveredItemOut(item=item, item_name=DEPARTMENT_KINDS.zh(item), route="credit_report", reason=reason)
            for item, reason in split.reasons.items()
            if item in split.covered
        ],
        report_name=first.report_name if first else None,
        site=SiteOut(name=first.site_name, url=first.site_url) if first else None,
        reasons=split.reasons,
    )


@router.get("/rules", response_model=list[RuleOut], summary="Routing rules with their versions")
async def list_rules(session: DbSession, _principal: Staff, include_inactive: bool = False) -> list[RuleOut]:
    query = select(RoutingRule).order_by(RoutingRule.request_type, RoutingRule.item, RoutingRule.version)
    if not include_inactive:
        query = query.where(RoutingRule.active.is_(True))
    return [RuleOut.model_validate(rule) for rule in await session.scalars(query)]


@router.post(
    "/rules",
    status_code=201,
    response_model=RuleAddedOut,
    summary="Make a kind the rule for (type, item), as a new version",
    responses=refusals(409),  # that kind is already the active rule
)
async def add_rule(body: RuleIn, session: DbSession, _principal: Admin) -> RuleAddedOut:
    async with session.begin():
        rule = await registry.add_rule_version(session, body.request_type, body.item, body.department_kind)
    if rule is None:
        raise Problem(409, "rule_unchanged", "该规则已是当前版本", "That is already the active rule")
    return RuleAddedOut.model_validate(rule)
