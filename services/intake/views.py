"""A request as its readers see it: its subjects with their proofs, its work items, its files,
its 专项信用报告 entries, its ratings and its timeline (intake's answers)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.catalogue import DEPARTMENT_KINDS
from shared.events import reopens
from shared.vocabulary import (
    CREDIT_REPORT_STATUSES,
    FILE_PURPOSES,
    OPEN_STATES,
    REQUEST_STATUSES,
    SUBJECT_PROOFS,
    WORK_ITEM_STATES,
    rating_name,
)

from . import access, read_model, timeline, turns
from .models import Attachment, CreditReport, ItemRating, Request, WorkItemView
from .schemas import (
    CreditReportOut,
    FileOut,
    RatingOut,
    RequestOut,
    SubjectProofOut,
    TimelineEntryOut,
    WorkItemOut,
    YourTurnOut,
)


async def request_out(session: AsyncSession, principal: Principal, req: Request) -> RequestOut:
    items = await read_model.work_items_of(session, req.id)
    entries = await timeline.timeline_of(session, req.id)
    files = {f.id: f for f in await session.scalars(select(Attachment).where(Attachment.request_id == req.id))}
    body = req.body
    open_dues = [i.due_at for i in items if i.status in OPEN_STATES and i.due_at is not None]
    waiting = turns.awaited(items, await read_model.ratings_of(session, req.id)) if req.status != "withdrawn" else []
    return RequestOut(
        id=req.id,
        reference_no=req.reference_no,
        type=req.type,
        status=req.status,
        status_name=REQUEST_STATUSES.zh(req.status),
        status_name_en=REQUEST_STATUSES.name(req.status, "en"),
        your_turn=[your_turn_out(t) for t in waiting],
        summary=turns.summary(items),
        step=turns.step(items, req.status == "withdrawn"),
        enterprise=body["enterprise"],
        subjects=[subject_out(s, files) for s in (body["enterprise"], *body.get("subjects", []))],
        items=body["items"],
        period_months=body.get("period_months"),
        purpose=body.get("purpose"),
        description=body.get("description"),
        contact=body.get("contact") if access.is_owner(principal, req) else None,
        attachments=body.get("attachments", []),
        files=[file_out(f) for f in files.values()],
        submitted_by_role=req.submitted_by_role,
        created_at=req.created_at,
        expected_at=max(open_dues) if open_dues else None,
        work_items=[work_item_out(i) for i in items],
        credit_reports=[
            credit_report_out(r, items, files) for r in await read_model.credit_reports_of(session, req.id)
        ],
        timeline=[
            TimelineEntryOut(
                at=t.occurred_at,
                event=t.event,
                work_item_id=t.work_item_id,
                unit_code=t.unit_code,
                unit_name=t.unit_name,
                summary=t.summary,
                summary_en=t.summary_en or t.summary,
                files=[file_out(files[i]) for i in t.file_ids or [] if i in files],
            )
            for t in entries
        ],
    )


def your_turn_out(turn: turns.Turn) -> YourTurnOut:
    zh, en = turn.words()
    return YourTurnOut(
        kind=turn.kind,
        work_item_id=turn.work_item_id,
        unit_name=turn.unit_name,
        subject_uscc=turn.subject_uscc,
        subject_name=turn.subject_name,
        zh=zh,
        en=en,
    )


def subject_out(subject: dict, files: dict[str, Attachment]) -> dict:
    """A subject as submitted, with how its applicant may ask about it (``proof``, null for
    requests from before proofs were kept) and its 授权委托书 to download when that is the proof."""
    proof = subject.get("proof")
    shown = {k: subject[k] for k in ("uscc", "name", "region_code")}
    if proof is None:
        return {**shown, "proof": None}
    file_id = (proof.get("authorization") or {}).get("id")
    return {
        **shown,
        "proof": SubjectProofOut(
            kind=proof["kind"],
            kind_name=SUBJECT_PROOFS.zh(proof["kind"]),
            kind_name_en=SUBJECT_PROOFS.name(proof["kind"], "en"),
            file=file_out(files[file_id]) if file_id in files else None,
        ).model_dump(mode="json"),
    }


def work_item_out(item: WorkItemView) -> WorkItemOut:
    return WorkItemOut(
        id=item.id,
        unit_code=item.unit_code,
        unit_name=item.unit_name,
        kind=item.kind,
        item=item.item,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        status=item.status,
        status_name=WORK_ITEM_STATES.zh(item.status),
        status_name_en=WORK_ITEM_STATES.name(item.status, "en"),
        acknowledge_due_at=item.acknowledge_due_at,
        due_at=item.due_at,
        result=item.result,
        last_actor=item.last_actor,
        last_actor_en=item.last_actor_en,
        coverage=item.coverage,
    )


def credit_report_out(report: CreditReport, items: list[WorkItemView], files: dict[str, Attachment]) -> CreditReportOut:
    by_id = {i.id: i for i in items}
    covered = [by_id[i] for i in report.work_item_ids or [] if i in by_id]  # in the order the request named them
    uploaded = report.attachment_id is not None
    withdrawn = not uploaded and bool(covered) and all(i.status == "cancelled" for i in covered)
    status = "uploaded" if uploaded else "withdrawn" if withdrawn else "to_obtain"
    return CreditReportOut(
        subject_uscc=report.subject_uscc,
        subject_name=report.subject_name,
        subject_region=report.subject_region,
        report_name=report.report_name,
        site={"name": report.site_name, "url": report.site_url},
        items=[
            {"code": i.item, "zh": DEPARTMENT_KINDS.zh(i.item), "en": DEPARTMENT_KINDS.name(i.item, "en")}
            for i in covered
        ],
        coverage=report.coverage or [],
        status=status,
        status_name=CREDIT_REPORT_STATUSES.zh(status),
        status_name_en=CREDIT_REPORT_STATUSES.name(status, "en"),
        file=file_out(files[report.attachment_id]) if uploaded and report.attachment_id in files else None,
        upload_url=f"/v1/requests/{report.request_id}/credit-reports",
    )


def file_out(row: Attachment) -> FileOut:
    return FileOut(
        id=row.id,
        name=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        purpose=row.purpose,
        purpose_name=FILE_PURPOSES.zh(row.purpose),
        purpose_name_en=FILE_PURPOSES.name(row.purpose, "en"),
        work_item_id=row.work_item_id,
        download_url=f"/v1/requests/{row.request_id}/files/{row.id}",
    )


def rating_out(rating: ItemRating) -> RatingOut:
    return RatingOut(
        work_item_id=rating.work_item_id,
        attempt=rating.attempt,
        score=rating.score,
        score_name=rating_name(rating.score),
        score_name_en=rating_name(rating.score, "en"),
        comment=rating.comment,
        reopened=reopens(rating.attempt, rating.score),
        created_at=rating.created_at,
    )
