#!/usr/bin/env bash
# 安装公文版式 PDF 所需的中文 TrueType 字体与 PDF 工具（幂等）。
# Installs the CJK fonts the 公文 PDF (app/documents/layout.py, GB/T 9704-2012) is drawn with,
# and poppler-utils (pdftoppm, pdftotext) with which the tests render and read that PDF.
#
# reportlab embeds TrueType outlines only (not the CFF outlines of Noto CJK), so the fonts are
# Debian's Arphic TrueType collections:
#   fonts-arphic-uming  AR PL UMing (明体/宋体 style): stands in for 仿宋 (body) and 小标宋 (titles)
#   fonts-arphic-ukai   AR PL UKai  (楷体 style):       签发人 name, as the standard asks (楷体)
# The licensed 方正仿宋/方正小标宋 fonts are not freely redistributable; production installs them
# and points OA_DOC_FONT_DIR (see app/documents/fonts.py) at them.
#
# Installs only what is missing; runs `apt-get update` at most once, and not at all when
# OA_APT_UPDATED is already set by a calling script (scripts/install-system-deps.sh).
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

PACKAGES=(fonts-arphic-uming fonts-arphic-ukai poppler-utils)
mapfile -t missing < <(missing_packages "${PACKAGES[@]}")

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "公文字体与 PDF 工具已安装：${PACKAGES[*]}"
    exit 0
fi

install_packages "公文版式" "${missing[@]}"

for font in /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/arphic/ukai.ttc; do
    if [[ ! -f "$font" ]]; then
        echo "错误：安装后仍找不到字体文件 $font。" >&2
        exit 1
    fi
done
echo "已安装：${missing[*]}"
