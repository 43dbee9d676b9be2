"""The enterprise's request form as the pages read it: region fields that accept names (GB/T 2260),
USCCs as pasted, the posted form in the shape the template renders, the body for intake's API, and
what each field the API may name is called on the form."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from starlette.datastructures import FormData

from shared import catalogue, regions

from . import labels
from .i18n import _


def search_regions(text: str, limit: int = 30) -> list[regions.Region]:
    text = text.strip()
    if not text:
        return []
    if text.isdigit():
        return [r for r in regions.all_regions() if r.code.startswith(text)][:limit]
    return [r for r in regions.all_regions() if text in r.full_name][:limit]


def region_code(text: str) -> str:
    """What a person typed in a region field: a code as is ("310115", or "上海市浦东新区 310115"
    as a list shows it), or a name that names one region, whole or in part (浦东 → 310115).
    Anything else stays as typed, for :func:`region_problem` to say what is wrong."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return text
    if code := re.fullmatch(r"(?:.*\D)?(\d{6})", text):
        return code.group(1)
    exact = [r for r in regions.all_regions() if text in (r.full_name, r.name)]
    if len(exact) == 1:
        return exact[0].code
    partial = [r for r in regions.all_regions() if text in r.full_name]
    return partial[0].code if len(partial) == 1 else text


def region_problem(text: str) -> str | None:
    """Why a region field's text names no region (None: it does, or it is empty)."""
    if not text or regions.exists(text):
        return None
    found = len(search_regions(text, limit=2))
    if found > 1:
        return _("“%(text)s”对应多个地区，请从列表中选择") % {"text": text}
    return _("没有找到“%(text)s”，请输入地区名称（如“浦东”）并从列表中选择") % {"text": text}


def clean_uscc(text: str) -> str:
    """A USCC as pasted: full-width characters made half-width, every space gone, upper case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def blank_form(viewer, enterprise: str | None, key: str) -> dict:
    uscc = enterprise if enterprise in viewer.usccs else (viewer.usccs[0] if viewer.usccs else "")
    own_name = viewer.name if viewer.role == "enterprise" else ""
    return {
        "enterprise": {"uscc": uscc, "name": own_name, "region_code": uscc[2:8] if regions.exists(uscc[2:8]) else ""},
        "subjects": [],
        "items": [],
        "period_months": "36",
        "purpose": "ipo",
        "description": "",
        "contact": {"name": "", "mobile": ""},
        "attachments": [],
        "idempotency_key": key,
    }


def form_key(text: str | None) -> str | None:
    """A form key the pages issued (a UUID), or None."""
    try:
        return str(uuid.UUID(text)) if text else None
    except ValueError:
        return None


def form_from(data: FormData) -> dict:
    """The submitted form, in the shape the template renders (subsidiaries renumbered 0..n-1, so
    that the API's field paths such as subjects.0.uscc name the rows as shown)."""
    rows = sorted({int(m.group(1)) for k in data.keys() if (m := re.fullmatch(r"subjects\.(\d+)\.\w+", k))})
    text = lambda name: str(data.get(name, "")).strip()  # noqa: E731
    attachments = [a for a in data.getlist("attachments") if isinstance(a, str) and a]
    return {
        "type": text("type"),
        "enterprise": {
            "uscc": clean_uscc(text("enterprise.uscc")),
            "name": text("enterprise.name"),
            "region_code": region_code(text("enterprise.region_code")),
        },
        "subjects": [
            {
                "uscc": clean_uscc(text(f"subjects.{i}.uscc")),
                "name": text(f"subjects.{i}.name"),
                "region_code": region_code(text(f"subjects.{i}.region_code")),
                "authorization": _letter(data, f"subjects.{i}.authorization"),
            }
            for i in rows
        ],
        "items": [i for i in data.getlist("items") if isinstance(i, str)],
        "period_months": text("period_months"),
        "purpose": text("purpose"),
        "description": text("description"),
        "contact": {"name": text("contact.name"), "mobile": text("contact.mobile")},
        "attachments": [{"id": a, "name": text(f"attachment_name.{a}") or a} for a in attachments[:20]],
        "idempotency_key": form_key(text("idempotency_key")) or str(uuid.uuid4()),
    }


def _letter(data: FormData, field: str) -> dict | None:
    """A subsidiary's 授权委托书 as the form names it: the upload's id and file name."""
    letter = str(data.get(field, "")).strip()
    return {"id": letter, "name": str(data.get(f"attachment_name.{letter}", "")) or letter} if letter else None


def region_problems(form: dict) -> dict[str, str]:
    """The region fields that name no region, with what to do (checked here: the API would only
    say 行政区划代码不存在)."""
    named = {"enterprise.region_code": form["enterprise"]["region_code"]}
    named |= {f"subjects.{i}.region_code": s["region_code"] for i, s in enumerate(form["subjects"])}
    return {field: problem for field, text in named.items() if (problem := region_problem(text))}


def body_of(form: dict) -> dict:
    certificate = form["type"] == catalogue.COMPLIANCE_CERTIFICATE
    body: dict[str, Any] = {
        "type": form["type"],
        "enterprise": form["enterprise"],
        "items": form["items"],
        "contact": form["contact"],
        "attachments": [a["id"] for a in form["attachments"]],
    }
    if certificate:
        body["subjects"] = [
            {**{k: v for k, v in s.items() if k != "authorization"}, "authorization": s["authorization"]["id"]}
            if s["authorization"]
            else {k: v for k, v in s.items() if k != "authorization"}
            for s in form["subjects"]
        ]
        body["purpose"] = form["purpose"] or None
        period = form["period_months"]
        body["period_months"] = int(period) if period.isdigit() else (period or None)
    if form["description"] or not certificate:
        body["description"] = form["description"] or None
    return body


def field_labels(request_type: dict, form: dict) -> dict[str, str]:
    """What each field the API may name is called on the form, for the links in the error banner
    (``subjects.0.uscc`` → 子公司 1 · 统一社会信用代码)."""
    en = labels.current() == "en"
    named = {f["name"]: f["label_en"] if en else f["label_zh"] for f in request_type["form"]}
    uscc, name, region = _("统一社会信用代码"), _("企业名称"), _("所在地区")
    found = {
        "enterprise.uscc": f"{_('申请企业')} · {named.get('enterprise.uscc', uscc)}",
        "enterprise.name": f"{_('申请企业')} · {named.get('enterprise.name', name)}",
        "enterprise.region_code": f"{_('申请企业')} · {region}",
    }
    for i, _subject in enumerate(form["subjects"]):
        row = _("子公司 %(n)s") % {"n": i + 1}
        found |= {
            f"subjects.{i}.uscc": f"{row} · {uscc}",
            f"subjects.{i}.name": f"{row} · {name}",
            f"subjects.{i}.region_code": f"{row} · {region}",
            f"subjects.{i}.authorization": f"{row} · {_('授权委托书')}",
        }
    for field in ("subjects", "items", "period_months", "purpose", "description", "contact.name", "contact.mobile"):
        if field in named:
            found[field] = named[field]
    found["attachments"] = named.get("attachments", _("上传材料"))
    return found
