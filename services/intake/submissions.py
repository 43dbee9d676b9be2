"""What an enterprise (or its liaison officer) does with a request: submit it, answer a 补正,
rate the result, withdraw it. Each stores its change and its event in the caller's transaction."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared import db, events
from shared.auth import Principal
from shared.catalogue import DEPARTMENT_KINDS
from shared.clock import SHANGHAI, utcnow
from shared.problems import Problem, invalid_field
from shared.vocabulary import FINISHED_STATES, rating_name

from . import attachments, messages, read_model, relations, timeline
from .access import owner_only
from .models import (
    REFERENCE_NUMBERS,
    CreditReport,
    IdempotencyRecord,
    ItemRating,
    ReferenceCounter,
    ReferenceDay,
    Request,
    TimelineEntry,
    WorkItemView,
)
from .schemas import CreditReportIn, RatingIn, RequestCreate, SupplementIn, WithdrawIn
from .timeline import Words

SUBMITTED = "submitted"  # a new request's status, until the departments' work moves it


_NEXT_VALUE = select(REFERENCE_NUMBERS.next_value())


async def next_reference_no(session: AsyncSession, now: datetime) -> str:
    """``XE-YYYYMMDD-NNNNNN``: unique, and increasing within a (Shanghai) day.

    On PostgreSQL the number is the next value of one sequence (``reference_numbers``) less where
    the day started (``reference_days``), taken in the submission's own transaction: a sequence
    hands out values without locks, so submissions do not wait for one another. (A counter row
    per day did: it stayed locked until each submission committed, or needed a connection and a
    commit of its own per submission; docs/benchmarks.md.) A submission that fails leaves its
    number unused: numbers are unique and increasing, not gap-free. SQLite, with one writer at a
    time anyway, counts each day in ``reference_counters`` within the transaction."""
    number, _ = await _numbered(session, now)
    return number


async def number_and_relations(session: AsyncSession, now: datetime, body: RequestCreate) -> tuple[str, set[str]]:
    """The request's number (``next_reference_no``) and which of its subjects the registry relates
    to its applicant. On PostgreSQL, when the request names other subjects, both come from one
    SELECT: a round trip less for the busiest write of the system (docs/benchmarks.md, issue 28).
    Read before an Idempotency-Key is claimed, so a replay reads the registry for nothing: a
    replay is rare, a submission is not."""
    usccs = [subject.uscc for subject in body.subjects]
    if session.bind.dialect.name != "postgresql" or not usccs:
        number = await next_reference_no(session, now)
        return number, await relations.related(session, body.enterprise.uscc, usccs)
    params = {"parent": body.enterprise.uscc, "usccs": usccs}
    number, found = await _numbered(session, now, _NEXT_VALUE_AND_RELATED, params)
    return number, set(found or ())  # array_agg of no rows is NULL


async def _numbered(
    session: AsyncSession, now: datetime, statement: Select = _NEXT_VALUE, params: dict | None = None
) -> tuple[str, Any]:
    """The next number; on PostgreSQL, ``statement`` draws it (its first column) and may read
    something else in the same round trip (its second)."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    if session.bind.dialect.name != "postgresql":
        number = (await session.execute(_count_on(session.bind.dialect.name), {"day": day})).scalar_one()
        return f"XE-{day}-{number:06d}", None
    base = await _day_base(session.bind, day)
    value, *rest = (await (await session.connection()).execute(statement, params)).one()
    if value <= base:
        # Only if the sequence was recreated under this process (a restore, a downgrade and
        # upgrade while it ran): refuse rather than hand out a number twice.
        _bases.pop(session.bind.sync_engine, None)
        raise RuntimeError("reference_numbers is behind today's base: restart intake after changing its schema")
    return f"XE-{day}-{value - base:06d}", rest[0] if rest else None


_NEXT_VALUE_AND_RELATED = _NEXT_VALUE.add_columns(
    select(func.array_agg(relations.RELATED.subquery().c.subject_uscc)).scalar_subquery()
)

# Each database's day bases, once read: a day's base never changes.
_bases: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


async def _day_base(engine: AsyncEngine, day: str) -> int:
    """Where ``day``'s numbers start. The first submission of the day in each process runs the
    statement that writes it (the first one in wins; the others change nothing), committing at
    once, from a value of the sequence drawn then: every value drawn after it was
    committed (each submission's own, drawn after reading it) is larger, so numbers start at 1 and
    no two submissions of the day share one. A day begun under the older per-day counter goes on
    from its counter's last number."""
    known = _bases.setdefault(engine.sync_engine, {})
    if day not in known:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(_START_DAY, {"day": day})
            base = (await conn.execute(select(ReferenceDay.base).where(ReferenceDay.day == day))).scalar_one()
        known.clear()  # only today's is needed from now on
        known[day] = base
    return known[day]


