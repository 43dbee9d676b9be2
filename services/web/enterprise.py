"""The enterprise H5 pages (phone first, 375 px): an enterprise's own requests, and a liaison
officer's for the enterprises they serve. Every list and object comes from intake's API with
the person's token, so intake's scope decides what they see; files pass through this service
because the browser holds no token."""

from __future__ import annotations

import asyncio
import time
import unicodedata
import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy import delete

from shared import catalogue, db, regions
from shared.clock import utcnow
from shared.vocabulary import FINISHED_REQUESTS, OPEN_STATES, RESOLVED_STATES

from . import labels, request_form
from .apis import ApiError, ServiceClient, Services, download
from .clocks import clock_rows, countdowns, most_pressing
from .i18n import N_, _
from .models import SubmittedForm
from .pages import NavItem, is_live_poll, render, render_live, shanghai_time
from .session import Viewer, flash, viewer_of

router = APIRouter(prefix="/enterprise")
Submitter = viewer_of("enterprise", "liaison")
NAV = [
    NavItem(N_("所服务企业"), "/enterprise/enterprises", ("liaison",)),  # the liaison officer's home
    NavItem(N_("我的诉求"), "/enterprise/", ("enterprise", "liaison")),
]

CATALOGUE_TTL_SECONDS = 600  # the catalogue changes with a release; ten minutes old is fine
SUBMITTED_FORMS_KEPT = timedelta(days=30)  # how long a form's key still answers "已提交"


# --- regions (GB/T 2260) ------------------------------------------------------------------------------
@router.get("/regions", name="enterprise.regions")
async def region_options(request: Request, viewer: Submitter):
    """The <datalist> options for what was typed in a region field (htmx, as one types)."""
    typed = unicodedata.normalize("NFKC", next(iter(request.query_params.values()), "")).strip()
    return render(request, "enterprise/_region_options.html", {"found": request_form.search_regions(typed[:40])})


# --- my requests ---------------------------------------------------------------------------------------
@router.get("/", name="enterprise.requests")
async def my_requests(
    request: Request,
    viewer: Submitter,
    api: Services,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    enterprise: Annotated[str | None, Query(max_length=18)] = None,
):
    # One enterprise's requests are chosen by intake (in SQL, before the page is cut); a code typed
    # by hand in lower case or with spaces is read as meant (intake answers 403 for one not served).
    enterprise = "".join((enterprise or "").split()).upper() or None
    params = {"limit": 20, **({"cursor": cursor} if cursor else {}), **({"uscc": enterprise} if enterprise else {})}
    page = await api.get("intake", "/v1/requests", params=params)
    items = page["items"]
    open_ones = [i for i in items if i["status"] not in FINISHED_REQUESTS]
    clocks = await asyncio.gather(*(countdowns(api, request_id=i["id"]) for i in open_ones))
    deadlines = {i["id"]: most_pressing(list(found.values())) for i, found in zip(open_ones, clocks, strict=True)}
    chosen = await _served(api, enterprise) if enterprise else None
    context = {"page": page, "items": items, "deadlines": deadlines, "enterprise": enterprise, "chosen": chosen}
    return render(request, "enterprise/requests.html", context)


async def _served(api: ServiceClient, uscc: str) -> dict | None:
    """One enterprise the person acts for, named and counted by intake (None if not theirs)."""
    return next((e for e in await api.get("intake", "/v1/enterprises") if e["uscc"] == uscc), None)


@router.get("/enterprises", name="enterprise.enterprises")
async def served_enterprises(request: Request, viewer: Submitter, api: Services):
    """The liaison officer's home (an enterprise sees its own): each enterprise served with its open,
    waiting (补正, 待上传报告, 待评价) and overdue requests, most urgent first, as intake counts them."""
    served = [
        {**found, "region": regions.full_name(found["region_code"])}
        for found in await api.get("intake", "/v1/enterprises")
    ]
    return render(request, "enterprise/enterprises.html", {"served": served})


# --- a new bundle -------------------------------------------------------------------------------------
async def the_catalogue(request: Request, api: ServiceClient) -> dict:
    """intake's GET /v1/catalogue (both languages in one answer), kept for ten minutes."""
    kept = getattr(request.app.state, "enterprise_catalogue", None)
    if kept is None or kept[0] < time.monotonic() - CATALOGUE_TTL_SECONDS:
        kept = (time.monotonic(), await api.get("intake", "/v1/catalogue"))
        request.app.state.enterprise_catalogue = kept
    return kept[1]


def _catalogue_type(found: dict, code: str) -> dict:
    return next((t for t in found["request_types"] if t["code"] == code), found["request_types"][0])


