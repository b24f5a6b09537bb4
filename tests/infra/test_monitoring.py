"""Monitoring in the lab: every Prometheus target up after the deploy, and two alerts followed
end to end — PostgreSQL stopped, and a backup whose last success is 30 hours old — into
Alertmanager's API and into the application's notifications for a 系统管理员.

The lab's intervals and `for:` are seconds (inventories/lab, `# --- monitoring`), so each alert
takes well under a minute. Prometheus and Alertmanager are asked from the controller, i.e. from
the management address the firewall admits to their UIs, over HTTPS with the lab CA."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from ops_cli.lab.settings import NETNS_LAB, LabSettings
from tests.infra.labtools import REPO

pytestmark = pytest.mark.lab

PROMETHEUS = "https://10.77.0.12:9090"
ALERTMANAGER = "https://10.77.0.12:9093"
LAB_CA = str(LabSettings.from_env().state_dir / "pki" / "ca.crt")
POSTGRES_SERVICE = "postgresql@15-main"
TEXTFILE = "/var/lib/prometheus/node-exporter/oa_monitoring_test.prom"
ALERT_WAIT = 150.0
EXPECTED_TARGETS = {
    ("node", "db:9100"), ("node", "app:9100"), ("node", "backup:9100"),
    ("postgres", "db:9187"), ("app", "app:8888"), ("app", "app:8889"),
    ("prometheus", "backup:9090"), ("alertmanager", "backup:9093"),
    ("blackbox_https", "https://10.77.0.11/healthz"),
}

_FETCH = ("import ssl, sys, urllib.request; "
          "tls = ssl.create_default_context(cafile=sys.argv[2]); "
          "print(urllib.request.urlopen(sys.argv[1], timeout=10, context=tls).read().decode())")


def from_management(url: str) -> Any:
    """GET a JSON API from the controller, inside the lab namespace (the management address),
    trusting only the lab CA."""
    result = subprocess.run(["ip", "netns", "exec", NETNS_LAB, sys.executable, "-c", _FETCH, url,
                             LAB_CA], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"{url}: {result.stderr[-500:]}"
    return json.loads(result.stdout)


def wait_for(check: Callable[[], Any], what: str, timeout: float = ALERT_WAIT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(3)
    raise AssertionError(f"{timeout:.0f} 秒内未等到：{what}（最后一次：{last!r}）")


def targets() -> dict[tuple[str, str], dict[str, Any]]:
    answer = from_management(f"{PROMETHEUS}/api/v1/targets?state=active")
    return {(t["labels"]["job"], t["labels"]["instance"]): t
            for t in answer["data"]["activeTargets"]}


def active_alerts(name: str, **labels: str) -> list[dict[str, Any]]:
    answer = from_management(f"{ALERTMANAGER}/api/v2/alerts?active=true")
    return [a for a in answer if a["labels"].get("alertname") == name
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def psql(host: Any, query: str) -> str:
    result = host.run(f"cd /tmp && runuser -u postgres -- psql -XAtq -d oa -c {shlex.quote(query)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def notifications_of(db: Any, user_id: int, title: str) -> list[str]:
    rows = psql(db, "SELECT severity FROM notification WHERE source = 'alertmanager'"
                    f" AND user_id = {int(user_id)} AND title = '{title}'")
    return rows.splitlines()


@pytest.fixture(scope="module")
def sysadmin(deployed: dict, lab_host: Callable) -> int:
    """A 系统管理员 account in the deployed application: the alerts' recipient."""
    app, db = lab_host("app"), lab_host("db")
    department = app.run("/opt/oa/venv/bin/oa-ops org department create 部署验证科 --doc-code 验")
    assert department.rc == 0 or "已有" in department.stdout, department.stdout
    username = f"jiankong{int(time.time()) % 100000}"
    created = app.run(f"echo 'Initial#2026pass' | /opt/oa/venv/bin/oa-ops user create {username}"
                      " 监控验证 部署验证科 --role sysadmin --password-stdin")
    assert created.rc == 0, created.stdout + created.stderr
    return int(psql(db, f"SELECT id FROM app_user WHERE username = '{username}'"))


def test_every_prometheus_target_is_up_after_the_deploy(deployed: dict) -> None:
    def all_up() -> bool:
        found = targets()
        return set(found) >= EXPECTED_TARGETS and all(t["health"] == "up" for t in found.values())

    try:
        wait_for(all_up, "所有采集目标均为 up", timeout=90)
    except AssertionError:
        down = {key: (t["health"], t["lastError"]) for key, t in targets().items()
                if t["health"] != "up"}
        missing = EXPECTED_TARGETS - set(targets())
        raise AssertionError(f"未正常采集：{down}；缺少：{missing}") from None
    # the exporters, and Prometheus and Alertmanager themselves, answer over TLS (certificates
    # from the lab CA)
    found = targets()
    for key in (("node", "db:9100"), ("postgres", "db:9187"), ("prometheus", "backup:9090"),
                ("alertmanager", "backup:9093")):
        assert found[key]["scrapeUrl"].startswith("https://"), found[key]["scrapeUrl"]


