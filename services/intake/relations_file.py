"""The enterprise-group registry as a file (CSV, YAML or JSON), read and validated whole before
anything is written: ``xiaoer relations import FILE``. Every problem is reported, each with where
it is (``第 3 行`` of a CSV, ``relations[2]`` of a YAML file) and what is wrong, in Chinese and
English; with any problem, nothing is imported.

CSV (a header line, then one relation per line; ``kind`` optional, 子公司 by default)::

    parent_uscc,parent_name,parent_region,subject_uscc,subject_name,subject_region,kind
    91440112MA59C5XK03,广州明珞装备股份有限公司,440112,91310115MA1H7A8K5W,明珞(上海)科技有限公司,310115,子公司

YAML / JSON::

    relations:
      - {parent_uscc: 91440112MA59C5XK03, parent_name: 广州明珞装备股份有限公司, parent_region: "440112",
         subject_uscc: 91310115MA1H7A8K5W, subject_name: 明珞(上海)科技有限公司, subject_region: "310115",
         kind: subsidiary}
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator

from shared.problems import field_errors
from shared.vocabulary import RELATION_KINDS

from .schemas import RelationIn, Uscc


class RelationFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RelationEntry(RelationIn):
    parent_uscc: Uscc
    subject_uscc: Uscc

    @model_validator(mode="before")
    @classmethod
    def _kind_in_words(cls, data: Any) -> Any:
        """A CSV may name the kind in Chinese (子公司, 分支机构)."""
        if isinstance(data, dict) and data.get("kind") in {t.zh for t in RELATION_KINDS.values()}:
            data = {**data, "kind": next(t.code for t in RELATION_KINDS.values() if t.zh == data["kind"])}
        return data


def _explain(error: ValidationError) -> str:
    """Each bad field with what is wrong, in Chinese and English (as the APIs say it)."""
    return "；".join(f"{e.field}: {e.zh} / {e.en}" for e in field_errors(error.errors()))


def _entries(path: Path) -> list[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
            rows = []
            for row in reader:
                entry = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
                rows.append((f"第 {reader.line_num} 行 / line {reader.line_num}", entry))
            return rows
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise RelationFileError([f"文件无法解析 / cannot parse the file: {exc}"]) from exc
    if not isinstance(data, dict) or set(data) != {"relations"}:
        raise RelationFileError(["文件须只有 relations 一段 / the file must be a mapping with relations only"])
    return [(f"relations[{i}]", entry) for i, entry in enumerate(data["relations"] or [])]


def parse(path: Path) -> list[RelationEntry]:
    """The relations in ``path``; every problem at once, or nothing."""
    problems: list[str] = []
    parsed: list[tuple[str, RelationEntry]] = []
    for where, entry in _entries(path):
        if not isinstance(entry, dict):
            problems.append(f"{where}: 须为键值对 / must be a mapping")
            continue
        try:
            parsed.append((where, RelationEntry.model_validate(entry)))
        except ValidationError as exc:
            problems.append(f"{where}: {_explain(exc)}")
    seen: dict[tuple[str, str], str] = {}
    for where, r in parsed:
        pair = (r.parent_uscc, r.subject_uscc)
        if r.parent_uscc == r.subject_uscc:
            problems.append(f"{where}: 企业不能是自己的子公司 / an enterprise is not its own subsidiary")
        elif pair in seen:
            problems.append(f"{where}: 与{seen[pair]}重复 / the same relation as {seen[pair]}")
        seen.setdefault(pair, where)
    if not parsed and not problems:
        problems.append("文件中没有集团关系 / the file names no relation")
    if problems:
        raise RelationFileError(problems)
    return [r for _, r in parsed]
