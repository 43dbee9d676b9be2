"""The liaison officer's home and the 回访 over HTTP: ``/v1/enterprises`` (the enterprises the
caller acts for, with what needs attention) and ``/v1/requests/{id}/follow-ups`` (回访 after 办结,
answered by the enterprise or recorded by a liaison officer who serves it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from shared.auth import Anyone, ForEnterprise
from shared.clock import reading_now
from shared.problems import refusals
from shared.web import DbSession

from . import access, enterprises, follow_ups
from .schemas import EnterpriseOverview, FollowUpIn, FollowUpItem, FollowUpOut

router = APIRouter(prefix="/v1")


@router.get(
    "/enterprises",
    tags=["enterprises"],
    response_model=list[EnterpriseOverview],
    summary="驻企联络员: the enterprises you serve (an enterprise: itself) with open, waiting and overdue "
    "requests, most urgent first",
)
async def get_enterprises(session: DbSession, principal: ForEnterprise) -> list[EnterpriseOverview]:
    return await enterprises.overview(session, principal, reading_now())


@router.get(
    "/requests/{request_id}/follow-ups",
    tags=["requests"],
    response_model=list[FollowUpItem],
    summary="回访: every work item of the request, which may be followed up now, and the 回访 given",
)
async def get_follow_ups(request_id: str, session: DbSession, principal: Anyone) -> list[FollowUpItem]:
    req = await access.load_request(session, principal, request_id)
    return await follow_ups.items(session, principal, req)


@router.post(
    "/requests/{request_id}/follow-ups",
    status_code=201,
    tags=["requests"],
    response_model=FollowUpOut,
    summary="回访 of one 办结 work item: was the problem solved (已解决 · 部分解决 · 未解决); once per item "
    "(409 after); the enterprise online, a liaison officer by phone or visit",
    responses=refusals(409),
)
async def post_follow_up(
    request_id: str, body: FollowUpIn, request: Request, session: DbSession, principal: ForEnterprise
) -> FollowUpOut:
    try:
        async with session.begin():
            req = await access.load_request_to_change(session, principal, request_id)
            out = follow_ups.out(await follow_ups.record(session, principal, req, body))
    except IntegrityError:  # the same 回访 sent twice at the same moment: the other one was kept
        raise follow_ups.already_given() from None
    request.app.state.runtime.relay.notify()
    return out
