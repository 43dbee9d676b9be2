"""信用代证 coverage as a document: ``docs/credit-coverage.md`` rendered from the seed file
(``credit_coverage.yaml``), so people read the same data routing uses.

``render(data)`` is a pure function of the parsed file; ``python -m services.router.coverage_report``
validates the file (as the loader does) and writes the document, or with ``--check`` only says
whether it is current. A test fails while the document is stale.

What the table says, per province (and per city with a plan of its own), for the version in force
on the file's ``updated_on`` day:
- ✓  the report replaces that certificate (for a city: its own report or its province's);
- –  the region's own list is complete and does not name it: a department still issues it;
- ?  the list is incomplete, or no plan was found: unknown, so it is routed to the department.
The 证明替代率 is the share of an IPO bundle of all 20 certificate kinds that the report replaces.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from shared import catalogue, regions

from . import credit

DOC_FILE = Path(__file__).resolve().parents[2] / "docs" / "credit-coverage.md"
KINDS = [(t.code, t.zh) for t in catalogue.CERTIFICATE_KINDS]
IPO_BUNDLE = len(KINDS)  # the 20 usual certificates of an IPO filing
NOT_SEEN = "（未见）"
COVERED, NOT_COVERED, UNKNOWN = "✓", "–", "?"
ALL_AREAS = "全部（应替尽替）"  # the marker of a plan that puts every certificate in scope (the file's header)


def mainland_provinces() -> list[regions.Region]:
    """The 31 province-level divisions of the mainland (GB/T 2260), without 香港 and 澳门."""
    return [r for r in regions.all_regions() if r.level == "province" and r.code < "710000"]


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    entry: dict[str, Any]  # the province's or city's entry in the file ({} when absent)
    version: dict[str, Any] | None  # the version in force on the day, if any
    parent: Row | None = None  # a city's province

    @property
    def kinds(self) -> set[str]:
        own = set(self.version["kinds"]) if self.version else set()
        return own | (self.parent.kinds if self.parent else set())

    @property
    def complete(self) -> bool:
        return bool(self.version and self.version.get("areas_complete"))

    def cell(self, kind: str) -> str:
        if kind in self.kinds:
            return COVERED
        return NOT_COVERED if self.complete else UNKNOWN

    @property
    def rate(self) -> str:
        covered = len(self.kinds & {code for code, _ in KINDS})
        return f"{covered}/{IPO_BUNDLE}（{covered * 100 // IPO_BUNDLE}%）"

    @property
    def list_state(self) -> str:
        if self.version is None:
            return "无版本（未找到方案）" if not self.entry.get("versions") else "尚未生效"
        if self.complete:
            return "完整"
        total = self.version.get("areas_total")
        return f"不完整（已读{len(self.version['areas'])}/{total if total else '?'}个领域）"


def in_force(entry: dict[str, Any], day: date) -> dict[str, Any] | None:
    """The entry's last version with effective_from on or before ``day`` (versions are in order)."""
    current = [v for v in entry.get("versions") or [] if v["effective_from"] <= day]
    return current[-1] if current else None


def report_day(data: dict[str, Any]) -> date:
    return data.get("updated_on") or data["seeded_on"]


def rows(data: dict[str, Any]) -> list[Row]:
    """Every mainland province in code order, each followed by its cities that have plans."""
    day, found = report_day(data), []
    provinces = {str(code): entry for code, entry in data["provinces"].items()}
    for province in mainland_provinces():
        entry = provinces.get(province.code, {})
        row = Row(province.code, province.name, entry, in_force(entry, day))
        found.append(row)
        for code, city in sorted((str(c), e) for c, e in (entry.get("cities") or {}).items()):
            found.append(Row(code, regions.get(code).name, city, in_force(city, day), parent=row))
    return found


def prose(text: str) -> str:
    """A note (folded YAML) on one line."""
    return " ".join(text.split())


def cell_text(value: Any) -> str:
    if value is None or value == "":
        return NOT_SEEN
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell_text(c) for c in line) + " |" for line in body]


def headline(all_rows: list[Row], day: date) -> list[str]:
    provinces = [r for r in all_rows if r.parent is None]
    cities = [r for r in all_rows if r.parent is not None]
    complete = [r.name for r in provinces if r.complete]
    with_data = [r for r in provinces if r.version]
    return [
        f"**领域清单完整的省级行政区：{len(complete)} / {len(provinces)}**"
        + (f"（{'、'.join(complete)}）" if complete else ""),
        "",
        f"- 截至 {day.isoformat()}：{len(with_data)} 个省级行政区有生效的覆盖版本，"
        f"{len(provinces) - len(with_data)} 个未找到方案（一律由部门出具证明）。",
        f"- 自有方案的地市：{len(cities)} 个，其中清单完整的 {sum(r.complete for r in cities)} 个"
        f"（{'、'.join(r.name for r in cities if r.complete) or '无'}）。",
        f"- 证明替代率：上市（IPO）常用的 {IPO_BUNDLE} 类守法证明中，专项信用报告可替代的比例；"
        "清单不完整的地区只计已读到的领域，实际替代率可能更高。",
    ]


