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

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_cli.lab import lab as lab_core
from ops_cli.lab.settings import NETNS_LAB, LabSettings
from tests.infra.labtools import REPO, lab_cli, oa_deploy, root_namespace_snapshot

# The lab modules run in this order (others after the deploy's own checks, before the
# compliance module, which breaks controls on purpose and restores them).
MODULE_ORDER = ("test_lab_units", "test_lab", "test_deploy")
LAST_MODULES = ("test_compliance",)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lab modules in a fixed order: bring-up, deploy checks, features on the deployed lab,
    compliance last; the order of tests inside a module is kept."""

    def rank(item: pytest.Item) -> int:
        module = item.path.stem if item.path.parent.name == "infra" else ""
        if module in MODULE_ORDER:
            return MODULE_ORDER.index(module)
        if module in LAST_MODULES:
            return len(MODULE_ORDER) + 1
        return len(MODULE_ORDER) if module else -1

    items.sort(key=rank)


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


@pytest.fixture(scope="session")
def deployed(lab: LabSettings) -> dict[str, Any]:
    """One full `oa-ops deploy -i inventories/lab` per test session; every lab module shares it."""
    result, stats, elapsed = oa_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stats.get("processed", {})) == {"db", "app", "backup"}
    return {"stats": stats, "seconds": elapsed, "stdout": result.stdout}


@pytest.fixture(scope="session")
def lab_http(lab: LabSettings) -> Callable[..., Any]:
    """Run a check of tests/infra/lab_http.py inside the lab network namespace."""

    def run(*args: str) -> Any:
        result = subprocess.run(
            ["ip", "netns", "exec", NETNS_LAB, sys.executable, "-m", "tests.infra.lab_http",
             *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


@pytest.fixture(scope="session")
def lab_ca(lab: LabSettings) -> str:
    return str(lab.state_dir / "pki" / "ca.crt")
