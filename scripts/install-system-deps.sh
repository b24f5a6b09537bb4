#!/usr/bin/env bash
# Debian packages the platform needs: the PostgreSQL server (for the embedded cluster and the
# tests), and for the tests Chromium and the lab's tools. Idempotent; installs only as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

postgres_missing() {
  ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "缺少软件包：$*。请以 root 运行，或手动执行：sudo apt-get install $*" >&2
    exit 1
  fi
  if [ -z "${OA_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    export OA_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

if postgres_missing; then
  echo "安装 PostgreSQL 服务端（Debian 软件包 postgresql）…"
  apt_install postgresql
fi

if [ "${1:-}" = "--postgres-only" ]; then
  exit 0
fi

bash "$here/install-browser.sh"
bash "$here/install-fonts.sh"
bash "$here/install-lab-deps.sh"
