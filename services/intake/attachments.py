"""The files of a request: uploads checked by their content (``shared.files``), which of them a
request or answer may use, what units sent back, and who may download what (logged)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import Row, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, files
from shared.auth import Principal
from shared.problems import Problem, invalid_field

from .models import Attachment, FileDownload
from .settings import IntakeSettings


async def store(
    settings: IntakeSettings, store: files.FileStore, session: AsyncSession, principal: Principal, upload: UploadFile
) -> Attachment:
    received = await files.receive(settings, store, upload)
    attachment = Attachment(
        id=str(uuid.uuid4()),
        sha256=received.sha256,
        filename=received.filename,
        content_type=received.content_type,
        size=received.size,
        uploaded_by=principal.sub,
    )
    session.add(attachment)
    return attachment


async def claim(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[str],
    field: str,
    *,
    request_id: str,
    purpose: str,
    work_item_id: str | None = None,
    subject_uscc: str | None = None,
) -> list[events.FileRef]:
    """The caller's own uploads ``ids``, now part of a request (or of one answer in it, or the
    authorisation of one ``subject_uscc``). An id that is unknown, someone else's or already used
    elsewhere is refused naming ``field``."""
    if not ids:
        return []
    if len(set(ids)) != len(ids):
        raise invalid_field(field, "attachment_repeated", "同一附件重复引用", "The same attachment is named twice")
    # One conditional UPDATE, not a read and then a write: of two submissions naming the same
    # upload at once, the second's UPDATE waits for the first's row lock and then finds the file
    # taken (PostgreSQL checks the condition again on the row it waited for); with a read first,
    # both would have taken it. A refusal below rolls the whole submission back.
    table = Attachment.__table__
    claimed = {
        row.id: row
        for row in await session.execute(
            update(table)
            .where(
                table.c.id.in_(ids),
                table.c.uploaded_by == principal.sub,
                or_(table.c.request_id.is_(None), table.c.request_id == request_id),
            )
            .values(request_id=request_id, work_item_id=work_item_id, purpose=purpose, subject_uscc=subject_uscc)
            .returning(table.c.id, table.c.filename, table.c.content_type, table.c.size, table.c.sha256)
        )
    }
    unusable = [i for i in ids if i not in claimed]
    if unusable:
        raise invalid_field(
            field,
            "attachment_unknown",
            f"附件不存在、不是您上传的或已用于其他诉求：{', '.join(unusable)}",
            f"No such attachment of yours, or already used elsewhere: {', '.join(unusable)}",
        )
    return [ref_of(claimed[i]) for i in ids]


def ref_of(row: Attachment | Row) -> events.FileRef:
    return events.FileRef(id=row.id, name=row.filename, content_type=row.content_type, size=row.size, sha256=row.sha256)


async def record_unit_files(
    session: AsyncSession,
    refs: Sequence[events.FileRef],
    *,
    unit_code: str,
    request_id: str,
    work_item_id: str,
    purpose: str,
) -> None:
    """Records files a unit sent with a move (from ``workitems.events``), once each."""
    for ref in refs:
        if await session.get(Attachment, ref.id) is None:
            session.add(
                Attachment(
                    id=ref.id,
                    sha256=ref.sha256,
                    filename=ref.name,
                    content_type=ref.content_type,
                    size=ref.size,
                    uploaded_by=f"unit:{unit_code}",
                    request_id=request_id,
                    work_item_id=work_item_id,
                    purpose=purpose,
                )
            )


def not_found() -> Problem:
    return Problem(404, "attachment_not_found", "附件不存在", "Attachment not found")


def download(session: AsyncSession, store: files.FileStore, row: Attachment, downloaded_by: str) -> StreamingResponse:
    """The file's bytes, with the download written to the audit log (in the caller's transaction)."""
    session.add(FileDownload(file_id=row.id, request_id=row.request_id, downloaded_by=downloaded_by))
    return files.download(store, row.sha256, row.filename, row.content_type, row.size)
