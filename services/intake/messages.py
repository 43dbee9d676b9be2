"""Every event intake emits, each added to its outbox in the caller's transaction. Call sites say
what happened; how it is encoded lives here.

- ``requests.submitted``: a new request, keyed by request id (the router routes it).
- ``requests.updates``: what the enterprise does afterwards (withdraw, supplement, rate, upload a
  专项信用报告), keyed by request id so the router sees one request's commands in order.
- ``users.events``: a WeChat user bound to an account, keyed by openid (the notifier reaches them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.messaging.outbox import Outbox

from . import attachments
from .models import Attachment, CreditReport, outbox

OUTBOX = Outbox(outbox, events.SOURCE_INTAKE)


def request_submitted(session: AsyncSession, submitted: events.RequestSubmitted) -> list[dict]:
    """The outbox row of a new request's ``requests.submitted`` event, which the submission
    writes with the request's own rows (one statement, ``db.insert_rows``)."""
    message = OUTBOX.message(
        submitted,
        topic=events.REQUESTS_SUBMITTED,
        key=submitted.request_id,
        subject=submitted.request_id,
        time=submitted.submitted_at,
    )
    return OUTBOX.rows(session, [message])


async def request_updated(
    session: AsyncSession,
    update: events.RequestWithdrawn
    | events.SupplementProvided
    | events.WorkItemRated
    | events.WorkItemFollowUpGiven
    | events.CreditReportUploaded,
    now: datetime,
) -> None:
    await OUTBOX.emit(
        session, update, topic=events.REQUESTS_UPDATES, key=update.request_id, subject=update.request_id, time=now
    )


async def credit_report_uploaded(
    session: AsyncSession, report: CreditReport, file: Attachment, actor: events.Actor
) -> None:
    """信用代证: the subject's report was uploaded; every item it stands for is fulfilled."""
    event = events.CreditReportUploaded(
        request_id=report.request_id,
        subject_uscc=report.subject_uscc,
        work_item_ids=list(report.work_item_ids or []),
        report=attachments.ref_of(file),
        actor=actor,
        occurred_at=report.uploaded_at,
    )
    await request_updated(session, event, report.uploaded_at)


async def wechat_user_bound(session: AsyncSession, bound: events.WechatUserBound) -> None:
    await OUTBOX.emit(session, bound, topic=events.USERS_EVENTS, key=bound.openid, time=bound.occurred_at)
