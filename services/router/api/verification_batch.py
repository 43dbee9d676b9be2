"""Batch verification for a 保荐机构 (``POST /v1/verifications/batch``): up to 200 codes as JSON or
a CSV, or a ZIP of PDFs (each found by its SHA-256 among the registered files), answered as JSON
or, with ``Accept: text/csv``, as a CSV with Chinese headers (UTF-8 with a BOM, for Excel)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import reading_now
from shared.problems import Problem, invalid_field

from ..document_models import IssuedDocumentRow
from ..document_views import public_json
from ..documents import codes, verification
from ..schemas import Strict

MAX_ENTRIES = 200
NOT_FOUND = ("not_found", "未找到", "Not found")

OPENAPI_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["codes"],
                    "properties": {"codes": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_ENTRIES}},
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary", "description": "CSV or ZIP of PDFs"}},
                }
            },
        }
    }
}


class BatchIn(Strict):
    codes: list[str]


@dataclass
class Entry:
    input: str
    code: str | None = None  # what a person typed, for codes
    pdf: bytes | None = None  # a PDF from the ZIP


@dataclass
class Row:
    input: str
    by_code: bool
    doc: IssuedDocumentRow | None
    view: dict[str, Any] | None
    match: bool | None


def too_many(count: int) -> None:
    if count > MAX_ENTRIES:
        raise invalid_field(
            "codes",
            "too_many",
            f"一次最多核验 {MAX_ENTRIES} 个，提交了 {count} 个",
            f"At most {MAX_ENTRIES} at a time; got {count}",
        )


def not_csv_or_zip() -> Problem:
    return invalid_field(
        "file",
        "file_not_csv_or_zip",
        "请上传 CSV（核验码）或 ZIP（PDF 文件）",
        "Upload a CSV of codes or a ZIP of PDFs",
    )


def csv_codes(data: bytes) -> list[Entry]:
    """Every non-empty first cell of a CSV (a header row 核验码 or code is skipped)."""
    try:
        text = data.decode("utf-8-sig")
        cells = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    except (UnicodeDecodeError, csv.Error) as error:  # an image, a binary file: not a list of codes
        raise not_csv_or_zip() from error
    if cells and cells[0] in ("核验码", "code", "Code", "CODE"):
        cells = cells[1:]
    return [Entry(input=c, code=c) for c in cells]


def zip_pdfs(data: bytes, max_bytes: int) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise not_csv_or_zip() from error
    infos = [i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".pdf")]
    too_many(len(infos))
    entries = []
    for info in infos:
        if info.file_size > max_bytes:  # stated size: nothing larger is unpacked
            raise invalid_field("file", "file_too_large", f"{info.filename} 过大", f"{info.filename} is too large")
        entries.append(Entry(input=info.filename, pdf=archive.read(info)))
    return entries


async def read_entries(request: Request) -> list[Entry]:
    settings = request.app.state.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise invalid_field("file", "missing", "请上传 CSV 或 ZIP 文件", "Upload a CSV or a ZIP")
        limit = settings.verification_pdf_max_bytes * 5
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise invalid_field("file", "file_too_large", "文件过大", "The file is too large")
        entries = zip_pdfs(data, settings.verification_pdf_max_bytes) if data[:2] == b"PK" else csv_codes(data)
    else:
        try:
            entries = [Entry(input=c, code=c) for c in BatchIn.model_validate_json(await request.body()).codes]
        except ValidationError as error:
            raise invalid_field("codes", "invalid", '请提交 {"codes": [...]}', 'Send {"codes": [...]}') from error
    too_many(len(entries))
    if not entries:
        raise invalid_field("codes", "empty", "没有可核验的核验码或文件", "Nothing to verify")
    return entries


def canonical(text: str) -> str | None:
    try:
        return codes.normalise(text)
    except codes.MalformedCode:
        return None


async def results(request: Request, session: AsyncSession, entries: list[Entry], client: str) -> list[Row]:
    wanted = {c for e in entries if e.code is not None and (c := canonical(e.code))}
    hashes = {verification.sha256_hex(e.pdf) for e in entries if e.pdf is not None}
    by_code = {
        d.code: d for d in await session.scalars(select(IssuedDocumentRow).where(IssuedDocumentRow.code.in_(wanted)))
    }
    by_sha = {
        d.sha256: d
        for d in await session.scalars(select(IssuedDocumentRow).where(IssuedDocumentRow.sha256.in_(hashes)))
    }
    settings, now = request.app.state.settings, reading_now()
    rows = []
    for entry in entries:
        if entry.code is not None:
            code = canonical(entry.code)
            doc, match = by_code.get(code) if code else None, None
        else:
            doc = by_sha.get(verification.sha256_hex(entry.pdf))
            match = doc is not None
        view = public_json(doc, settings, now) if doc is not None else None
        rows.append(Row(entry.input, entry.code is not None, doc, view, match))
    return rows


def row_json(row: Row) -> dict[str, Any]:
    view = row.view or {}
    status = (view["status"], view["status_name"], view["status_name_en"]) if view else NOT_FOUND
    return {
        "input": row.input,
        "code": view.get("code"),
        "status": status[0],
        "status_name": status[1],
        "status_name_en": status[2],
        "match": row.match,
        "unit_name": view.get("unit", {}).get("name"),
        "document_number": view.get("document_number"),
        "kind_name": view.get("kind_name"),
        "subject_name": view.get("subject", {}).get("name"),
        "issued_on": view.get("issued_on"),
        "valid_until": view.get("valid_until"),
        "revoked_on": view.get("revoked_on"),
        "document": row.view,
    }


CSV_COLUMNS = {
    "input": "输入",
    "code": "核验码",
    "status_name": "状态",
    "unit_name": "出具单位",
    "document_number": "文号",
    "kind_name": "证明类型",
    "subject_name": "主体名称",
    "issued_on": "出具日期",
    "valid_until": "建议使用截止日",
    "revoked_on": "撤销日期",
    "match": "文件比对",
}


def _cell(key: str, value: Any) -> str:
    if key == "match":
        return {True: "一致", False: "未找到一致的登记文件", None: ""}[value]
    return "" if value is None else str(value)


def respond(request: Request, rows: list[Row]) -> Response:
    results = [row_json(r) for r in rows]
    if "text/csv" in request.headers.get("accept", ""):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS.values())
        for result in results:
            writer.writerow(_cell(k, result[k]) for k in CSV_COLUMNS)
        return Response(
            ("\ufeff" + out.getvalue()).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": "attachment; filename*=UTF-8''%E6%A0%B8%E9%AA%8C%E7%BB%93%E6%9E%9C.csv"},
        )
    return JSONResponse({"results": results})