def _new_page(request: Request, found: dict, form: dict, error: ApiError | None = None, status: int = 200):
    request_type = _catalogue_type(found, form.get("type") or catalogue.COMPLIANCE_CERTIFICATE)
    form["type"] = request_type["code"]
    context = {
        "catalogue": found,
        "request_type": request_type,
        "form": form,
        "error": error,
        "field_labels": request_form.field_labels(request_type, form),
        "field_anchors": {f"subjects.{i}.authorization": f"subject-letter-{i}" for i in range(len(form["subjects"]))},
        "fields": {f["name"]: f for f in request_type["form"]},
        "region_name": regions.full_name,
    }
    return render(request, "enterprise/new.html", context, status_code=status)


async def _submitted(request: Request, viewer: Viewer, key: str) -> SubmittedForm | None:
    """The request this form's key made, if it was submitted (by this person)."""
    async with request.app.state.runtime.sessions() as session:
        found = await session.get(SubmittedForm, key)
    return found if found is not None and found.owner == viewer.subject else None


async def _remember_submitted(request: Request, viewer: Viewer, key: str, created: dict) -> None:
    row = {
        "key": key,
        "owner": viewer.subject,
        "request_id": created["id"],
        "reference_no": created["reference_no"],
        "created_at": utcnow(),
    }
    async with request.app.state.runtime.sessions() as session, session.begin():
        # A double click's two POSTs both get intake's one request: the first row stays.
        await db.insert_new(session, SubmittedForm.__table__, [row], key=["key"])
        await session.execute(delete(SubmittedForm).where(SubmittedForm.created_at < utcnow() - SUBMITTED_FORMS_KEPT))


def _already(request: Request, done: SubmittedForm) -> RedirectResponse:
    flash(request, _("已提交，查看诉求 %(no)s") % {"no": done.reference_no}, "info")
    return RedirectResponse(request.url_for("enterprise.request", request_id=done.request_id).path, status_code=303)


@router.get("/new", name="enterprise.new")
async def new_request(
    request: Request,
    viewer: Submitter,
    api: Services,
    type: Annotated[str, Query(max_length=40)] = catalogue.COMPLIANCE_CERTIFICATE,
    enterprise: Annotated[str | None, Query(max_length=18)] = None,
    form: Annotated[str | None, Query(max_length=40)] = None,
):
    """A new form gets its key from the server in its address (``?form=``), so that Back and
    reload come to the same form — and, once it was sent, to the request it made."""
    key = request_form.form_key(form)
    asked = {"type": type, **({"enterprise": enterprise} if enterprise else {})}
    if key is None:
        return RedirectResponse(f"{request.url.path}?{urlencode({'form': str(uuid.uuid4()), **asked})}", 303)
    if done := await _submitted(request, viewer, key):
        context = {"done": done, "new_form": f"{request.url.path}?{urlencode(asked)}"}
        return render(request, "enterprise/submitted.html", context)
    found = await the_catalogue(request, api)
    blank = request_form.blank_form(viewer, enterprise, key)
    blank["type"] = type
    if viewer.role == "liaison" and blank["enterprise"]["uscc"]:  # the enterprise chosen, named for them
        served = await _served(api, blank["enterprise"]["uscc"])
        blank["enterprise"]["name"] = (served or {}).get("name") or ""
    return _new_page(request, found, blank)


@router.post("/new", name="enterprise.submit")
async def submit_request(request: Request, viewer: Submitter, api: Services):
    form = request_form.form_from(await request.form())
    key = form["idempotency_key"]
    if done := await _submitted(request, viewer, key):  # Back, reload, a second click: the same request
        return _already(request, done)
    if problems := request_form.region_problems(form):
        error = ApiError(422, "validation_error", _("提交的内容有误，请按提示修改"), problems)
        return _new_page(request, await the_catalogue(request, api), form, error, status=422)
    try:
        created = await api.post(
            "intake", "/v1/requests", json=request_form.body_of(form), headers={"Idempotency-Key": key}
        )
    except ApiError as error:
        if error.status == 401:
            raise
        if done := await _submitted(request, viewer, key):  # a parallel POST of this form won
            return _already(request, done)
        # The form again, with the same Idempotency-Key: if the first POST did arrive after all,
        # the next try gets intake's answer to it instead of a second request.
        return _new_page(request, await the_catalogue(request, api), form, error, status=error.status)
    await _remember_submitted(request, viewer, key, created)
    flash(request, _("诉求已提交，受理编号 %(no)s") % {"no": created["reference_no"]}, "success")
    return RedirectResponse(request.url_for("enterprise.request", request_id=created["id"]).path, status_code=303)


