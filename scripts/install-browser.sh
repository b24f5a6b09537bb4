#!/usr/bin/env bash
# 安装浏览器端到端测试所需的 Debian 软件包（幂等）：Chromium 与中文字体。
# Installs what the browser end-to-end tests (tests/browser/) need: Debian's headless Chromium
# (/usr/bin/chromium, driven by Playwright for Python through `executable_path`) and a CJK font
# so Chinese text renders in screenshots. Installs only what is missing, runs `apt-get update`
# at most once (and not at all when OA_APT_UPDATED is already set by a calling script).
# Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

PACKAGES=(chromium fonts-noto-cjk)
mapfile -t missing < <(missing_packages "${PACKAGES[@]}")

if [[ ${#missing[@]} -eq 0 && -x /usr/bin/chromium ]]; then
    echo "浏览器测试依赖已安装：$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
    exit 0
fi

install_packages "浏览器测试" "${missing[@]:-chromium}"

if [[ ! -x /usr/bin/chromium ]]; then
    echo "错误：安装后仍找不到 /usr/bin/chromium。" >&2
    exit 1
fi
echo "已安装：$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
