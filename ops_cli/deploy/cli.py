"""The commands: `oa-ops deploy -i INVENTORY` and `oa-ops status -i INVENTORY`."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ops_cli.deploy import wheelhouse
from ops_cli.deploy.paths import DeployError, Project, require_inventory
from ops_cli.deploy.run import Progress, RunRequest, new_run_dir, run_playbook

console = Console()

INVENTORY_HELP = "主机清单目录（inventories/lab 或 inventories/production）"


def _check_inventory(inventory: Path) -> bool:
    """The inventory exists; returns whether it is the lab's (which must then be up)."""
    in_lab = require_inventory(inventory)
    if in_lab and inventory.is_dir() and not (inventory / "hosts.yml").is_file():
        raise DeployError("lab 主机清单 hosts.yml 不存在：请先执行 oa-ops lab up")
    return in_lab


def _cmdline(check: bool, diff: bool, extra_vars: list[str], vault_file: Path | None,
             ask_vault: bool) -> list[str]:
    args: list[str] = []
    if check:
        args.append("--check")
    if diff:
        args.append("--diff")
    for value in extra_vars:
        args += ["--extra-vars", value]
    if vault_file:
        args += ["--vault-password-file", str(vault_file.resolve())]
    if ask_vault:
        args.append("--ask-vault-pass")
    return args


def _summary(progress: Progress, run_dir: Path, check: bool) -> None:
    processed = progress.stats.get("processed", {}) or {n: 1 for n in progress.hosts}
    table = Table(title="部署结果" + ("（预演 --check，未做任何修改）" if check else ""))
    for column in ("主机", "成功 ok", "变更 changed", "失败 failed", "不可达", "跳过"):
        table.add_column(column, justify="left" if column == "主机" else "right")
    for host in sorted(processed):
        c = progress.host(host)
        table.add_row(host, str(c.ok), str(c.changed), str(c.failed), str(c.unreachable),
                      str(c.skipped))
    console.print(table)
    for failure in progress.failures:
        console.print(f"[red]✗ {failure.host}：任务「{failure.task}」失败[/]\n  {failure.message}",
                      highlight=False)
    url = progress.custom_stats.get("oa_url")
    if url and not progress.failures:
        console.print(f"[bold green]平台地址：{url}[/]（用浏览器打开，登录后即可使用）")
    console.print(f"运行日志与 artifacts：{run_dir}")


def deploy(
    inventory: Path = typer.Option(..., "--inventory", "-i", help=INVENTORY_HELP),
    check: bool = typer.Option(False, "--check", help="预演：只报告将要做的修改，不改动主机"),
    diff: bool = typer.Option(False, "--diff", help="显示文件内容的差异"),
    tags: str = typer.Option(None, "--tags", "-t", help="只执行这些标签（逗号分隔），如 app,nginx"),
    limit: str = typer.Option(None, "--limit", "-l", help="只作用于这些主机或组"),
    extra_vars: list[str] = typer.Option([], "--extra-vars", "-e",
                                         help="额外变量，可重复；@文件 读入 vault 文件"),
    vault_password_file: Path = typer.Option(None, "--vault-password-file",
                                              help="Ansible Vault 口令文件（放在仓库之外）"),
    ask_vault_pass: bool = typer.Option(False, "--ask-vault-pass", help="提示输入 Vault 口令"),
    reuse_wheelhouse: bool = typer.Option(
        False, "--reuse-wheelhouse",
        help="不重新构建，原样使用上次构建的 wheelhouse（离线重部署）"),
) -> None:
    """部署平台到清单中的服务器（可重复执行；第二次应无任何变更）。"""
    try:
        project = Project.locate()
        in_lab = _check_inventory(inventory)
        house = wheelhouse.build(project, lambda text: console.print(text),
                                 reuse=reuse_wheelhouse)
    except DeployError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    vault_password = getpass.getpass("Vault 口令：") if ask_vault_pass else None
    run_dir = new_run_dir(project.runs_dir)
    where = "（在 lab 网络命名空间中运行）" if in_lab else ""
    console.print(f"开始部署：{inventory}{where}")
    rc, progress = run_playbook(RunRequest(
        ansible_dir=project.ansible_dir, playbook="site.yml", inventory=inventory,
        run_dir=run_dir, in_lab=in_lab, extravars={"oa_wheelhouse": str(house)},
        cmdline=_cmdline(check, diff, extra_vars, vault_password_file, ask_vault_pass),
        tags=tags, limit=limit, vault_password=vault_password), console)
    _summary(progress, run_dir, check)
    if rc != 0 or progress.failures:
        console.print(f"[bold red]部署失败（ansible-playbook 退出码 {rc}）。[/]")
        raise typer.Exit(1)
    console.print("[bold green]部署完成。[/]")


def register(app: typer.Typer) -> None:
    """Add `deploy` (and `status`) to the `oa-ops` command."""
    from ops_cli.deploy.status import status

    app.command("deploy")(deploy)
    app.command("status")(status)
