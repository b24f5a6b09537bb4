#!/usr/bin/env bash
# 安装 oa-ops lab 所需的 Debian 软件包（幂等）。
# Installs the Debian packages the three-host lab needs. Idempotent: installs only what is missing,
# runs `apt-get update` at most once, and only when something must be installed.
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

PACKAGES=(
    debootstrap        # builds the Debian 12 root file system
    systemd-container  # systemd-nspawn
    tinyproxy          # HTTP package proxy on the machine's loopback
    socat              # unix-socket relay into the lab network namespace
    iproute2           # ip netns / ip link
    openssh-client     # ssh, ssh-keygen
    ca-certificates
    mount              # umount (the /run/netns mount made by `ip netns add`)
    procps             # ps (the lab signals only the PIDs it recorded)
)

if [[ "$(id -u)" -ne 0 ]]; then
    echo "错误：install-lab-deps.sh 需要以 root 身份运行（安装 Debian 软件包、创建网络命名空间）。" >&2
    echo "请使用：sudo scripts/install-lab-deps.sh" >&2
    exit 1
fi

mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "lab 依赖已全部安装。"
else
    install_packages " lab " "${missing[@]}"
fi

# On a machine booted with systemd, Debian's tinyproxy package starts a system-wide instance on
# port 8888, which is also the application's default port (OA_PORT). The lab runs its own
# instance with its own configuration, so a system instance that this script just installed is
# stopped and disabled. One that was installed before is the administrator's and left alone.
if [[ " ${missing[*]:-} " == *" tinyproxy "* ]]; then
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now tinyproxy.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/tinyproxy ]]; then
        /etc/init.d/tinyproxy stop >/dev/null 2>&1 || true
    fi
fi
