#!/usr/bin/env bash
# 安装浏览器端到端测试所需的 Debian 软件包（幂等）：Chromium 与中文字体。
# Installs what the browser end-to-end tests (tests/browser/) need: Debian's headless Chromium
# (/usr/bin/chromium, driven by Playwright for Python through `executable_path`) and a CJK font
# so Chinese text renders in screenshots. Installs only what is missing, runs `apt-get update`
# at most once (and not at all when OA_APT_UPDATED is already set by a calling script).
# Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail

PACKAGES=(chromium fonts-noto-cjk)

installed() {
    local status
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)"
    [[ "$status" == ii* ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 && -x /usr/bin/chromium ]]; then
    echo "浏览器测试依赖已安装：$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "错误：缺少浏览器测试所需的软件包：${missing[*]:-chromium}。" >&2
    echo "安装软件包需要 root 权限，请执行：sudo scripts/install-browser.sh" >&2
    echo "（或手动：sudo apt-get install -y chromium fonts-noto-cjk）" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [[ -z "${OA_APT_UPDATED:-}" ]]; then
    apt-get update -qq
    export OA_APT_UPDATED=1
fi
echo "安装浏览器测试依赖：${missing[*]:-chromium}"
apt-get install -y -qq --no-install-recommends "${missing[@]:-chromium}"

if [[ ! -x /usr/bin/chromium ]]; then
    echo "错误：安装后仍找不到 /usr/bin/chromium。" >&2
    exit 1
fi
echo "已安装：$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
