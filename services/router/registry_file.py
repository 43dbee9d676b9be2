"""A city's department registry as a file (YAML, JSON or CSV), read and validated whole before
anything is written: ``xiaoer units import FILE``. Every problem is reported, each with where it
is (``第 3 行`` of a CSV, ``units[2]`` of a YAML file) and what is wrong, in Chinese and English.

YAML / JSON::

    units:
      - unit_code: 430624.tax
        name: 湘阴县税务局
        kind: tax
        region_code: "430624"
        covers: ["430626"]              # other regions this unit serves (optional)
        supervising_office: 湘阴县人民政府督查室
        phone: 0730-3221 234                # public telephone and its hours, shown to enterprises (optional)
        office_hours: 工作日 9:00–12:00，14:30–17:30
        contacts:
          - {role: clerk, name: 赵六, email: tax@xiangyin.gov.cn}
          - {role: leadership, wechat_openid: o-abc123}
    supervisors:
      - {region_code: "430624", name: 湘阴县人民政府督查室, contacts: [{email: dudao@xiangyin.gov.cn}]}
    rules:                              # optional: (request type, item) → kind
      - {request_type: compliance_certificate, item: tax, department_kind: tax}

CSV: one unit per line, with the columns ``unit_code, name, kind, region_code, covers,
supervising_office, active, phone, office_hours, clerk_email, clerk_wechat_openid, clerk_webhook, leadership_email,
leadership_wechat_openid`` (several values in one cell separated by ``;``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared import catalogue
from shared.validation import RegionCode

from .schemas import ContactIn, DepartmentKind, OfficeHours, Phone


class RegistryFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UnitEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    unit_code: str = Field(pattern=r"^\d{6}\.[a-z_]+(\.[a-z0-9_]+)?$")
    name: str = Field(min_length=2, max_length=200)
    kind: DepartmentKind
    region_code: RegionCode
    covers: list[RegionCode] = []
    supervising_office: str | None = Field(None, max_length=200)
    active: bool = True
    contacts: list[ContactIn] = Field(default=[], max_length=50)
    phone: Phone | None = None
    office_hours: OfficeHours | None = None


class SupervisorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    region_code: RegionCode
    name: str = Field(min_length=2, max_length=200)
    contacts: list[ContactIn] = Field(default=[], max_length=50)


class RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    request_type: str
    item: str
    department_kind: DepartmentKind

    @field_validator("item")
    @classmethod
    def _known_item(cls, item: str, info) -> str:
        request_type = info.data.get("request_type")
        if request_type not in catalogue.REQUEST_TYPES:
            raise ValueError(f"诉求类型不存在 / unknown request type: {request_type}")
        if item not in catalogue.item_codes(request_type):
            raise ValueError(f"事项不存在 / unknown item: {item}")
        return item


SECTIONS: dict[str, type[BaseModel]] = {"units": UnitEntry, "supervisors": SupervisorEntry, "rules": RuleEntry}


def _explain(error: ValidationError) -> str:
    """Each problem where it is and what is wrong; both languages where the check gives both."""

    def said(e) -> str:
        zh = (e.get("ctx") or {}).get("zh")
        return f"{zh} / {e['msg']}" if zh else e["msg"]

    return "；".join(f"{'.'.join(str(p) for p in e['loc']) or '整行'}: {said(e)}" for e in error.errors())


def _csv_rows(text: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """CSV lines as unit entries, each labelled with its line number."""

    def values(cell: str | None) -> list[str]:
        return [v.strip() for v in (cell or "").split(";") if v.strip()]

    units = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    for row in reader:
        line = reader.line_num
        contacts = []
        for role in ("clerk", "leadership"):
            for field in ("email", "wechat_openid", "webhook"):
                contacts += [{"role": role, field: v} for v in values(row.pop(f"{role}_{field}", None))]
        entry = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
        entry["covers"] = values(entry.pop("covers", None))
        if "active" in entry:
            entry["active"] = entry["active"].lower() not in ("false", "0", "no", "否", "停用")
        entry["contacts"] = contacts
        units.append((f"第 {line} 行 / line {line}", entry))
    return {"units": units}


def _document_rows(data: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    if not isinstance(data, dict):
        raise RegistryFileError(["文件须包含 units 等段落 / the file must be a mapping with units, supervisors, rules"])
    unknown = set(data) - set(SECTIONS) - {"coverage"}
    if unknown:
        raise RegistryFileError([f"未知段落 / unknown sections: {', '.join(sorted(unknown))}"])
    return {
        name: [
            (f"{name}[{i}]" + (f" ({e.get('unit_code')})" if isinstance(e, dict) and e.get("unit_code") else ""), e)
            for i, e in enumerate(data.get(name) or [])
        ]
        for name in SECTIONS
    }


def parse(path: Path) -> dict[str, Any]:
    """The registry in ``path`` as ``load_registry`` takes it; every problem at once, or nothing."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".csv":
            sections = _csv_rows(text)
        elif path.suffix.lower() == ".json":
            sections = _document_rows(json.loads(text))
        else:
            sections = _document_rows(yaml.safe_load(text))
    except (yaml.YAMLError, json.JSONDecodeError, csv.Error) as exc:
        raise RegistryFileError([f"文件无法解析 / cannot parse the file: {exc}"]) from exc
    problems: list[str] = []
    parsed: dict[str, list[BaseModel]] = {name: [] for name in SECTIONS}
    for name, entries in sections.items():
        for where, entry in entries:
            if not isinstance(entry, dict):
                problems.append(f"{where}: 须为键值对 / must be a mapping")
                continue
            try:
                parsed[name].append(SECTIONS[name].model_validate(entry))
            except ValidationError as exc:
                problems.append(f"{where}: {_explain(exc)}")
    codes = [u.unit_code for u in parsed["units"]]
    problems += [f"单位代码重复 / unit code twice: {c}" for c in sorted({c for c in codes if codes.count(c) > 1})]
    if not codes and not problems:
        problems.append("文件中没有单位 / the file names no unit")
    if problems:
        raise RegistryFileError(problems)
    return {
        "units": [u.model_dump(exclude={"covers"}, exclude_none=False) for u in parsed["units"]],
        "coverage": [
            {"kind": u.kind, "region_code": region, "unit_code": u.unit_code}
            for u in parsed["units"]
            for region in u.covers
        ],
        "supervisors": [s.model_dump() for s in parsed["supervisors"]],
        "rules": [r.model_dump() for r in parsed["rules"]],
    }
