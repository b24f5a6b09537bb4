"""Issue 3 end to end in headless Chromium: a drafter drafts a 请示 with an attachment; it
passes every step of the default 发文 flow by the right people (a 会签 of two departments and
one return included), is numbered, sealed and distributed; the recipient department signs for
it in 收文, the bureau leader writes a 批示, staff read it in 传阅, and both are archived. The
todo badge is checked against the 待办 list at every step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.core.db import run_in_transaction
from app.documents.models import IncomingDocument, OutgoingDocument
from tests.browser.conftest import VIEWPORTS
from tests.browser.flows import path_is, sign_in, sign_out
from tests.documents.conftest import docx_bytes, pdf_bytes
from tests.documents.flow_support import make_flow_bureau
from tests.support.accounts import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser
TITLE = "关于增配刑侦技术装备的请示"
BADGE = "a[data-badge-url='/api/todo/count'] .nav-badge"


@pytest.fixture
def fb(db, tmp_path, settings_override):
    settings_override(extra={"doc_storage_dir": str(tmp_path / "files"), "fonds_code": "X001"})
    return make_flow_bureau()


def as_user(page: Page, username: str) -> None:
    if page.locator("button", has_text="退出").count():
        sign_out(page)
    sign_in(page, username, DEFAULT_PASSWORD)
    expect(page).to_have_url(path_is("/"))


def expect_badge(page: Page, count: int) -> None:
    """The nav badge, and the 待办 list it opens, both show `count`."""
    page.goto("/todo")
    expect(page.locator(BADGE)).to_have_text(str(count))
    expect(page.locator("#todo-count")).to_have_text(str(count))
    expect(page.locator("#task-list tbody tr")).to_have_count(count)


def open_task(page: Page, node: str) -> None:
    page.goto("/todo")
    row = page.locator("#task-list tbody tr", has_text=TITLE).filter(has_text=node)
    expect(row).to_have_count(1)
    row.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text(node)


def approve(page: Page, username: str, node: str, comment: str, after: int = 0) -> None:
    as_user(page, username)
    expect_badge(page, 1)
    open_task(page, node)
    page.fill("#comment", comment)
    page.locator("#approve-form button[type=submit]").first.click()
    page.wait_for_url(path_is("/todo"))
    expect_badge(page, after)  # the next step may be the same person's (登记 → 初审)


def test_a_request_goes_through_every_step_and_is_archived(page: Page, fb) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    # 拟稿: a 请示 to 指挥中心, 自定规范性文件, 会签 by 指挥中心 and 信息中心, body + attachment
    as_user(page, "drafter")
    page.goto("/documents/new")
    page.fill("#title", TITLE)
    page.select_option("#doc_type", "请示")
    page.select_option("#urgency", "特急")
    page.fill("#main_to", "市局指挥中心")
    page.fill("#main_to_copies", "1")
    page.fill("#attachment_titles", "装备清单")
    page.select_option("#main_to_dept_ids", [str(fb.command.id)])
    page.select_option("#countersign_dept_ids", [str(fb.command.id), str(fb.info.id)])
    page.check("input[name=is_normative]")
    page.get_by_role("button", name="保存稿纸").click()
    page.wait_for_url(re.compile(r"/documents/\d+\?done=created$"))
    doc_url = page.url.split("?")[0]
    doc_id = int(doc_url.rsplit("/", 1)[1])
    body = docx_bytes(["为提升侦查能力，拟增配技术装备。", "妥否，请批示。"])
    for role, name, data, mime in (
            ("body", "正文.docx", body,
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("attachment", "装备清单.pdf", pdf_bytes("装备清单"), "application/pdf")):
        page.select_option("#role", role)
        page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
        page.locator("form.doc-upload button[type=submit]").click()
        page.wait_for_url(re.compile(r"done=uploaded$"))
    expect(page.locator("body")).to_contain_text("装备清单.pdf")
    page.fill("#submit-comment", "请审核。")
    page.click("#submit-doc")
    page.wait_for_url(re.compile(r"done=submitted$"))
    expect(page.locator("#doc-flow")).to_contain_text("部门审核")
    expect_badge(page, 0)

    approve(page, "crimelead", "部门审核", "同意上报。")
    approve(page, "legallead", "法规部门审核", "符合规定。")
    approve(page, "officelead", "办公室核稿", "核稿无误。")
    approve(page, "cmdlead", "会签", "同意。")
    # 会签: 信息中心 returns it to 办公室核稿 (one return)
    as_user(page, "infolead")
    expect_badge(page, 1)
    open_task(page, "会签")
    page.select_option("#return-target", "previous")
    page.fill("#return-comment", "请补充装备预算。")
    page.get_by_role("button", name="回退").click()
    page.wait_for_url(path_is("/todo"))
    expect_badge(page, 0)
    approve(page, "officelead", "办公室核稿", "已补充预算。")
    approve(page, "cmdlead", "会签", "同意。")
    approve(page, "infolead", "会签", "同意。")
    approve(page, "chief", "签发", "同意。")
    approve(page, "sealer", "用印", "已用印。")

    doc = run_in_transaction(lambda: OutgoingDocument.get_by_id(doc_id))
    assert doc.status == "archived" and doc.doc_number.startswith("X公刑发〔")
    page.goto(doc_url)
    expect(page.locator("body")).to_contain_text(doc.doc_number)
    expect(page.locator("body")).to_contain_text("请补充装备预算。")
    expect(page.locator("body")).to_contain_text("已归档")

    # 收文: the recipient department finds it and signs for it
    as_user(page, "cmdclerk")
    page.goto("/documents/incoming")
    page.get_by_role("link", name=TITLE).click()
    page.click("#start-incoming")
    page.wait_for_url(re.compile(r"done=started$"))
    expect(page.locator("#doc-flow")).to_contain_text("登记")
    approve(page, "cmdclerk", "登记", "已登记。", after=1)
    approve(page, "cmdclerk", "初审", "请主任拟办。")
    approve(page, "cmdlead", "拟办", "拟请王局长批示。")
    approve(page, "chief", "批办", "同意增配，请警务保障处落实。")
    approve(page, "cmdlead", "承办", "已落实。")

    # 传阅: staff read it; the receipt shows who read when
    as_user(page, "cmdstaff")
    page.goto("/todo/circulate")
    page.locator("#task-list tbody tr", has_text=TITLE).locator("a").first.click()
    expect(page.locator("body")).to_contain_text("同意增配，请警务保障处落实。")
    page.get_by_role("button", name="已阅").click()
    page.wait_for_url(re.compile(r"done=read$"))
    approve(page, "cmdclerk", "办结", "办结。")

    incoming = run_in_transaction(
        lambda: IncomingDocument.get(IncomingDocument.source_document == doc_id))
    assert incoming.status == "archived"
    page.goto(f"/documents/incoming/{incoming.id}")
    expect(page.locator("#archived")).to_contain_text("X001-WS")
    page.goto("/documents/archive?q=" + TITLE)
    expect(page.locator("#archive-list tbody tr")).to_have_count(2)


@pytest.fixture
def viewport() -> dict[str, int]:
    """One width is enough for this long walk (the pages' 375 px layout is tested elsewhere)."""
    return VIEWPORTS["1280px"]
