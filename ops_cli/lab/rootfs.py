"""The hosts' Debian 12 root file system: built once by debootstrap, cached, copied per host.

The image is named by the hash of its recipe (suite, mirror, package list, customisation
script): change any of them and the next `up` builds a new image; an image whose recipe is
unchanged is reused. Host disks are copies (`cp --reflink=auto`, instant on btrfs/xfs) that keep
their changes across `down`/`up`, like a real server's disk across a reboot; `down --purge`
throws them away.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

from .proc import LabError, run
from .settings import SUITE, HostSpec, LabSettings

# What every host needs before Ansible can take over: an init system and D-Bus, sshd and Python
# for Ansible, the network tools, sudo, TLS roots, and enough to debug with.
PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "netbase",
    "sudo",
    "ca-certificates",
    "apt-utils",
    "procps",
    "less",
    "gnupg",
    "locales",
)

# Runs once in the fresh debootstrap tree (chroot). Host-specific files (hostname, keys,
# machine-id, proxy) are written per host copy by `personalise`, not here.
CUSTOMISE_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
cat > /etc/apt/sources.list <<EOF
deb @MIRROR@ @SUITE@ main
deb @MIRROR@ @SUITE@-updates main
deb @SECURITY@ @SUITE@-security main
EOF
# Each host copy gets its own SSH host keys and machine-id.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# No DNS inside the lab: apt asks the proxy, which resolves names on the machine.
rm -f /etc/resolv.conf
: > /etc/resolv.conf
# Background jobs that only make noise (and proxy traffic) in a lab.
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service
systemctl enable ssh.service
mkdir -p /etc/ssh/sshd_config.d /root/.ssh
chmod 700 /root/.ssh
cat > /etc/ssh/sshd_config.d/10-oa-lab.conf <<EOF
# oa-lab: key-only root login for the bootstrap; the roles create the operators' accounts.
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
EOF
apt-get clean
"""

RECIPE_VERSION = 1


def recipe(settings: LabSettings) -> dict[str, object]:
    return {
        "version": RECIPE_VERSION,
        "suite": SUITE,
        "variant": "minbase",
        "mirror": settings.mirror,
        "security_mirror": settings.security_mirror,
        "packages": sorted(PACKAGES),
        "script_sha256": hashlib.sha256(CUSTOMISE_SCRIPT.encode()).hexdigest(),
    }


def recipe_hash(settings: LabSettings) -> str:
    blob = json.dumps(recipe(settings), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def image_path(settings: LabSettings) -> Path:
    return settings.images_dir / f"bookworm-{recipe_hash(settings)}"


def _script(settings: LabSettings) -> str:
    return (
        CUSTOMISE_SCRIPT.replace("@MIRROR@", settings.mirror)
        .replace("@SECURITY@", settings.security_mirror)
        .replace("@SUITE@", SUITE)
    )


def _debootstrap(settings: LabSettings, target: Path) -> None:
    settings.debs_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
        f"--cache-dir={settings.debs_dir}", SUITE, str(target), settings.mirror,
    ]  # fmt: skip
    log = settings.cache_dir / "debootstrap.log"
    result = run(argv, check=False, timeout=1800)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise LabError(f"debootstrap 失败（退出码 {result.returncode}），日志：{log}")


def build_image(settings: LabSettings) -> Path:
    """Build the image for the current recipe (debootstrap + customisation); return its path."""
    final = image_path(settings)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _debootstrap(settings, tmp)
    run(["chroot", str(tmp), "/bin/sh", "-c", _script(settings)], timeout=300)
    (tmp / ".oa-lab-recipe.json").write_text(json.dumps(recipe(settings), indent=2))
    tmp.rename(final)
    return final


def remove_stale_images(settings: LabSettings) -> list[Path]:
    """Delete images built from older recipes (host disks are independent copies)."""
    keep = image_path(settings)
    removed = []
    for path in settings.images_dir.glob("bookworm-*"):
        if path != keep and path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
    return removed


def ensure_image(settings: LabSettings) -> tuple[Path, bool]:
    """Return (image path, whether it was built now)."""
    path = image_path(settings)
    if path.is_dir():
        return path, False
    built = build_image(settings)
    remove_stale_images(settings)
    return built, True


# --- host disks ------------------------------------------------------------------------------


def _marker(root: Path) -> Path:
    return root / ".oa-lab-host.json"


def host_image_hash(root: Path) -> str | None:
    try:
        return str(json.loads(_marker(root).read_text())["image"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_host_disk(settings: LabSettings, host: HostSpec, image: Path) -> bool:
    """Copy the image to the host's disk unless it already holds this image; True if copied."""
    root = settings.host_root(host)
    if host_image_hash(root) == image.name:
        return False
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    run(["cp", "-a", "--reflink=auto", str(image), str(tmp)], timeout=600)
    _first_boot_identity(tmp)
    _marker(tmp).write_text(json.dumps({"image": image.name, "host": host.name}))
    tmp.rename(root)
    return True


def _first_boot_identity(root: Path) -> None:
    """Give a fresh copy its own machine-id and SSH host keys."""
    (root / "etc" / "machine-id").write_text(uuid.uuid4().hex + "\n")
    run(["ssh-keygen", "-A", "-f", str(root)])


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():  # never follow a link out of the host's tree onto the machine
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def personalise(settings: LabSettings, host: HostSpec, public_key: str) -> None:
    """Write the host's name, the lab's hosts, the apt proxy and the bootstrap SSH key.

    Re-applied at every `up` (cheap, and follows a changed subnet or key). The lab owns exactly
    these files; the roles own everything else (sshd config, accounts, firewall...).
    """
    root = settings.host_root(host)
    _write(root / "etc" / "hostname", f"{host.name}\n")
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{host.name}.lab\t{host.name}", "::1\tlocalhost"]
    lines += [f"{settings.address(h)}\t{h.name}.lab\t{h.name}" for h in settings.hosts]
    _write(root / "etc" / "hosts", "\n".join(lines) + "\n")
    proxy = (
        "// oa-lab: the lab has no route out; packages come through the lab's proxy.\n"
        f'Acquire::http::Proxy "{settings.proxy_url}";\n'
        f'Acquire::https::Proxy "{settings.proxy_url}";\n'
    )
    _write(root / "etc" / "apt" / "apt.conf.d" / "90oa-lab-proxy", proxy)
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    existing = keys.read_text().splitlines() if keys.exists() else []
    kept = [k for k in existing if not k.endswith(" oa-lab-bootstrap")]
    _write(keys, "\n".join([*kept, public_key.strip()]) + "\n", 0o600)


def remove_host_disks(settings: LabSettings) -> None:
    if settings.hosts_dir.exists():
        shutil.rmtree(settings.hosts_dir)
