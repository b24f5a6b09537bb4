"""等保三级 in the lab: deploy + harden (the shared deploy fixture of test_deploy), then
`oa-ops compliance check` passes every applicable control; controls broken on purpose are
reported, exactly those, naming their clause; re-applying the roles by the controls' tags restores
them; the platform's HTTPS login still works after hardening."""

from __future__ import annotations

import json
import os
import re
import secrets
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
from ops_cli.lab.settings import NETNS_LAB, LabSettings
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
    # the operators' unrestricted rule of earlier releases, back
    ("L3-HOST-ACL-05", "app"): "echo 'opsadmin ALL=(ALL:ALL) NOPASSWD: ALL' > "
                               "/etc/sudoers.d/oa-operators && "
                               "chmod 0440 /etc/sudoers.d/oa-operators",
    # logs forwarded without TLS
    ("L3-HOST-AUD-12", "db"): "sed -i 's/StreamDriverMode=\"1\"/StreamDriverMode=\"0\"/' "
                              "/etc/rsyslog.d/50-oa-forward.conf",
}
# A login role without a password is also a surplus login role (8.1.4.2.c); plain log forwarding
# also fails the log's transmission confidentiality (8.1.4.8.a) and the forwarding of alerts
# (8.1.5.4.f).
ALSO_FAILING = {("L3-DB-ACL-03", "db"), ("L3-HOST-DATA-05", "db"), ("L3-HOST-CEN-06", "db")}


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


# --- operators' sudo by duty (三员分立) ---------------------------------------------------------
def test_operators_hold_only_their_duty(deployed: dict, lab_host: Callable) -> None:
    app = lab_host("app")
    assert not app.file("/etc/sudoers.d/oa-operators").exists
    rules = app.check_output("LC_ALL=C sudo -l -U opsadmin")
    assert "/usr/bin/systemctl restart *" in rules, rules  # the 系统管理员's commands
    assert not re.search(r"\)\s*(NOPASSWD:\s*)?ALL\s*$", rules, re.M), rules

    def as_operator(command: str) -> Any:
        return app.run(f"runuser -u opsadmin -- sudo -n {command}")

    assert as_operator("/usr/bin/systemctl restart oa-app@8889").rc == 0
    refused = [as_operator(c) for c in ("/usr/sbin/nft list ruleset", "/usr/bin/id",
                                        "/usr/sbin/ausearch -m USER_LOGIN",
                                        "/usr/bin/systemctl stop rsyslog")]
    assert all(r.rc != 0 for r in refused), [(r.rc, r.stderr) for r in refused]
    logged = app.check_output("grep -B2 'systemctl restart oa-app@8889' /var/log/sudo.log")
    assert "opsadmin" in logged, logged  # (sudo wraps its log lines)


# --- AIDE after a deploy -----------------------------------------------------------------------
AIDE_CHECK = "aide --config=/etc/aide/oa-aide.conf --check"
INTRUDER = "/usr/local/bin/oa-intruder"


def test_aide_baseline_follows_the_deploy_but_not_other_changes(
    deployed: dict, lab_host: Callable
) -> None:
    app = lab_host("app")
    # Start from a baseline of the host as it is (other roles' earlier changes accepted, as the
    # 安全管理员 does with aide --init after reviewing them).
    accept = ("aide --config=/etc/aide/oa-aide.conf --init >/dev/null; "
              "cp /var/lib/aide/oa-aide.db.new /var/lib/aide/oa-aide.db")
    app.check_output(accept)
    assert app.run(AIDE_CHECK).rc == 0
    # 1. A deploy that changes the platform's files (oa.conf; the workers restart): the
    #    scheduled check (the timer's service) stays quiet.
    changed, _, seconds = oa_deploy("--reuse-wheelhouse", "--tags", "app", "--limit", "app",
                                    "-e", '{"app_extra_settings": {"aide_probe": "1"}}')
    print(f"改动应用文件的部署 {seconds:.0f} 秒")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "aide_probe = 1" in app.file("/etc/oa/oa.conf").content_string
    since = app.check_output("date '+%Y-%m-%d %H:%M:%S'")
    scheduled = app.run("systemctl start oa-aide-check.service")
    assert scheduled.rc == 0, app.run("journalctl -u oa-aide-check -n 30 --no-pager").stdout
    assert app.run(f"journalctl -t oa-aide --since '{since}' --no-pager -q").stdout.strip() == ""
    # 2. A change beside the deploy is still reported, and the deploy does not absorb it.
    try:
        app.check_output(f"printf '#!/bin/sh\\n' > {INTRUDER} && chmod 0755 {INTRUDER}")
        restored, _, _ = oa_deploy("--reuse-wheelhouse", "--tags", "app", "--limit", "app")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "aide_probe" not in app.file("/etc/oa/oa.conf").content_string
        check = app.run(AIDE_CHECK)
        assert check.rc != 0 and INTRUDER in check.stdout, check.stdout
        for platform_path in ("/etc/oa", "/opt/oa", "/etc/systemd/system/oa-app"):
            assert platform_path not in check.stdout, check.stdout
    finally:
        app.run(f"rm -f {INTRUDER}")
        app.run(accept)  # reviewed: the lab's baseline is clean again


# --- logs to the log host over TLS -------------------------------------------------------------
def _remote_log(backup: Any, host: str, marker: str, prefix: str = "", seconds: float = 30) -> str:
    """The log host's file of `host` for today, once it holds `marker` (or after `seconds`)."""
    path = f"/var/log/remote/{host}/{prefix}$(date +%Y-%m-%d).log"
    deadline = time.monotonic() + seconds
    while True:
        text = backup.run(f"cat {path}").stdout
        if marker in text or time.monotonic() > deadline:
            return text
        time.sleep(1)


