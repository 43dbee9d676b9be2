"""The words on a document: the title and the statement per certificate kind, and dates and
文号 as Chinese documents write them.

One template serves every certificate kind; what differs per kind is the title and the field
named in the statement (:data:`KIND_WORDING`), derived from the catalogue's kind names
(``shared.catalogue.DEPARTMENT_KINDS``: 税务局 → 税务, 应急管理局 → 应急管理) unless a kind
has wording of its own (海关 → 海关监管). The statement reads
"经查，{subject}（统一社会信用代码：{uscc}）在{start}至{end}期间无{field}违法违规记录。".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shared.catalogue import CERTIFICATE_KINDS, DEPARTMENT_KINDS
from shared.clock import SHANGHAI


@dataclass(frozen=True)
class KindWording:
    title: str  # the document's title
    field: str  # what "无{field}违法违规记录" names


DEFAULT_TITLE = "无违法违规证明"
# Kinds whose name does not make the field by dropping the office's suffix.
_OWN_FIELD = {
    "customs": "海关监管",
    "fire_rescue": "消防安全",
    "foreign_exchange": "外汇管理",
    "public_security": "治安管理",
    "housing_fund": "住房公积金",
}
_SUFFIXES = ("管理中心", "中心", "分局", "机构", "局")


def _field_from_name(name: str) -> str:
    """发展和改革局 → 发展和改革, 税务局 → 税务, 应急管理局 → 应急管理."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


KIND_WORDING: dict[str, KindWording] = {
    term.code: KindWording(DEFAULT_TITLE, _OWN_FIELD.get(term.code) or _field_from_name(term.zh))
    for term in CERTIFICATE_KINDS
}


def wording(kind: str) -> KindWording:
    """The wording of a certificate kind; a kind outside the catalogue's certificate kinds gets
    the general title and its name (or code) as the field, so a newer kind never fails."""
    return KIND_WORDING.get(kind) or KindWording(DEFAULT_TITLE, _field_from_name(DEPARTMENT_KINDS.zh(kind)))


def statement(kind: str, subject_name: str, subject_uscc: str, period_start: date, period_end: date) -> str:
    field = wording(kind).field
    return (
        f"经查，{subject_name}（统一社会信用代码：{subject_uscc}）在{chinese_date(period_start)}至"
        f"{chinese_date(period_end)}期间无{field}违法违规记录。"
    )


# --- Dates and numbers as a Chinese document writes them ----------------------------------------
def chinese_date(day: date) -> str:
    """GB/T 9704-2012 writes dates in Arabic numerals without leading zeros: 2026年1月5日."""
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_datetime(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{chinese_date(local.date())} {local:%H:%M}（北京时间）"


def document_number(prefix: str, year: int, serial: int) -> str:
    """A 文号 as units write them: 穗埔税证〔2026〕123号 (hexagonal brackets, no leading zeros)."""
    return f"{prefix}〔{year}〕{serial}号"
