"""Development only (``XIAOER_ENV=development``): the seeded personas, so that ``make run`` can be
explored at once — an enterprise, a liaison officer, each demo unit's clerk, each region's
coordinator and supervisor, an admin. In production this router is not included: ``/demo``
answers 404, and no demo account is seeded.

Staff personas are real staff accounts (``demo`` set, password :data:`DEMO_PASSWORD`), created
by ``xiaoer user demo`` (``xiaoer run`` calls it) from the router's demo registry; enterprise
personas have no account (their accounts live with WeChat), so their tokens are minted here."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from shared import regions
from shared.validation import make_uscc

from .i18n import N_, _
from .models import StaffAccount
from .pages import error_page, render
from .session import sign_in
from .signin import local_path

DEMO_PASSWORD = "xiaoer-demo"
# The demo unit whose clerk has a lead (科长) beside them, who assigns its items (issue 29).
LEAD_UNIT = "440112.tax"

# The enterprises of the demo data (tests/support.py uses the same): 广州明珞 in 黄埔区 and its
# subsidiary in 浦东新区.
MINGLUO = make_uscc("91440112MA59C5XK0")
MINGLUO_SH = make_uscc("91310115MA1H7A8K5")


@dataclass(frozen=True)
class EnterprisePersona:
    key: str
    role: str  # enterprise | liaison
    name: str
    usccs: tuple[str, ...]
    description: str  # a msgid


ENTERPRISE_PERSONAS = (
    EnterprisePersona(
        "enterprise", "enterprise", "广州明珞装备股份有限公司", (MINGLUO,), N_("企业：提交和跟踪自己的诉求")
    ),
    EnterprisePersona(
        "liaison", "liaison", "黄埔区驻企联络员", (MINGLUO, MINGLUO_SH), N_("驻企联络员：代所服务的企业提交和跟踪")
    ),
)


def demo_accounts(registry: dict[str, Any]) -> list[StaffAccount]:
    """Staff personas for a registry in the shape of ``deploy/registry.example.yaml`` (the router's
    demo registry): a clerk per unit (a coordinator for coordination offices), and beside the
    clerk of :data:`LEAD_UNIT` its lead (科长, ``<unit>.lead``), a supervisor per supervising
    office, and a national admin. Usernames are the unit codes, ``dudao.<region>``
    and ``admin``; passwords are set by :func:`accounts.seed_demo`."""
    accounts = [
        StaffAccount(
            username=unit["unit_code"],
            display_name=f"{unit['name']}（{'协调员' if unit['kind'] == 'coordinator' else '办事员'}）",
            role="coordinator" if unit["kind"] == "coordinator" else "department",
            unit_code=unit["unit_code"],
            region_code=unit["region_code"],
        )
        for unit in registry.get("units", [])
    ]
    accounts += [
        StaffAccount(
            username=f"{unit['unit_code']}.lead",
            display_name=f"{unit['name']}（科长）",
            role="department",
            unit_code=unit["unit_code"],
            region_code=unit["region_code"],
            lead=True,
        )
        for unit in registry.get("units", [])
        if unit["unit_code"] == LEAD_UNIT
    ]
    accounts += [
        StaffAccount(
            username=f"dudao.{office['region_code']}",
            display_name=office["name"],
            role="supervisor",
            region_code=office["region_code"],
        )
        for office in registry.get("supervisors", [])
    ]
    accounts.append(StaffAccount(username="admin", display_name="系统管理员", role="admin"))
    return accounts


router = APIRouter(prefix="/demo")
_ROLE_ORDER = {"supervisor": 0, "coordinator": 1, "department": 2, "admin": 3}


def _region_key(account: StaffAccount) -> tuple[bool, bool, str]:
    """The demo enterprise's district first (where its requests go), the national admin last."""
    code = account.region_code or ""
    return (code != MINGLUO[2:8], not code, code)


@router.get("", name="demo")
async def demo_page(request: Request, next: Annotated[str | None, Query(max_length=500)] = None):
    async with request.app.state.runtime.sessions() as session:
        staff = list(await session.scalars(select(StaffAccount).where(StaffAccount.demo, StaffAccount.active)))
    staff.sort(key=lambda a: (_region_key(a), _ROLE_ORDER[a.role], a.username))
    by_region = [
        (regions.full_name(code) if code else _("全国"), list(accounts))
        for (_other, _national, code), accounts in groupby(staff, key=_region_key)
    ]
    context = {
        "enterprises": ENTERPRISE_PERSONAS,
        "regions": by_region,
        "password": DEMO_PASSWORD,
        "next": local_path(next, ""),
    }
    return render(request, "demo.html", context)


@router.post("")
async def demo_sign_in(
    request: Request,
    persona: Annotated[str, Form(max_length=120)],
    next_page: Annotated[str, Form(alias="next", max_length=500)] = "",
):
    """``persona`` is an enterprise persona's key, or ``staff:<username>`` of a demo account;
    ``next`` the page to go back to (a login expired)."""
    chosen = next((p for p in ENTERPRISE_PERSONAS if p.key == persona), None)
    if chosen is not None:
        viewer = sign_in(
            request, role=chosen.role, name=chosen.name, usccs=list(chosen.usccs), sub=f"demo:{chosen.key}"
        )
        return RedirectResponse(local_path(next_page, viewer.home), status_code=303)
    username = persona.removeprefix("staff:")
    async with request.app.state.runtime.sessions() as session:
        account = await session.get(StaffAccount, username)
    if account is None or not account.demo or not account.active:
        return error_page(request, 404, _("没有这个演示角色"))
    viewer = sign_in(
        request,
        role=account.role,
        name=account.display_name,
        username=account.username,
        unit=account.unit_code,
        region=account.region_code,
        lead=account.lead,
    )
    return RedirectResponse(local_path(next_page, viewer.home), status_code=303)