def coverage_table(all_rows: list[Row]) -> list[str]:
    header = ["地区", "代码", "清单", *[zh for _, zh in KINDS], "证明替代率"]
    body = []
    for row in all_rows:
        name = f"└ {row.name}" if row.parent else row.name
        body.append([name, row.code, row.list_state, *[row.cell(code) for code, _ in KINDS], row.rate])
    return table(header, body)


def version_lines(version: dict[str, Any]) -> list[str]:
    source = version["source"]
    total = version.get("areas_total")
    areas = f"{len(version['areas'])}/{total if total else '?'}" + ("（完整）" if version.get("areas_complete") else "")
    url = cell_text(source.get("url")) + ("" if source.get("official_copy", True) else "（非政府网站转载）")
    return [
        cell_text(version["effective_from"]),
        cell_text(version["report_name"]),
        cell_text(source.get("document_no")),
        cell_text(source.get("title")),
        cell_text(source.get("issuer")),
        cell_text(source.get("date")),
        areas,
        url,
    ]


def sources(all_rows: list[Row]) -> list[str]:
    """Every version of every region with versions, its source and the day it was read."""
    lines: list[str] = []
    header = ["生效日期", "报告名称", "文号", "文件名称", "发文机关", "印发日期", "领域（已读/总数）", "出处"]
    for row in all_rows:
        versions = row.entry.get("versions") or []
        if not versions:
            continue
        site = row.entry.get("report_site") or (row.parent.entry.get("report_site") if row.parent else None) or {}
        lines += ["", f"### {row.name}（{row.code}）", ""]
        lines.append(
            f"读取日期：{cell_text(row.entry.get('read_on'))}；报告下载：{cell_text(site.get('name'))}"
            + (f"（{site['url']}）" if site.get("url") else "")
        )
        lines += ["", *table(header, [version_lines(v) for v in versions])]
        for version in versions:
            if version.get("note"):
                lines += ["", f"- {version['effective_from']} 版说明：{prose(version['note'])}"]
    return lines


def not_found(all_rows: list[Row]) -> list[str]:
    lines = []
    for row in all_rows:
        if row.parent is None and not row.entry.get("versions"):
            note = prose(row.entry.get("provincial_note") or "本文件尚无该省条目。")
            lines.append(f"- **{row.name}（{row.code}）**，读取日期 {cell_text(row.entry.get('read_on'))}：{note}")
    return lines


def mapping(data: dict[str, Any], all_rows: list[Row]) -> list[str]:
    names = dict(KINDS)
    by_kind: dict[str, list[str]] = {}
    for area, kind in data["area_to_kind"].items():
        by_kind.setdefault(kind, []).append(area)
    lines = [f"- {names[code]}（`{code}`）：{'、'.join(by_kind.get(code, [])) or '（无）'}" for code, _ in KINDS]
    seen = {a for r in all_rows for v in r.entry.get("versions") or [] for a in v["areas"]}
    unmapped = sorted(seen - set(data["area_to_kind"]) - {ALL_AREAS})
    return [*lines, "", f"未对应任何证明事项的领域（照录，不影响分拨）：{'、'.join(unmapped) or '无'}"]


def render(data: dict[str, Any]) -> str:
    """The whole document for the parsed seed file ``data``."""
    day, all_rows = report_day(data), rows(data)
    lines = [
        "# 信用代证覆盖情况：各地专项信用报告可替代的守法证明",
        "",
        "> 本文件由 `python -m services.router.coverage_report` 根据 `services/router/credit_coverage.yaml`"
        " 生成，请勿手改；改数据后重新生成（文件过期时测试失败）。",
        "",
        *headline(all_rows, day),
        "",
        "## 一、各地可替代的证明事项",
        "",
        f"以 {day.isoformat()} 生效的版本计。{COVERED} 专项信用报告可替代（地市行含省级报告覆盖的事项）；"
        f"{NOT_COVERED} 清单完整而未列入，仍由部门出具（地市行只看该市自己的清单，省级报告另有覆盖的以省级行为准）；"
        f"{UNKNOWN} 清单不完整或未找到方案，未知，按部门出具办理。",
        "",
        *coverage_table(all_rows),
        "",
        "## 二、来源（每个版本）",
        *sources(all_rows),
        "",
        "## 三、未找到方案的省级行政区",
        "",
        *not_found(all_rows),
        "",
        "## 四、领域名称与证明事项的对应（area_to_kind）",
        "",
        *mapping(data, all_rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="写出（或检查）docs/credit-coverage.md")
    parser.add_argument("--check", action="store_true", help="只检查文件是否为最新，不写入")
    args = parser.parse_args(argv)
    credit.read_seed()  # refuses a malformed file, naming every bad entry, before anything is written
    text = render(yaml.safe_load(credit.SEED_FILE.read_text(encoding="utf-8")))
    if args.check:
        if not DOC_FILE.exists() or DOC_FILE.read_text(encoding="utf-8") != text:
            sys.exit(f"out of date (run `python -m services.router.coverage_report`): {DOC_FILE}")
        return
    DOC_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_FILE}")


if __name__ == "__main__":
    main()
