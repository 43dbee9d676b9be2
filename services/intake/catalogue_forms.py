"""The forms a front end renders for each request type, derived from the validation models so
the limits shown are the limits enforced."""

from __future__ import annotations

import annotated_types
from pydantic import BaseModel

from shared import catalogue

from .schemas import ContactIn, RequestCreate, SubjectIn
from .settings import IntakeSettings

_CONSTRAINTS = {
    annotated_types.MinLen: ("min_length", "min_length"),
    annotated_types.MaxLen: ("max_length", "max_length"),
    annotated_types.Ge: ("ge", "minimum"),
    annotated_types.Le: ("le", "maximum"),
}


def _limits(model: type[BaseModel], name: str) -> dict:
    """The length and range limits pydantic enforces on one field."""
    limits = {}
    for meta in model.model_fields[name].metadata:
        for constraint, (attr, key) in _CONSTRAINTS.items():
            if isinstance(meta, constraint):
                limits[key] = getattr(meta, attr)
    return limits


def _field(name: str, kind: str, zh: str, en: str, required: bool, **extra) -> dict:
    return {"name": name, "type": kind, "label_zh": zh, "label_en": en, "required": required, **extra}


def form_for(request_type: catalogue.RequestType, settings: IntakeSettings) -> list[dict]:
    """The fields a front end shows for ``request_type``, in order, with the limits the API checks."""
    certificate = request_type.code == catalogue.COMPLIANCE_CERTIFICATE
    return [
        *_subject_fields(certificate),
        _items_field(request_type, certificate),
        *(_certificate_fields() if certificate else []),
        *_closing_fields(certificate, settings),
    ]


def _subject_fields(certificate: bool) -> list[dict]:
    fields = [
        _field(
            "enterprise.uscc",
            "uscc",
            "统一社会信用代码",
            "Unified social credit code",
            True,
            min_length=18,
            max_length=18,
        ),
        _field("enterprise.name", "string", "企业名称", "Enterprise name", True, **_limits(SubjectIn, "name")),
        _field("enterprise.region_code", "region_code", "所在地区（GB/T 2260）", "Region (GB/T 2260)", True),
    ]
    if certificate:
        fields.append(
            _field(
                "subjects",
                "subject_list",
                "子公司（其他地区）",
                "Subsidiaries (other regions)",
                False,
                **_limits(RequestCreate, "subjects"),
                item_fields=["uscc", "name", "region_code"],
            )
        )
    return fields


def _items_field(request_type: catalogue.RequestType, certificate: bool) -> dict:
    return _field(
        "items",
        "multi_select" if request_type.multiple_items else "select",
        "开具部门" if certificate else "诉求类别",
        "Departments" if certificate else "Category",
        True,
        options=[t.as_dict() for t in request_type.items],
        min_items=1,
        max_items=_limits(RequestCreate, "items")["max_length"] if request_type.multiple_items else 1,
    )


def _certificate_fields() -> list[dict]:
    return [
        _field(
            "period_months",
            "integer",
            "证明期间（月）",
            "Period covered (months)",
            False,
            default=36,
            **_limits(RequestCreate, "period_months"),
        ),
        _field("purpose", "select", "用途", "Purpose", False, options=[p.as_dict() for p in catalogue.PURPOSES]),
        # 信用代证: kinds the province's 专项信用报告 covers are not sent to departments unless named
        # here; the router's POST /v1/routing/preview shows which they are before submitting.
        _field(
            "certificate_anyway",
            "multi_select",
            "仍需部门出具证明的事项（专项信用报告已覆盖时）",
            "Kinds to get from the department even where the credit report covers them",
            False,
            options_from="items",
            preview="POST /v1/routing/preview (router)",
            **_limits(RequestCreate, "certificate_anyway"),
        ),
    ]


def _closing_fields(certificate: bool, settings: IntakeSettings) -> list[dict]:
    return [
        _field(
            "description", "text", "情况说明", "Description", not certificate, **_limits(RequestCreate, "description")
        ),
        _field("contact.name", "string", "联系人", "Contact name", True, **_limits(ContactIn, "name")),
        _field("contact.mobile", "mobile", "联系电话", "Mobile number", True, pattern=r"^1[3-9]\d{9}$"),
        _field(
            "attachments",
            "attachments",
            "附件",
            "Attachments",
            False,
            **_limits(RequestCreate, "attachments"),
            accept=settings.file_types,
            max_bytes=settings.file_max_bytes,
        ),
    ]
