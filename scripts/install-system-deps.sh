#!/usr/bin/env bash
# Debian packages the platform needs: the PostgreSQL server (for the embedded cluster and the
# tests), and for the tests Chromium and the lab's tools. Idempotent; installs only as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

postgres_missing() {
  ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1
}

# shellcheck source=lib/apt.sh
source "$here/lib/apt.sh"

if postgres_missing; then
  echo "安装 PostgreSQL 服务端（Debian 软件包 postgresql）…"
  install_packages " PostgreSQL 服务端" postgresql
fi

if [ "${1:-}" = "--postgres-only" ]; then
  exit 0
fi

bash "$here/install-browser.sh"
bash "$here/install-fonts.sh"
bash "$here/install-lab-deps.sh"
bash "$here/install-promtool.sh"
