#!/usr/bin/env bash
# promtool, for `promtool check rules` / `promtool test rules` on the alert rules of monitoring/.
# It is unpacked from Debian's `prometheus` package into a cache directory instead of installing
# the package, so no Prometheus server is ever started on the machine that runs the tests.
# Idempotent. The tests look for it at the same path (OA_PROMTOOL_DIR overrides both).
set -euo pipefail
cache="${OA_PROMTOOL_DIR:-/var/cache/oa-platform/promtool}"

if [ -x "$cache/usr/bin/promtool" ]; then
  exit 0
fi
echo "解包 promtool（Debian 软件包 prometheus，仅解包不安装）到 $cache …"
workdir="$(mktemp -d)"
chmod 0755 "$workdir"  # apt hands the download to its _apt user
trap 'rm -rf "$workdir"' EXIT
if ! (cd "$workdir" && apt-get download -q prometheus); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "无法下载 prometheus 软件包；请以 root 运行 apt-get update 后重试" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  (cd "$workdir" && apt-get download -q prometheus)
fi
mkdir -p "$cache"
dpkg-deb -x "$workdir"/prometheus_*.deb "$workdir/root"
install -D -m 0755 "$workdir/root/usr/bin/promtool" "$cache/usr/bin/promtool"
"$cache/usr/bin/promtool" --version | head -1
