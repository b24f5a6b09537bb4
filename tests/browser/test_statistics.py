"""统计分析 in headless Chromium at 1280 px and 375 px: a leader opens 办理时效 from the menu,
filters March, reads the table and the chart, and gets a Chinese message for reversed dates."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import assert_fits_width, path_is, sign_in
from tests.statistics.conftest import build_bureau
from tests.support.accounts import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def _open_menu(page: Page) -> None:
    """On a phone the main menu is behind the ☰ toggle."""
    toggle = page.locator("label.nav-toggle-label")
    if toggle.is_visible():
        toggle.click()


def test_leader_reads_the_timeliness_report(page: Page) -> None:
    bureau = build_bureau()
    sign_in(page, bureau.leader_a.username, DEFAULT_PASSWORD)
    _open_menu(page)
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="统计分析").click()
    page.wait_for_url(path_is("/statistics"))
    expect(page.locator("#stat-supervision")).to_contain_text("督办功能尚未上线")
    page.locator("a[data-report=timeliness]").click()
    page.wait_for_url(path_is("/statistics/timeliness"))

    page.fill("#f-since", "2026-03-01")
    page.fill("#f-until", "2026-03-31")
    page.get_by_role("button", name="统计", exact=True).click()
    page.wait_for_load_state()

    departments = page.locator("#table-departments")
    expect(departments.locator("tbody tr").first).to_contain_text("刑侦支队")
    expect(departments.locator("tbody tr").first).to_contain_text("66.7%")
    expect(departments).not_to_contain_text("治安支队")
    expect(departments.locator("svg.stat-chart rect.bar")).to_have_count(2)
    expect(page.locator("#stat-scope")).to_contain_text("2026-03-01 至 2026-03-31")
    expect(page.locator("#stat-export")).to_have_attribute(
        "href", "/statistics/timeliness.xlsx?since=2026-03-01&until=2026-03-31")
    assert_fits_width(page)

    page.fill("#f-since", "2026-04-02")
    page.get_by_role("button", name="统计", exact=True).click()
    page.wait_for_load_state()
    expect(page.locator("#error-since")).to_have_text("开始日期不能晚于结束日期")