@router.post("/attachments", name="enterprise.upload")
async def upload(
    request: Request,
    viewer: Submitter,
    api: Services,
    file: Annotated[UploadFile, File()],
    slot: Annotated[str, Form(max_length=40, pattern=r"^(subjects\.\d{1,2}\.authorization)?$")] = "",
):
    """A file chosen in a form goes to intake at once (htmx); the form then names its id, as one
    of its "attachments" or under ``slot`` (a subsidiary's 授权委托书)."""
    try:
        stored = await api.post(
            "intake", "/v1/attachments", files={"file": (file.filename, await file.read(), file.content_type)}
        )
    except ApiError as error:
        return render(request, "enterprise/_upload_error.html", {"error": error, "name": file.filename})
    return render(request, "enterprise/_uploaded.html", {"file": stored, "slot": slot or None})


# --- one request -----------------------------------------------------------------------------------
def _rows(found: dict, clocks: dict[str, dict]) -> list[dict]:
    """One row per subject × department: its state, unit (and the unit's telephone), countdown,
    whether it may be chased (催办) and events, issued files; the items waiting for the enterprise
    (待您处理: a 补正, a report, a rating) first. ``clocks``: the notifier's rows (clocks.clock_rows)."""
    events_by_item: dict[str, list[dict]] = {}
    for entry in found["timeline"]:
        if entry["work_item_id"]:
            events_by_item.setdefault(entry["work_item_id"], []).append(entry)
    files_by_item: dict[str, list[dict]] = {}
    for file in found["files"]:
        if file["work_item_id"] and file["purpose"] in ("issued", "supplement_form"):
            files_by_item.setdefault(file["work_item_id"], []).append(file)
    rows = []
    for item in found["work_items"]:
        found_clock = clocks.get(item["id"]) or {}
        clock = found_clock.get("countdown")
        shown = clock and (not clock["finished"] or item["status"] in ("resolved", "closed"))
        urge = found_clock.get("urge")
        rows.append(
            {
                "item": item,
                "deadline": clock if shown else None,
                "urge": urge if urge and item["status"] in OPEN_STATES else None,
                "contact": found_clock.get("unit_contact") or {"phone": None, "office_hours": None},
                "events": events_by_item.get(item["id"], []),
                "files": files_by_item.get(item["id"], []),
            }
        )
    waiting = [t["work_item_id"] for t in found["your_turn"]]
    rows.sort(
        key=lambda r: (
            waiting.index(r["item"]["id"]) if r["item"]["id"] in waiting else len(waiting),
            r["item"]["subject_name"],
            r["item"]["unit_name"],
        )
    )
    return rows


@router.get("/requests/{request_id}", name="enterprise.request")
async def one_request(request: Request, request_id: str, viewer: Submitter, api: Services):
    found = await api.get("intake", f"/v1/requests/{request_id}")
    # Ratings exist only once an item was finished (a reopened item keeps its poor rating): ask
    # for them then, and spare the common page a second call.
    rated = any(i["status"] in RESOLVED_STATES for i in found["work_items"]) or any(
        e["event"] == "request.rated" for e in found["timeline"]
    )
    ratings = await api.get("intake", f"/v1/requests/{request_id}/ratings") if rated else []
    # 回访 after 办结, beside the rating: asked for on the same condition.
    followed = await api.get("intake", f"/v1/requests/{request_id}/follow-ups") if rated else []
    clocks = await clock_rows(api, request_id=request_id) if found["work_items"] else {}
    open_clocks = [
        (clocks.get(i["id"]) or {}).get("countdown") for i in found["work_items"] if i["status"] in OPEN_STATES
    ]
    context = {
        "found": found,
        "rows": _rows(found, clocks),
        "ratings": {r["work_item_id"]: r for r in ratings},
        "follow_ups": {f["work_item_id"]: f for f in followed},
        "deadline": most_pressing(open_clocks),
        "general_events": [e for e in found["timeline"] if not e["work_item_id"]],
        "may_withdraw": found["status"] not in FINISHED_REQUESTS,
    }
    if is_live_poll(request, "live"):  # the page asking whether anything changed (static/js/app.js)
        return render_live(request, "enterprise/_request.html", context)
    return render(request, "enterprise/request.html", context)


@router.get("/requests/{request_id}/files/{file_id}", name="enterprise.file")
async def request_file(request_id: str, file_id: str, viewer: Submitter, api: Services):
    return download(await api.call("intake", "GET", f"/v1/requests/{request_id}/files/{file_id}"))


@router.get("/attachments/{attachment_id}", name="enterprise.attachment")
async def own_attachment(attachment_id: str, viewer: Submitter, api: Services):
    return download(await api.call("intake", "GET", f"/v1/attachments/{attachment_id}"))


def _back(request: Request, request_id: str) -> RedirectResponse:
    return RedirectResponse(request.url_for("enterprise.request", request_id=request_id).path, status_code=303)


REFUSED = object()  # what ``_act`` answers when intake refused the action


