"""The catalogue every service speaks: request types, their items, department kinds (the terms
of shared/vocabulary.py, as the catalogue arranges them).

Intake shows it to front ends (``GET /v1/catalogue``) and validates against it; the router seeds
its routing rules from it; the notifier keys SLA policies on request type × department kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.vocabulary import Term, Terms

# Department kinds that issue compliance certificates (守法证明): DOMAIN.md's seventeen and three more.
CERTIFICATE_KINDS: tuple[Term, ...] = (
    Term("development_reform", "发展和改革局", "Development and Reform Bureau"),
    Term("commerce", "商务局", "Commerce Bureau"),
    Term("customs", "海关", "Customs"),
    Term("tax", "税务局", "Tax Bureau"),
    Term("market_regulation", "市场监督管理局", "Market Regulation Administration"),
    Term("human_resources", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    Term("housing_fund", "住房公积金管理中心", "Housing Provident Fund Centre"),
    Term("ecology_environment", "生态环境局", "Ecology and Environment Bureau"),
    Term("emergency_management", "应急管理局", "Emergency Management Bureau"),
    Term("natural_resources", "规划和自然资源局", "Planning and Natural Resources Bureau"),
    Term("housing_construction", "住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    Term("fire_rescue", "消防救援机构", "Fire and Rescue Department"),
    Term("foreign_exchange", "国家外汇管理局分局", "State Administration of Foreign Exchange branch"),
    Term("medical_security", "医疗保障局", "Medical Security Bureau"),
    Term("statistics", "统计局", "Statistics Bureau"),
    Term("public_security", "公安局", "Public Security Bureau"),
    Term("urban_management", "城市管理和综合执法局", "Urban Management and Law Enforcement Bureau"),
    # Beyond DOMAIN.md's list, three more offices that commonly issue 守法证明 for an IPO.
    Term("transport", "交通运输局", "Transport Bureau"),
    Term("health", "卫生健康局", "Health Commission"),
    Term("water_affairs", "水务局", "Water Affairs Bureau"),
)

# Kinds that handle the other request categories but issue no certificates.
OTHER_KINDS: tuple[Term, ...] = (
    Term("finance", "地方金融管理局", "Local Financial Regulatory Bureau"),
    Term("industry_it", "工业和信息化局", "Industry and Information Technology Bureau"),
    Term("government_services", "政务服务数据管理局", "Government Services and Data Administration"),
    Term("justice", "司法局", "Justice Bureau"),
    Term("coordinator", "营商环境协调办公室", "Business Environment Coordination Office"),
)

# ``DEPARTMENT_KINDS.zh(code)`` is a kind's Chinese name wherever a person reads it.
DEPARTMENT_KINDS = Terms(*CERTIFICATE_KINDS, *OTHER_KINDS)

# Categories of enterprise problems (DOMAIN.md), each with the kind that usually owns it. A
# category whose kind is the coordinator is dispatched by hand (人工分拨).
CATEGORIES: tuple[tuple[Term, str], ...] = (
    (Term("financing", "融资", "Financing"), "finance"),
    (Term("hiring", "用工招聘", "Hiring"), "human_resources"),
    (Term("talent", "人才", "Talent"), "human_resources"),
    (Term("approvals", "审批手续", "Approvals"), "government_services"),
    (Term("utilities", "水电气", "Water, power and gas"), "industry_it"),
    (Term("land_planning", "用地规划", "Land and planning"), "natural_resources"),
    (Term("policy", "政策咨询", "Policy consultation"), "development_reform"),
    (Term("legal", "法律", "Legal"), "justice"),
    (Term("tax_relief", "税费减免", "Tax relief"), "tax"),
    (Term("customs_clearance", "出口通关", "Export and customs clearance"), "customs"),
    (Term("infrastructure", "基础设施", "Infrastructure"), "housing_construction"),
    (Term("other", "其他", "Other"), "coordinator"),
)
CATEGORY_KIND: dict[str, str] = {term.code: kind for term, kind in CATEGORIES}


@dataclass(frozen=True)
class RequestType:
    code: str
    zh: str
    en: str
    items: tuple[Term, ...]
    multiple_items: bool  # a certificate bundle names many kinds; a problem has one category


COMPLIANCE_CERTIFICATE = "compliance_certificate"

REQUEST_TYPES: dict[str, RequestType] = {
    t.code: t
    for t in (
        RequestType(COMPLIANCE_CERTIFICATE, "守法证明", "Compliance certificates", CERTIFICATE_KINDS, True),
        RequestType("consultation", "政策咨询", "Consultation", tuple(c for c, _ in CATEGORIES), False),
        RequestType("problem", "问题诉求", "Problem to solve", tuple(c for c, _ in CATEGORIES), False),
        RequestType("emergency", "紧急诉求", "Emergency", tuple(c for c, _ in CATEGORIES), False),
    )
}

PURPOSES: tuple[Term, ...] = (
    Term("ipo", "上市", "IPO"),
    Term("bond_issue", "发债", "Bond issue"),
    Term("refinancing", "再融资", "Refinancing"),
    Term("merger", "并购重组", "Merger or restructuring"),
    Term("bidding", "招投标", "Bidding"),
    Term("other", "其他", "Other"),
)


def item_codes(request_type: str) -> set[str]:
    return {t.code for t in REQUEST_TYPES[request_type].items}


def kind_for_item(request_type: str, item: str) -> str:
    """The department kind that handles an item by default (the router's seed rules)."""
    return item if request_type == COMPLIANCE_CERTIFICATE else CATEGORY_KIND[item]
