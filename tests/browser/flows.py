"""Steps the browser tests share: signing in and out through the real pages, layout checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect


def path_is(path: str) -> re.Pattern[str]:
    """A URL matcher for `page.wait_for_url`: this path, any query string."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?$")


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="退出", exact=True).click()
    page.wait_for_url(path_is("/login"))


def widget_keys(page: Page) -> list[str]:
    return page.locator("section.card.widget").evaluate_all(
        "nodes => nodes.map(n => n.dataset.widget)")


def assert_fits_width(page: Page) -> None:
    """No horizontal scrolling: the page is no wider than the window (the 375 px check)."""
    sizes: dict[str, Any] = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    width = page.viewport_size["width"] if page.viewport_size else sizes["inner"]
    assert sizes["inner"] == width, f"窗口宽度 {sizes['inner']} 不是 {width}（页面被缩放了）"
    assert sizes["scroll"] <= sizes["inner"], (
        f"{page.url} 在 {width}px 宽时出现横向滚动：内容宽 {sizes['scroll']}px")


def screenshot(page: Page, directory: Path, name: str) -> Path:
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = directory / f"{name}-{width}px.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def expect_portal(page: Page) -> None:
    """The browser is on the work desktop (on failure, the message names where it is)."""
    expect(page).to_have_url(path_is("/"))
    expect(page.locator("section.card.widget").first).to_be_visible()