def test_logs_reach_the_log_host_over_tls_from_named_peers_only(
    deployed: dict, lab_host: Callable
) -> None:
    backup, db = lab_host("backup"), lab_host("db")
    peers = backup.check_output("ss -Htn state established '( sport = :6514 )'")
    assert "10.77.0.10:" in peers and "10.77.0.11:" in peers, peers
    assert not backup.socket("tcp://0.0.0.0:514").is_listening
    stamp = f"{int(time.time())}"
    db.check_output(f"logger -t oa-tls-probe genuine-{stamp}")
    # plain TCP, and TLS with a certificate the lab CA did not issue (same name): both refused
    db.run(f"bash -c 'printf \"<13>plain-{stamp}\\n\" > /dev/tcp/10.77.0.12/6514'")
    db.check_output(
        "cd /tmp && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=db -addext subjectAltName=DNS:db -days 1 -keyout forged.key -out forged.crt "
        "2>/dev/null")
    forged = db.run(f"echo '<13>forged-{stamp}' | timeout 10 openssl s_client -quiet "
                    "-connect 10.77.0.12:6514 -cert /tmp/forged.crt -key /tmp/forged.key "
                    "-CAfile /etc/rsyslog-tls/ca.crt")
    db.run("rm -f /tmp/forged.key /tmp/forged.crt")
    text = _remote_log(backup, "db", f"genuine-{stamp}")
    assert f"genuine-{stamp}" in text
    time.sleep(3)
    text = _remote_log(backup, "db", "", seconds=0)
    assert f"plain-{stamp}" not in text and f"forged-{stamp}" not in text, forged.stderr
    kept = backup.check_output("cat /etc/tmpfiles.d/oa-remote-logs.conf")
    assert int(re.search(r"(\d+)d$", kept, re.M).group(1)) >= 180


def test_audit_trail_is_forwarded_to_the_log_host(deployed: dict, lab_host: Callable) -> None:
    app, backup = lab_host("app"), lab_host("backup")
    timer = app.check_output("systemctl is-enabled oa-audit-export.timer")
    assert timer == "enabled"
    # the timer's service (yesterday's trail), then the same script for today's
    assert app.run("systemctl start oa-audit-export.service").rc == 0
    today = app.run("systemd-run --wait -q -p User=oa -p SyslogIdentifier=oa-audit "
                    "-p Environment=OA_CONFIG_FILE=/etc/oa/oa.conf "
                    "/usr/local/sbin/oa-audit-to-syslog today")
    assert today.rc == 0, today.stderr
    day = app.check_output("date +%F")
    rows = app.check_output(f"tail -n +2 /var/lib/oa/audit-export/audit-{day}.csv").splitlines()
    assert rows, "今天应有审计记录（部署测试的登录、导出本身）"
    remote = _remote_log(backup, "app", rows[-1].strip()[:60], prefix="audit-")
    assert all(row.strip()[:60] in remote for row in rows), remote[-2000:]  # none lost
    yesterday = app.check_output("date -d yesterday +%F")
    assert app.file(f"/var/log/oa/audit/audit-{yesterday}.log").exists  # the timer's run


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


# --- the production deploy account (last: it adds and removes an account) -----------------------
def test_deploy_account_runs_ansible_with_its_own_sudo_password(
    deployed: dict, lab: LabSettings, lab_host: Callable
) -> None:
    """The account Ansible uses in production: SSH key from the management address, sudo for
    every command only with its password (never NOPASSWD), and Ansible's `become` works with it."""
    app = lab_host("app")
    password = "Deploy#" + secrets.token_hex(8)
    hashed = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                            text=True, check=True).stdout.strip()
    key = Path(f"{lab.ssh_key}.pub").read_text().strip()
    account = {"name": "oadeploy", "ssh_keys": [key], "password_hash": hashed}
    tags = "operators,L3-HOST-ACL-02"  # the account and its sudo rule; sshd's AllowUsers
    try:
        added, _, _ = oa_deploy("--reuse-wheelhouse", "--tags", tags, "--limit", "app",
                                "-e", json.dumps({"common_deploy_account": account}))
        assert added.returncode == 0, added.stdout + added.stderr
        rules = app.check_output("LC_ALL=C sudo -l -U oadeploy")
        assert re.search(r"\(root\)\s+(PASSWD:\s*)?ALL", rules) and "NOPASSWD" not in rules, rules
        assert app.run("runuser -u oadeploy -- sudo -n true").rc != 0  # no password, no root
        ping = subprocess.run(
            ["ip", "netns", "exec", NETNS_LAB, str(Path(sys.executable).parent / "ansible"), "app",
             "-i", "inventories/lab", "-b", "-m", "ansible.builtin.command", "-a", "id -un",
             "-e", json.dumps({"ansible_user": "oadeploy", "ansible_become_password": password})],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible" / "ansible.cfg")})
        assert ping.returncode == 0 and "root" in ping.stdout, ping.stdout + ping.stderr
        assert "oadeploy" in app.check_output("tail -n 40 /var/log/sudo.log")  # logged
    finally:
        removed, _, _ = oa_deploy("--reuse-wheelhouse", "--tags", tags, "--limit", "app")
        app.run("userdel -r oadeploy")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not app.file("/etc/sudoers.d/oa-deploy").exists
    assert "oadeploy" not in app.file("/etc/ssh/sshd_config").content_string
