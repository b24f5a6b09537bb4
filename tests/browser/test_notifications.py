"""系统告警 in headless Chromium, at 1280 px and 375 px: an alert posted by Alertmanager shows in
the 系统管理员's portal widget and nav badge, and is marked read on the notifications page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import assert_fits_width, expect_portal, path_is, sign_in
from tests.notifications.conftest import TOKEN, alert, payload, post_alerts
from tests.support.accounts import fresh_code, make_user, totp_secret

pytestmark = pytest.mark.browser

PASSWORD = "Gongzuo#2026ok"


def test_alert_reaches_the_admin_portal_and_is_marked_read(page: Page, live_server,
                                                           settings_override) -> None:
    settings_override(alert_webhook_token=TOKEN)
    admin = make_user("xitong", password=PASSWORD, name="赵系统", roles=("sysadmin",),
                      totp=True)
    answer = post_alerts(live_server, payload(alert("PostgresDown", "c0ffee01")))
    assert answer.status_code == 200, answer.text

    sign_in(page, "xitong", PASSWORD)
    page.wait_for_url(path_is("/login/totp"))
    page.fill("input[name=code]", fresh_code(totp_secret(admin), admin))
    page.get_by_role("button", name="验证", exact=True).click()
    expect_portal(page)

    widget = page.locator("section.card.widget[data-widget=alerts_system]")
    expect(widget).to_contain_text("系统告警")
    expect(widget).to_contain_text("数据库服务不可用")
    link = page.locator("a[data-badge-url='/api/notifications/unread-count']")
    badge = link.locator(".nav-badge")
    expect(badge).to_have_text("1")
    expect(link).to_have_attribute("data-badge-counted", "")  # counted with the page
    # a page that came without the count (e.g. a form shown again after a POST): app.js asks
    page.evaluate("""() => { for (const a of document.querySelectorAll("a[data-badge-counted]")) {
        a.removeAttribute("data-badge-counted"); a.querySelector(".nav-badge").remove(); } }""")
    page.evaluate("window.oa.refreshBadges()")
    expect(badge).to_have_text("1")
    assert_fits_width(page)

    page.goto("/notifications")
    item = page.locator("li.notification.unread")
    expect(item).to_contain_text("PostgreSQL 已停止响应")
    assert_fits_width(page)
    item.get_by_role("button", name="标为已读").click()
    page.wait_for_url(path_is("/notifications"))
    expect(page.locator("p.notice.ok")).to_contain_text("已标为已读")
    expect(page.locator("li.notification.unread")).to_have_count(0)
    expect(page.locator("#unread-count")).to_have_text("0")
