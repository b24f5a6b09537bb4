"""等保三级 in the lab: deploy + harden (the shared deploy fixture of test_deploy), then
`oa-ops compliance check` passes every applicable control; controls broken on purpose are
reported, exactly those, naming their clause; re-applying the roles by the controls' tags restores
them; the platform's HTTPS login still works after hardening."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops_cli.compliance import catalogue as cat
from tests.infra.labtools import APP_URL, REPO, oa_deploy

pytestmark = pytest.mark.lab

# (control, host) -> how it is broken; the clause each must be reported under.
BREAKS: dict[tuple[str, str], str] = {
    ("L3-HOST-ACL-02", "db"): "sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/' "
                              "/etc/ssh/sshd_config",
    ("L3-HOST-ACL-09", "app"): "chmod 0644 /etc/shadow",
    ("L3-HOST-AUTH-06", "backup"): "sed -i '/pam_faillock/d' /etc/pam.d/common-auth",
    ("L3-DB-AUTH-02", "db"): "runuser -u postgres -- psql -XAtq -c 'CREATE ROLE oa_intruder LOGIN'",
    ("L3-DB-AUD-04", "db"): "runuser -u postgres -- psql -XAtq -d oa -c "
                            "'GRANT UPDATE ON audit_event TO oa_app'",
}
# A login role without a password is also a surplus login role (8.1.4.2.c).
ALSO_FAILING = {("L3-DB-ACL-03", "db")}


def compliance(out: Path, *args: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "oa-ops"), "compliance", "check", "-i",
         "inventories/lab", "--format", "json", "--format", "html", "--out", str(out), *args],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        env={"COLUMNS": "160", **_env()})
    seconds = time.monotonic() - started
    print(f"oa-ops compliance check：{seconds:.0f} 秒\n{result.stdout[-4000:]}")
    reports = sorted(out.glob("compliance-*.json"), key=lambda p: p.stat().st_mtime)
    assert reports, result.stdout + result.stderr
    return result.returncode, json.loads(reports[-1].read_text()), seconds


def _env() -> dict[str, str]:
    return dict(os.environ)


def failed(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["control"], f["host"]): f for f in report["findings"]
            if f["status"] in ("fail", "error")}


@pytest.fixture(scope="module")
def first_check(deployed: dict,
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rc, report, seconds = compliance(tmp_path_factory.mktemp("compliance"))
    print(f"部署+加固 {deployed['seconds']:.0f} 秒；核查 {seconds:.0f} 秒；"
          f"{Counter(f['status'] for f in report['findings'])}")
    return {"rc": rc, "report": report}


def test_every_applicable_control_passes_after_hardening(first_check: dict) -> None:
    report = first_check["report"]
    assert failed(report) == {}, json.dumps(list(failed(report).values()), ensure_ascii=False,
                                            indent=1)[:6000]
    assert first_check["rc"] == 0
    assert report["lab"] is True and report["versions"].get("app")


def test_report_says_which_controls_are_only_configured_or_pending(first_check: dict) -> None:
    catalogue = cat.load()
    findings = first_check["report"]["findings"]
    config_only = {f["control"] for f in findings if f["status"] == "config-only"}
    assert config_only == {c.id for c in catalogue.controls if c.lab_config_only}
    pending = {f["control"] for f in findings if f["status"] == "pending"}
    assert pending == {c.id for c in catalogue.controls if c.pending}
    assert all("尚未实施" in f["detail"] for f in findings if f["status"] == "pending")
    na = [f for f in findings if f["status"] == "not-applicable"]
    assert na and all(f["detail"] for f in na)
    every_host = {f["host"] for f in findings}
    assert every_host == {"db", "app", "backup"}


def test_broken_controls_are_reported_then_restored_by_the_roles(
    first_check: dict, lab_host: Callable, tmp_path: Path
) -> None:
    try:
        for (_, host), command in BREAKS.items():
            broken = lab_host(host).run(command)
            assert broken.rc == 0, broken.stderr
        rc, report, _ = compliance(tmp_path / "broken")
        found = failed(report)
        assert rc == 1
        assert set(found) == set(BREAKS) | ALSO_FAILING, sorted(found)
        catalogue = cat.load()
        for (control, _), finding in found.items():
            assert finding["clause"] == catalogue.control(control).clause
            assert finding["status"] == "fail", finding
        tags = ",".join(sorted({c for c, _ in BREAKS}))
        result, _, seconds = oa_deploy("--reuse-wheelhouse", "--tags", tags)
        print(f"按标签恢复 {seconds:.0f} 秒")
        assert result.returncode == 0, result.stdout + result.stderr
        rc, report, _ = compliance(tmp_path / "restored")
        assert failed(report) == {}, sorted(failed(report))
        assert rc == 0
    finally:
        lab_host("db").run("runuser -u postgres -- psql -XAtq -c 'DROP ROLE IF EXISTS oa_intruder'")


def test_https_login_still_works_after_hardening(
    deployed: dict, lab_http: Callable, lab_ca: str, lab_host: Callable
) -> None:
    """A user signs in through nginx over HTTPS (from the users' network, through the firewall),
    changes the one-time password and reaches the portal, as test_deploy's login does."""
    app = lab_host("app")
    department = app.run("/opt/oa/venv/bin/oa-ops org department create 部署验证科 --doc-code 验")
    assert department.rc == 0 or "已有" in department.stdout, department.stdout
    username = f"harden{int(time.time()) % 100000}"
    initial = "Initial#2026pass"
    created = app.run(f"echo {shlex.quote(initial)} | /opt/oa/venv/bin/oa-ops user create "
                      f"{username} 加固验证 部署验证科 --role staff --password-stdin")
    assert created.rc == 0, created.stdout + created.stderr
    result = lab_http("login", APP_URL, lab_ca, username, initial, "Changed#2026pass")
    assert result["status"] == 200, result["steps"]
    assert result["url"] == APP_URL + "/", result["steps"]
    assert "工作台" in result["body"] and "加固验证" in result["body"]


def test_check_of_one_clause_runs_only_that_clause(
    deployed: dict, tmp_path: Path
) -> None:
    rc, report, _ = compliance(tmp_path, "--clause", "8.1.4.1")
    assert rc == 0
    clauses = {f["clause"] for f in report["findings"]}
    assert clauses and all(c.startswith("8.1.4.1.") for c in clauses)
