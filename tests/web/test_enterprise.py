"""The enterprise H5 in a real Chromium at 375 × 667, through the whole running system: an
enterprise submits a bundle for itself and a subsidiary with a PDF, follows it on its timeline
(Chinese states, deadlines in working days), answers a 补正 with a file, withdraws, rates (a poor
rating reopens the item), downloads a certificate and the ledger; a bad USCC is shown beside its
field and creates nothing; one Idempotency-Key makes one request; another enterprise's request
is a clear 404 page. Every page: axe (no serious/critical) and the phone's width."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from shared.clock import utcnow
from tests.support import MINGLUO, MINGLUO_SH, OTHER_CO, PDF_BYTES, certificate_request, eventually
from tests.support.web import assert_accessible, assert_fits_phone, card_in_list, related, sign_in_as

ENTERPRISE_SUB = "demo:enterprise"  # the demo persona's token subject (services/web/demo.py)


def enterprise(system, uscc=MINGLUO):
    return system.auth("enterprise", usccs=[uscc], sub=ENTERPRISE_SUB)


def clerk(system, unit_code):
    return system.auth("department", unit=unit_code, sub=f"clerk-{unit_code}")


async def submit(system, **kwargs) -> dict:
    response = await system.intake.post("/v1/requests", json=certificate_request(**kwargs), headers=enterprise(system))
    assert response.status_code == 201, response.text
    return response.json()


async def seen_in_intake(system, request_id: str, check) -> dict:
    async def found():
        body = (await system.intake.get(f"/v1/requests/{request_id}", headers=enterprise(system))).json()
        return body if check(body) else None

    return await eventually(found)


async def the_item(system, request_id: str, state: str = "dispatched") -> dict:
    body = await seen_in_intake(
        system, request_id, lambda b: len(b["work_items"]) == 1 and b["work_items"][0]["status"] == state
    )
    return body["work_items"][0]


async def act(system, item: dict, action: str, **body) -> dict:
    moved = await system.router.post(
        f"/v1/workitems/{item['id']}/{action}", json=body, headers=clerk(system, item["unit_code"])
    )
    assert moved.status_code == 200, moved.text
    return moved.json()


async def clocks_of(system, request_id: str) -> dict[str, str]:
    """Each item's countdown as the notifier words it for the enterprise: the page shows the same."""
    answer = await system.notifier.post(
        "/v1/countdowns", json={"request_ids": [request_id]}, headers=enterprise(system)
    )
    return {row["work_item_id"]: row["countdown"]["zh"] for row in answer.json()}