def test_prometheus_and_alertmanager_refuse_plain_http(deployed: dict, lab_http: Callable,
                                                       lab_ca: str) -> None:
    for base in (PROMETHEUS, ALERTMANAGER):
        secure = lab_http("fetch", f"{base}/-/healthy", lab_ca)
        assert secure["status"] == 200, secure
        plain = lab_http("fetch", base.replace("https://", "http://") + "/-/healthy", lab_ca)
        assert plain["status"] == 400 and "HTTPS server" in plain["body"], plain
    # Prometheus delivers to Alertmanager over HTTPS
    managers = from_management(f"{PROMETHEUS}/api/v1/alertmanagers")["data"]
    assert [m["url"][:8] for m in managers["activeAlertmanagers"]] == ["https://"], managers


def test_the_login_failure_threshold_is_the_inventorys(deployed: dict) -> None:
    lab_vars = yaml.safe_load((REPO / "inventories/lab/group_vars/all.yml").read_text())
    threshold = lab_vars["monitoring_server_login_failure_burst_threshold"]
    assert threshold != 20  # (the role's default: the lab must show the setting is applied)
    rules = from_management(f"{PROMETHEUS}/api/v1/rules?type=alert")["data"]["groups"]
    burst = [r for group in rules for r in group["rules"] if r["name"] == "LoginFailureBurst"]
    assert [r["query"] for r in burst] == [
        f"sum(increase(oa_login_failures_total[5m])) > {threshold}"]
    assert f"（阈值 {threshold} 次）" in burst[0]["annotations"]["description"]


def test_exporters_refuse_everyone_but_the_monitoring_server(deployed: dict) -> None:
    probe = subprocess.run(
        ["ip", "netns", "exec", NETNS_LAB, sys.executable, "-c", _FETCH,
         "https://10.77.0.10:9100/metrics"], capture_output=True, text=True, timeout=30,
        check=False)
    assert probe.returncode != 0  # the controller is not the monitoring server: dropped


def test_stopping_postgresql_alerts_alertmanager_and_the_admins(
        deployed: dict, lab_host: Callable, sysadmin: int) -> None:
    db, app = lab_host("db"), lab_host("app")
    title = "数据库 db:9187 不可用"
    stopped_at = int(time.time()) - 1
    assert db.run(f"systemctl stop {POSTGRES_SERVICE}").rc == 0
    try:
        alert = wait_for(lambda: active_alerts("PostgresDown", instance="db:9187"),
                         "Alertmanager 中的 PostgresDown 告警")
        assert alert[0]["annotations"]["summary"] == title
        assert alert[0]["labels"]["severity"] == "critical"
        # Alertmanager's post reaches the app while the database is down: kept on disk
        wait_for(lambda: app.run(f"journalctl -u 'oa-app@*' --since @{stopped_at} -o cat"
                                 " | grep -c 告警已暂存").stdout.strip() not in ("", "0"),
                 "应用暂存数据库停止期间收到的告警")
    finally:
        assert db.run(f"systemctl start {POSTGRES_SERVICE}").rc == 0
        wait_for(lambda: db.run("runuser -u postgres -- pg_isready -q").rc == 0,
                 "PostgreSQL 恢复", timeout=60)
        wait_for(lambda: app.run(
            "python3 -c \"import urllib.request; urllib.request.urlopen("
            "'http://127.0.0.1:8888/healthz', timeout=5)\"").rc == 0,
            "应用恢复健康", timeout=60)
    # the firing post came while the database was down: the app kept it on disk
    # (app/notifications/spool.py) and applies it now that the database answers
    wait_for(lambda: notifications_of(db, sysadmin, title), "系统管理员收到数据库不可用通知")
    assert notifications_of(db, sysadmin, title)[0] == "critical"


def test_stale_backup_alerts_alertmanager_and_the_admins(
        deployed: dict, lab_host: Callable, sysadmin: int) -> None:
    db, app = lab_host("db"), lab_host("app")
    stale = int(time.time()) - 30 * 3600
    body = ("# HELP oa_backup_last_success_timestamp_seconds End of the last good run.\\n"
            "# TYPE oa_backup_last_success_timestamp_seconds gauge\\n"
            f'oa_backup_last_success_timestamp_seconds{{kind=\\"db\\"}} {stale}\\n')
    written = app.run(f'printf "{body}" > {TEXTFILE}.tmp && mv {TEXTFILE}.tmp {TEXTFILE}')
    assert written.rc == 0, written.stderr
    title = "app:9100 的 db 备份已超过 26 小时未成功"
    try:
        alert = wait_for(lambda: active_alerts("BackupStale", instance="app:9100", kind="db"),
                         "Alertmanager 中的 BackupStale 告警")
        assert alert[0]["annotations"]["summary"] == title
        rows = wait_for(lambda: notifications_of(db, sysadmin, title), "系统管理员收到备份过期通知")
        assert rows == ["critical"]
    finally:
        app.run(f"rm -f {TEXTFILE}")
