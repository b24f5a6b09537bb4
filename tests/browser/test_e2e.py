"""End to end in headless Chromium, each at 1280 px and at 375 px (the `viewport` fixture):
first login with a forced password change, TOTP enrolment as an administrator, a portal
layout that survives a new login, and the address book search."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from app.org.models import User
from tests.browser.flows import (
    assert_fits_width,
    expect_portal,
    path_is,
    screenshot,
    sign_in,
    sign_out,
    widget_keys,
)
from tests.support.accounts import fresh_code, make_user, totp_secret

pytestmark = pytest.mark.browser

INITIAL_PASSWORD = "Chushi#2026pw"
NEW_PASSWORD = "Xinmima!2026ab"
PASSWORD = "Gongzuo#2026ok"


def test_first_login_forces_a_password_change(page: Page, tmp_path: Path) -> None:
    make_user("wangfang", password=INITIAL_PASSWORD, name="王芳", roles=("staff",),
              must_change=True)

    sign_in(page, "wangfang", INITIAL_PASSWORD)
    page.wait_for_url(path_is("/account/password"))
    assert_fits_width(page)
    page.goto("/")  # the portal is out of reach until the password is changed
    page.wait_for_url(path_is("/account/password"))

    page.fill("input[name=old_password]", INITIAL_PASSWORD)
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=confirm_password]", NEW_PASSWORD)
    page.get_by_role("button", name="修改密码", exact=True).click()

    expect_portal(page)
    expect(page.locator("section.widget[data-widget=profile]")).to_contain_text("王芳")
    assert_fits_width(page)
    shot = screenshot(page, tmp_path, "portal-after-first-login")
    assert shot.stat().st_size > 0

    sign_out(page)
    sign_in(page, "wangfang", NEW_PASSWORD)  # the new password is the one that works now
    expect_portal(page)


def test_administrator_enrols_totp_then_is_asked_for_a_code(page: Page) -> None:
    admin = make_user("xitong", password=PASSWORD, name="赵系统", roles=("sysadmin",))

    sign_in(page, "xitong", PASSWORD)
    page.wait_for_url(path_is("/account/totp"))
    expect(page.locator("#totp-qr")).to_be_visible()
    assert_fits_width(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "").strip()
    code = pyotp.TOTP(secret).now()
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="绑定", exact=True).click()

    codes = page.locator("#recovery-codes li")
    expect(codes.first).to_be_visible()
    assert codes.count() >= 5
    assert_fits_width(page)
    page.goto("/")
    expect_portal(page)

    sign_out(page)
    sign_in(page, "xitong", PASSWORD)
    page.wait_for_url(path_is("/login/totp"))
    assert_fits_width(page)
    page.goto("/")  # not signed in until the code is given
    expect(page).not_to_have_url(path_is("/"))

    page.goto("/login/totp")
    code = fresh_code(secret, admin)  # codes are single-use: not the one used to bind
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="验证", exact=True).click()
    expect_portal(page)


def _layout_rows(page: Page) -> list[str]:
    return page.locator("#layout-list .layout-item").evaluate_all(
        "nodes => nodes.map(n => n.dataset.key)")


def _sign_in_with_code(page: Page, user: User, secret: str) -> None:
    sign_in(page, user.username, PASSWORD)
    page.wait_for_url(path_is("/login/totp"))
    page.fill("input[name=code]", fresh_code(secret, user))
    page.get_by_role("button", name="验证", exact=True).click()
    expect_portal(page)


def test_portal_customisation_survives_a_new_login(page: Page, tmp_path: Path) -> None:
    # The 安全审计员 has three widgets today (审计概况, 常用入口, 我的信息), enough to hide one
    # AND visibly reorder the other two.
    auditor = make_user("shenji", password=PASSWORD, name="沈计", roles=("auditor",), totp=True)
    secret = totp_secret(auditor)

    _sign_in_with_code(page, auditor, secret)
    before = widget_keys(page)
    assert len(before) >= 3 and "profile" in before
    assert len(set(before)) == len(before)
    assert_fits_width(page)
    screenshot(page, tmp_path, "portal-default")
    # installable on a phone: the manifest is linked and the service worker takes control
    expect(page.locator("link[rel=manifest]")).to_have_attribute("href", "/manifest.webmanifest")
    worker = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    assert worker.endswith("/sw.js")

    page.goto("/portal/customize")
    assert_fits_width(page)
    assert _layout_rows(page)[: len(before)] == before
    # hide 我的信息, and bring the last of the others to the top with 上移
    page.locator("#layout-list input[name=widgets][value=profile]").uncheck()
    last = [k for k in before if k != "profile"][-1]
    for _ in range(len(before)):
        page.locator(f"#layout-list .layout-item[data-key={last}] button[data-move=up]").click()
    rows = _layout_rows(page)
    assert rows[0] == last
    screenshot(page, tmp_path, "portal-customize")
    expected = [k for k in rows if k in before and k != "profile"]
    assert expected != [k for k in before if k != "profile"]  # really reordered
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".notice.ok")).to_contain_text("已保存")

    page.goto("/")
    assert widget_keys(page) == expected
    sign_out(page)
    _sign_in_with_code(page, auditor, secret)
    assert widget_keys(page) == expected
    assert_fits_width(page)
    screenshot(page, tmp_path, "portal-customised")


def test_address_book_finds_people_by_initials_and_name(page: Page) -> None:
    make_user("zhangsan", password=PASSWORD, name="张三", roles=("staff",))
    make_user("lisi", password=PASSWORD, name="李四", roles=("staff",))
    make_user("zhousong", password=PASSWORD, name="周松", roles=("staff",))

    sign_in(page, "lisi", PASSWORD)
    expect_portal(page)
    page.goto("/addressbook")
    assert_fits_width(page)

    names = page.locator("#addressbook-results tbody tr td:first-child")
    page.fill("input[name=q]", "zs")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=zs**")
    expect(names.filter(has_text="张三")).to_have_count(1)
    expect(names.filter(has_text="周松")).to_have_count(1)  # zs: both 张三 and 周松
    expect(names.filter(has_text="李四")).to_have_count(0)
    assert_fits_width(page)

    page.fill("input[name=q]", "李四")
    page.press("input[name=q]", "Enter")
    expect(names.filter(has_text="李四")).to_have_count(1)
    expect(names.filter(has_text="张三")).to_have_count(0)
    assert_fits_width(page)
