"""The lab network: a bridge inside the lab namespace, one namespace per host, veth between them.

Every `ip` command here names a namespace (`ip -n NS ...`) or creates one: nothing is ever added
to the machine's own (root) network namespace. The veth pair is created *inside* the lab
namespace with its peer moved straight into the host's namespace, so neither end ever appears in
the root namespace, not even for a moment.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from .proc import LabError, run
from .settings import BRIDGE, NETNS_LAB, HostSpec, LabSettings

RUN_NETNS = Path("/run/netns")
HOST_IFACE = "eth0"


def _json(argv: list[str]) -> list[dict[str, Any]]:
    return json.loads(run(argv).stdout or "[]")


def machine_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 networks the machine's root namespace uses: its routes (all tables) and addresses."""
    nets: list[ipaddress.IPv4Network] = []
    for route in _json(["ip", "-4", "-j", "route", "show", "table", "all"]):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            net = ipaddress.ip_network(dst, strict=False)
            if isinstance(net, ipaddress.IPv4Network):
                nets.append(net)
    for link in _json(["ip", "-4", "-j", "addr", "show"]):
        for info in link.get("addr_info", []):
            nets.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return nets


def check_subnet(subnet: ipaddress.IPv4Network) -> None:
    """Refuse a lab subnet that overlaps anything the machine routes or owns (loopback aside)."""
    for net in machine_networks():
        if net.is_loopback or net.prefixlen == 0:
            continue
        if net.overlaps(subnet):
            raise LabError(
                f"lab 子网 {subnet} 与本机网络 {net} 重叠：请用 OA_LAB_SUBNET 另选一个网段"
            )


def netns_exists(name: str) -> bool:
    return (RUN_NETNS / name).exists()


def run_netns_is_mounted() -> bool:
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    return any(line.split()[4] == str(RUN_NETNS) for line in mounts)


def _add_netns(name: str) -> None:
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def link_exists(netns: str, name: str) -> bool:
    return run(["ip", "-n", netns, "link", "show", name], check=False).returncode == 0


def _ensure_bridge(settings: LabSettings) -> None:
    if not link_exists(NETNS_LAB, BRIDGE):
        run(["ip", "-n", NETNS_LAB, "link", "add", BRIDGE, "type", "bridge"])
    cidr = f"{settings.gateway}/{settings.subnet.prefixlen}"
    run(["ip", "-n", NETNS_LAB, "addr", "replace", cidr, "dev", BRIDGE])
    run(["ip", "-n", NETNS_LAB, "link", "set", BRIDGE, "up"])


def _ensure_host_link(settings: LabSettings, host: HostSpec) -> None:
    if not link_exists(NETNS_LAB, host.veth):
        if link_exists(host.netns, HOST_IFACE):  # a stale half of an old pair
            run(["ip", "-n", host.netns, "link", "del", HOST_IFACE])
        run([
            "ip", "-n", NETNS_LAB, "link", "add", host.veth, "type", "veth",
            "peer", "name", HOST_IFACE, "netns", host.netns,
        ])  # fmt: skip
    run(["ip", "-n", NETNS_LAB, "link", "set", host.veth, "master", BRIDGE, "up"])
    cidr = f"{settings.address(host)}/{settings.subnet.prefixlen}"
    run(["ip", "-n", host.netns, "addr", "replace", cidr, "dev", HOST_IFACE])
    run(["ip", "-n", host.netns, "link", "set", HOST_IFACE, "up"])


def namespaces(settings: LabSettings) -> list[str]:
    return [NETNS_LAB, *(h.netns for h in settings.hosts)]


def setup(settings: LabSettings) -> list[str]:
    """Create (or complete) the lab network; return the namespaces it consists of."""
    for name in namespaces(settings):
        _add_netns(name)
    _ensure_bridge(settings)
    for host in settings.hosts:
        _ensure_host_link(settings, host)
    return namespaces(settings)


def teardown(names: list[str], *, unmount_run_netns: bool) -> None:
    """Delete the namespaces (their veths and the bridge go with them) and the /run/netns mount."""
    for name in names:
        if netns_exists(name):
            run(["ip", "netns", "del", name])
    if unmount_run_netns and run_netns_is_mounted() and not any(RUN_NETNS.iterdir()):
        run(["umount", str(RUN_NETNS)])


def lab_has_addr(settings: LabSettings, host: HostSpec) -> bool:
    if not netns_exists(host.netns):
        return False
    out = run(["ip", "-n", host.netns, "-j", "addr", "show", "dev", HOST_IFACE], check=False)
    return out.returncode == 0 and str(settings.address(host)) in out.stdout
