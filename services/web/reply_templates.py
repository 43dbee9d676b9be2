"""A unit's reply templates (常用语, issue 29) on the workbench: every clerk of the unit sees them
at /clerk/templates, and its lead (科长: the token's ``lead`` claim) adds, changes and deletes
them there. The router keeps them and decides who may write (a clerk's try is refused there, not
only hidden here); the item page offers them filled for the item (``for_item``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from shared.vocabulary import REPLY_TEMPLATE_KINDS, TEMPLATE_PLACEHOLDERS

from . import labels
from .apis import ApiError, ServiceClient, Services
from .i18n import N_, _
from .pages import NavItem, render
from .session import Forbidden, Viewer, flash, viewer_of
from .units import unit_names

router = APIRouter(prefix="/clerk/templates")
Clerk = viewer_of("department")
NAV = [NavItem(N_("回复模板"), "/clerk/templates", ("department",))]

# Which move's text each kind of template fills on the item page (its form field's id there).
KIND_OF_MOVE = {"request-supplement": "supplement", "return": "return"}


async def for_item(api: ServiceClient, item: dict) -> dict[str, list[dict]]:
    """The unit's templates filled for ``item``, by the move whose text they fill (none where the
    item allows neither 补正 nor 退回)."""
    moves = [move for move in KIND_OF_MOVE if move in item["allowed_actions"]]
    if not moves:
        return {}
    filled = await api.get("router", f"/v1/workitems/{item['id']}/templates")
    return {move: [t for t in filled if t["kind"] == KIND_OF_MOVE[move]] for move in moves}


def _path(viewer: Viewer, template_id: int | None = None) -> str:
    base = f"/v1/units/{viewer.unit}/templates"
    return f"{base}/{template_id}" if template_id is not None else base


async def _page(request: Request, api: ServiceClient, viewer: Viewer, *, editing=None, error=None, form=None):
    templates = await api.get("router", _path(viewer))
    context = {
        "groups": [(code, name, [t for t in templates if t["kind"] == code]) for code, name in _kinds()],
        "kinds": _kinds(),
        "placeholders": labels.options(TEMPLATE_PLACEHOLDERS),
        "lead": viewer.lead,
        "editing": editing,
        "error": error,
        "form": form or editing or {"kind": "", "title": "", "body": ""},
        "unit_name": await unit_names(request, api),
    }
    status = error.status if error else 200
    return render(request, "clerk/templates.html", context, status_code=status)


def _kinds() -> list[tuple[str, str]]:
    return labels.options(REPLY_TEMPLATE_KINDS)


@router.get("", name="templates.list")
async def list_templates(request: Request, viewer: Clerk, api: Services):
    return await _page(request, api, viewer)


@router.get("/{template_id}", name="templates.edit")
async def edit_template(request: Request, template_id: int, viewer: Clerk, api: Services):
    if not viewer.lead:
        raise Forbidden(_("科长"))
    found = [t for t in await api.get("router", _path(viewer)) if t["id"] == template_id]
    if not found:
        raise ApiError(404, "template_not_found", _("模板不存在"))
    return await _page(request, api, viewer, editing=found[0])


TextField = Annotated[str, Form(max_length=5000)]


@router.post("", name="templates.add")
async def add_template(
    request: Request, viewer: Clerk, api: Services, kind: TextField, title: TextField, body: TextField
):
    form = {"kind": kind, "title": title, "body": body}
    try:
        await api.post("router", _path(viewer), json=form)
    except ApiError as error:
        if error.status != 422:
            raise
        return await _page(request, api, viewer, error=error, form=form)
    flash(request, _("已添加模板“%(title)s”") % {"title": title.strip()}, "success")
    return RedirectResponse("/clerk/templates", status_code=303)


@router.post("/{template_id}", name="templates.change")
async def change_template(
    request: Request, template_id: int, viewer: Clerk, api: Services, kind: TextField, title: TextField, body: TextField
):
    form = {"kind": kind, "title": title, "body": body}
    try:
        await api.put("router", _path(viewer, template_id), json=form)
    except ApiError as error:
        if error.status != 422:
            raise
        return await _page(request, api, viewer, editing={"id": template_id, **form}, error=error, form=form)
    flash(request, _("已保存模板“%(title)s”") % {"title": title.strip()}, "success")
    return RedirectResponse("/clerk/templates", status_code=303)


@router.post("/{template_id}/delete", name="templates.delete")
async def delete_template(request: Request, template_id: int, viewer: Clerk, api: Services):
    await api.call("router", "DELETE", _path(viewer, template_id))
    flash(request, _("已删除模板"), "success")
    return RedirectResponse("/clerk/templates", status_code=303)