async def test_an_enterprise_submits_a_bundle_for_itself_and_a_subsidiary_and_follows_it(system, web, page):
    await related(system, MINGLUO_SH, "明珞（上海）智能装备有限公司", "310115")
    await sign_in_as(page, "enterprise")
    await page.get_by_role("link", name="提交新诉求").click()
    await expect(page.get_by_role("heading", name="提交诉求")).to_be_visible()
    # The enterprise's own fields come from its sign-in.
    await expect(page.get_by_label("统一社会信用代码")).to_have_value(MINGLUO)
    await expect(page.get_by_label("企业名称")).to_have_value("广州明珞装备股份有限公司")
    await assert_fits_phone(page)
    await assert_accessible(page)

    await page.get_by_role("button", name="添加子公司").click()
    subsidiary = page.locator("#subject-0")
    await subsidiary.get_by_label("统一社会信用代码").fill(MINGLUO_SH)
    await subsidiary.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    await subsidiary.get_by_label("所在地区").fill("浦东新区")
    await expect(page.locator('#region-options option[value="310115"]')).to_have_count(1)  # the searchable list
    for kind in ("税务局", "市场监督管理局"):
        await page.get_by_label(kind, exact=True).check()
    await page.get_by_label("用途").select_option(label="上市")
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")
    await page.get_by_label("上传材料").set_input_files(
        {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(page.locator("#new-files-list")).to_contain_text("营业执照.pdf")
    await expect(page.locator("#new-files-list")).to_contain_text("已上传")
    await assert_fits_phone(page)
    await assert_accessible(page)

    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交，受理编号 XE-")
    request_id = page.url.rsplit("/", 1)[1]

    # Two subjects × two kinds: four work items, each on its own row once routed and its clock set.
    body = await seen_in_intake(
        system, request_id, lambda b: len(b["work_items"]) == 4 and all(i["due_at"] for i in b["work_items"])
    )
    assert {f["name"] for f in body["files"]} == {"营业执照.pdf"}
    await page.reload()
    clocks = await clocks_of(system, request_id)
    assert all(text.startswith("签收剩余") for text in clocks.values()), clocks
    rows = page.locator("li.item")
    await expect(rows).to_have_count(4)
    for item in body["work_items"]:
        row = page.locator(f"#item-{item['id']}")
        await expect(row).to_contain_text(item["unit_name"])
        await expect(row).to_contain_text(item["subject_name"])
        await expect(row).to_contain_text("待签收")
        await expect(row.locator(".deadline")).to_have_text(clocks[item["id"]])  # the notifier's words
        await expect(row.locator(".events")).to_contain_text("已派单至")
    await expect(page.locator(".summary")).to_contain_text("已派单")
    await expect(page.get_by_role("link", name="营业执照.pdf")).to_be_visible()
    await assert_fits_phone(page)
    await assert_accessible(page)

    # The list shows it with its overall status and its next deadline.
    await page.goto("/enterprise/")
    card = await card_in_list(page, body["reference_no"])
    await expect(card).to_contain_text("已派单")
    await expect(card.locator(".deadline")).to_contain_text(re.compile(r"最近时限：签收剩余 \d+ (个工作日|小时)"))
    await assert_fits_phone(page)
    await assert_accessible(page)


async def test_a_bad_uscc_is_shown_beside_its_field_and_creates_nothing(system, web, page):
    before = (await system.intake.get("/v1/ledger", headers=enterprise(system))).json()["count"]
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    await page.get_by_role("button", name="添加子公司").click()
    subsidiary = page.locator("#subject-0")
    wrong = MINGLUO_SH[:-1] + ("0" if MINGLUO_SH[-1] != "0" else "1")  # the check character is wrong
    await subsidiary.get_by_label("统一社会信用代码").fill(wrong)
    await subsidiary.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    await subsidiary.get_by_label("所在地区").fill("310115")
    await page.get_by_label("税务局", exact=True).check()
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()

    field = page.locator("#subject-0").get_by_label("统一社会信用代码")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_value(wrong)  # what was typed is kept
    await expect(page.locator("#error-subjects\\.0\\.uscc")).to_have_text("统一社会信用代码校验位错误")
    await expect(page.get_by_role("alert").first).to_contain_text("提交的内容有误")
    await expect(page.get_by_label("税务局", exact=True)).to_be_checked()
    await assert_fits_phone(page)
    await assert_accessible(page)
    after = (await system.intake.get("/v1/ledger", headers=enterprise(system))).json()["count"]
    assert after == before


async def test_the_same_idempotency_key_twice_creates_one_request(system, web, page):
    started = utcnow()
    await sign_in_as(page, "enterprise")
    await page.goto("/enterprise/new")
    marker = f"重复提交检查 {uuid.uuid4().hex[:8]}"
    await page.get_by_label("统计局", exact=True).check()
    await page.get_by_label("情况说明").fill(marker)
    await page.get_by_label("联系人").fill("张三")
    await page.get_by_label("联系电话").fill("13800138000")
    # The same form sent twice, as a retry after a lost answer would send it.
    statuses = await page.evaluate(
        """async () => {
            const form = document.querySelector("form.bundle");
            const send = () => fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                                                   redirect: "manual"}).then(r => r.type);
            return [await send(), await send()];
        }"""
    )
    assert statuses == ["opaqueredirect", "opaqueredirect"]  # both answered 303 to the request
    since = {"from": started.isoformat(), "limit": 100}  # only what was made since the form was opened
    made = (await system.intake.get("/v1/requests", params=since, headers=enterprise(system))).json()["items"]
    details = [(await system.intake.get(f"/v1/requests/{r['id']}", headers=enterprise(system))).json() for r in made]
    assert len([d for d in details if d["description"] == marker]) == 1


async def test_an_enterprise_answers_a_supplement_request_with_a_file(system, web, page):
    created = await submit(system, items=("market_regulation",))
    item = await the_item(system, created["id"])
    await act(system, item, "acknowledge")
    await act(system, item, "request-supplement", note="请补充近三年营业执照副本")
    await the_item(system, created["id"], "awaiting_supplement")

    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{created['id']}")
    row = page.locator(f"#item-{item['id']}")
    await expect(row).to_contain_text("待补正")
    await expect(row).to_contain_text("请补充近三年营业执照副本")
    await expect(row.locator(".deadline")).to_contain_text("暂停计时（待补正），办结剩余")
    await assert_fits_phone(page)
    await assert_accessible(page)
    async with page.expect_navigation():  # 长辈版: larger text, still the phone's width
        await page.get_by_role("button", name="长辈版").click()
    await expect(page.locator("html")).to_have_class("elder")
    await assert_fits_phone(page)
    await assert_accessible(page)
    await row.get_by_label("补正说明").fill("已上传执照副本")
    await row.get_by_label("补正文件").set_input_files(
        {"name": "执照副本.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(row.locator(".uploads")).to_contain_text("执照副本.pdf")
    async with page.expect_navigation():
        await row.get_by_role("button", name="提交补正").click()
    await expect(page.get_by_role("status")).to_have_text("补正材料已提交")

    body = await seen_in_intake(system, created["id"], lambda b: b["work_items"][0]["status"] == "in_progress")
    assert [f["name"] for f in body["files"] if f["purpose"] == "supplement"] == ["执照副本.pdf"]
    await page.reload()
    await expect(page.locator(f"#item-{item['id']}")).to_contain_text("办理中")
    await expect(page.locator(f"#item-{item['id']}")).to_contain_text("已向")


async def test_an_enterprise_withdraws_after_confirming(system, web, page):
    created = await submit(system, items=("housing_fund",))
    await the_item(system, created["id"])
    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{created['id']}")
    await page.locator("details.withdraw summary").click()
    await page.get_by_label("撤回原因（选填）").fill("材料已另行取得")
    dialogs = []

    async def accept(dialog):
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    async with page.expect_navigation():
        await page.get_by_role("button", name="确认撤回").click()
    assert dialogs and "确定撤回此诉求" in dialogs[0]
    await expect(page.get_by_role("status")).to_have_text("诉求已撤回")
    await expect(page.locator(".summary .status")).to_have_text("已撤回")
    await expect(page.locator("details.withdraw")).to_have_count(0)  # nothing more to withdraw
    await expect(page.get_by_role("list", name="诉求记录")).to_contain_text("企业已撤回诉求：材料已另行取得")
    await seen_in_intake(system, created["id"], lambda b: b["status"] == "withdrawn")


async def test_a_poor_rating_visibly_reopens_the_item_and_the_certificate_downloads(system, web, page):
    created = await submit(system, items=("statistics",))
    item = await the_item(system, created["id"])
    await act(system, item, "acknowledge")
    upload = await system.router.post(
        f"/v1/workitems/{item['id']}/files",
        files={"file": ("证明.pdf", PDF_BYTES, "application/pdf")},
        headers=clerk(system, item["unit_code"]),
    )
    assert upload.status_code == 201, upload.text
    number = f"穗黄统证〔{utcnow().year}〕{uuid.uuid4().int % 1000}号"
    await act(system, item, "resolve", outcome="issued", document_no=number, attachments=[upload.json()["id"]])
    await seen_in_intake(
        system,
        created["id"],
        lambda b: b["work_items"][0]["status"] == "resolved" and any(f["purpose"] == "issued" for f in b["files"]),
    )

    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{created['id']}")
    row = page.locator(f"#item-{item['id']}")
    await expect(row).to_contain_text("已办结")
    await expect(row).to_contain_text(number)
    async with page.expect_download() as downloading:
        # The unit's own PDF first, then the 核验单 xiaoer registered it with (issue 27).
        await row.get_by_role("link", name=re.compile("下载 出具文书")).first.click()
    downloaded = await downloading.value
    assert (await downloaded.path()).read_bytes() == PDF_BYTES
    for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        await expect(row.get_by_label(level, exact=True)).to_be_visible()
    await assert_fits_phone(page)
    await assert_accessible(page)

    await row.get_by_label("不满意", exact=True).check()
    await row.get_by_label("评价意见").fill("证明期间不足三年")
    async with page.expect_navigation():
        await row.get_by_role("button", name="提交评价").click()
    await expect(page.get_by_role("status")).to_contain_text("已评价：不满意。该事项已退回部门重新办理")
    row = page.locator(f"#item-{item['id']}")
    await expect(row.locator(".reopened")).to_have_text("已退回部门重新办理")
    await expect(row).to_contain_text("证明期间不足三年")
    await seen_in_intake(system, created["id"], lambda b: b["work_items"][0]["status"] == "in_progress")
    await page.reload()
    await expect(page.locator(f"#item-{item['id']} .status")).to_have_text("办理中")
    await expect(page.locator(f"#item-{item['id']} .deadline")).to_be_visible()
    await expect(page.locator(f"#item-{item['id']}").get_by_role("button", name="提交评价")).to_have_count(0)


async def test_another_enterprises_request_is_a_clear_404_page(system, web, page):
    other = await system.intake.post(
        "/v1/requests",
        json=certificate_request(enterprise=OTHER_CO, items=("tax",)),
        headers=system.auth("enterprise", usccs=[OTHER_CO]),
    )
    assert other.status_code == 201, other.text
    await sign_in_as(page, "enterprise")
    response = await page.goto(f"/enterprise/requests/{other.json()['id']}")
    assert response.status == 404
    await expect(page.get_by_role("heading", name="诉求不存在")).to_be_visible()
    await expect(page.get_by_text(other.json()["reference_no"])).to_have_count(0)
    await assert_fits_phone(page)
    await assert_accessible(page)
    # Acting on it changes nothing either.
    await page.goto("/enterprise/")
    withdrawn = await page.evaluate(
        """async (id) => (await fetch(`/enterprise/requests/${id}/withdraw`, {method: "POST",
              headers: {"x-csrftoken": document.querySelector("input[name=csrftoken]").value}})).status""",
        other.json()["id"],
    )
    assert withdrawn == 404
    still = await system.intake.get(f"/v1/requests/{other.json()['id']}", headers=system.auth("admin"))
    assert still.json()["status"] != "withdrawn"


async def test_a_liaison_officer_submits_and_follows_for_each_enterprise_and_downloads_the_ledger(system, web, page):
    await sign_in_as(page, "liaison")
    await page.get_by_role("link", name="所服务企业").click()
    await expect(page.get_by_role("heading", name="所服务企业")).to_be_visible()
    for uscc in (MINGLUO, MINGLUO_SH):
        await expect(page.locator("li.card", has_text=uscc)).to_be_visible()
    await expect(page.locator("li.card", has_text=MINGLUO_SH)).to_contain_text("上海市浦东新区")
    await assert_fits_phone(page)
    await assert_accessible(page)

    await page.locator("li.card", has_text=MINGLUO_SH).get_by_role("link", name="代其提交诉求").click()
    await expect(page.get_by_label("统一社会信用代码")).to_have_value(MINGLUO_SH)
    await expect(page.get_by_label("所在地区")).to_have_value("310115")
    await page.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
    await page.get_by_label("税务局", exact=True).check()
    await page.get_by_label("联系人").fill("李四")
    await page.get_by_label("联系电话").fill("13900139000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("诉求已提交")
    await expect(page.locator(".summary")).to_contain_text("明珞（上海）智能装备有限公司")

    await page.goto(f"/enterprise/?enterprise={MINGLUO_SH}")
    await expect(await card_in_list(page, "明珞（上海）智能装备有限公司")).to_be_visible()
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="下载台账（Excel）").click()
    ledger = await downloading.value
    assert ledger.suggested_filename == "ledger.xlsx"
    assert (await ledger.path()).read_bytes()[:2] == b"PK"  # an XLSX is a zip


async def test_a_credit_report_stands_in_for_the_covered_certificate_once_uploaded(system, web, page):
    admin = system.auth("admin", sub="web-enterprise-tests-admin")  # no region: the whole country
    version = {
        "report_name": "公共信用信息报告（无违法违规证明版）",
        "site": {"name": "信用广东", "url": "https://credit.gd.gov.cn/"},
        "kinds": ["public_security"],
        "source": {"title": "页面测试用覆盖数据"},
    }
    put = await system.router.put("/v1/credit-coverage/440000", json=version, headers=admin)
    assert put.status_code == 201, put.text
    try:
        created = await submit(system, items=("public_security",))
        await seen_in_intake(system, created["id"], lambda b: len(b["credit_reports"]) == 1)
    finally:  # the other tests' requests in 广东 go to their departments again
        reset = {**version, "kinds": [], "note": "测试结束：恢复为不覆盖"}
        assert (await system.router.put("/v1/credit-coverage/440000", json=reset, headers=admin)).status_code == 201

    await sign_in_as(page, "enterprise")
    await page.goto(f"/enterprise/requests/{created['id']}")
    reports = page.get_by_role("list", name="专项信用报告（信用代证）")
    await expect(reports).to_contain_text("待上传")
    await expect(reports).to_contain_text("公安局")
    await expect(reports.get_by_role("link", name="信用广东")).to_have_attribute("href", "https://credit.gd.gov.cn/")
    await assert_fits_phone(page)
    await assert_accessible(page)
    await reports.get_by_label("上传专项信用报告（PDF）").set_input_files(
        {"name": "专项信用报告.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    await expect(reports.locator(".uploads")).to_contain_text("专项信用报告.pdf")
    async with page.expect_navigation():
        await reports.get_by_role("button", name="确认上传").click()
    await expect(page.get_by_role("status")).to_have_text("专项信用报告已上传")
    await expect(page.get_by_role("list", name="专项信用报告（信用代证）")).to_contain_text("已上传")
    await expect(page.locator("li.item")).to_contain_text("已由专项信用报告替代")
