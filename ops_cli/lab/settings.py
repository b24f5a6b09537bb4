"""Settings of the lab, read from `OA_LAB_*` environment variables with safe defaults.

- OA_LAB_CACHE (/var/cache/oa-lab): root file system images and the .deb cache
- OA_LAB_STATE (/var/lib/oa-lab): host disks, SSH key, logs, state file
- OA_LAB_SUBNET (10.77.0.0/24): the lab network; refused if it overlaps the machine's networks
- OA_LAB_PROXY_PORT (8899): tinyproxy's port on the machine's 127.0.0.1
- OA_LAB_RELAY_PORT (3128): the proxy's port on the bridge address inside the lab
- OA_LAB_MIRROR (http://deb.debian.org/debian): Debian mirror for debootstrap and the hosts
- OA_LAB_SECURITY_MIRROR (http://deb.debian.org/debian-security): the hosts' security mirror
- OA_LAB_INVENTORY_DIR (<repo>/inventories/lab): where `hosts.yml` is written
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

NETNS_LAB = "oa-lab"
BRIDGE = "br-lab"
SUITE = "bookworm"


@dataclass(frozen=True)
class HostSpec:
    """One lab host: its name, Ansible group, address offset and the services `status` shows."""

    name: str
    group: str
    offset: int
    services: tuple[str, ...]

    @property
    def netns(self) -> str:
        return f"{NETNS_LAB}-{self.name}"

    @property
    def veth(self) -> str:
        """The bridge side of the host's veth pair (inside the lab namespace)."""
        return f"ve-{self.name}"


HOSTS: tuple[HostSpec, ...] = (
    HostSpec("db", "dbservers", 10, ("ssh", "postgresql", "nftables")),
    HostSpec("app", "appservers", 11, ("ssh", "nginx", "nftables")),
    HostSpec("backup", "backupservers", 12, ("ssh", "nftables")),
)


def host_by_name(name: str) -> HostSpec:
    for host in HOSTS:
        if host.name == name:
            return host
    names = "、".join(h.name for h in HOSTS)
    raise KeyError(f"没有名为 {name} 的 lab 主机（可选：{names}）")


def _default_inventory_dir() -> Path:
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / "inventories" / "lab"
    return Path.cwd() / "inventories" / "lab"


@dataclass(frozen=True)
class LabSettings:
    cache_dir: Path
    state_dir: Path
    subnet: ipaddress.IPv4Network
    proxy_port: int
    relay_port: int
    mirror: str
    security_mirror: str
    inventory_dir: Path
    hosts: tuple[HostSpec, ...] = field(default=HOSTS)

    @classmethod
    def from_env(cls) -> LabSettings:
        env = os.environ
        subnet = ipaddress.ip_network(env.get("OA_LAB_SUBNET", "10.77.0.0/24"), strict=True)
        if not isinstance(subnet, ipaddress.IPv4Network) or subnet.num_addresses < 16:
            raise ValueError("OA_LAB_SUBNET 必须是至少 /28 的 IPv4 网段")
        inventory = env.get("OA_LAB_INVENTORY_DIR")
        return cls(
            cache_dir=Path(env.get("OA_LAB_CACHE", "/var/cache/oa-lab")),
            state_dir=Path(env.get("OA_LAB_STATE", "/var/lib/oa-lab")),
            subnet=subnet,
            proxy_port=int(env.get("OA_LAB_PROXY_PORT", "8899")),
            relay_port=int(env.get("OA_LAB_RELAY_PORT", "3128")),
            mirror=env.get("OA_LAB_MIRROR", "http://deb.debian.org/debian"),
            security_mirror=env.get(
                "OA_LAB_SECURITY_MIRROR", "http://deb.debian.org/debian-security"
            ),
            inventory_dir=Path(inventory) if inventory else _default_inventory_dir(),
        )

    # --- addresses -------------------------------------------------------------------------
    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The bridge's address in the lab namespace: the controller and the package proxy."""
        return self.subnet.network_address + 1

    def address(self, host: HostSpec) -> ipaddress.IPv4Address:
        return self.subnet.network_address + host.offset

    @property
    def proxy_url(self) -> str:
        return f"http://{self.gateway}:{self.relay_port}"

    # --- paths -------------------------------------------------------------------------------
    @property
    def images_dir(self) -> Path:
        return self.cache_dir / "images"

    @property
    def debs_dir(self) -> Path:
        return self.cache_dir / "debs"

    @property
    def hosts_dir(self) -> Path:
        return self.state_dir / "hosts"

    def host_root(self, host: HostSpec) -> Path:
        return self.hosts_dir / host.name

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def proxy_socket(self) -> Path:
        return self.run_dir / "proxy.sock"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def ssh_key(self) -> Path:
        return self.state_dir / "ssh" / "id_ed25519"

    @property
    def inventory_file(self) -> Path:
        return self.inventory_dir / "hosts.yml"
