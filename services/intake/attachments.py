"""Attachments: uploads checked by their content (not their name), stored once per SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.problems import FieldError, Problem, invalid_field

from .models import Attachment
from .settings import IntakeSettings

_MAGIC = (
    ("application/pdf", b"%PDF-"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
)
_CHUNK = 1024 * 1024


def sniff(path: Path) -> str | None:
    """The content type by the file's own bytes. OFD (GB/T 33190) is a ZIP package whose root
    holds OFD.xml."""
    with path.open("rb") as f:
        head = f.read(16)
    for content_type, magic in _MAGIC:
        if head.startswith(magic):
            return content_type
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as package:
                if "OFD.xml" in package.namelist():
                    return "application/ofd"
        except zipfile.BadZipFile:
            return None
    return None


def too_large(settings: IntakeSettings) -> Problem:
    limit_mb = settings.attachment_max_bytes / (1024 * 1024)
    return Problem(
        413,
        "attachment_too_large",
        "附件过大",
        "Attachment too large",
        errors=[FieldError("file", "too_large", f"附件不能超过 {limit_mb:g} MB", f"At most {limit_mb:g} MB")],
    )


async def store(
    settings: IntakeSettings, session: AsyncSession, principal: Principal, upload: UploadFile
) -> Attachment:
    settings.attachments_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, scratch_name = tempfile.mkstemp(dir=settings.attachments_dir, prefix=".upload-")
    scratch = Path(scratch_name)
    try:
        with os.fdopen(handle, "wb") as scratch_file:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > settings.attachment_max_bytes:
                    raise too_large(settings)
                digest.update(chunk)
                await asyncio.to_thread(scratch_file.write, chunk)
        if size == 0:
            raise invalid_field("file", "empty", "附件为空", "The file is empty")
        content_type = await asyncio.to_thread(sniff, scratch)
        if content_type is None or content_type not in settings.attachment_types:
            raise Problem(
                415,
                "attachment_type_refused",
                "不支持的附件类型",
                "Unsupported attachment type",
                errors=[
                    FieldError("file", "type_refused", "只接受 PDF、OFD、JPEG、PNG 文件", "Only PDF, OFD, JPEG, PNG")
                ],
            )
        sha = digest.hexdigest()
        await asyncio.to_thread(_keep, scratch, content_path(settings, sha))
    finally:
        await asyncio.to_thread(scratch.unlink, missing_ok=True)
    attachment = Attachment(
        id=str(uuid.uuid4()),
        sha256=sha,
        filename=(upload.filename or "attachment")[:255],
        content_type=content_type,
        size=size,
        uploaded_by=principal.sub,
    )
    session.add(attachment)
    return attachment


def _keep(scratch: Path, target: Path) -> None:
    """Moves the upload into content-addressed storage, unless the same bytes are there."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scratch, target)


def content_path(settings: IntakeSettings, sha256: str) -> Path:
    return settings.attachments_dir / sha256[:2] / sha256
