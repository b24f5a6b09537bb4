"""The task page's people pickers (转办, 加签, 传阅) search the address book as one types,
instead of listing the whole bureau in three selects; keyboard and touch both work, and the
server checks the chosen ids as before. At 1280 px and at 375 px (the `viewport` fixture)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.core.db import run_in_transaction
from app.org.models import Department
from app.workflow import engine
from app.workflow.models import Task
from tests.browser.flows import assert_fits_width, path_is, sign_in
from tests.support.accounts import DEFAULT_PASSWORD, make_user
from tests.workflow import flows
from tests.workflow.conftest import ctx_of, install, the_task

pytestmark = pytest.mark.browser


@pytest.fixture
def task_id(db) -> int:
    """主任 holds the 部门审核 task of a request drafted in his office."""
    office = make_user("founder", roles=("staff",)).department
    leader = make_user("leader", name="王主任", department=office, roles=("staff",))
    run_in_transaction(lambda: Department.update(leader_id=leader.id)
                       .where(Department.id == office.id).execute())
    drafter = make_user("drafter", name="赵拟稿", department=office, roles=("staff",))
    for username, name in (("lina", "李娜"), ("liuyang", "刘洋"), ("zhangwei", "张伟")):
        make_user(username, name=name, department=office, roles=("staff",))
    install(flows.SIMPLE)
    started = run_in_transaction(engine.start, ctx_of(drafter), "simple", title="关于测试的请示",
                                 form={"signers": [drafter.id]})
    return the_task(started["instance_id"], leader)


def addsign_names(task: int) -> set[str]:
    def load() -> set[str]:
        from app.org.models import User

        return {u.name for u in User.select().join(Task, on=(Task.assignee_id == User.id))
                .where(Task.source_task_id == task, Task.kind == "addsign")}

    return run_in_transaction(load)


def test_pickers_search_as_one_types(page: Page, task_id: int) -> None:
    sign_in(page, "leader", DEFAULT_PASSWORD)
    expect(page).to_have_url(path_is("/"))
    response = page.goto(f"/workflow/tasks/{task_id}")
    assert response is not None and len(response.body()) < 40_000  # was 224 KiB at 2000 people
    expect(page.locator("#transfer-user")).to_be_visible()
    assert page.locator("select#transfer-user, select#addsign-users").count() == 0
    assert_fits_width(page)

    # 转办 needs someone: submitting with nobody chosen stays on the page with a message
    page.locator("form[action$='/transfer'] button[type=submit]").click()
    expect(page.locator("#transfer-user-status")).to_have_text("请先选择人员")
    expect(page).to_have_url(path_is(f"/workflow/tasks/{task_id}"))

    # 加签: one colleague by pinyin initials and the keyboard, one by a Chinese name and a tap
    picker = page.locator("#addsign-users")
    picker.fill("ln")
    options = page.locator("#addsign-users-options [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("李娜")
    expect(picker).to_have_attribute("aria-expanded", "true")
    picker.press("ArrowDown")
    picker.press("Enter")
    expect(page.locator("#addsign-users-picked .chip")).to_have_count(1)
    picker.fill("刘")
    expect(options).to_have_count(1)
    options.first.click()
    picker.fill("张伟")
    expect(options.first).to_contain_text("张伟")
    options.first.click()
    chips = page.locator("#addsign-users-picked .chip")
    expect(chips).to_have_count(3)
    chips.filter(has_text="张伟").get_by_role("button").click()  # changed my mind
    expect(chips).to_have_count(2)
    picker.fill("没有这个人")
    expect(page.locator("#addsign-users-status")).to_contain_text("没有找到")

    page.select_option("#addsign-position", "before")
    page.fill("#addsign-comment", "请两位先会签。")
    page.locator("form[action$='/addsign'] button[type=submit]").click()
    page.wait_for_url(path_is("/todo"))
    assert addsign_names(task_id) == {"李娜", "刘洋"}


def test_delegation_page_picks_the_delegate_and_keeps_the_choice(page: Page, task_id: int
                                                                  ) -> None:
    sign_in(page, "leader", DEFAULT_PASSWORD)
    expect(page).to_have_url(path_is("/"))
    response = page.goto("/workflow/delegations")
    assert response is not None and response.status == 200
    assert page.locator("select#delegate_id").count() == 0  # no longer every person listed
    assert_fits_width(page)
    picker = page.locator("#delegate-user")
    picker.fill("lina")
    options = page.locator("#delegate-user-options [role=option]")
    expect(options.first).to_contain_text("李娜")
    options.first.click()
    # the end before the start: the server refuses, and the person stays chosen
    page.fill("#start_date", "2026-12-10")
    page.fill("#end_date", "2026-12-01")
    page.locator("form[action='/workflow/delegations'] button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    expect(page.locator("#delegate-user-picked .chip")).to_have_text("李娜×")
    page.fill("#end_date", "2026-12-20")
    page.locator("form[action='/workflow/delegations'] button[type=submit]").click()
    expect(page).to_have_url(path_is("/workflow/delegations"))
    expect(page.locator("table.list tbody")).to_contain_text("李娜")
