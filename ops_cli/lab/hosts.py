"""Booting the hosts with systemd-nspawn, and reaching them over SSH from the lab namespace."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from .proc import LabError, ProcRecord, children_of, is_alive, record_of, run, spawn
from .settings import NETNS_LAB, HostSpec, LabSettings

# CAP_NET_ADMIN: the hosts' own firewall (nftables) and interfaces. CAP_NET_RAW: ping.
# CAP_IPC_LOCK: mlock for services that want it. Deliberately NOT granted: CAP_SYS_TIME (the
# clock is not namespaced: chrony inside would set the machine's clock; its unit is skipped by
# ConditionCapability), CAP_SYS_MODULE, CAP_SYS_RAWIO.
CAPABILITIES = ("CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK")

SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
)  # fmt: skip


def ensure_ssh_key(settings: LabSettings) -> str:
    """Create the lab's ed25519 bootstrap key once; return the public key line."""
    key = settings.ssh_key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "oa-lab-bootstrap",
             "-f", str(key)])  # fmt: skip
    return key.with_suffix(".pub").read_text().strip()


def nspawn_argv(settings: LabSettings, host: HostSpec) -> list[str]:
    return [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--directory={settings.host_root(host)}",
        f"--machine={host.name}",
        f"--hostname={host.name}",
        f"--network-namespace-path=/run/netns/{host.netns}",
        f"--capability={','.join(CAPABILITIES)}",
        "--console=read-only",  # the boot log goes to the host's log file
        "--timezone=off",  # the roles set the time zone (Asia/Shanghai) themselves
        "--resolv-conf=off",
        "--link-journal=no",
    ]


def start_host(settings: LabSettings, host: HostSpec) -> tuple[ProcRecord, ProcRecord]:
    """Boot the host; return the records of systemd-nspawn and of the container's init.

    The init is recorded too: should systemd-nspawn ever die without shutting the container
    down (SIGKILL), the container's systemd would live on, orphaned; `down` and `up` then end it
    by its own recorded id (SIGKILL to the init of a PID namespace ends the whole namespace).
    """
    log = settings.logs_dir / f"host-{host.name}.log"
    nspawn = spawn(f"host-{host.name}", nspawn_argv(settings, host), log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        children = children_of(nspawn.pid)
        init = (
            record_of(f"init-{host.name}", children[0], ["(container init)"]) if children else None
        )
        if init is not None:
            return nspawn, init
        if not is_alive(nspawn):
            break
        time.sleep(0.05)
    raise LabError(f"主机 {host.name} 的容器未能启动，日志：{log}")


def ssh_argv(
    settings: LabSettings,
    host: HostSpec,
    command: Sequence[str] = (),
    *,
    tty: bool = False,
    connect_timeout: int = 5,
) -> list[str]:
    """The ssh command line (run inside the lab namespace) for root@host."""
    argv = ["ip", "netns", "exec", NETNS_LAB, "ssh", *SSH_OPTIONS]
    argv += ["-o", f"ConnectTimeout={connect_timeout}", "-i", str(settings.ssh_key)]
    if tty:
        argv.append("-t")
    argv.append(f"root@{settings.address(host)}")
    return [*argv, *command]


def ssh_run(
    settings: LabSettings, host: HostSpec, command: Sequence[str], *, timeout: float = 60
) -> tuple[int, str]:
    result = run(ssh_argv(settings, host, command), check=False, timeout=timeout)
    return result.returncode, (result.stdout + result.stderr).strip()


def wait_ssh(settings: LabSettings, host: HostSpec, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        code, last = ssh_run(settings, host, ["true"], timeout=15)
        if code == 0:
            return
        time.sleep(0.5)
    raise LabError(
        f"主机 {host.name}（{settings.address(host)}）{timeout:.0f} 秒内未响应 SSH：{last}\n"
        f"启动日志：{settings.logs_dir / f'host-{host.name}.log'}"
    )


@dataclass
class HostHealth:
    system: str  # systemctl is-system-running, or why it is unknown
    services: dict[str, str]
    failed_units: list[str]


def probe(settings: LabSettings, host: HostSpec) -> HostHealth:
    """One SSH round trip: system state, the host's key services, failed units."""
    script = (
        "systemctl is-system-running; echo ---; "
        f"systemctl is-active {' '.join(host.services)}; echo ---; "
        "systemctl list-units --failed --plain --no-legend | cut -d' ' -f1"
    )
    code, out = ssh_run(settings, host, [script], timeout=20)
    parts = out.split("---")
    if code == 255 or len(parts) != 3:
        return HostHealth("无法连接", dict.fromkeys(host.services, "unknown"), [])
    states = parts[1].split()
    services = dict(zip(host.services, states, strict=False))
    return HostHealth(parts[0].strip(), services, parts[2].split())
