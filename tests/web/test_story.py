"""Issue 11's "Done when" story, in one real Chromium through the whole running system (real
broker, databases, the four services): the enterprise submits a bundle for itself and a
subsidiary with a PDF and sees the items appear; a clerk signs in with a password, finds the
item, signs for it and asks for a supplement; the enterprise answers with a file; the clerk
resolves with a document number and a PDF; the enterprise sees it resolved and downloads the
certificate; the supervisor sees the unit's figures change and approves the extension the
clerk asked for. Every step asserts what a person sees."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support import MINGLUO, MINGLUO_SH, PDF_BYTES, eventually
from tests.support.web import DESKTOP, new_page, related, sign_in_as, sign_in_with_password

UNIT = "440112.water_affairs"
UNIT_NAME = "广州市黄埔区水务局"


async def unit_figure(page, field: str) -> int:
    cell = page.locator(f'tr[data-unit="{UNIT}"] td[data-field="{field}"]')
    return int(await cell.inner_text()) if await cell.count() else 0


async def test_the_whole_story(system, web, browser):
    enterprise = await new_page(browser, web)  # a phone, 375 × 667
    clerk = await new_page(browser, web, viewport=DESKTOP)
    supervisor = await new_page(browser, web, viewport=DESKTOP)
    try:
        await related(system, MINGLUO_SH, "明珞（上海）智能装备有限公司", "310115")
        await sign_in_as(supervisor, "staff:dudao.440112")
        await supervisor.goto("/board/units")
        received_before = await unit_figure(supervisor, "received")
        resolved_before = await unit_figure(supervisor, "resolved")

        # 1. The enterprise submits a bundle for itself and one subsidiary, with a PDF.
        await sign_in_as(enterprise, "enterprise")
        await enterprise.get_by_role("link", name="提交新诉求").click()
        await enterprise.get_by_role("button", name="添加子公司").click()
        subsidiary = enterprise.locator("#subject-0")
        await subsidiary.get_by_label("统一社会信用代码").fill(MINGLUO_SH)
        await subsidiary.get_by_label("企业名称").fill("明珞（上海）智能装备有限公司")
        await subsidiary.get_by_label("所在地区").fill("浦东新区")
        await enterprise.get_by_label("水务局", exact=True).check()
        await enterprise.get_by_label("用途").select_option(label="上市")
        await enterprise.get_by_label("联系人").fill("张三")
        await enterprise.get_by_label("联系电话").fill("13800138000")
        await enterprise.get_by_label("上传材料").set_input_files(
            {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await expect(enterprise.locator("#new-files-list")).to_contain_text("已上传")
        async with enterprise.expect_navigation():
            await enterprise.get_by_role("button", name="提交", exact=True).click()
        await expect(enterprise.get_by_role("status")).to_contain_text("诉求已提交，受理编号 XE-")
        reference = re.search(r"XE-[\w-]+", await enterprise.get_by_role("status").inner_text()).group(0)
        request_id = enterprise.url.rsplit("/", 1)[1]

        owner = system.auth("enterprise", usccs=[MINGLUO], sub="demo:enterprise")

        async def routed():
            body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
            items = body["work_items"]
            return items if len(items) == 2 and all(i["due_at"] for i in items) else None

        items = await eventually(routed)
        ours = next(i for i in items if i["unit_code"] == UNIT)
        await enterprise.reload()
        await expect(enterprise.locator("li.item")).to_have_count(2)
        row = enterprise.locator(f"#item-{ours['id']}")
        await expect(row).to_contain_text(UNIT_NAME)
        await expect(row).to_contain_text("待签收")
        await expect(enterprise.locator("li.item", has_text="明珞（上海）智能装备有限公司")).to_contain_text("待签收")

        # 2. A clerk signs in with a password, finds the item, signs for it, asks for a supplement.
        username = f"story-{uuid.uuid4().hex[:6]}"
        await web.add_staff("Shui-wu-2026!", role="department", display_name="赵六", unit_code=UNIT, username=username)
        await sign_in_with_password(clerk, username, "Shui-wu-2026!")
        await clerk.get_by_label("查找").fill(reference)
        await clerk.get_by_role("button", name="搜索").click()
        found = clerk.get_by_role("row").filter(has_text=reference)
        await expect(found).to_contain_text("待签收")
        await expect(found.locator(".countdown")).to_contain_text("签收剩余")
        await found.get_by_role("link", name=reference).click()
        await expect(clerk.get_by_role("link", name="营业执照.pdf")).to_be_visible()
        await clerk.get_by_role("button", name="签收", exact=True).click()
        await expect(clerk.get_by_role("status")).to_have_text("已签收")
        await clerk.get_by_text("要求补正", exact=True).click()
        await clerk.get_by_label("需要企业补正的材料").fill("请补充近三年取水许可证复印件")
        await clerk.get_by_role("button", name="提交：要求补正").click()
        await expect(clerk.locator(".summary .status")).to_have_text("待补正")
        # … and asks for more time, which the supervisor decides at the end.
        await clerk.get_by_text("申请延期", exact=True).click()
        await clerk.get_by_label("延期工作日数").fill("5")
        await clerk.get_by_label("延期理由").fill("需向流域管理机构核实取水记录")
        await clerk.get_by_role("button", name="提交：申请延期").click()
        await expect(clerk.get_by_role("status")).to_have_text("已申请延期，等待督办人员审批")

        # 3. The enterprise answers with a file.
        async def asked():
            body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
            return any(i["id"] == ours["id"] and i["status"] == "awaiting_supplement" for i in body["work_items"])

        await eventually(asked)
        await enterprise.reload()
        row = enterprise.locator(f"#item-{ours['id']}")
        await expect(row).to_contain_text("待补正")
        await expect(row).to_contain_text("请补充近三年取水许可证复印件")
        await row.get_by_label("补正说明").fill("已上传取水许可证")
        await row.get_by_label("补正文件").set_input_files(
            {"name": "取水许可证.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await expect(row.locator(".uploads")).to_contain_text("取水许可证.pdf")
        async with enterprise.expect_navigation():
            await row.get_by_role("button", name="提交补正").click()
        await expect(enterprise.get_by_role("status")).to_have_text("补正材料已提交")

        # 4. The clerk sees the answer and resolves with a document number and a PDF.
        async def answered():
            await clerk.reload()
            return await clerk.locator(".summary .status").inner_text() == "办理中"

        await eventually(answered, timeout=30)
        await expect(clerk.get_by_role("link", name="取水许可证.pdf")).to_be_visible()
        await expect(clerk.locator(".history")).to_contain_text("补正材料")
        await clerk.get_by_text("办结", exact=True).click()
        await clerk.get_by_label("办理结果").select_option("issued")
        document_no = f"穗黄水证〔{uuid.uuid4().int % 10000}〕号"
        await clerk.get_by_label("文号（出具证明时必填）").fill(document_no)
        await clerk.get_by_label("证明文件（PDF）").set_input_files(
            {"name": "守法证明.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
        )
        await clerk.get_by_role("button", name="提交：办结").click()
        await expect(clerk.get_by_role("status")).to_have_text("已办结")
        await expect(clerk.locator(".facts")).to_contain_text(document_no)

        # 5. The enterprise sees it resolved and downloads the certificate.
        async def resolved():
            body = (await system.intake.get(f"/v1/requests/{request_id}", headers=owner)).json()
            mine = next(i for i in body["work_items"] if i["id"] == ours["id"])
            return mine["status"] == "resolved" and any(f["purpose"] == "issued" for f in body["files"])

        await eventually(resolved)
        await enterprise.reload()
        row = enterprise.locator(f"#item-{ours['id']}")
        await expect(row).to_contain_text("已办结")
        await expect(row).to_contain_text(document_no)
        # The unit's own PDF first, then the 核验单 xiaoer registered it with (issue 27).
        certificate = row.get_by_role("link", name=re.compile("下载 出具文书")).first
        downloaded = await enterprise.request.get(await certificate.get_attribute("href"))
        assert downloaded.ok and await downloaded.body() == PDF_BYTES

        # 6. The supervisor sees the unit's figures change and approves the extension.
        async def counted():
            await supervisor.reload()
            received = await unit_figure(supervisor, "received")
            return received > received_before and await unit_figure(supervisor, "resolved") > resolved_before

        await eventually(counted, timeout=30)
        unit_row = supervisor.locator(f'tr[data-unit="{UNIT}"]')
        await expect(unit_row.locator('td[data-field="on_time_rate"]')).to_contain_text("%")
        await supervisor.get_by_role("link", name="延期审批").click()
        card = supervisor.locator("li.card", has_text=reference)
        await expect(card).to_contain_text("5 个工作日")
        await expect(card).to_contain_text("需向流域管理机构核实取水记录")
        await card.get_by_role("button", name="批准").click()
        await expect(supervisor.get_by_role("status")).to_have_text("已批准延期")
        await expect(supervisor.locator("li.card", has_text=reference)).to_have_count(0)
        await clerk.reload()
        await expect(clerk.get_by_role("region", name="延期申请")).to_contain_text("已批准")
    finally:
        for page in (enterprise, clerk, supervisor):
            await page.context.close()
