"""The ledger's XLSX, zipped as it is written (services/intake/xlsx_stream.py): what openpyxl reads
back is what was written — Chinese, markup characters, spaces kept, characters XML cannot hold
left out —, the header is bold and frozen, the first bytes leave before the rows are all read, and
a sheet stops at Excel's last row with a row saying so, reading no further."""

from __future__ import annotations

import io

import openpyxl

from services.intake import xlsx_stream

HEADER = ["受理编号", "企业名称", "备注"]


async def rows_of(values: list[list[str]], read: list[int] | None = None):
    for row in values:
        if read is not None:
            read.append(1)
        yield row


async def workbook_bytes(values: list[list[str]], **options) -> bytes:
    return b"".join([chunk async for chunk in xlsx_stream.workbook("问题台账", HEADER, rows_of(values), **options)])


def read_back(data: bytes):
    book = openpyxl.load_workbook(io.BytesIO(data))
    return book, book.active, [[cell.value for cell in row] for row in book.active.iter_rows()]


async def test_what_is_written_reads_back():
    values = [
        ["XE-20261206-000001", "广州明珞装备股份有限公司", "  两边有空格  "],
        ["XE-20261206-000002", "A&B <公司> \"引号\" 'x'", "控制\x01字符\x1f去掉"],
        ["XE-20261206-000003", "", "前一格空着"],
    ]
    book, sheet, cells = read_back(await workbook_bytes(values, too_many="…"))
    assert book.sheetnames == ["问题台账"]
    assert cells[0] == HEADER and all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert cells[1] == values[0]
    assert cells[2] == ["XE-20261206-000002", "A&B <公司> \"引号\" 'x'", "控制字符去掉"]
    assert cells[3] == ["XE-20261206-000003", None, "前一格空着"]


async def test_rows_made_from_templates_keep_each_rows_own_cells():
    """Rows are filled into templates (one per set of empty cells) and their values cleaned in one
    pass: a value holding the joining character, tabs and line breaks, \\ufffe, braces, and rows
    leaving different cells empty must each read back as written."""
    join = xlsx_stream._JOIN
    values = [
        ["XE-1", f"甲{join}乙", "制表\t换行\n保留"],
        ["XE-2", "", "{0} {1} {}"],
        ["", "只有中间", ""],
        ["XE-4", "非字符\ufffe去掉&", "末格"],
        ["XE-5", f"{join}", ""],
    ]
    _, _, cells = read_back(await workbook_bytes(values, too_many="…"))
    assert cells[1:] == [
        ["XE-1", f"甲{join}乙", "制表\t换行\n保留"],
        ["XE-2", None, "{0} {1} {}"],
        [None, "只有中间", None],
        ["XE-4", "非字符去掉&", "末格"],
        ["XE-5", join, None],
    ]


async def test_the_first_bytes_leave_before_the_rows_are_all_read():
    values = [[f"XE-{n:06d}", "企业" * 20, "备注" * 20] for n in range(3000)]
    read: list[int] = []
    chunks = xlsx_stream.workbook("问题台账", HEADER, rows_of(values, read), too_many="…", rows_per_chunk=100)
    first = await anext(chunks)
    assert first[:2] == b"PK" and len(read) < len(values)
    rest = b"".join([chunk async for chunk in chunks])
    assert len(read) == len(values)
    assert len(read_back(first + rest)[2]) == len(values) + 1


async def test_a_sheet_ends_at_excels_last_row_saying_what_was_left_out(monkeypatch):
    monkeypatch.setattr(xlsx_stream, "EXCEL_ROWS", 5)
    values, read = [[f"XE-{n:06d}", "企业", ""] for n in range(10)], []
    chunks = xlsx_stream.workbook("问题台账", HEADER, rows_of(values, read), too_many="以下从略，全部记录请导出 CSV")
    _, _, cells = read_back(b"".join([chunk async for chunk in chunks]))
    assert len(read) == 4, "the rows past the sheet's end are not read"
    assert len(cells) == 5
    assert [row[0] for row in cells[1:4]] == ["XE-000000", "XE-000001", "XE-000002"]
    assert cells[4][0] == "以下从略，全部记录请导出 CSV"
