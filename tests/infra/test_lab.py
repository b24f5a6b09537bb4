"""The three-host lab, checked for real: booted hosts, SSH, the bridge, isolation, the proxy,
the generated inventory, and a clean `down` followed by a working `up`.

The down/up cycle is the last test of this module on purpose: it leaves the lab up again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ops_cli.lab import network
from ops_cli.lab.proc import ProcRecord, is_alive
from ops_cli.lab.settings import BRIDGE, HOSTS, NETNS_LAB, LabSettings
from tests.infra.labtools import lab_cli, root_namespace_snapshot

pytestmark = pytest.mark.lab

HOST_NAMES = [h.name for h in HOSTS]
OUTSIDE = "192.0.2.2"  # the machine's own address: a host must not reach it


@pytest.mark.parametrize("name", HOST_NAMES)
def test_host_boots_to_systemd_running(lab: LabSettings, lab_host: Callable, name: str) -> None:
    host = lab_host(name)
    state = host.run("systemctl is-system-running --wait").stdout.strip()
    failed = host.run("systemctl list-units --failed --plain --no-legend").stdout
    assert state == "running", f"{name}: systemd 状态 {state}，失败单元：\n{failed}"
    assert host.check_output("hostname") == name


@pytest.mark.parametrize("name", HOST_NAMES)
def test_sshd_answers_with_the_lab_key_only(lab: LabSettings, lab_host: Callable, name: str):
    host = lab_host(name)
    assert host.service("ssh").is_running
    assert host.service("ssh").is_enabled
    assert host.socket("tcp://0.0.0.0:22").is_listening
    config = host.check_output("sshd -T")
    assert "passwordauthentication no" in config
    assert "permitrootlogin without-password" in config


def test_cli_ssh_runs_a_command_on_the_host(lab: LabSettings) -> None:
    result = lab_cli("ssh", "db", "--", "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "db"


@pytest.mark.parametrize("name", HOST_NAMES)
def test_host_reaches_the_others_over_the_bridge(
    lab: LabSettings, lab_host: Callable, name: str
) -> None:
    host = lab_host(name)
    for other in lab.hosts:
        if other.name == name:
            continue
        # ICMP and names only: which TCP ports one server may open on another is the
        # hardening role's firewall to decide (SSH only from the management addresses).
        ping = host.run(f"ping -c 1 -W 2 {other.name}")
        assert ping.rc == 0, f"{name} 无法 ping 通 {other.name}：{ping.stderr}"
        resolved = host.run(f"getent hosts {other.name}")
        assert str(lab.address(other)) in resolved.stdout, f"{name} 解析不到 {other.name}"


@pytest.mark.parametrize("name", HOST_NAMES)
def test_host_has_no_route_out(lab: LabSettings, lab_host: Callable, name: str) -> None:
    host = lab_host(name)
    assert "default" not in host.check_output("ip route show")
    assert host.run(f"ip route get {OUTSIDE}").rc != 0
    assert host.run(f"timeout 3 bash -c '</dev/tcp/{OUTSIDE}/22'").rc != 0
    # Without the proxy, the mirror cannot even be named, let alone reached.
    direct = host.run(
        'timeout 10 python3 -c "import urllib.request as u; '
        "u.urlopen('http://deb.debian.org/debian/', timeout=5)\""
    )
    assert direct.rc != 0


def test_apt_installs_a_package_through_the_lab_proxy(lab: LabSettings, lab_host: Callable):
    host = lab_host("app")
    host.run("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q tree")
    assert not host.package("tree").is_installed
    proxy_conf = host.file("/etc/apt/apt.conf.d/90oa-lab-proxy").content_string
    assert lab.proxy_url in proxy_conf
    update = host.run("apt-get update -q")
    assert update.rc == 0, update.stdout + update.stderr
    install = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q tree")
    assert install.rc == 0, install.stdout + install.stderr
    assert host.package("tree").is_installed
    assert host.run("tree -L 1 /etc/apt").rc == 0


def test_host_firewall_can_be_managed_with_nftables(lab: LabSettings, lab_host: Callable):
    """CAP_NET_ADMIN is granted: the firewall role can load rules inside a host."""
    host = lab_host("backup")
    install = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables")
    if install.rc != 0:  # package lists may not be there yet on a fresh disk
        host.run("apt-get update -q")
        install = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables")
    assert install.rc == 0, install.stdout + install.stderr
    host.run("nft delete table inet oa_lab_test")
    added = host.run("nft add table inet oa_lab_test && nft add chain inet oa_lab_test input")
    assert added.rc == 0, added.stderr
    assert "table inet oa_lab_test" in host.check_output("nft list ruleset")
    assert host.run("nft delete table inet oa_lab_test").rc == 0


def test_status_reports_every_host_up(lab: LabSettings) -> None:
    result = lab_cli("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert status["all_up"] is True
    by_name = {h["name"]: h for h in status["hosts"]}
    assert set(by_name) == set(HOST_NAMES)
    for host in lab.hosts:
        assert by_name[host.name]["address"] == str(lab.address(host))
        assert by_name[host.name]["system"] == "running"
        assert by_name[host.name]["services"]["ssh"] == "active"
    tables = lab_cli("status")
    assert tables.returncode == 0
    assert str(lab.address(lab.hosts[0])) in tables.stdout


def test_inventory_lists_the_three_groups(lab: LabSettings) -> None:
    data = yaml.safe_load(lab.inventory_file.read_text())
    groups = data["all"]["children"]
    assert set(groups) == {"dbservers", "appservers", "backupservers"}
    for host in lab.hosts:
        entry = groups[host.group]["hosts"][host.name]
        assert entry["ansible_host"] == str(lab.address(host))
    common = data["all"]["vars"]
    assert common["ansible_user"] == "root"
    assert Path(common["ansible_ssh_private_key_file"]).is_file()
    assert "StrictHostKeyChecking=no" in common["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in common["ansible_ssh_common_args"]


def test_up_again_changes_nothing(lab: LabSettings) -> None:
    before = json.loads(lab.state_file.read_text())["processes"]
    result = lab_cli("up")
    assert result.returncode == 0, result.stderr
    after = json.loads(lab.state_file.read_text())["processes"]
    assert {k: v["pid"] for k, v in after.items()} == {k: v["pid"] for k, v in before.items()}


def test_overlapping_subnet_is_refused(lab: LabSettings) -> None:
    result = lab_cli("up", env={"OA_LAB_SUBNET": "192.0.2.0/28"})
    assert result.returncode == 1
    assert "重叠" in result.stderr


def test_root_namespace_untouched_while_up(lab: LabSettings, root_ns_before: dict) -> None:
    assert root_namespace_snapshot() == root_ns_before
    links = root_namespace_snapshot()["links"]
    assert BRIDGE not in links and not any(link.startswith("ve-") for link in links)


def _lab_processes_left(records: list[ProcRecord], state_dir: Path) -> list[str]:
    left = [f"{r.name} (PID {r.pid})" for r in records if is_alive(r)]
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True, check=True)
    for line in ps.stdout.splitlines():
        stat, _, args = line.strip().partition(" ")
        if not stat.startswith("Z") and str(state_dir) in args:
            left.append(args)
    return left


def test_down_removes_everything_then_up_works(
    lab: LabSettings, root_ns_before: dict, lab_host: Callable
) -> None:
    recorded = json.loads(lab.state_file.read_text())
    records = [ProcRecord.from_dict(v) for v in recorded["processes"].values()]
    down = lab_cli("down")
    assert down.returncode == 0, down.stderr
    assert _lab_processes_left(records, lab.state_dir) == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert NETNS_LAB not in netns
    assert not lab.proxy_socket.exists()
    assert root_namespace_snapshot() == root_ns_before
    if recorded["made_run_netns_mount"]:  # `up` made the /run/netns mount: `down` removes it
        assert not network.run_netns_is_mounted()
    status = lab_cli("status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["network_up"] is False

    up = lab_cli("up")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in HOST_NAMES:
        result = lab_cli("ssh", name, "--", "systemctl is-system-running --wait")
        assert result.stdout.strip() == "running", result.stdout + result.stderr
    assert all(network.netns_exists(n) for n in network.namespaces(lab))
