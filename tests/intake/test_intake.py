"""intake's contract for front ends: catalogue, submission rules, who sees what, attachments,
the ledger and WeChat login, against the real broker and database."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import re
import uuid
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select

from services.intake import ledger, submissions
from services.intake.models import ReferenceCounter
from shared import events
from shared.clock import SHANGHAI, utcnow
from tests.intake.groups import related
from tests.support import (
    MINGLUO,
    MINGLUO_SH,
    OTHER_CO,
    PDF_BYTES,
    PNG_BYTES,
    certificate_request,
    eventually,
)


def enterprise(system, uscc=MINGLUO):
    return system.auth("enterprise", usccs=[uscc], sub=f"ent-{uscc}")


async def post(system, body, headers=None, **extra_headers):
    return await system.intake.post(
        "/v1/requests", json=body, headers={**(headers or enterprise(system)), **extra_headers}
    )


async def count_requests(system, headers) -> int:
    total, cursor = 0, None
    while True:
        page = (
            await system.intake.get(
                "/v1/requests", params={"limit": 100, **({"cursor": cursor} if cursor else {})}, headers=headers
            )
        ).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


# --- catalogue -------------------------------------------------------------------------------------
async def test_catalogue_describes_every_type_its_items_and_its_form(system):
    response = await system.intake.get("/v1/catalogue")
    assert response.status_code == 200
    types = {t["code"]: t for t in response.json()["request_types"]}
    assert {"compliance_certificate", "consultation", "problem", "emergency"} <= types.keys()
    certificate = types["compliance_certificate"]
    kinds = {i["code"]: i for i in certificate["items"]}
    assert len(kinds) == 20 and kinds["customs"]["zh"] == "海关" and kinds["tax"]["en"] == "Tax Bureau"
    form = {f["name"]: f for f in certificate["form"]}
    assert form["enterprise.uscc"]["required"] is True
    assert form["description"]["max_length"] == 2000 and form["description"]["required"] is False
    assert form["period_months"]["maximum"] == 120 and form["items"]["type"] == "multi_select"
    assert form["attachments"]["max_bytes"] == 20 * 1024 * 1024
    problem_form = {f["name"]: f for f in types["problem"]["form"]}
    assert problem_form["items"]["type"] == "select" and problem_form["description"]["required"] is True
    assert "period_months" not in problem_form


# --- submission ---------------------------------------------------------------------------------------
async def test_submission_answers_201_with_location_and_increasing_reference_numbers(system):
    first = await post(system, certificate_request())
    second = await post(system, certificate_request())
    assert first.status_code == second.status_code == 201
    assert first.headers["location"] == f"/v1/requests/{first.json()['id']}"
    numbers = [r.json()["reference_no"] for r in (first, second)]
    assert all(re.fullmatch(r"XE-\d{8}-\d{6}", n) for n in numbers)
    assert numbers[0][:11] == numbers[1][:11] and numbers[1] > numbers[0]


async def test_concurrent_submissions_get_distinct_reference_numbers(system):
    """On PostgreSQL the numbers come from a sequence, without locks: submissions arriving
    together still never share a number."""
    answers = await asyncio.gather(*(post(system, certificate_request()) for _ in range(12)))
    assert [a.status_code for a in answers] == [201] * 12
    numbers = [a.json()["reference_no"] for a in answers]
    assert len(set(numbers)) == 12
    assert len({n[:11] for n in numbers}) == 1  # one day's numbers


async def test_a_day_begun_with_the_older_counter_goes_on_from_its_last_number(system):
    """An upgrade during the day: the numbers already given that day came from its counter row;
    the next ones follow them, never repeat them (on SQLite the counter is still what counts)."""
    day = (utcnow() + timedelta(days=400)).astimezone(SHANGHAI)
    async with system.runtimes["intake"].sessions() as session, session.begin():
        session.add(ReferenceCounter(day=day.strftime("%Y%m%d"), last=41))
    numbers = []
    for _ in range(2):
        async with system.runtimes["intake"].sessions() as session, session.begin():
            numbers.append(await submissions.next_reference_no(session, day))
    assert numbers == [f"XE-{day:%Y%m%d}-000042", f"XE-{day:%Y%m%d}-000043"]


async def test_the_same_idempotency_key_sent_together_makes_one_request(system):
    """Retries that overlap the first POST (a phone resending on a slow network) wait for it and
    answer as it did."""
    headers = enterprise(system)
    key = str(uuid.uuid4())
    before = await count_requests(system, headers)
    answers = await asyncio.gather(
        *(post(system, certificate_request(), headers, **{"Idempotency-Key": key}) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 1 and len({a.json()["reference_no"] for a in answers}) == 1
    assert await count_requests(system, headers) == before + 1


async def test_idempotency_key_replays_and_refuses_another_body(system):
    headers = enterprise(system)
    key = str(uuid.uuid4())
    before = await count_requests(system, headers)
    first = await post(system, certificate_request(), headers, **{"Idempotency-Key": key})
    again = await post(system, certificate_request(), headers, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await count_requests(system, headers) == before + 1

    other = await post(system, certificate_request(items=("customs",)), headers, **{"Idempotency-Key": key})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await count_requests(system, headers) == before + 1


def _with(path: str, value):
    body = certificate_request()
    target = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return body


_DELETE = object()
BAD_USCC = MINGLUO[:-1] + ("0" if MINGLUO[-1] != "0" else "1")
SUBSIDIARY = {"uscc": MINGLUO_SH, "name": "明珞(上海)科技有限公司", "region_code": "310115"}

BAD_INPUTS = [
    ("wrong USCC check character", _with("enterprise.uscc", BAD_USCC), 422, "enterprise.uscc", "uscc_checksum"),
    ("USCC too short", _with("enterprise.uscc", "9144011"), 422, "enterprise.uscc", "uscc_length"),
    ("unknown region", _with("enterprise.region_code", "449999"), 422, "enterprise.region_code", "region_unknown"),
    (
        "bad subsidiary USCC",
        certificate_request(subjects=[{**SUBSIDIARY, "uscc": MINGLUO_SH[:-1] + "0"}]),
        422,
        "subjects.0.uscc",
        "uscc_checksum",
    ),
    ("unknown item", _with("items", ["tax", "moon_office"]), 422, "items", "item_unknown"),
    ("no items", _with("items", []), 422, "items", "too_short"),
    ("unknown type", _with("type", "wish"), 422, "type", "type_unknown"),
    ("bad mobile", _with("contact.mobile", "12345"), 422, "contact.mobile", "mobile_invalid"),
    ("missing contact", _with("contact", _DELETE), 422, "contact", "missing"),
    ("unknown field", {**certificate_request(), "priority": "vip"}, 422, "priority", "extra_forbidden"),
    ("description too long", _with("description", "长" * 2001), 422, "description", "string_too_long"),
    ("period out of range", _with("period_months", 0), 422, "period_months", "greater_than_equal"),
    ("unknown purpose", _with("purpose", "fun"), 422, "purpose", "purpose_unknown"),
    (
        "enterprise repeated as subject",
        certificate_request(subjects=[{"uscc": MINGLUO, "name": "广州明珞装备股份有限公司", "region_code": "440112"}]),
        422,
        "subjects",
        "subject_duplicate",
    ),
    ("unknown attachment", _with("attachments", ["no-such-file"]), 422, "attachments", "attachment_unknown"),
    (
        "problem without description",
        {**certificate_request(type="problem", items=["financing"]), "description": None},
        422,
        "description",
        "description_required",
    ),
    ("another enterprise's USCC", _with("enterprise.uscc", OTHER_CO), 403, "enterprise.uscc", "not_your_enterprise"),
]


@pytest.mark.parametrize(("case", "body", "status", "field", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(system, case, body, status, field, code):
    headers = enterprise(system)
    before = await count_requests(system, headers)
    response = await post(system, copy.deepcopy(body), headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in problem["errors"]]
    assert all(re.search(r"[\u4e00-\u9fff]", e["message"]) for e in problem["errors"]), "Chinese by default"
    english = await post(system, copy.deepcopy(body), {**headers, "Accept-Language": "en"})
    assert not any(re.search(r"[\u4e00-\u9fff]", e["message"]) for e in english.json()["errors"])
    assert await count_requests(system, headers) == before


async def test_body_that_is_not_json_is_a_clear_422(system):
    response = await system.intake.post(
        "/v1/requests", content=b"{not json", headers={**enterprise(system), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "json_invalid"


# --- who sees what -------------------------------------------------------------------------------------
async def test_visibility_by_role(system):
    await related(system, SUBSIDIARY)  # who may ask about whom: the registry relates them
    created = (await post(system, certificate_request(subjects=[SUBSIDIARY]))).json()
    path = f"/v1/requests/{created['id']}"

    own = await system.intake.get(path, headers=enterprise(system))
    assert own.status_code == 200 and own.json()["contact"]["mobile"] == "13800138000"

    liaison = system.auth("liaison", usccs=[OTHER_CO, MINGLUO], sub="liaison-1")
    assert (await system.intake.get(path, headers=liaison)).status_code == 200

    for outsider in (
        enterprise(system, OTHER_CO),
        system.auth("liaison", usccs=[OTHER_CO]),
        system.auth("supervisor", region="310000"),
        system.auth("department", unit="440112.tax"),
    ):
        response = await system.intake.get(path, headers=outsider)
        assert response.status_code == 404, "someone else's request looks like no request"
        assert response.json()["code"] == "request_not_found"

    for supervisor in (system.auth("supervisor", region="440000"), system.auth("admin", region="440112")):
        seen = await system.intake.get(path, headers=supervisor)
        assert seen.status_code == 200 and seen.json()["contact"] is None, "personal data only to its owner"

    other = enterprise(system, OTHER_CO)
    for action, body in (
        ("withdraw", {}),
        ("rating", {"score": 5}),
        ("supplements", {"work_item_id": "x", "text": "t"}),
    ):
        response = await system.intake.post(f"{path}/{action}", json=body, headers=other)
        assert response.status_code == 404, action


async def test_liaison_submits_on_behalf_of_an_enterprise(system):
    liaison = system.auth("liaison", usccs=[OTHER_CO, MINGLUO], sub="liaison-2", name="李联络")
    created = await post(system, certificate_request(), liaison)
    assert created.status_code == 201
    seen = (await system.intake.get(f"/v1/requests/{created.json()['id']}", headers=enterprise(system))).json()
    assert seen["submitted_by_role"] == "liaison"


async def test_listing_filters_and_paginates(system):
    headers = enterprise(system, OTHER_CO)
    ids = []
    for _ in range(3):
        response = await post(system, certificate_request(enterprise=OTHER_CO), headers)
        ids.append(response.json()["id"])
    problem = await post(
        system, certificate_request(enterprise=OTHER_CO, type="consultation", items=["policy"]), headers
    )
    ids.append(problem.json()["id"])

    page1 = (await system.intake.get("/v1/requests", params={"limit": 2}, headers=headers)).json()
    page2 = (
        await system.intake.get("/v1/requests", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=headers)
    ).json()
    seen = [r["id"] for r in page1["items"] + page2["items"]]
    assert seen == list(reversed(ids)), "newest first, no gaps, no repeats"
    consultations = (await system.intake.get("/v1/requests", params={"type": "consultation"}, headers=headers)).json()
    assert [r["id"] for r in consultations["items"]] == [problem.json()["id"]]
    bad = await system.intake.get("/v1/requests", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert (
        await system.intake.get("/v1/requests", headers=system.auth("department", unit="440112.tax"))
    ).status_code == 403


# --- actions before resolution -----------------------------------------------------------------------------
async def test_an_item_is_rated_only_once_resolved_and_only_an_item_of_the_request(system):
    created = (await post(system, certificate_request())).json()
    path = f"/v1/requests/{created['id']}/ratings"

    async def first_item():
        items = (await system.intake.get(f"/v1/requests/{created['id']}", headers=enterprise(system))).json()
        return items["work_items"][0] if items["work_items"] else None

    item = await eventually(first_item)
    early = await system.intake.post(path, json={"work_item_id": item["id"], "score": 5}, headers=enterprise(system))
    assert early.status_code == 409 and early.json()["code"] == "not_resolved"
    foreign = await system.intake.post(path, json={"work_item_id": "nope", "score": 5}, headers=enterprise(system))
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "work_item_id"
    bad_score = await system.intake.post(
        path, json={"work_item_id": item["id"], "score": 6}, headers=enterprise(system)
    )
    assert bad_score.status_code == 422 and bad_score.json()["errors"][0]["field"] == "score"
    screen = (await system.intake.get(path, headers=enterprise(system))).json()
    assert {i["work_item_id"] for i in screen} >= {item["id"]} and not any(i["may_rate"] for i in screen)


async def test_supplement_only_when_a_department_asked(system):
    created = (await post(system, certificate_request())).json()
    headers = enterprise(system)

    async def first_item():
        items = (await system.intake.get(f"/v1/requests/{created['id']}", headers=headers)).json()["work_items"]
        return items[0] if items else None

    item = await eventually(first_item)
    response = await system.intake.post(
        f"/v1/requests/{created['id']}/supplements",
        json={"work_item_id": item["id"], "text": "补充材料"},
        headers=headers,
    )
    assert response.status_code == 409 and response.json()["current_status"] == "dispatched"


async def test_withdraw_once(system):
    created = (await post(system, certificate_request())).json()
    path = f"/v1/requests/{created['id']}/withdraw"
    assert (await system.intake.post(path, json={"reason": "不再需要"}, headers=enterprise(system))).status_code == 202
    again = await system.intake.post(path, json={}, headers=enterprise(system))
    assert again.status_code == 409 and again.json()["current_status"] == "withdrawn"
    seen = (await system.intake.get(f"/v1/requests/{created['id']}", headers=enterprise(system))).json()
    assert seen["status"] == "withdrawn"
    assert any(t["event"] == "request.withdrawn" for t in seen["timeline"])


# --- attachments -----------------------------------------------------------------------------------------
async def test_attachments_upload_check_and_reuse(system):
    headers = enterprise(system)
    upload = await system.intake.post(
        "/v1/attachments", files={"file": ("营业执照.pdf", PDF_BYTES, "application/pdf")}, headers=headers
    )
    assert upload.status_code == 201, upload.text
    attachment = upload.json()
    assert attachment["content_type"] == "application/pdf" and attachment["size"] == len(PDF_BYTES)
    again = await system.intake.post(
        "/v1/attachments", files={"file": ("copy.pdf", PDF_BYTES, "application/pdf")}, headers=headers
    )
    assert again.json()["sha256"] == attachment["sha256"] and again.json()["id"] != attachment["id"]

    download = await system.intake.get(f"/v1/attachments/{attachment['id']}", headers=headers)
    assert download.status_code == 200 and download.content == PDF_BYTES
    assert (
        await system.intake.get(f"/v1/attachments/{attachment['id']}", headers=enterprise(system, OTHER_CO))
    ).status_code == 404

    created = await post(system, certificate_request(attachments=[attachment["id"]]), headers)
    assert created.status_code == 201
    foreign = await post(
        system, certificate_request(enterprise=OTHER_CO, attachments=[attachment["id"]]), enterprise(system, OTHER_CO)
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "attachments"


async def test_an_upload_goes_to_one_request_only_even_when_two_name_it_at_once(system):
    headers = enterprise(system)

    async def upload() -> str:
        response = await system.intake.post(
            "/v1/attachments", files={"file": ("章程.pdf", PDF_BYTES, "application/pdf")}, headers=headers
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    # Refused for one unknown id: the good upload is not taken either (the whole POST changes nothing).
    fresh = await upload()
    refused = await post(system, certificate_request(attachments=[fresh, "no-such-file"]), headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "attachments"
    assert "no-such-file" in refused.json()["errors"][0]["message"]

    # Two submissions naming it at the same moment: one gets it, the other is refused.
    answers = await asyncio.gather(
        *(
            post(system, certificate_request(attachments=[fresh]), headers, **{"Idempotency-Key": str(uuid.uuid4())})
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
    [accepted] = [a.json() for a in answers if a.status_code == 201]
    shown = await system.intake.get(f"/v1/requests/{accepted['id']}", headers=headers)
    assert shown.json()["attachments"] == [fresh]


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("big.pdf", b"%PDF-" + b"0" * (21 * 1024 * 1024), 413, "too_large"),
        ("notes.txt", b"just text", 415, "type_refused"),
        ("fake.pdf", b"MZ\x90\x00 an executable", 415, "type_refused"),
        ("empty.png", b"", 422, "empty"),
    ],
)
async def test_attachments_refused_by_size_and_content(system, name, content, status, code):
    response = await system.intake.post(
        "/v1/attachments", files={"file": (name, content, "application/pdf")}, headers=enterprise(system)
    )
    assert response.status_code == status
    assert response.json()["errors"][0] == {**response.json()["errors"][0], "field": "file", "code": code}


async def test_png_and_signed_links(system):
    from services.router.messages import signed_links
    from shared.signing import attachment_link

    router_settings = system.runtimes["router"].settings
    upload = (
        await system.intake.post(
            "/v1/attachments", files={"file": ("photo.png", PNG_BYTES, "image/png")}, headers=enterprise(system)
        )
    ).json()
    ref = events.FileRef(
        id=upload["id"], name="photo.png", content_type="image/png", size=len(PNG_BYTES), sha256=upload["sha256"]
    )
    [link] = signed_links(router_settings, [ref])  # as the router hands it to a department
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert (await system.intake.get("/" + path)).content == PNG_BYTES, "no token needed with a signed link"
    tampered = "/" + path.replace("signature=", "signature=0")[:-1]
    assert (await system.intake.get(tampered)).status_code == 403
    mangled = await system.intake.get(
        f"/v1/attachments/{upload['id']}/download", params={"expires": 4102444800, "signature": "\x7f\xf2é" * 10}
    )
    assert mangled.status_code == 422 and mangled.json()["errors"][0]["field"] == "signature"
    expired = attachment_link(
        router_settings.signing_key, router_settings.attachment_download_base, upload["id"], 60, now=0
    )
    expired = expired.split("://", 1)[1].split("/", 1)[1]
    assert (await system.intake.get("/" + expired)).status_code == 403


# --- ledger -----------------------------------------------------------------------------------------------
async def test_ledger_in_json_csv_and_xlsx(system, monkeypatch):
    created = (await post(system, certificate_request(items=("tax", "commerce")))).json()
    liaison = system.auth("liaison", usccs=[MINGLUO], sub="liaison-ledger")

    async def rows_of_request():
        data = (await system.intake.get("/v1/ledger", headers=liaison)).json()
        mine = [r for r in data["rows"] if r["reference_no"] == created["reference_no"]]
        return mine if len(mine) == 2 else None

    rows = await eventually(rows_of_request)
    assert {r["unit_code"] for r in rows} == {"440112.tax", "440112.commerce"}
    assert all(
        r["enterprise_uscc"] == MINGLUO for r in (await system.intake.get("/v1/ledger", headers=liaison)).json()["rows"]
    )

    # Streamed as it is read (no length known up front), a chunk per row here: every row arrives whole.
    monkeypatch.setattr(ledger, "CHUNK", 1)
    csv_response = await system.intake.get("/v1/ledger", params={"format": "csv"}, headers=liaison)
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "content-length" not in csv_response.headers
    text = csv_response.content.decode("utf-8")
    assert text.startswith("\ufeff受理编号")
    assert sum(created["reference_no"] in row for row in csv.reader(io.StringIO(text))) == 2

    xlsx = await system.intake.get("/v1/ledger", params={"format": "xlsx", "status": "dispatched"}, headers=liaison)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "受理编号" and any(created["reference_no"] in row for row in values[1:])

    coordinator = system.auth("department", unit="440112.coordinator")
    assert (await system.intake.get("/v1/ledger", headers=coordinator)).status_code == 200
    clerk = system.auth("department", unit="440112.tax")
    assert (await system.intake.get("/v1/ledger", headers=clerk)).status_code == 403


# --- WeChat -----------------------------------------------------------------------------------------------
async def test_wechat_login_binds_once_then_logs_in_with_the_code_alone(system, fake_wechat):
    unbound = await system.intake.post("/v1/auth/wechat", json={"code": "good-zhangsan"})
    assert unbound.status_code == 403 and unbound.json()["code"] == "wechat_not_bound"

    bound = await system.intake.post("/v1/auth/wechat", json={"code": "good-zhangsan"}, headers=enterprise(system))
    assert bound.status_code == 200 and bound.json()["usccs"] == [MINGLUO]

    later = await system.intake.post("/v1/auth/wechat", json={"code": "good-zhangsan"})
    assert later.status_code == 200
    token = later.json()["access_token"]
    listing = await system.intake.get("/v1/requests", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    _, path, query, _, _ = fake_wechat.calls[-1]
    assert path == "/sns/jscode2session" and query["js_code"] == "good-zhangsan" and query["secret"] == "wx-test-secret"

    # The notifier learns how to reach this user, for progress messages on WeChat.
    from services.notifier.models import Recipient

    async def registered():
        async with system.runtimes["notifier"].sessions() as session:
            return await session.scalar(
                select(Recipient).where(Recipient.address == "openid-zhangsan", Recipient.key == MINGLUO)
            )

    recipient = await eventually(registered)
    assert (recipient.kind, recipient.channel) == ("enterprise", "wechat")

    refused = await system.intake.post("/v1/auth/wechat", json={"code": "expired"})
    assert refused.status_code == 401 and refused.json()["errors"][0]["field"] == "code"


def test_logs_mask_mobile_numbers(capsys):
    import structlog

    from shared.logging import configure_logging

    configure_logging("INFO", json_output=True)
    try:
        structlog.get_logger("t").info("contact.called", contact="张三 13800138000")
    finally:
        structlog.reset_defaults()  # the configuration above writes to this test's captured stderr
    err = capsys.readouterr().err
    assert "13800138000" not in err and "138****8000" in err
