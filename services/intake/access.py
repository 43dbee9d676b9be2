"""Who may see and do what with a request. Every endpoint that reads or acts on a request asks
here, and every list filters through :func:`visible`, so the rules live in one place.

- enterprise and liaison: the requests of the enterprises their token is bound to;
- supervisor and admin: the requests of enterprises in their region (by the GB/T 2260 hierarchy);
- a region's coordinating office (``<region>.coordinator``): its region's requests, for the ledger;
- other department units work through the router's work items and see no requests here.
"""

from __future__ import annotations

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, regions
from shared.auth import Principal
from shared.problems import FieldError, Problem

from .models import Request
from .schemas import RequestCreate


def not_found() -> Problem:
    # Someone else's request answers exactly like a missing one, so ids reveal nothing.
    return Problem(404, "request_not_found", "诉求不存在", "Request not found")


def coordinator_region(principal: Principal) -> str | None:
    """The region of a coordinating office's token (``440112.coordinator`` → 440112)."""
    unit = principal.unit or ""
    if principal.role == "department" and unit.endswith(".coordinator"):
        return unit.split(".")[0]
    return None


def is_owner(principal: Principal, request: Request) -> bool:
    return principal.may_act_for(request.enterprise_uscc)


def may_read(principal: Principal, request: Request) -> bool:
    return is_owner(principal, request) or principal.covers_region(request.enterprise_region)


def visible(principal: Principal, query: Select) -> Select:
    """``query`` narrowed to the requests this caller may see."""
    if principal.role in ("enterprise", "liaison"):
        return query.where(Request.enterprise_uscc.in_(principal.usccs))
    if principal.role in ("supervisor", "admin"):
        return query.where(principal.region_clause(Request.enterprise_region))
    region = coordinator_region(principal)
    if region is not None:
        return query.where(regions.within(Request.enterprise_region, region))
    return query.where(false())


def may_filter_by(principal: Principal, uscc: str) -> None:
    """An enterprise or liaison officer may narrow their list to an enterprise they act for only;
    supervisors and coordinators to any (their scope narrows the list anyway)."""
    if principal.role in ("enterprise", "liaison") and not principal.may_act_for(uscc):
        raise Problem(
            403,
            "not_your_enterprise",
            "无权查看该企业的诉求",
            "You may not see this enterprise's requests",
            errors=[
                FieldError(
                    "uscc",
                    "not_your_enterprise",
                    "登录凭证未绑定该统一社会信用代码",
                    "Your token is not bound to this USCC",
                )
            ],
        )


def may_keep_ledger(principal: Principal) -> bool:
    """The ledger and the request list are for enterprises, liaison officers, supervisors, admins
    and coordinating offices; other units use the work-item API."""
    return principal.role != "department" or coordinator_region(principal) is not None


async def load_request(session: AsyncSession, principal: Principal, request_id: str) -> Request:
    request = await session.get(Request, request_id)
    if request is None or not may_read(principal, request):
        raise not_found()
    return request


async def load_request_to_change(session: AsyncSession, principal: Principal, request_id: str) -> Request:
    """The request, locked until the change commits (``db.get_to_change``): a withdrawal and a
    rating sent at once are made one after the other, the second seeing the first. Only a request
    the caller may read is locked: a call for someone else's answers 404 at once, without holding
    it or waiting for whoever does."""
    await load_request(session, principal, request_id)
    request = await db.get_to_change(session, Request, request_id)  # read again, as it is now
    if request is None or not may_read(principal, request):
        raise not_found()
    return request


def owner_only(principal: Principal, request: Request) -> None:
    """Acting on a request (supplement, rating, withdrawal) is for its enterprise and liaison
    officers; supervisors may read it but answer for nobody."""
    if not is_owner(principal, request):
        raise not_found()


def authorize_submission(principal: Principal, body: RequestCreate) -> None:
    if principal.role not in ("enterprise", "liaison"):
        raise Problem(
            403, "forbidden", "只有企业或驻企联络员可以提交诉求", "Only enterprises and liaison officers submit"
        )
    if not principal.may_act_for(body.enterprise.uscc):
        raise Problem(
            403,
            "not_your_enterprise",
            "无权代表该企业提交诉求",
            "You may not submit for this enterprise",
            errors=[
                FieldError(
                    "enterprise.uscc",
                    "not_your_enterprise",
                    "登录凭证未绑定该统一社会信用代码",
                    "Your token is not bound to this USCC",
                )
            ],
        )
