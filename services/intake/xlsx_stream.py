"""A one-sheet XLSX workbook of text cells, streamed as it is written: the ledger of a province's
month is a hundred thousand rows, and a workbook written whole (xlsxwriter) is a ZIP archive sent
only once its last row is in — 12 s before the first byte on a year of Guangdong. Here the sheet's
XML is made row by row and zipped on the fly by stream-zip, so the first bytes leave at once. The
workbook holds what Excel needs and no more: the sheet (inline strings, a bold frozen header row),
its styles, the package's parts and relationships (ECMA-376, SpreadsheetML)."""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from stream_zip import ZIP_32, async_stream_zip

EXCEL_ROWS = 1_048_576  # the most rows a sheet holds, its header included
# Characters XML 1.0 does not allow in text: a workbook with one is refused whole by Excel.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _parts(sheet_name: str) -> dict[str, str]:
    """Every part of the package but the sheet itself."""
    return {
        "[Content_Types].xml": _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPES}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPES}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_TYPES}.styles+xml"/>'
        "</Types>",
        "_rels/.rels": _HEAD + f'<Relationships xmlns="{_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": _HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}"><sheets>'
        f'<sheet name="{escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _HEAD + f'<Relationships xmlns="{_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{_OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_OFFICE}/styles" Target="styles.xml"/>'
        "</Relationships>",
        # Style 0: the default; style 1: bold (the header row).
        "xl/styles.xml": _HEAD + f'<styleSheet xmlns="{_MAIN}">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>",
    }


def _fast_deflate():
    """Deflate at level 1, not stream-zip's default 9: a ledger of 100,948 rows is 16.4 MiB instead
    of 12.4, made in about a quarter of the time (compressing was most of the export's time)."""
    return zlib.compressobj(level=1, wbits=-zlib.MAX_WBITS)


def _column_letters(count: int) -> tuple[str, ...]:
    letters = []
    for n in range(1, count + 1):
        name = ""
        while n:
            n, rest = divmod(n - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return tuple(letters)


# Joins a row's values so that they are cleaned and escaped in one pass, not one per cell: a rare
# printable symbol (U+241E, the picture of a record separator); a value that holds it is cleaned and
# escaped on its own.
_JOIN = "\u241e"


def _texts(values: Sequence[str]) -> list[str]:
    """The values as XML text: characters XML cannot hold dropped, markup escaped. Text that is
    all printable has none of them (str.isprintable, a quick pass in C, before the expression)."""
    joined = _JOIN.join(values)
    if not joined.isprintable():
        joined = _NOT_XML.sub("", joined)
    texts = escape(joined).split(_JOIN)
    if len(texts) == len(values):
        return texts
    return [escape(_NOT_XML.sub("", value)) for value in values]


@functools.lru_cache(maxsize=1024)
def _row_template(columns: tuple[str, ...], filled: tuple[bool, ...], style: str) -> str:
    """A row's XML with its number (``{0}``) and its filled cells' texts to put in: the ledger's
    rows leave the same few columns empty, so a handful of these serve a whole export."""
    cells = "".join(
        f'<c r="{column}{{0}}" t="inlineStr"{style}><is><t xml:space="preserve">{{{n}}}</t></is></c>'
        for n, column in enumerate((c for c, f in zip(columns, filled, strict=False) if f), start=1)
    )
    return f'<row r="{{0}}">{cells}</row>'


def _row(number: int, values: Sequence[str], columns: tuple[str, ...], style: str = "") -> str:
    """One row of inline strings; empty values leave their cells out. Made by filling in a
    template: a format string per cell cost more than the rest of the export's work on a row."""
    texts = _texts(values)
    return _row_template(columns, tuple(map(bool, texts)), style).format(number, *filter(None, texts))


async def _sheet(header: list[str], rows: AsyncGenerator[Sequence[str], None], rows_per_chunk: int, too_many: str):
    """The sheet's XML, ``rows_per_chunk`` rows at a time. At Excel's last row, a row says what was
    left out (``too_many``) and the rest are not read."""
    columns = _column_letters(len(header))
    frozen = '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    start = f'<worksheet xmlns="{_MAIN}"><sheetViews><sheetView workbookViewId="0">{frozen}</sheetView></sheetViews>'
    lines = [_HEAD, start, "<sheetData>", _row(1, header, columns, ' s="1"')]
    number = 1
    async for values in rows:
        number += 1
        if number == EXCEL_ROWS:
            lines.append(_row(number, [too_many], columns, ' s="1"'))
            await rows.aclose()
            break
        lines.append(_row(number, values, columns))
        if len(lines) >= rows_per_chunk:
            yield "".join(lines).encode("utf-8")
            lines = []
    lines.append("</sheetData></worksheet>")
    yield "".join(lines).encode("utf-8")


# Workbooks zipped at once in a process. stream-zip's async interface holds a thread of the event
# loop's default pool for each while it runs (six threads on two cores), and file transfers and new
# database connections (their host-name lookups) need that pool too: more exports wait their turn.
AT_ONCE = 3
_zipping: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _turns() -> asyncio.Semaphore:
    return _zipping.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(AT_ONCE))


async def workbook(
    sheet_name: str,
    header: list[str],
    rows: AsyncGenerator[Sequence[str], None],
    *,
    too_many: str,
    rows_per_chunk: int = 500,
) -> AsyncIterator[bytes]:
    """The workbook's bytes as they are made: ``header`` in bold and frozen, then ``rows``."""
    made = datetime.now()

    async def once(text: str) -> AsyncIterator[bytes]:
        yield text.encode("utf-8")

    async def members():
        for name, text in _parts(sheet_name).items():
            yield name, made, 0o600, ZIP_32, once(text)
        yield "xl/worksheets/sheet1.xml", made, 0o600, ZIP_32, _sheet(header, rows, rows_per_chunk, too_many)

    async with _turns():
        async for chunk in async_stream_zip(members(), get_compressobj=_fast_deflate):
            yield chunk
