"""The servers of an inventory, reached read-only over SSH with testinfra (inside the lab's
network namespace when the inventory is the lab's)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops_cli.lab.settings import NETNS_LAB

OUTPUT_LIMIT = 1500


class InventoryError(RuntimeError):
    """The inventory cannot be read (message in Chinese)."""


@dataclass(frozen=True)
class InventoryHost:
    name: str
    address: str
    user: str
    port: int
    key_file: str
    groups: tuple[str, ...]
    vars: dict[str, Any]


def require_inventory(inventory: Path) -> bool:
    """The inventory exists (and, for the lab's, the lab is up); returns whether it is the lab's."""
    from ops_cli.deploy.paths import require_inventory as require

    return require(inventory, InventoryError)


def read_inventory(inventory: Path) -> list[InventoryHost]:
    binary = Path(sys.executable).parent / "ansible-inventory"
    result = subprocess.run([str(binary), "-i", str(inventory), "--list"], capture_output=True,
                            text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise InventoryError(f"无法读取主机清单 {inventory}：{result.stderr.strip()[-400:]}")
    data = json.loads(result.stdout)
    groups: dict[str, list[str]] = {}
    for group, info in data.items():
        for host in info.get("hosts", []) if isinstance(info, dict) else []:
            groups.setdefault(host, []).append(group)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    return [_host(name, hostvars.get(name, {}), groups.get(name, []))
            for name in sorted(groups)]


def _host(name: str, hv: dict[str, Any], groups: list[str]) -> InventoryHost:
    return InventoryHost(
        name=name, address=str(hv.get("ansible_host", name)),
        user=str(hv.get("ansible_user", "root")), port=int(hv.get("ansible_port", 22)),
        key_file=str(hv.get("ansible_ssh_private_key_file", "")),
        groups=tuple(["all", *sorted(groups)]), vars=hv)


def ssh_config(hosts: list[InventoryHost], in_lab: bool, path: Path) -> Path:
    blocks = []
    for host in hosts:
        lines = [f"Host {host.name}", f"  HostName {host.address}", f"  User {host.user}",
                 f"  Port {host.port}", "  LogLevel ERROR", "  ConnectTimeout 15"]
        if host.key_file:
            lines += [f"  IdentityFile {host.key_file}", "  IdentitiesOnly yes"]
        if in_lab:  # the lab's hosts get new keys on every rebuild
            lines += ["  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null",
                      f"  ProxyCommand ip netns exec {NETNS_LAB} socat - TCP:%h:%p"]
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")
    return path


@dataclass(frozen=True)
class Evidence:
    command: str
    rc: int
    output: str


@dataclass
class Session:
    """One server: a testinfra host and what is worth asking only once."""

    host: InventoryHost
    backend: Any
    memo: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    config: Path | None = None

    @classmethod
    def open(cls, host: InventoryHost, config: Path) -> Session:
        """One SSH connection per server, shared by all its commands (a ControlMaster whose
        socket lives beside the temporary ssh_config and which `close` ends)."""
        import testinfra

        backend = testinfra.get_host(
            f"ssh://{host.name}", ssh_config=str(config), controlpersist=30,
            controlpath=str(config.parent / "cm-%%C"),  # testinfra %-formats the command
            sudo=host.user != "root")
        return cls(host, backend, config=config)

    def close(self) -> None:
        if self.config is None:
            return
        subprocess.run(["ssh", "-F", str(self.config), "-o",
                        f"ControlPath={self.config.parent / 'cm-%C'}", "-O", "exit",
                        self.host.name], capture_output=True, check=False, timeout=30)

    def run(self, command: str) -> Any:
        return self.backend.run(command)


class HostContext:
    """What a check sees: one server, one control; every command is kept as evidence."""

    def __init__(self, session: Session, runtime: bool, lab: bool,
                 extra_vars: dict[str, Any]) -> None:
        self.session = session
        self.host = session.host.name
        self.groups = session.host.groups
        self.runtime = runtime
        self.lab = lab
        self.evidence: list[Evidence] = []
        self._vars = {**session.host.vars, **extra_vars}

    def run(self, command: str) -> Any:
        result = self.session.run(command)
        output = (result.stdout + (result.stderr or "")).strip()
        self.evidence.append(Evidence(command, result.rc, _trim(output)))
        return result

    def os_family(self) -> str:
        if "os_family" not in self.session.memo:
            text = self.session.run("cat /etc/os-release").stdout
            self.session.memo["os_family"] = "RedHat" if any(
                k in text for k in ("rhel", "fedora", "centos")) else "Debian"
        return str(self.session.memo["os_family"])

    def sql(self, query: str, database: str = "oa") -> list[list[str]]:
        command = (f"runuser -u postgres -- psql -XAtqz -v ON_ERROR_STOP=1 -d {database} "
                   f"-c {shlex.quote(query)}")
        result = self.session.run(command)
        self.evidence.append(Evidence(f"psql -d {database}: {query}", result.rc,
                                      _trim((result.stdout + result.stderr).replace("\0", " | "))))
        if result.rc != 0:
            raise CheckError(f"SQL 失败：{result.stderr.strip()[:300]}")
        return [line.split("\0") for line in result.stdout.splitlines() if line]

    def var(self, name: str, default: Any = None) -> Any:
        return self._vars.get(name, default)


class CheckError(RuntimeError):
    """A check could not be carried out (reported as an error, which fails the control)."""


def _trim(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + " …（已截断）"
