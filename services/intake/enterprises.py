"""The enterprises a caller acts for (驻企联络员: those they serve; an enterprise: itself), each with
its name and what needs attention: open requests, those waiting for the enterprise (补正, 待上传报告,
待评价) and those overdue — most urgent first, so a liaison officer's phone shows where to go."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.vocabulary import AWAITING_ENTERPRISE, FINISHED_REQUESTS, OPEN_STATES

from .models import EnterpriseRelation, Request, WorkItemDeadline, WorkItemView
from .schemas import EnterpriseOverview

# Not yet signed for (签收): the acknowledge deadline counts; after, the handling deadline. The
# notifier's SlaRecord.is_overdue is the rule; intake reads the deadlines it sends (sla.events) and
# its pause, so it can count per enterprise in one query without asking for every item's clock.
UNSIGNED = ("dispatched", "returned")


def overdue_item(now: datetime):
    """The SQL condition for a work-item view past the deadline that counts now, its clock running."""
    due = case((WorkItemView.status.in_(UNSIGNED), WorkItemView.acknowledge_due_at), else_=WorkItemView.due_at)
    return and_(
        WorkItemView.status.in_(OPEN_STATES),
        or_(WorkItemDeadline.paused.is_(None), WorkItemDeadline.paused.is_(False)),
        due < now,
    )


async def _request_counts(session: AsyncSession, usccs: list[str]) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(
            Request.enterprise_uscc,
            func.count(),
            func.sum(case((Request.status.in_(FINISHED_REQUESTS), 0), else_=1)),
            func.sum(case((Request.status.in_(AWAITING_ENTERPRISE), 1), else_=0)),
        )
        .where(Request.enterprise_uscc.in_(usccs))
        .group_by(Request.enterprise_uscc)
    )
    return {
        uscc: {"total": total, "open": int(open_ or 0), "waiting": int(waiting or 0)}
        for uscc, total, open_, waiting in rows
    }


async def _overdue_counts(session: AsyncSession, usccs: list[str], now: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(Request.enterprise_uscc, func.count(func.distinct(Request.id)))
        .join(WorkItemView, WorkItemView.request_id == Request.id)
        .outerjoin(WorkItemDeadline, WorkItemDeadline.work_item_id == WorkItemView.id)
        .where(Request.enterprise_uscc.in_(usccs), Request.status != "withdrawn", overdue_item(now))
        .group_by(Request.enterprise_uscc)
    )
    return dict(rows.all())


async def _names(session: AsyncSession, usccs: list[str]) -> dict[str, str]:
    """Each enterprise's name: from its latest request, else the enterprise-group registry, else an
    item about it (a subsidiary that never submitted is a subject of its parent's requests)."""
    names: dict[str, str] = {}
    latest = await session.execute(
        select(Request.enterprise_uscc, Request.enterprise_name)
        .where(Request.enterprise_uscc.in_(usccs))
        .order_by(Request.created_at.desc())
    )
    for uscc, name in latest:
        names.setdefault(uscc, name)
    missing = [u for u in usccs if u not in names]
    if missing:
        related = await session.execute(
            select(EnterpriseRelation.subject_uscc, EnterpriseRelation.subject_name).where(
                EnterpriseRelation.subject_uscc.in_(missing)
            )
        )
        parents = await session.execute(
            select(EnterpriseRelation.parent_uscc, EnterpriseRelation.parent_name).where(
                EnterpriseRelation.parent_uscc.in_(missing)
            )
        )
        subjects = await session.execute(
            select(WorkItemView.subject_uscc, WorkItemView.subject_name).where(WorkItemView.subject_uscc.in_(missing))
        )
        for uscc, name in [*related, *parents, *subjects]:
            names.setdefault(uscc, name)
    return names


def urgency(overview: EnterpriseOverview) -> tuple:
    """Overdue first, then waiting for the enterprise, then open; then by name."""
    return (-overview.overdue, -overview.waiting, -overview.open, overview.name or overview.uscc)


async def overview(session: AsyncSession, principal: Principal, now: datetime) -> list[EnterpriseOverview]:
    usccs = list(principal.usccs)
    counts = await _request_counts(session, usccs)
    overdue = await _overdue_counts(session, usccs, now)
    names = await _names(session, usccs)
    none = {"total": 0, "open": 0, "waiting": 0}
    found = [
        EnterpriseOverview(
            uscc=uscc,
            name=names.get(uscc) or (principal.name if principal.role == "enterprise" else None),
            region_code=uscc[2:8],
            overdue=overdue.get(uscc, 0),
            **counts.get(uscc, none),
        )
        for uscc in usccs
    ]
    return sorted(found, key=urgency)
