"""Backup and restore in the lab, proven by restoring: `oa-ops backup | restore | drill` against
the deployed db, app and backup hosts (borg repositories, WAL streaming, scratch PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.labtools import REPO

pytestmark = pytest.mark.lab

PROBE_FILE = "/var/lib/oa/uploads/backup-probe.bin"
PROBE_FILE_2 = "/var/lib/oa/uploads/backup-probe-2.bin"
SCRATCH = "-h /srv/oa-restore/scratch/run -p 5433"


def oa_ops(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(REPO / ".venv/bin/oa-ops"), *args], cwd=REPO, capture_output=True,
                            text=True, timeout=timeout, check=False,
                            env={**os.environ, "COLUMNS": "200"})
    print(f"oa-ops {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def sql(host: Any, query: str, where: str = "-d oa") -> str:
    result = host.run(f"runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 {where} "
                      f"-c \"{query}\"")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def as_owner(db: Any, statement: str) -> None:
    sql(db, f"SET ROLE oa_owner; {statement}")


@pytest.fixture(scope="module")
def hosts(deployed: dict, lab_host: Callable) -> dict[str, Any]:
    return {name: lab_host(name) for name in ("db", "app", "backup")}


@pytest.fixture(scope="module")
def two_backups(hosts: dict[str, Any]) -> dict[str, Any]:
    """A base backup, a backup, new data (SQL as the owner, a new upload), a second backup."""
    db, app, backup = hosts["db"], hosts["app"], hosts["backup"]
    started = time.monotonic()
    base = backup.run("systemctl start oa-backup-basebackup.service")
    assert base.rc == 0, backup.run("journalctl -u oa-backup-basebackup -n 20 -o cat").stdout
    assert oa_ops("backup", "run", "-i", "inventories/lab", "--what", "all").returncode == 0
    as_owner(db, "DROP TABLE IF EXISTS backup_probe; CREATE TABLE backup_probe "
                 "(id serial PRIMARY KEY, note text NOT NULL)")
    as_owner(db, "INSERT INTO backup_probe (note) VALUES ('第二次备份前写入')")
    checksums = {path: write_upload(app, path) for path in (PROBE_FILE, PROBE_FILE_2)}
    second = oa_ops("backup", "run", "-i", "inventories/lab", "--what", "all")
    assert second.returncode == 0
    print(f"基础备份与两次备份用时 {time.monotonic() - started:.0f} 秒")
    yield {"sha256": checksums[PROBE_FILE], "checksums": checksums}
    as_owner(db, "DROP TABLE IF EXISTS backup_probe")
    app.run(f"rm -f {PROBE_FILE} {PROBE_FILE_2}")


def write_upload(app: Any, path: str) -> str:
    """A random file of the application's uploads, owned by its account; its sha256."""
    payload = os.urandom(30_000)  # (its hex is one argument of the remote command)
    written = app.run(f"install -d -o oa -g oa /var/lib/oa/uploads && python3 -c \"open("
                      f"'{path}', 'wb').write(bytes.fromhex('{payload.hex()}'))\" && "
                      f"chown oa:oa {path} && chmod 0640 {path}")
    assert written.rc == 0, written.stderr
    return hashlib.sha256(payload).hexdigest()


