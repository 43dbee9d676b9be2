"""Files: one storage interface for every service, and uploads checked by their content.

The embedded default keeps files in a local directory (``XIAOER_FILES_DIR``) that the services on
one machine share. Production uses S3-compatible object storage (MinIO in docker-compose) through
aioboto3, so every replica of every service reads the same files. Content is stored once per
SHA-256 (the key); the services' own tables say who uploaded what and who may read it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import zipfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aioboto3
from botocore.exceptions import ClientError
from fastapi import UploadFile
from fastapi.responses import StreamingResponse

from shared.problems import FieldError, Problem, invalid_field
from shared.settings import Settings

_CHUNK = 1024 * 1024
_MAGIC = (
    ("application/pdf", b"%PDF-"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
)
TYPE_NAMES = {"application/pdf": "PDF", "application/ofd": "OFD", "image/jpeg": "JPEG", "image/png": "PNG"}


def sniff(path: Path) -> str | None:
    """The content type by the file's own bytes, never by its name. OFD (GB/T 33190) is a ZIP
    package whose root holds OFD.xml."""
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


# --- storage ----------------------------------------------------------------------------------------
class FileStore(ABC):
    """Where file contents live, by key (their SHA-256)."""

    @abstractmethod
    async def put(self, key: str, source: Path, content_type: str) -> None: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    def chunks(self, key: str) -> AsyncIterator[bytes]: ...


class LocalFileStore(FileStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    async def put(self, key: str, source: Path, content_type: str) -> None:
        target = self.path(key)

        def keep() -> None:
            if target.exists():
                return  # the same bytes are there already
            target.parent.mkdir(parents=True, exist_ok=True)
            # Copy aside, then rename: a reader never sees half a file.
            scratch = target.with_name(f".{key}.{os.getpid()}")
            shutil.copyfile(source, scratch)
            os.replace(scratch, target)

        await asyncio.to_thread(keep)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).exists)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                yield chunk
        finally:
            handle.close()


class S3FileStore(FileStore):
    """An S3-compatible bucket (MinIO, Ceph, a cloud's object storage). The bucket is created on
    first write when it does not exist, so a fresh MinIO needs no manual step."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._session = aioboto3.Session()
        self._client_args = dict(
            service_name="s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key.get_secret_value()
            if settings.s3_secret_access_key
            else None,
        )
        self._bucket_ready = False

    def _client(self):
        return self._session.client(**self._client_args)

    async def _ensure_bucket(self, s3) -> None:
        if self._bucket_ready:
            return
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            await s3.create_bucket(Bucket=self.bucket)
        self._bucket_ready = True

    async def put(self, key: str, source: Path, content_type: str) -> None:
        async with self._client() as s3:
            await self._ensure_bucket(s3)
            if await self._exists(s3, key):
                return
            await s3.upload_file(str(source), self.bucket, key, ExtraArgs={"ContentType": content_type})

    async def _exists(self, s3, key: str) -> bool:
        try:
            await s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return False
            raise

    async def exists(self, key: str) -> bool:
        async with self._client() as s3:
            return await self._exists(s3, key)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        async with self._client() as s3:
            answer = await s3.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            try:
                async for chunk in body.iter_chunks(_CHUNK):
                    yield chunk
            finally:
                body.close()


def file_store(settings: Settings) -> FileStore:
    if settings.files_backend == "s3":
        return S3FileStore(settings)
    return LocalFileStore(settings.files_dir)


# --- uploads ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedFile:
    sha256: str
    size: int
    content_type: str
    filename: str


def too_large(settings: Settings) -> Problem:
    limit_mb = settings.file_max_bytes / (1024 * 1024)
    return Problem(
        413,
        "attachment_too_large",
        "附件过大",
        "Attachment too large",
        errors=[FieldError("file", "too_large", f"附件不能超过 {limit_mb:g} MB", f"At most {limit_mb:g} MB")],
    )


async def receive(settings: Settings, store: FileStore, upload: UploadFile) -> ReceivedFile:
    """Streams an upload to scratch space, checks its size and its content (magic bytes), then
    keeps it in ``store``. Refusals are problem+json errors naming the field ``file``."""
    scratch_dir = settings.var_dir / "uploads"
    scratch_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, scratch_name = tempfile.mkstemp(dir=scratch_dir, prefix=".upload-")
    scratch = Path(scratch_name)
    try:
        with os.fdopen(handle, "wb") as scratch_file:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > settings.file_max_bytes:
                    raise too_large(settings)
                digest.update(chunk)
                await asyncio.to_thread(scratch_file.write, chunk)
        if size == 0:
            raise invalid_field("file", "empty", "附件为空", "The file is empty")
        content_type = await asyncio.to_thread(sniff, scratch)
        if content_type is None or content_type not in settings.file_types:
            accepted = "、".join(TYPE_NAMES.get(t, t) for t in settings.file_types)
            raise Problem(
                415,
                "attachment_type_refused",
                "不支持的附件类型",
                "Unsupported attachment type",
                errors=[
                    FieldError(
                        "file", "type_refused", f"只接受 {accepted} 文件", f"Only {', '.join(settings.file_types)}"
                    )
                ],
            )
        sha = digest.hexdigest()
        await store.put(sha, scratch, content_type)
    finally:
        await asyncio.to_thread(scratch.unlink, missing_ok=True)
    return ReceivedFile(sha256=sha, size=size, content_type=content_type, filename=(upload.filename or "附件")[:255])


BINARY = {"schema": {"type": "string", "format": "binary"}}
DOWNLOAD_RESPONSES: dict[int | str, dict] = {
    200: {"description": "文件内容 (the file)", "content": {t: BINARY for t in TYPE_NAMES}},
}
"""``responses=`` of a route that answers with a stored file."""


def download(store: FileStore, key: str, filename: str, content_type: str, size: int) -> StreamingResponse:
    """A streamed download whose name survives Chinese characters (RFC 6266 ``filename*``)."""
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(
        store.chunks(key),
        media_type=content_type,
        headers={"Content-Disposition": disposition, "Content-Length": str(size)},
    )
