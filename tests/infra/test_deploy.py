"""`oa-ops deploy -i inventories/lab` for real, then the deployed platform checked from the
outside: PostgreSQL (TLS, scram, pg_hba, least privilege), the workers (one systemd unit each,
grouped by oa-app.target), nginx (TLS 1.2+, headers, redirect, /metrics and /metrics/<port>), a
login through nginx as a user would, `oa-ops status`, the upgrade from the single unit of earlier
releases, and a second deploy that changes nothing.

The deploy runs once per module (about 3 minutes on fresh hosts, under a minute when nothing
changes); the checks share it. The idempotence checks come last.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops_cli.lab.settings import LabSettings
from tests.infra.labtools import APP_URL, REPO, oa_deploy

pytestmark = pytest.mark.lab

def _secret(lab: LabSettings, name: str) -> str:
    return (lab.state_dir / "secrets" / name).read_text().split()[0]


def _runtime_sql(host: Any, statements: list[str]) -> dict[str, str]:
    """Run each statement as the runtime role (from /etc/oa/oa.conf, over verify-full TLS) in
    its own rolled-back transaction; returns statement -> "ok" or the SQLSTATE."""
    script = (
        "import json, sys, psycopg2\n"
        "from app.core.config import settings\n"
        "from app.core.db import connect_params\n"
        "conn = psycopg2.connect(**connect_params(settings().database_url))\n"
        "out = {}\n"
        f"for sql in {statements!r}:\n"
        "    try:\n"
        "        with conn.cursor() as cur:\n"
        "            cur.execute(sql)\n"
        "            out[sql] = repr(cur.fetchall()) if cur.description else 'ok'\n"
        "    except psycopg2.Error as e:\n"
        "        out[sql] = e.pgcode or str(e)\n"
        "    conn.rollback()\n"
        "print(json.dumps(out))\n"
    )
    result = host.run(f"/opt/oa/venv/bin/python -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


# --- PostgreSQL on db ---------------------------------------------------------------------------
def test_postgresql_listens_with_tls_and_scram(deployed: dict, lab_host: Callable) -> None:
    db = lab_host("db")
    assert db.service("postgresql@15-main").is_running
    assert db.service("postgresql@15-main").is_enabled
    assert db.socket("tcp://10.77.0.10:5432").is_listening

    def show(setting: str) -> str:
        return db.check_output(f"su postgres -c \"psql -XAtc 'SHOW {setting}'\"")

    assert show("ssl") == "on"
    assert show("password_encryption") == "scram-sha-256"
    assert show("ssl_min_protocol_version") == "TLSv1.2"
    assert show("log_connections") == "on" and show("log_disconnections") == "on"
    assert show("log_statement") == "ddl"
    assert show("idle_in_transaction_session_timeout") == "5min"
    verifiers = db.check_output(
        "su postgres -c \"psql -XAtc \\\"SELECT rolname, left(rolpassword, 14) FROM pg_authid "
        "WHERE rolname IN ('oa_owner', 'oa_app') ORDER BY 1\\\"\"")
    assert verifiers.splitlines() == ["oa_app|SCRAM-SHA-256$", "oa_owner|SCRAM-SHA-256$"]
    assert db.file("/var/lib/postgresql/15/main").mode == 0o700


def test_app_host_connects_over_verified_tls(deployed: dict, lab_host: Callable) -> None:
    app = lab_host("app")
    out = _runtime_sql(app, ["SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                             "SELECT current_user"])
    ssl_row = out["SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]
    assert ssl_row.startswith("[(True, 'TLSv1.")
    assert out["SELECT current_user"] == "[('oa_app',)]"


def test_pg_hba_refuses_backup_host_and_plain_connections(
    deployed: dict, lab: LabSettings, lab_host: Callable
) -> None:
    backup = lab_host("backup")
    if not backup.package("postgresql-client").is_installed:
        install = backup.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                             "postgresql-client")
        assert install.rc == 0, install.stdout + install.stderr
    password = _secret(lab, "postgresql_runtime")
    psql = ("PGPASSWORD={pw} psql -XAt 'host=10.77.0.10 dbname=oa user=oa_app "
            "sslmode={mode} connect_timeout=5' -c 'SELECT 1'")
    refused = backup.run(psql.format(pw=password, mode="require"))
    assert refused.rc != 0
    # (the server's message may be in Chinese: lc_messages follows the host's zh_CN locale)
    assert "pg_hba.conf" in refused.stderr and "10.77.0.12" in refused.stderr, refused.stderr
    # The backup host is admitted only as the backup role (replication and dumps), over TLS.
    admitted = backup.run("runuser -u postgres -- psql -XAt 'host=10.77.0.10 dbname=oa "
                          "user=oa_backup sslmode=verify-full sslrootcert=/etc/oa-backup/db-ca.crt "
                          "connect_timeout=5' -c 'SELECT current_user'")
    assert admitted.rc == 0 and admitted.stdout.strip() == "oa_backup", admitted.stderr
    # From the app host the same role works over TLS, and never without it.
    app = lab_host("app")
    plain = app.run(
        "/opt/oa/venv/bin/python -c \"import psycopg2; psycopg2.connect(host='10.77.0.10', "
        f"dbname='oa', user='oa_app', password='{password}', sslmode='disable')\"")
    assert plain.rc != 0
    assert "pg_hba.conf" in plain.stderr, plain.stderr


def test_runtime_role_cannot_alter_schema_or_rewrite_audit(
    deployed: dict, lab_host: Callable
) -> None:
    statements = [
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE audit_event ADD COLUMN forged text",
        "DROP TABLE audit_event",
        "UPDATE audit_event SET action = 'forged'",
        "DELETE FROM audit_event",
        "SELECT count(*) >= 0 FROM audit_event",
        "SELECT has_table_privilege('audit_event', 'INSERT')",
    ]
    out = _runtime_sql(lab_host("app"), statements)
    for sql in statements[:3]:
        assert out[sql] in ("42501",), f"{sql}: {out[sql]}"  # insufficient_privilege
    assert out["UPDATE audit_event SET action = 'forged'"] == "42501"
    assert out["DELETE FROM audit_event"] == "42501"
    assert out["SELECT count(*) >= 0 FROM audit_event"] == "[(True,)]"
    # the chain is written in one pass from the pending queue (app/audit migration 0003): the
    # runtime role does not even insert into the trail itself
    assert out["SELECT has_table_privilege('audit_event', 'INSERT')"] == "[(False,)]"


# --- the workers on app -------------------------------------------------------------------------
WORKER_PORTS = (8888, 8889)  # app_port and app_workers: 2 of inventories/lab


def _unit_state(host: Any, unit: str) -> dict[str, str]:
    out = host.check_output(f"systemctl show {unit} -p ActiveState,UnitFileState,Restart")
    return dict(line.split("=", 1) for line in out.splitlines())


def _worker_health(host: Any) -> dict[int, str]:
    return {port: host.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 "
                           f"http://127.0.0.1:{port}/healthz").stdout for port in WORKER_PORTS}


def _wait_healthy(host: Any, seconds: float = 60) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while (health := _worker_health(host)) != dict.fromkeys(WORKER_PORTS, "200") and \
            time.monotonic() < deadline:
        time.sleep(1)
    return health


def test_one_sandboxed_unit_per_worker(deployed: dict, lab_host: Callable) -> None:
    app = lab_host("app")
    target = app.check_output("systemctl show oa-app.target -p ActiveState,UnitFileState")
    assert sorted(target.splitlines()) == ["ActiveState=active", "UnitFileState=enabled"]
    wants = app.check_output("systemctl show oa-app.target -p Wants --value").split()
    assert sorted(wants) == [f"oa-app@{port}.service" for port in WORKER_PORTS]
    for port in WORKER_PORTS:
        unit = f"oa-app@{port}"
        assert _unit_state(app, unit) == {
            "ActiveState": "active", "UnitFileState": "enabled", "Restart": "on-failure"}
        props = app.check_output(f"systemctl show {unit} -p User,NoNewPrivileges,ProtectSystem,"
                                 "PrivateTmp,ReadWritePaths,MainPID")
        for expected in ("User=oa", "NoNewPrivileges=yes", "ProtectSystem=strict",
                         "PrivateTmp=yes", "ReadWritePaths=/var/lib/oa"):
            assert expected in props, f"{unit}: {props}"
        pid = props.split("MainPID=")[1].split()[0]
        # one process per unit (no forked children), listening on its own port only
        assert app.check_output(f"pgrep -c -P {pid} || true") == "0"
        # the sandbox lets the CPU thread (Argon2) lower its priority below the pages' threads
        niceness = app.check_output(f"ps -L -o nice= -p {pid}").split()
        assert "10" in niceness and "0" in niceness, f"{unit}: {niceness}"
        assert app.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert _worker_health(app) == dict.fromkeys(WORKER_PORTS, "200")
    assert not app.file("/etc/systemd/system/oa-app.service").exists


def test_target_stops_and_starts_every_worker_and_failures_restart(
    deployed: dict, lab_host: Callable
) -> None:
    app = lab_host("app")
    app.check_output("systemctl stop oa-app.target")
    states = {port: _unit_state(app, f"oa-app@{port}")["ActiveState"] for port in WORKER_PORTS}
    app.check_output("systemctl start oa-app.target")
    assert states == dict.fromkeys(WORKER_PORTS, "inactive")
    assert _wait_healthy(app) == dict.fromkeys(WORKER_PORTS, "200")
    # A worker killed from outside comes back on its own (Restart=on-failure); the other stays.
    pids = {port: app.check_output(f"systemctl show oa-app@{port} -p MainPID --value")
            for port in WORKER_PORTS}
    app.check_output(f"kill -9 {pids[8889]}")
    time.sleep(1)
    assert _wait_healthy(app) == dict.fromkeys(WORKER_PORTS, "200")
    after = {port: app.check_output(f"systemctl show oa-app@{port} -p MainPID --value")
             for port in WORKER_PORTS}
    assert after[8888] == pids[8888] and after[8889] not in (pids[8889], "0")


def test_nginx_serves_as_soon_as_the_workers_are_back(deployed: dict, lab_host: Callable) -> None:
    """Requests while every worker was down must not keep nginx answering 502 once they are
    back (with max_fails=3 each nginx process held them failed for fail_timeout, 10 s)."""
    app = lab_host("app")
    through_nginx = ("curl -sk -o /dev/null -w '%{http_code} ' --max-time 5 "
                     "https://127.0.0.1/healthz")
    app.check_output("systemctl stop oa-app.target")
    while_down = app.check_output(f"for i in $(seq 8); do {through_nginx}; done").split()
    app.check_output("systemctl start oa-app.target")
    assert while_down == ["502"] * 8
    assert _wait_healthy(app) == dict.fromkeys(WORKER_PORTS, "200")
    after = app.check_output(f"for i in $(seq 20); do {through_nginx}; sleep 0.2; done").split()
    assert after == ["200"] * 20


def test_config_and_secret_files_are_protected(deployed: dict, lab_host: Callable) -> None:
    app = lab_host("app")
    conf = app.file("/etc/oa/oa.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "oa", 0o640)
    text = conf.content_string
    assert "sslmode=verify-full" in text and "secure_cookies = true" in text
    assert "oa_owner" not in text  # the workers never see the owner's password
    owner_env = app.file("/etc/oa/migrate.env")
    assert (owner_env.user, owner_env.mode) == ("root", 0o600)
    # the operators' documented way to reach the schema as its owner works
    status = app.run("set -a; . /etc/oa/migrate.env; /opt/oa/venv/bin/oa-ops db status")
    assert status.rc == 0 and "已是最新" in status.stdout, status.stdout + status.stderr
    assert app.file("/etc/nginx/tls/oa.key").mode == 0o600
    db = lab_host("db")
    key = db.file("/etc/postgresql/15/main/tls/server.key")
    assert (key.user, key.mode) == ("postgres", 0o600)


# --- nginx on app -------------------------------------------------------------------------------
def test_nginx_serves_https_with_tls12_or_newer(deployed: dict, lab_http: Callable) -> None:
    versions = lab_http("tls", "10.77.0.11", "443")
    assert versions == {"TLSv1": False, "TLSv1_1": False, "TLSv1_2": True, "TLSv1_3": True}


def test_healthz_through_nginx_with_security_headers(
    deployed: dict, lab_http: Callable, lab_ca: str
) -> None:
    answer = lab_http("fetch", APP_URL + "/healthz", lab_ca)  # the lab CA verifies the name
    assert answer["status"] == 200
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["server"] == "nginx"  # no version banner
    login = lab_http("fetch", APP_URL + "/login", lab_ca)
    assert login["status"] == 200 and "_xsrf" in login["body"]


def test_http_redirects_to_https(deployed: dict, lab_http: Callable, lab_ca: str) -> None:
    answer = lab_http("fetch", "http://10.77.0.11/login?next=/", lab_ca)
    assert answer["status"] == 301
    assert answer["headers"]["Location"] == APP_URL + "/login?next=/"


def test_metrics_only_for_the_backup_host(
    deployed: dict, lab_http: Callable, lab_ca: str, lab_host: Callable
) -> None:
    backup = lab_host("backup")
    scrape = "curl -sk -o /dev/null -w '%{{http_code}}' {url}"
    for path in ["/metrics"] + [f"/metrics/{port}" for port in WORKER_PORTS]:
        # the controller is the users' network: refused by nginx
        assert lab_http("fetch", APP_URL + path, lab_ca)["status"] == 403, path
        assert backup.run(scrape.format(url=APP_URL + path)).stdout == "200", path
    assert backup.run(scrape.format(url=APP_URL + "/metrics/9999")).stdout == "404"


def test_each_worker_has_its_own_metrics(deployed: dict, lab_host: Callable) -> None:
    """/metrics/<port> reaches that worker: the process metrics differ per port."""
    backup = lab_host("backup")
    starts = {}
    for port in WORKER_PORTS:
        body = backup.check_output(f"curl -sk {APP_URL}/metrics/{port}")
        line = next(ln for ln in body.splitlines() if ln.startswith("process_start_time_seconds"))
        starts[port] = line
    assert len(set(starts.values())) == len(WORKER_PORTS), starts


def test_login_over_https_reaches_the_portal(
    deployed: dict, lab_http: Callable, lab_ca: str, lab_host: Callable
) -> None:
    app = lab_host("app")
    username = f"deploy{int(time.time()) % 100000}"
    department = app.run("/opt/oa/venv/bin/oa-ops org department create 部署验证科 --doc-code 验")
    assert department.rc == 0 or "已有同名部门" in department.stdout \
        or "已有根部门" in department.stdout, department.stdout
    initial = "Initial#2026pass"
    created = app.run(f"echo {shlex.quote(initial)} | /opt/oa/venv/bin/oa-ops user create "
                      f"{username} 部署验证 部署验证科 --role staff --password-stdin")
    assert created.rc == 0, created.stdout + created.stderr
    result = lab_http("login", APP_URL, lab_ca, username, initial, "Changed#2026pass")
    assert result["status"] == 200, result["steps"]
    assert result["url"] == APP_URL + "/", result["steps"]
    assert "工作台" in result["body"] and "部署验证" in result["body"]
    assert result["cookies"] and all(c["secure"] for c in result["cookies"])


# --- oa-ops status -------------------------------------------------------------------------------
def _oa_status() -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "oa-ops"), "status", "-i",
                           "inventories/lab"], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False, env={**os.environ, "COLUMNS": "200"})


def test_status_reports_services_health_database_and_version(
    deployed: dict, lab_host: Callable
) -> None:
    result = _oa_status()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in ("postgresql@15-main=running", "nginx=running", "oa-app@8888=running",
                     "oa-app@8889=running", "HTTPS /healthz 正常（200）", "8888=200", "8889=200",
                     "数据库 可达（PostgreSQL 15", "prometheus=running",
                     "prometheus-alertmanager=running",
                     "backup：监控（HTTPS）Prometheus 正常（200），Alertmanager 正常（200）",
                     "全部正常"):
        assert expected in out, out
    version = lab_host("app").check_output(
        "/opt/oa/venv/bin/python -c \"import importlib.metadata as m; "
        "print(m.version('oa-platform'))\"")
    assert f"版本 {version}" in out, out


def test_status_names_a_stopped_worker(deployed: dict, lab_host: Callable) -> None:
    app = lab_host("app")
    app.check_output("systemctl stop oa-app@8889")
    try:
        result = _oa_status()
    finally:
        app.check_output("systemctl start oa-app@8889")
    assert result.returncode == 1, result.stdout
    assert "oa-app@8889=stopped" in result.stdout and "8889=-1" in result.stdout, result.stdout
    assert "存在异常" in result.stdout
    assert _wait_healthy(app) == dict.fromkeys(WORKER_PORTS, "200")


def test_status_names_a_stopped_alertmanager(deployed: dict, lab_host: Callable) -> None:
    backup = lab_host("backup")
    backup.check_output("systemctl stop prometheus-alertmanager")
    try:
        result = _oa_status()
    finally:
        backup.check_output("systemctl start prometheus-alertmanager")
    assert result.returncode == 1, result.stdout
    assert "prometheus-alertmanager=stopped" in result.stdout, result.stdout
    assert "Prometheus 正常（200），Alertmanager 异常（-1）" in result.stdout, result.stdout


# --- upgrade from the single unit of earlier releases -------------------------------------------
def test_deploy_replaces_the_single_unit_of_earlier_releases(
    deployed: dict, lab_host: Callable
) -> None:
    app = lab_host("app")
    app.check_output(
        "printf '[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\n"
        "WantedBy=multi-user.target\\n' > /etc/systemd/system/oa-app.service && "
        "systemctl daemon-reload && systemctl enable --now oa-app.service")
    result, _, _ = oa_deploy("--reuse-wheelhouse", "--tags", "service", "--limit", "app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not app.file("/etc/systemd/system/oa-app.service").exists
    assert not app.file("/etc/systemd/system/multi-user.target.wants/oa-app.service").exists
    assert app.run("systemctl is-active oa-app.service").stdout.strip() == "inactive"
    assert _worker_health(app) == dict.fromkeys(WORKER_PORTS, "200")


# --- re-runs ------------------------------------------------------------------------------------
def test_check_mode_reports_nothing_to_change(deployed: dict) -> None:
    # --reuse-wheelhouse: the very build the first deploy installed (the source tree may have
    # moved on meanwhile); what is checked is the playbook's idempotence.
    result, stats, _ = oa_deploy("--check", "--reuse-wheelhouse")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "预演" in result.stdout
    assert stats["changed"] == {}, stats["changed"]


def test_second_deploy_changes_nothing(deployed: dict) -> None:
    result, stats, _ = oa_deploy("--reuse-wheelhouse")
    assert result.returncode == 0, result.stdout + result.stderr
    assert stats["changed"] == {}, stats["changed"]
    assert stats["failures"] == {} and stats["dark"] == {}
    assert set(stats["ok"]) == {"db", "app", "backup"}
