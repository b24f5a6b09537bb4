"""The lab's logic that needs no lab: recipe hashing, settings, inventory, subnet check, and
starting/stopping processes by recorded identity. Runs anywhere, as any user."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest

from ops_cli.lab import inventory, network, proc, rootfs
from ops_cli.lab.settings import HOSTS, LabSettings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabSettings:
    monkeypatch.setenv("OA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OA_LAB_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("OA_LAB_INVENTORY_DIR", str(tmp_path / "inv"))
    monkeypatch.setenv("OA_LAB_SUBNET", "10.99.5.0/24")
    return LabSettings.from_env()


def test_recipe_hash_is_stable_and_follows_packages_and_script(
    settings: LabSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = rootfs.recipe_hash(settings)
    assert rootfs.recipe_hash(settings) == first
    monkeypatch.setattr(rootfs, "PACKAGES", (*rootfs.PACKAGES, "tree"))
    with_tree = rootfs.recipe_hash(settings)
    assert with_tree != first
    monkeypatch.setattr(rootfs, "CUSTOMISE_SCRIPT", rootfs.CUSTOMISE_SCRIPT + "\ntrue\n")
    assert rootfs.recipe_hash(settings) not in (first, with_tree)


def test_addresses_follow_the_subnet_setting(settings: LabSettings) -> None:
    assert str(settings.gateway) == "10.99.5.1"
    assert [str(settings.address(h)) for h in HOSTS] == ["10.99.5.10", "10.99.5.11", "10.99.5.12"]
    assert settings.proxy_url == "http://10.99.5.1:3128"


@pytest.mark.parametrize("subnet", ["10.0.0.0/30", "fd00:1::/64", "10.77.0.1/24"])
def test_bad_subnet_settings_are_refused(subnet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OA_LAB_SUBNET", subnet)
    with pytest.raises(ValueError):
        LabSettings.from_env()


def test_inventory_file_has_groups_hosts_and_ssh_settings(settings: LabSettings) -> None:
    path = inventory.write(settings)
    data = inventory.build(settings)
    assert path.read_text().startswith("# 由 `oa-ops lab up` 生成")
    children = data["all"]["children"]  # type: ignore[index]
    assert children["dbservers"]["hosts"]["db"]["ansible_host"] == "10.99.5.10"
    assert children["backupservers"]["hosts"]["backup"]["ansible_host"] == "10.99.5.12"
    assert data["all"]["vars"]["ansible_ssh_private_key_file"] == str(settings.ssh_key)


def test_subnet_overlapping_the_machine_is_refused() -> None:
    machine = [n for n in network.machine_networks() if not n.is_loopback and n.prefixlen]
    if not machine:
        pytest.skip("本机没有非回环 IPv4 网络可供比较")
    with pytest.raises(proc.LabError, match="重叠"):
        network.check_subnet(machine[0])
    free = ipaddress.ip_network("10.77.0.0/24")
    if not any(n.overlaps(free) for n in machine):
        network.check_subnet(free)


def test_spawned_process_is_detached_tracked_and_stopped(tmp_path: Path) -> None:
    rec = proc.spawn("sleeper", ["sleep", "60"], tmp_path / "sleeper.log")
    assert proc.is_alive(rec)
    parent = int(Path(f"/proc/{rec.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert parent != os.getpid()  # re-parented away: it outlives the command that started it
    impostor = proc.ProcRecord("x", rec.pid, rec.start_time + 1, rec.argv, rec.log)
    assert not proc.is_alive(impostor)  # same PID, other start time: never ours to signal
    proc.stop(impostor)
    assert proc.is_alive(rec)
    proc.stop(rec)
    time.sleep(0.1)
    assert not proc.is_alive(rec)
