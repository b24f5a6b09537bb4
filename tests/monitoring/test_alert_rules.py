"""The alert rules of monitoring/rules: valid for Prometheus (`promtool check rules`), each one
proven by `promtool test rules` to fire and not to fire, and written for people (Chinese
summary and description). promtool comes from scripts/install-promtool.sh."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "monitoring" / "rules").glob("*.yml"))
TESTS = sorted((REPO / "monitoring" / "tests").glob("*_test.yml"))
CACHE = Path(os.environ.get("OA_PROMTOOL_DIR", "/var/cache/oa-platform/promtool"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def promtool() -> str:
    for candidate in (CACHE / "usr" / "bin" / "promtool", shutil.which("promtool")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    reason = "找不到 promtool；请运行 scripts/install-promtool.sh"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def alerts_of(path: Path) -> list[dict]:
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_every_rule_file(promtool: str) -> None:
    assert RULES, "monitoring/rules 下没有规则文件"
    result = subprocess.run([promtool, "check", "rules", *map(str, RULES)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TESTS, ids=[t.name for t in TESTS])
def test_rule_unit_tests_pass(promtool: str, test_file: Path) -> None:
    result = subprocess.run([promtool, "test", "rules", test_file.name], cwd=test_file.parent,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for test_file in TESTS:
        for case in yaml.safe_load(test_file.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for path in RULES for rule in alerts_of(path)}
    assert names - fired == set(), "这些告警没有“触发”的单元测试"
    assert names - quiet == set(), "这些告警没有“不触发”的单元测试"


@pytest.mark.parametrize("rule_file", RULES, ids=[r.name for r in RULES])
def test_alerts_have_severity_and_chinese_annotations(rule_file: Path) -> None:
    for rule in alerts_of(rule_file):
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        for key in ("summary", "description"):
            assert CHINESE.search(rule["annotations"][key]), f"{rule['alert']} 的 {key} 不是中文"


def test_the_login_failure_threshold_is_the_roles_default_written_in_one_place() -> None:
    """monitoring_server writes monitoring_server_login_failure_burst_threshold into app.yml
    through the patterns of its vars/main.yml: each must match exactly once, at the number the
    role's default gives, so the repository's file is the default rendering."""
    role = REPO / "ansible" / "roles" / "monitoring_server"
    default = yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8"))[
        "monitoring_server_login_failure_burst_threshold"]
    patterns = yaml.safe_load((role / "vars" / "main.yml").read_text(encoding="utf-8"))[
        "monitoring_server_login_failure_burst_patterns"]
    text = (REPO / "monitoring" / "rules" / "app.yml").read_text(encoding="utf-8")
    assert len(patterns) == 2
    for pattern in patterns:
        found = re.findall(pattern, text)
        assert len(found) == 1, f"{pattern} 在 app.yml 中匹配 {len(found)} 处"
        assert int(found[0][1]) == default
