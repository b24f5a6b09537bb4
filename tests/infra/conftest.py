"""Fixtures for the lab's infra tests.

- The lab is brought up once per session with the real command (`python -m ops_cli.lab up`),
  reused when it already runs, and taken down at the end only if this session brought it up
  (set OA_LAB_KEEP=1 to leave it running for the next run).
- Where the machine cannot host the lab (not root, commands missing), the lab tests skip with
  the reason; under CI (CI=true) such a skip is turned into a failure.
- `lab_host("db")` is a testinfra host reached over SSH *inside* the lab network namespace (the
  ssh transport goes through `ip netns exec oa-lab socat`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops_cli.lab import lab as lab_core
from ops_cli.lab.settings import NETNS_LAB, LabSettings
from tests.infra.labtools import lab_cli, root_namespace_snapshot


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI the lab must run: a skipped lab test is reported as a failure."""
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped and item.get_closest_marker("lab") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI=true：lab 测试不允许跳过（{reason}）"


@pytest.fixture(scope="session")
def lab_settings() -> LabSettings:
    return LabSettings.from_env()


@pytest.fixture(scope="session")
def lab_machine() -> None:
    """Skip (fail under CI) when this machine cannot host the lab."""
    problems = lab_core.machine_problems()
    if problems:
        pytest.skip("本机无法运行 lab：" + "；".join(problems))


@pytest.fixture(scope="session")
def root_ns_before(lab_machine: None) -> dict[str, list[str]]:
    return root_namespace_snapshot()


@pytest.fixture(scope="session")
def lab(
    lab_machine: None, lab_settings: LabSettings, root_ns_before: object
) -> Iterator[LabSettings]:
    was_up = lab_core.status(lab_settings, probe=False).running
    result = lab_cli("up")
    print(result.stdout)
    assert result.returncode == 0, f"oa-ops lab up 失败：\n{result.stdout}\n{result.stderr}"
    yield lab_settings
    if not was_up and os.environ.get("OA_LAB_KEEP") != "1":
        down = lab_cli("down")
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def lab_ssh_config(lab: LabSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ssh_config whose hosts are reached through the lab namespace."""
    path = tmp_path_factory.mktemp("lab-ssh") / "ssh_config"
    blocks = [
        f"Host {host.name}\n"
        f"  HostName {lab.address(host)}\n"
        "  User root\n"
        f"  IdentityFile {lab.ssh_key}\n"
        "  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n"
        "  UserKnownHostsFile /dev/null\n"
        "  LogLevel ERROR\n"
        f"  ProxyCommand ip netns exec {NETNS_LAB} socat - TCP:%h:%p\n"
        for host in lab.hosts
    ]
    path.write_text("\n".join(blocks))
    return path


@pytest.fixture(scope="session")
def lab_host(lab_ssh_config: Path) -> Callable[[str], object]:
    """`lab_host("db")` -> a testinfra host over SSH in the lab (no ControlMaster left behind)."""
    import testinfra

    cache: dict[str, object] = {}

    def get(name: str) -> object:
        if name not in cache:
            cache[name] = testinfra.get_host(
                f"ssh://{name}", ssh_config=str(lab_ssh_config), controlpersist=0, timeout=15
            )
        return cache[name]

    return get
