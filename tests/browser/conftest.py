"""Browser end-to-end tests: Debian's headless Chromium driven by Playwright for Python.

The browser is the machine's `/usr/bin/chromium` (scripts/install-browser.sh installs it with a
CJK font); Playwright's own browser download is never used. Without the browser these tests
skip with the reason, except under CI (`CI=true`), where a missing browser fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("OA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The two widths of the issue: a desktop screen and a 375 px phone.
VIEWPORTS = {
    "1280px": {"width": 1280, "height": 900},
    "375px": {"width": 375, "height": 740},
}
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"浏览器测试无法运行（CI 中不允许跳过）：{reason}", pytrace=False)
    print(f"\n跳过浏览器测试：{reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"找不到 Chromium（{CHROMIUM}）；请以 root 运行 scripts/install-browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("未安装 Playwright for Python（pip install -e '.[test]'）")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return VIEWPORTS[request.param]


@pytest.fixture
def page(browser, viewport, live_server, db) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) at the parametrised width, on the live server."""
    context = browser.new_context(base_url=live_server.url, viewport=viewport, locale="zh-CN",
                                  timezone_id="Asia/Shanghai",
                                  is_mobile=viewport["width"] < 768,
                                  has_touch=viewport["width"] < 768)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # A CSP refusal (an inline script or style slipped in) shows as a console error.
    tab.on("console", lambda msg: errors.append(msg.text)
           if msg.type == "error" and "Content Security Policy" in msg.text else None)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"页面脚本出错或违反内容安全策略：{errors}"
