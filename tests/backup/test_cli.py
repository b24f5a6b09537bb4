"""`oa-ops backup | restore | drill`: argument errors end with a Chinese message, before any
server is contacted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops_cli.backup import cli
from ops_cli.backup.remote import RemoteError
from ops_cli.main import app

runner = CliRunner()


def test_restore_needs_exactly_one_source(tmp_path: Path) -> None:
    result = runner.invoke(app, ["restore", "-i", str(tmp_path)])
    assert result.exit_code == 2
    assert "只指定一个" in result.output
    result = runner.invoke(app, ["restore", "-i", str(tmp_path), "--latest", "--archive", "x"])
    assert result.exit_code == 2


def test_files_alone_need_no_database_source(tmp_path: Path) -> None:
    result = runner.invoke(app, ["restore", "-i", str(tmp_path / "nowhere"), "--files"])
    assert result.exit_code == 1  # past the arguments, at the inventory
    assert "主机清单不存在" in result.output


def test_point_in_time_format_is_checked(tmp_path: Path) -> None:
    result = runner.invoke(app, ["restore", "-i", str(tmp_path), "--point-in-time", "昨天"])
    assert result.exit_code == 2
    assert "2026-11-24 10:15" in result.output


def test_point_in_time_defaults_to_the_bureaus_zone() -> None:
    moment = cli.parse_point_in_time("2026-11-24 10:15")
    assert moment.isoformat() == "2026-11-24T10:15:00+08:00"
    assert cli.parse_point_in_time("2026-11-24 02:15+00:00").utcoffset().total_seconds() == 0


def test_missing_inventory_is_reported_in_chinese(tmp_path: Path) -> None:
    for args in (["backup", "list"], ["drill", "--list"], ["restore", "--latest"]):
        result = runner.invoke(app, [*args, "-i", str(tmp_path / "nowhere")])
        assert result.exit_code == 1, args
        assert "主机清单不存在" in result.output


def test_help_is_chinese() -> None:
    for args in (["backup", "run", "--help"], ["restore", "--help"], ["drill", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "恢复" in result.output or "备份" in result.output


def test_restore_waits_for_every_worker_and_then_nginx(live_server, free_port: int) -> None:
    """The check runs as written on an application server: a worker that answers passes, one
    that does not listen yet is named, and nginx is checked after the workers."""
    port = live_server.url.rsplit(":", 1)[1]
    units = f"oa-app@{port}.service oa-app@{free_port}.service other.service\n127.0.0.1\n"
    command = cli.health_command(units)
    assert max(command.index(f":{port}/"), command.index(f":{free_port}/")) < command.index("nginx")
    unhealthy = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                               check=False).stdout.split()
    assert unhealthy[0] == f"工作进程{free_port}"
    assert f"工作进程{port}" not in unhealthy


def test_restore_health_check_needs_an_enabled_worker() -> None:
    with pytest.raises(RemoteError, match="没有启用的工作进程"):
        cli.health_command("\n127.0.0.1\n")
    assert "http://[::1]:8888/healthz" in cli.health_command("oa-app@8888.service\n::1\n")
