"""oa-ops as an operator meets it: help on every command group, clear errors, migrations."""

import os
import subprocess
import sys

from tests.support.database import TestDatabase

OA_OPS = [sys.executable, "-c", "from ops_cli.main import main; main()"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OA_OPS, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_every_command_group_has_chinese_help() -> None:
    for group in ([], ["db"], ["org"], ["user"], ["audit"], ["lab"], ["demo"], ["deploy"]):
        result = _run(*group, "--help")
        assert result.returncode == 0, result.stderr
        assert any("\u4e00" <= ch <= "\u9fff" for ch in result.stdout)


def test_unreachable_database_is_a_clear_message_not_a_trace() -> None:
    result = _run("db", "migrate",
                  env={"OA_DATABASE_URL": "postgresql://nobody@/x?host=/nonexistent&port=1"})
    assert result.returncode == 1
    assert "无法连接数据库" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_db_status_after_migrate_reports_up_to_date(pg: TestDatabase) -> None:
    env = {"OA_DATABASE_URL": pg.runtime_url, "OA_MIGRATION_DATABASE_URL": pg.owner_url}
    assert _run("db", "migrate", env=env).returncode == 0
    status = _run("db", "status", env=env)
    assert status.returncode == 0
    assert "已是最新" in status.stdout


def test_first_administrator_on_an_empty_database(db: TestDatabase) -> None:
    """A fresh production database: first the bureau, then its first 系统管理员."""
    env = {"OA_DATABASE_URL": db.runtime_url, "OA_MIGRATION_DATABASE_URL": db.owner_url}
    made = _run("org", "department", "create", "X市公安局", "--doc-code", "X公", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    child = _run("org", "department", "create", "信息中心", "--parent", "X市公安局", env=env)
    assert child.returncode == 0, child.stdout
    twice = _run("org", "department", "create", "信息中心", "--parent", "X市公安局", env=env)
    assert twice.returncode == 1 and "失败" in twice.stdout
    listing = _run("org", "department", "list", env=env).stdout
    assert "X市公安局" in listing and "代字 X公" in listing and "信息中心" in listing
    admin = _run("user", "create", "sysadmin", "系统管理员", "信息中心", "--role", "sysadmin",
                 env=env)
    assert admin.returncode == 0, admin.stdout + admin.stderr
    assert "已创建用户 sysadmin" in admin.stdout
