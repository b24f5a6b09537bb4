# shellcheck shell=bash
# Debian package helpers shared by the install scripts (sourced, not run).
# `apt-get update` runs at most once per `make` step: OA_APT_UPDATED is exported after it.

# Prints the packages among "$@" that are not installed, one per line.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == ii* ]] || echo "$pkg"
    done
}

# install_packages WHAT PKG...: installs the given packages as root (WHAT names them in messages);
# without root, says in Chinese what to run and fails.
install_packages() {
    local what="$1"
    shift
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "错误：缺少${what}所需的软件包：$*。" >&2
        echo "安装软件包需要 root 权限，请以 root 运行，或手动执行：sudo apt-get install -y $*" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "${OA_APT_UPDATED:-}" ]]; then
        apt-get update -qq
        export OA_APT_UPDATED=1
    fi
    echo "安装${what}依赖：$*"
    apt-get install -y -qq --no-install-recommends "$@"
}
