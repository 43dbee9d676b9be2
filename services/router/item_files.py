"""The files a unit works with: the enterprise's attachments and 补正 answers (learned from
intake's events), and what the unit uploads itself (a certificate to issue, a form to fill in)
before naming it in a move. Who may download what is the work item's scope; every download is
logged."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, files
from shared.problems import Problem, invalid_field

from .models import FileDownload, ItemFile, WorkItem
from .settings import RouterSettings


def ref_of(row: ItemFile) -> events.FileRef:
    return events.FileRef(id=row.id, name=row.name, content_type=row.content_type, size=row.size, sha256=row.sha256)


async def record_enterprise_files(
    session: AsyncSession,
    refs: Sequence[events.FileRef],
    *,
    request_id: str,
    work_item_id: str | None,
    purpose: str,
    uploaded_by: str,
    subject_uscc: str | None = None,
) -> None:
    """Records the enterprise's files from intake's events, once each (replays change nothing);
    a subject's 授权委托书 with its subject (``subject_uscc``): the units of its items see it."""
    for ref in refs:
        if await session.get(ItemFile, ref.id) is None:
            session.add(
                ItemFile(
                    id=ref.id,
                    request_id=request_id,
                    work_item_id=work_item_id,
                    subject_uscc=subject_uscc,
                    origin="enterprise",
                    purpose=purpose,
                    name=ref.name,
                    content_type=ref.content_type,
                    size=ref.size,
                    sha256=ref.sha256,
                    uploaded_by=uploaded_by,
                )
            )


async def upload(
    settings: RouterSettings,
    store: files.FileStore,
    session: AsyncSession,
    item: WorkItem,
    uploaded_by: str,
    file: UploadFile,
) -> ItemFile:
    received = await files.receive(settings, store, file)
    row = ItemFile(
        id=str(uuid.uuid4()),
        request_id=item.request_id,
        work_item_id=item.id,
        origin="unit",
        purpose="unit",
        name=received.filename,
        content_type=received.content_type,
        size=received.size,
        sha256=received.sha256,
        uploaded_by=uploaded_by,
    )
    session.add(row)
    return row


async def claim_unit_uploads(
    session: AsyncSession, item: WorkItem, ids: Sequence[str], move: str
) -> list[events.FileRef]:
    """The unit's own uploads for this item, now sent on with ``move``. An id that is unknown,
    another item's, the enterprise's or already sent with another move is refused (422, field
    ``attachments``)."""
    if not ids:
        return []
    if len(set(ids)) != len(ids):
        raise invalid_field("attachments", "attachment_repeated", "同一附件重复引用", "The same file is named twice")
    rows = {
        f.id: f
        for f in await session.scalars(
            select(ItemFile).where(ItemFile.id.in_(ids), ItemFile.work_item_id == item.id, ItemFile.origin == "unit")
        )
    }
    unusable = [i for i in ids if i not in rows or rows[i].used_in not in (None, move)]
    if unusable:
        raise invalid_field(
            "attachments",
            "attachment_unknown",
            f"附件不存在、不属于本工单或已用于其他操作：{', '.join(unusable)}（请先上传）",
            f"Unknown file, not this item's, or already used: {', '.join(unusable)} (upload it first)",
        )
    for i in ids:
        rows[i].used_in = move
    return [ref_of(rows[i]) for i in ids]


async def of_items(session: AsyncSession, items: Sequence[WorkItem]) -> dict[str, list[ItemFile]]:
    """What each item's unit may read, in one query for all of them: its request's attachments
    and the item's own files."""
    rows = await session.scalars(
        select(ItemFile)
        .where(ItemFile.request_id.in_({i.request_id for i in items}))
        .order_by(ItemFile.created_at, ItemFile.id)
    )
    by_request: dict[str, list[ItemFile]] = {}
    for row in rows:
        by_request.setdefault(row.request_id, []).append(row)
    return {i.id: [f for f in by_request.get(i.request_id, []) if readable(f, i)] for i in items}


def readable(row: ItemFile, item: WorkItem) -> bool:
    """Whether the unit of ``item`` may read ``row``: the request's files, the item's own, and the
    授权委托书 of the item's subject (not another subject's)."""
    return (
        row.request_id == item.request_id
        and row.work_item_id in (None, item.id)
        and row.subject_uscc in (None, item.subject_uscc)
    )


def not_found() -> Problem:
    return Problem(404, "attachment_not_found", "附件不存在", "File not found")


async def download(
    session: AsyncSession, store: files.FileStore, item: WorkItem, file_id: str, downloaded_by: str
) -> StreamingResponse:
    row = await session.get(ItemFile, file_id)
    if row is None or not readable(row, item):
        raise not_found()
    session.add(FileDownload(file_id=row.id, work_item_id=item.id, downloaded_by=downloaded_by))
    return files.download(store, row.sha256, row.name, row.content_type, row.size)