def moment_between(db: Any, before: str, after: str) -> str:
    """Write `before`, note the time, write `after`; wait until the backup server's WAL receiver
    has flushed `after`; the noted time (UTC, with zone)."""
    as_owner(db, f"INSERT INTO backup_probe (note) VALUES ('{before}')")
    time.sleep(1.5)
    moment = sql(db, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD HH24:MI:SS.US')", where="-d postgres") + "+00:00"
    time.sleep(1.5)
    as_owner(db, f"INSERT INTO backup_probe (note) VALUES ('{after}')")
    current = sql(db, "SELECT pg_current_wal_lsn()", where="-d postgres")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sql(
            db, f"SELECT coalesce(bool_and(flush_lsn >= '{current}'), false) "
                "FROM pg_stat_replication", where="-d postgres") != "t":
        time.sleep(0.5)
    return moment


def assert_app_serves_with_a_sound_audit_chain(app: Any) -> None:
    health = app.run("curl -sk --max-time 10 -w ' %{http_code}' https://127.0.0.1/healthz")
    assert health.stdout.endswith(" 200"), health.stdout + app.run(
        "tail -n 20 /var/log/nginx/oa-error.log; "
        "journalctl -u 'oa-app@*' -n 40 --no-pager -o short-precise").stdout
    verify = app.run("OA_CONFIG_FILE=/etc/oa/oa.conf /opt/oa/venv/bin/oa-ops audit verify")
    assert verify.rc == 0, verify.stdout + verify.stderr


def test_backups_are_listed_with_their_metrics(two_backups: dict, hosts: dict[str, Any]) -> None:
    listing = oa_ops("backup", "list", "-i", "inventories/lab")
    assert listing.returncode == 0
    assert listing.stdout.count(" db-") >= 2 and listing.stdout.count("files-") >= 4
    for host, kind in (("db", "db"), ("db", "files"), ("app", "files")):
        metrics = hosts[host].run(f"cat /var/lib/prometheus/node-exporter/oa_backup_{kind}.prom")
        assert f'oa_backup_last_run_success{{kind="{kind}"}} 1' in metrics.stdout, metrics.stdout
    # No unencrypted dump was left on the database server.
    assert hosts["db"].run("find / -xdev -name '*.dump' -newer /etc/oa-backup/oa-backup.json "
                           "2>/dev/null").stdout.strip() == ""


def test_point_in_time_restore_returns_exactly_the_first_write(
    two_backups: dict, hosts: dict[str, Any]
) -> None:
    db, backup = hosts["db"], hosts["backup"]
    moment = moment_between(db, "时间点之前", "时间点之后")
    restored = oa_ops("restore", "-i", "inventories/lab", "--point-in-time", moment)
    assert restored.returncode == 0
    notes = sql(backup, "SELECT note FROM backup_probe ORDER BY id", where=f"{SCRATCH} -d oa")
    assert notes.splitlines() == ["第二次备份前写入", "时间点之前"]


def test_drop_database_and_restore_latest_in_place(
    two_backups: dict, hosts: dict[str, Any]
) -> None:
    db, app = hosts["db"], hosts["app"]
    assert app.run("systemctl stop oa-app.target").rc == 0
    sql(db, "DROP DATABASE oa WITH (FORCE)", where="-d postgres")
    restored = oa_ops("restore", "-i", "inventories/lab", "--latest", "--target", "in-place",
                      "--yes")
    assert restored.returncode == 0
    assert "行数与备份清单一致" in restored.stdout and "实测用时" in restored.stdout
    # the data of the latest backup is back, the workers serve, and the audit chain verifies
    assert sql(db, "SELECT note FROM backup_probe ORDER BY id") == "第二次备份前写入"
    assert_app_serves_with_a_sound_audit_chain(app)


def test_point_in_time_restore_in_place_returns_exactly_the_first_write(
    two_backups: dict, hosts: dict[str, Any]
) -> None:
    """Through the previous test's drop and logical restore: the WAL replays all of it."""
    db, app = hosts["db"], hosts["app"]
    moment = moment_between(db, "原位时间点之前", "原位时间点之后")
    started = time.monotonic()
    restored = oa_ops("restore", "-i", "inventories/lab", "--point-in-time", moment,
                      "--target", "in-place", "--yes")
    elapsed = time.monotonic() - started
    assert restored.returncode == 0
    assert "行数与时间点实例一致" in restored.stdout and "实测用时" in restored.stdout
    print(f"原位按时间点恢复用时 {elapsed:.1f} 秒")
    notes = sql(db, "SELECT note FROM backup_probe ORDER BY id")
    assert notes.splitlines() == ["第二次备份前写入", "原位时间点之前"]
    assert_app_serves_with_a_sound_audit_chain(app)
    # the restored database takes new writes (its sequences came back too)
    as_owner(db, "INSERT INTO backup_probe (note) VALUES ('恢复之后')")


def test_files_restore_with_identical_checksums(two_backups: dict,
                                                hosts: dict[str, Any]) -> None:
    restored = oa_ops("restore", "-i", "inventories/lab", "--latest", "--files")
    assert restored.returncode == 0
    assert "校验和一致" in restored.stdout
    copy = hosts["backup"].run(f"sha256sum /srv/oa-restore/files/app{PROBE_FILE}")
    assert copy.stdout.split()[0] == two_backups["sha256"]


def test_files_restore_in_place_brings_back_changed_and_deleted_uploads(
    two_backups: dict, hosts: dict[str, Any]
) -> None:
    app = hosts["app"]
    assert app.run(f"echo 被改坏的附件 > {PROBE_FILE} && rm {PROBE_FILE_2}").rc == 0
    started = time.monotonic()
    restored = oa_ops("restore", "-i", "inventories/lab", "--files", "--target", "in-place",
                      "--yes")
    elapsed = time.monotonic() - started
    assert restored.returncode == 0
    assert restored.stdout.count("校验和一致") == 2  # db and app
    print(f"原位文件恢复用时 {elapsed:.1f} 秒")
    for path, checksum in two_backups["checksums"].items():
        assert app.run(f"sha256sum {path}").stdout.split()[0] == checksum
        upload = app.file(path)
        assert (upload.user, upload.group, upload.mode) == ("oa", "oa", 0o640)
    assert_app_serves_with_a_sound_audit_chain(app)


def test_drill_passes_and_writes_its_receipt(two_backups: dict, hosts: dict[str, Any]) -> None:
    drill = oa_ops("drill", "-i", "inventories/lab")
    assert drill.returncode == 0
    assert "演练结论：通过" in drill.stdout
    backup = hosts["backup"]
    receipts = json.loads(backup.run("/usr/local/sbin/oa-backup drill-list").stdout)
    last = receipts[-1]
    assert last["ok"] and last["rto_seconds"] < 1800
    receipt = json.loads(backup.run(f"cat {last['file']}").stdout)
    names = [step["name"] for step in receipt["steps"]]
    assert "校验审计日志哈希链" in names and all(step["ok"] for step in receipt["steps"])
    page = backup.run(f"cat {last['file'].removesuffix('.json')}.html").stdout
    assert "备份恢复演练回执" in page and "通过" in page
    metrics = backup.run("cat /var/lib/prometheus/node-exporter/oa_drill.prom").stdout
    assert "oa_drill_last_run_success 1" in metrics
    print(f"演练 RTO：{last['rto_seconds']} 秒")
    listed = oa_ops("drill", "-i", "inventories/lab", "--list")
    assert listed.returncode == 0 and "通过" in listed.stdout


def test_client_key_cannot_delete_or_reach_other_repositories(
    two_backups: dict, hosts: dict[str, Any]
) -> None:
    app, backup = hosts["app"], hosts["backup"]
    env = ("export BORG_PASSCOMMAND='cat /etc/oa-backup/passphrase' "
           "BORG_BASE_DIR=/var/lib/oa-backup/borg BORG_RSH=\"$(python3 -c \"import json; print("
           "json.load(open('/etc/oa-backup/oa-backup.json'))['repo']['ssh_command'])\")\"; ")
    url = "ssh://borg@10.77.0.12/srv/borg/repos"
    assert backup.run("systemctl start oa-backup-prune.service").rc == 0  # the server's view
    before = json.loads(backup.run("/usr/local/sbin/oa-backup list --repo app").stdout)
    # The key runs nothing but borg serve: no shell, and no other client's repository.
    app.run(f"{env} timeout 20 $BORG_RSH borg@10.77.0.12 'rm -rf /srv/borg/repos/app' "
            "</dev/null")
    assert backup.run("test -f /srv/borg/repos/app/config").rc == 0
    other = app.run(f"{env} timeout 60 borg list {url}/db")
    assert other.rc != 0, other.stdout
    # Deleting and pruning at most *mark* archives deleted (append-only: the data stays) and the
    # server then refuses to prune, so nothing is lost for good.
    app.run(f"{env} timeout 120 borg delete --glob-archives 'files-*' {url}/app")
    app.run(f"{env} timeout 120 borg prune --keep-last 1 {url}/app")
    listed = json.loads(backup.run("/usr/local/sbin/oa-backup list --repo app").stdout)
    pruned = backup.run("systemctl start oa-backup-prune.service")
    if len(listed) < len(before):
        assert pruned.rc != 0
        metrics = backup.run("cat /var/lib/prometheus/node-exporter/oa_backup_prune.prom").stdout
        assert 'oa_backup_last_run_success{kind="prune"} 0' in metrics
        journal = backup.run("journalctl -u oa-backup-prune -n 30 -o cat").stdout
        assert "客户端标记删除" in journal
        # the operator, having checked, accepts the deletions by forgetting the server's view
        # (backup/README.md); the next prune runs, and no unit is left failed on the host
        backup.run("rm -f /var/lib/oa-backup/archives-app.json")
        accepted = backup.run("systemctl start oa-backup-prune.service")
        assert accepted.rc == 0, backup.run("journalctl -u oa-backup-prune -n 20 -o cat").stdout
        metrics = backup.run("cat /var/lib/prometheus/node-exporter/oa_backup_prune.prom").stdout
        assert 'oa_backup_last_run_success{kind="prune"} 1' in metrics
    else:
        assert pruned.rc == 0
    assert backup.run("systemctl is-failed --quiet oa-backup-prune.service").rc != 0
    assert len(json.loads(backup.run("/usr/local/sbin/oa-backup list --repo db").stdout)) >= 2