async def _act(request: Request, api: ServiceClient, request_id: str, action: str, body: dict) -> Any:
    """An enterprise's action on its request, posted to intake. A refusal the person can act on is
    flashed with its reason (the fields' messages if there are any) and answered ``REFUSED``; not
    found and signed out stay errors, for the error page."""
    try:
        return await api.post("intake", f"/v1/requests/{request_id}/{action}", json=body)
    except ApiError as error:
        if error.status in (404, 401):
            raise
        detail = "；".join(error.fields.values())
        flash(request, f"{error.message}{'：' + detail if detail else ''}", "error")
        return REFUSED


@router.post("/requests/{request_id}/supplements", name="enterprise.supplement")
async def answer_supplement(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    work_item_id: Annotated[str, Form(max_length=36)],
    text: Annotated[str, Form(max_length=2000)] = "",
    attachments: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI reads a fresh list)
):
    body = {"work_item_id": work_item_id, "text": text.strip(), "attachments": [a for a in attachments if a][:20]}
    if await _act(request, api, request_id, "supplements", body) is not REFUSED:
        flash(request, _("补正材料已提交"), "success")
    return _back(request, request_id)


@router.post("/requests/{request_id}/withdraw", name="enterprise.withdraw")
async def withdraw(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    reason: Annotated[str, Form(max_length=500)] = "",
):
    if await _act(request, api, request_id, "withdraw", {"reason": reason.strip() or None}) is not REFUSED:
        flash(request, _("诉求已撤回"), "success")
    return _back(request, request_id)


@router.post("/requests/{request_id}/ratings", name="enterprise.rate")
async def rate(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    work_item_id: Annotated[str, Form(max_length=36)],
    score: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=1000)] = "",
):
    body = {"work_item_id": work_item_id, "score": score, "comment": comment.strip() or None}
    rating = await _act(request, api, request_id, "ratings", body)
    if rating is REFUSED:
        return _back(request, request_id)
    level = labels.rating_name(rating["score"])
    if rating["reopened"]:
        flash(request, _("已评价：%(level)s。该事项已退回部门重新办理") % {"level": level}, "success")
    else:
        flash(request, _("已评价：%(level)s") % {"level": level}, "success")
    return _back(request, request_id)


@router.post("/requests/{request_id}/follow-ups", name="enterprise.follow_up")
async def follow_up(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    work_item_id: Annotated[str, Form(max_length=36)],
    result: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(max_length=1000)] = "",
    method: Annotated[str | None, Form(max_length=20)] = None,
):
    """回访: the enterprise says whether its problem was solved; a liaison officer records a call or
    a visit (intake decides who may, and the methods each role may give)."""
    body = {"work_item_id": work_item_id, "result": result, "comment": comment.strip() or None}
    if method:
        body["method"] = method
    given = await _act(request, api, request_id, "follow-ups", body)
    if given is not REFUSED:
        flash(request, _("已记录回访：%(result)s") % {"result": labels.follow_up_result(given["result"])}, "success")
    return _back(request, request_id)


@router.post("/requests/{request_id}/credit-reports", name="enterprise.credit_report")
async def upload_credit_report(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    subject_uscc: Annotated[str, Form(max_length=18)],
    attachments: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI reads a fresh list)
):
    chosen = [a for a in attachments if a]
    if not chosen:
        flash(request, _("请先选择专项信用报告文件（PDF）"), "error")
        return _back(request, request_id)
    body = {"subject_uscc": subject_uscc, "attachment_id": chosen[-1]}  # the latest file chosen
    if await _act(request, api, request_id, "credit-reports", body) is not REFUSED:
        flash(request, _("专项信用报告已上传"), "success")
    return _back(request, request_id)


@router.post("/requests/{request_id}/urge", name="enterprise.urge")
async def urge(
    request: Request,
    request_id: str,
    viewer: Submitter,
    api: Services,
    work_item_id: Annotated[str, Form(max_length=36)],
):
    """催办 a late item: the notifier records it (once per working day) and tells the unit and its
    supervisors; a refusal says when the item may be chased next."""
    try:
        done = await api.post("notifier", f"/v1/sla/{work_item_id}/urge")
    except ApiError as error:
        if error.status == 401:
            raise
        flash(request, error.message, "error")
        return _back(request, request_id)
    when = shanghai_time(done["next_allowed_at"])
    flash(request, _("已催办，承办单位和督办人员已收到提醒。下次可催办时间：%(when)s") % {"when": when}, "success")
    return _back(request, request_id)


# --- the ledger --------------------------------------------------------------------------------------
@router.get("/ledger.xlsx", name="enterprise.ledger")
async def ledger(viewer: Submitter, api: Services):
    return download(await api.call("intake", "GET", "/v1/ledger", params={"format": "xlsx"}))
