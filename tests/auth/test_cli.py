"""oa-ops user create | reset-password | unlock | disable."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from app.core.config import settings
from app.core.db import init_database
from ops_cli.main import app
from tests.auth.conftest import audit_actions
from tests.support.accounts import default_department, login, login_response, make_user
from tests.support.audit import chain_audit_trail


def flat(result) -> str:
    """The output without the console's line wrapping."""
    return result.output.replace("\n", "")


@pytest.fixture
def cli(db):
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        result = runner.invoke(app, ["user", *args], input=stdin)
        cfg = settings()  # the command closed the pool, as a one-shot process does
        init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)
        return result

    return invoke


def test_create_prints_a_one_time_password_that_must_be_changed(cli, client, sql):
    from app.core.db import run_in_transaction

    run_in_transaction(default_department)
    result = cli("create", "wangwu", "王五", "测试科", "--role", "staff")
    assert result.exit_code == 0, result.output
    password = re.search(r"一次性初始密码（只显示这一次）：(\S+)", result.output).group(1)
    login(client, "wangwu", password)
    forced = client.get("/", allow_redirects=False)
    assert forced.headers["Location"] == "/account/password"
    assert sql.one("SELECT name_initials FROM app_user WHERE username = 'wangwu'") == "ww"
    chain_audit_trail()
    events = sql.run("SELECT action, ip FROM audit_event WHERE action = 'org.user.create'")
    assert events == [("org.user.create", "cli")]


def test_create_with_password_on_stdin_and_refusals(cli, client):
    from app.core.db import run_in_transaction

    run_in_transaction(default_department)
    weak = cli("create", "zhaoliu", "赵六", "测试科", "--password-stdin", stdin="weak\n")
    assert weak.exit_code == 1 and "密码不符合策略" in flat(weak)
    ok = cli("create", "zhaoliu", "赵六", "测试科", "--password-stdin", "-r", "staff",
             stdin="Strong@2026x\n")
    assert ok.exit_code == 0, ok.output
    assert "一次性初始密码" not in ok.output
    login(client, "zhaoliu", "Strong@2026x")
    again = cli("create", "zhaoliu", "赵六", "测试科")
    assert again.exit_code == 1 and "用户名已存在" in flat(again)
    no_dept = cli("create", "sunqi", "孙七", "不存在的部门")
    assert no_dept.exit_code == 1 and "部门不存在" in flat(no_dept)
    two_admins = cli("create", "sunqi", "孙七", "测试科", "-r", "sysadmin", "-r", "auditor")
    assert two_admins.exit_code == 1 and "不能兼任" in flat(two_admins)


def test_reset_password_and_unlock(cli, client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    result = cli("reset-password", "zhangsan")
    assert result.exit_code == 0, result.output
    password = re.search(r"一次性初始密码（只显示这一次）：(\S+)", result.output).group(1)
    assert client.get("/account", allow_redirects=False).status_code == 302  # sessions ended
    sql.run("UPDATE credential SET failed_count = 5, locked_until = now() + interval '30 min'")
    locked = login_response(client, "zhangsan", password)
    assert locked.status_code == 400
    unlocked = cli("unlock", "zhangsan")
    assert unlocked.exit_code == 0, unlocked.output
    sql.run("DELETE FROM login_throttle")  # the captcha step is tested elsewhere
    login(client, "zhangsan", password)
    actions = audit_actions(sql)
    assert ("auth.password.reset", "success") in actions
    assert ("auth.account.unlock", "success") in actions
    missing = cli("unlock", "nobody")
    assert missing.exit_code == 1 and "用户不存在" in flat(missing)


def test_disable_ends_sessions_and_blocks_login(cli, client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    result = cli("disable", "zhangsan")
    assert result.exit_code == 0, result.output
    assert client.get("/account", allow_redirects=False).status_code == 302
    assert login_response(client, "zhangsan").status_code == 400