_counted = select(ReferenceCounter.last).where(ReferenceCounter.day == bindparam("day")).scalar_subquery()
_START_DAY = (
    db.insert_for("postgresql")(ReferenceDay)
    .values(day=bindparam("day"), base=REFERENCE_NUMBERS.next_value() - func.coalesce(_counted, 0))
    .on_conflict_do_nothing(index_elements=["day"])
)


@functools.cache
def _count_on(dialect: str) -> Insert:
    """SQLite: the day's next number from its counter row, opening the day at 1; built once
    (building it per submission showed in its profile, docs/benchmarks.md)."""
    return (
        db.insert_for(dialect)(ReferenceCounter)
        .values(day=bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": ReferenceCounter.last + 1})
        .returning(ReferenceCounter.last)
    )


def body_hash(body: RequestCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What the enterprise is told of its submission; ``new`` is False for a replay of an earlier
    identical POST, which is answered as that one was."""

    id: str
    reference_no: str
    created_at: datetime
    new: bool = True


async def claim_key(session: AsyncSession, principal: Principal, key: str, digest: str, request_id: str) -> bool:
    """Takes the caller's Idempotency-Key for ``request_id``, or says it was taken before (False).
    One statement whether new or not (``INSERT … ON CONFLICT DO NOTHING``); a concurrent retry
    with the same key waits on the key's row until the first commits, then sees it taken."""
    row = {"owner": principal.sub, "key": key, "body_hash": digest, "request_id": request_id, "created_at": utcnow()}
    return bool(await db.insert_new(session, IdempotencyRecord.__table__, [row], key=["owner", "key"]))


async def replay(session: AsyncSession, principal: Principal, key: str, digest: str) -> Receipt:
    """The answer given to the first POST with the caller's ``key``; a key reused with another
    body is refused."""
    record = await session.get(IdempotencyRecord, (principal.sub, key))
    if record.body_hash != digest:
        raise Problem(
            409,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于不同的请求内容",
            "This Idempotency-Key was used with a different body",
        )
    earlier = await session.get(Request, record.request_id)
    return Receipt(earlier.id, earlier.reference_no, earlier.created_at, new=False)


async def create_request(
    session: AsyncSession, principal: Principal, body: RequestCreate, idempotency_key: str | None
) -> Receipt:
    """Stores the request, its first timeline entry and its ``requests.submitted`` event in the
    caller's transaction; with an Idempotency-Key used before, answers as the first POST did.

    Written as Core rows in one statement (``db.insert_rows``), not through the ORM's unit of
    work: the submission is the busiest write of the system, and both the ORM's bookkeeping for
    objects nobody reads back and a round trip per table were large parts of its cost
    (docs/benchmarks.md)."""
    # A replay leaves its number unused.
    now = utcnow()
    reference_no, related = await number_and_relations(session, now, body)
    request_id = str(uuid.uuid4())
    if idempotency_key:
        digest = body_hash(body)
        if not await claim_key(session, principal, idempotency_key, digest, request_id):
            return await replay(session, principal, idempotency_key, digest)

    # Who may ask about whom: every other subject is related in the group registry or authorised.
    relations.check_subjects(body, related)
    proofs = await relations.proofs(session, principal, body, related, request_id)
    files = await attachments.claim(
        session, principal, body.attachments, "attachments", request_id=request_id, purpose="attachment"
    )
    receipt = Receipt(request_id, reference_no, now)
    # The request, its first timeline entry and its event in one statement (one round trip on
    # PostgreSQL), as Core rows: nobody reads them back as ORM objects here.
    request_row = {
        "id": request_id,
        "reference_no": reference_no,
        "type": body.type,
        "status": SUBMITTED,
        "enterprise_uscc": body.enterprise.uscc,
        "enterprise_name": body.enterprise.name,
        "enterprise_region": body.enterprise.region_code,
        "body": stored_body(body, proofs),
        "submitted_by_role": principal.role,
        "submitted_by": principal.sub,
        "created_at": now,
        "updated_at": now,
    }
    submitted = Words(f"诉求已提交，受理编号 {reference_no}", f"Request submitted, reference number {reference_no}")
    event = submitted_event(receipt, body, principal, files, proofs)
    await db.insert_rows(
        await session.connection(),
        [
            (Request.__table__, [request_row]),
            (TimelineEntry.__table__, [timeline.entry(request_id, now, "request.submitted", submitted)]),
            (messages.OUTBOX.table, messages.request_submitted(session, event)),
        ],
    )
    return receipt


def stored_body(body: RequestCreate, proofs: list[events.SubjectProof]) -> dict[str, Any]:
    """The request as submitted, each subject with how it was proven."""
    stored = body.model_dump(mode="json")
    stored["enterprise"]["proof"] = {"kind": relations.APPLICANT}
    for subject, proof in zip(stored["subjects"], proofs, strict=True):
        subject["proof"] = proof.model_dump(mode="json")
    return stored


def submitted_event(
    receipt: Receipt,
    body: RequestCreate,
    principal: Principal,
    files: list[events.FileRef],
    proofs: list[events.SubjectProof],
) -> events.RequestSubmitted:
    enterprise = events.Subject(**body.enterprise.model_dump(), proof=events.SubjectProof(kind=relations.APPLICANT))
    others = [
        events.Subject(uscc=s.uscc, name=s.name, region_code=s.region_code, proof=proof)
        for s, proof in zip(body.subjects, proofs, strict=True)
    ]
    return events.RequestSubmitted(
        request_id=receipt.id,
        reference_no=receipt.reference_no,
        request_type=body.type,
        enterprise=enterprise,
        subjects=[enterprise, *others],
        items=body.items,
        certificate_anyway=body.certificate_anyway,
        period_months=body.period_months,
        purpose=body.purpose,
        description=body.description,
        # In full for the router, which shows it only to the clerks of each item's unit.
        contact_name=body.contact.name,
        contact_mobile=body.contact.mobile,
        attachments=files,
        submitted_by=principal.as_actor(),
        submitted_at=receipt.created_at,
    )


def conflict(code: str, zh: str, en: str, **extra) -> Problem:
    return Problem(409, code, zh, en, extra=extra)


async def supplement(session: AsyncSession, principal: Principal, request: Request, body: SupplementIn) -> None:
    owner_only(principal, request)
    item = await session.get(WorkItemView, body.work_item_id)
    if item is None or item.request_id != request.id:
        raise invalid_field(
            "work_item_id", "work_item_unknown", "该诉求下没有这个工单", "No such work item in this request"
        )
    if item.status != "awaiting_supplement":
        raise conflict(
            "no_supplement_requested",
            "该部门没有要求补正材料",
            "This department has not asked for a supplement",
            current_status=item.status,
        )
    files = await attachments.claim(
        session,
        principal,
        body.attachments,
        "attachments",
        request_id=request.id,
        purpose="supplement",
        work_item_id=item.id,
    )
    now = utcnow()
    event = events.SupplementProvided(
        request_id=request.id,
        work_item_id=item.id,
        text=body.text,
        attachments=files,
        actor=principal.as_actor(),
        occurred_at=now,
    )
    timeline.record(
        session,
        request.id,
        now,
        "request.supplement_provided",
        Words(f"已向{item.unit_name}补正材料", f"Supplement sent to {item.unit_name}"),
        item,
        file_ids=[f.id for f in files],
    )
    await messages.request_updated(session, event, now)


def next_attempt(item: WorkItemView, earlier: list[ItemRating]) -> int | None:
    """Which rating of ``item`` the enterprise may give now, or None. An item is rated as soon as
    it is resolved, on its own; a poor first rating reopens it (重办), and after the redo it may
    be rated once more, finally."""
    if item.status != "resolved":
        return None
    if not earlier:
        return 1
    if len(earlier) == 1 and events.reopens(1, earlier[0].score):
        return 2
    return None


async def rate(session: AsyncSession, principal: Principal, request: Request, body: RatingIn) -> ItemRating:
    owner_only(principal, request)
    item = await session.get(WorkItemView, body.work_item_id)
    if item is None or item.request_id != request.id:
        raise invalid_field(
            "work_item_id", "work_item_unknown", "该诉求下没有这个工单", "No such work item in this request"
        )
    earlier = (await read_model.ratings_of(session, request.id)).get(item.id, [])
    attempt = next_attempt(item, earlier)
    if attempt is None:
        if earlier:
            raise conflict("already_rated", "该事项已评价", "This item has already been rated", ratings=len(earlier))
        raise conflict(
            "not_resolved",
            "该事项办结后才能评价",
            "An item is rated once it is resolved",
            current_status=item.status,
        )
    now = utcnow()
    rating = ItemRating(
        work_item_id=item.id,
        attempt=attempt,
        request_id=request.id,
        score=body.score,
        comment=body.comment,
        rated_by=principal.sub,
        created_at=now,
    )
    session.add(rating)
    event = events.WorkItemRated(
        request_id=request.id,
        work_item_id=item.id,
        score=body.score,
        comment=body.comment,
        attempt=attempt,
        actor=principal.as_actor(),
        occurred_at=now,
    )
    reopens = events.reopens(attempt, body.score)
    summary = Words(
        f"企业评价{item.unit_name}：{rating_name(body.score)}" + ("，申请重办" if reopens else ""),
        f"You rated {item.unit_name}: {rating_name(body.score, 'en')}" + (", asking for a redo" if reopens else ""),
    )
    timeline.record(session, request.id, now, "request.rated", summary, item)
    await messages.request_updated(session, event, now)
    # Rated: no longer the enterprise's turn for this item (the router closes or reopens it).
    request.status = await read_model.status_of(session, request, await read_model.work_items_of(session, request.id))
    request.updated_at = now
    return rating


async def withdraw(session: AsyncSession, principal: Principal, request: Request, body: WithdrawIn) -> None:
    owner_only(principal, request)
    items = await read_model.work_items_of(session, request.id)
    if request.status == "withdrawn" or (items and all(i.status in FINISHED_STATES for i in items)):
        raise conflict(
            "cannot_withdraw",
            "该诉求已办结或已撤回，不能撤回",
            "A resolved or withdrawn request cannot be withdrawn",
            current_status=request.status,
        )
    now = utcnow()
    request.status = "withdrawn"
    request.updated_at = now
    event = events.RequestWithdrawn(
        request_id=request.id, reason=body.reason, actor=principal.as_actor(), occurred_at=now
    )
    summary = Words("企业已撤回诉求", "You withdrew the request") + body.reason
    timeline.record(session, request.id, now, "request.withdrawn", summary)
    await messages.request_updated(session, event, now)


async def upload_credit_report(
    session: AsyncSession, principal: Principal, request: Request, body: CreditReportIn
) -> CreditReport:
    """信用代证: the enterprise's 专项信用报告 (a PDF it uploaded) for one subject fulfils every item
    the report stands for. A newer upload replaces the earlier one (e.g. a longer period)."""
    owner_only(principal, request)
    if request.status == "withdrawn":
        raise conflict("withdrawn", "诉求已撤回", "The request has been withdrawn", current_status=request.status)
    report = await session.scalar(
        select(CreditReport).where(
            CreditReport.request_id == request.id, CreditReport.subject_uscc == body.subject_uscc
        )
    )
    if report is None:
        raise invalid_field(
            "subject_uscc",
            "no_credit_report",
            "该主体没有可由专项信用报告替代的事项（或尚未分派完成）",
            "No item of this subject is covered by a credit report (or routing is not finished yet)",
        )
    [file] = await attachments.claim(
        session, principal, [body.attachment_id], "attachment_id", request_id=request.id, purpose="credit_report"
    )
    if file.content_type != "application/pdf":
        raise invalid_field(
            "attachment_id", "not_pdf", "专项信用报告须为 PDF 文件", "The credit report must be a PDF file"
        )
    now = utcnow()
    report.attachment_id, report.uploaded_at = file.id, now
    names = []
    for item_id in report.work_item_ids:
        view = await session.get(WorkItemView, item_id)
        if view is not None:
            view.status, view.updated_at = read_model.CREDIT_UPLOADED, now
            view.result = {"outcome": "credit_report", "document_id": file.id, "report_name": report.report_name}
            names.append((DEPARTMENT_KINDS.zh(view.item), DEPARTMENT_KINDS.name(view.item, "en")))
    timeline.record(
        session,
        request.id,
        now,
        "credit_report.uploaded",
        Words(
            f"已上传{report.subject_name}的{report.report_name}，"
            f"替代{len(names)}项证明：{'、'.join(n for n, _ in names)}",
            f"Uploaded {report.report_name} of {report.subject_name}, replacing {len(names)} "
            f"certificate{'s' if len(names) != 1 else ''}: {', '.join(e for _, e in names)}",
        ),
        file_ids=[file.id],
    )
    await session.flush()
    request.status = await read_model.status_of(session, request, await read_model.work_items_of(session, request.id))
    request.updated_at = now
    return report
