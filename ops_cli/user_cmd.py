"""oa-ops user: accounts from the server console (create, reset-password, unlock, disable).

Whoever runs these holds the server's configuration and database credentials, which is the
authority here (e.g. to reset an administrator's password, which no web administrator may do).
Every command is audited with the source "cli".
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from ops_cli.runtime import console, run_transaction

app = typer.Typer(help="用户账号：创建、重置密码、解锁、停用（均记入审计日志）。",
                  no_args_is_help=True)


def _ctx() -> Any:
    import getpass

    from app.core.context import RequestContext

    return RequestContext(principal=None, ip="cli", request_id="oa-ops-user",
                          user_agent=f"oa-ops ({getpass.getuser()})")


def _password_from(stdin: bool, username: str) -> tuple[str, bool]:
    """(password, generated?) from stdin (checked against the policy) or a random one."""
    from app.auth.passwords import generate_password, policy_problem

    if not stdin:
        return generate_password(), True
    password = sys.stdin.readline().rstrip("\n")
    problem = policy_problem(password, username)
    if problem:
        console.print(f"[red]密码不符合策略：{problem}[/]")
        raise typer.Exit(1)
    return password, False


def _show_initial(username: str, password: str, generated: bool) -> None:
    if generated:
        console.print(f"一次性初始密码（只显示这一次）：[bold]{password}[/]", highlight=False)
    console.print(f"用户 {username} 首次登录时必须修改密码。")


@app.command("create")
def create(
    username: str = typer.Argument(..., help="用户名（小写字母、数字、._-，2-32 位）"),
    name: str = typer.Argument(..., help="姓名"),
    department: str = typer.Argument(..., help="部门名称或部门编号"),
    role: list[str] = typer.Option([], "--role", "-r",
                                   help="角色代码，可重复：staff、sysadmin、secadmin、auditor…"),
    employee_no: str = typer.Option("", "--employee-no", help="工号（默认与用户名相同）"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="从标准输入读取初始密码，而不是随机生成"),
) -> None:
    """创建用户并设置一次性初始密码（首次登录须修改）。"""
    from app.auth import passwords, service

    password, generated = _password_from(password_stdin, username)
    password_hash = passwords.hash_password(password)
    user_id = run_transaction(service.operator_create_user, _ctx(), username, name, department,
                              list(role), password_hash, employee_no, True)
    console.print(f"[green]已创建用户 {username}（编号 {user_id}）[/]")
    _show_initial(username, password, generated)


@app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., help="用户名"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="从标准输入读取新密码，而不是随机生成"),
) -> None:
    """重置密码：结束该用户的全部会话，首次登录须修改。"""
    from app.auth import passwords, service

    password, generated = _password_from(password_stdin, username)
    run_transaction(service.operator_reset_password, _ctx(), username,
                    passwords.hash_password(password))
    console.print(f"[green]已重置 {username} 的密码[/]")
    _show_initial(username, password, generated)


@app.command("unlock")
def unlock(username: str = typer.Argument(..., help="用户名")) -> None:
    """解除因连续登录失败造成的锁定。"""
    from app.auth import service

    run_transaction(service.operator_unlock, _ctx(), username)
    console.print(f"[green]已解锁 {username}[/]")


@app.command("disable")
def disable(username: str = typer.Argument(..., help="用户名")) -> None:
    """停用账号并结束其全部会话。"""
    from app.auth import service

    run_transaction(service.operator_disable, _ctx(), username)
    console.print(f"[green]已停用 {username}，其会话已全部结束[/]")
