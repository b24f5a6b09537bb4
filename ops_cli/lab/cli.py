"""`oa-ops lab`: the three-host test lab (db, app, backup) on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import hosts, lab, network
from .proc import LabError
from .settings import NETNS_LAB, LabSettings, host_by_name

lab_app = typer.Typer(
    name="lab",
    help="三主机测试实验环境（db、app、backup）：systemd-nspawn 容器 + 独立网络命名空间。",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

STATE_TEXT = {
    "active": "[green]运行中[/]",
    "inactive": "[dim]未运行[/]",
    "failed": "[red]失败[/]",
    "activating": "[yellow]启动中[/]",
    "unknown": "[dim]未知[/]",
}
SYSTEM_TEXT = {
    "running": "[green]running[/]",
    "degraded": "[yellow]degraded[/]",
    "starting": "[yellow]starting[/]",
}


def _settings() -> LabSettings:
    try:
        return LabSettings.from_env()
    except ValueError as exc:
        _fail(f"设置无效：{exc}")


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]错误：[/]{message}")
    raise typer.Exit(1)


class _Steps:
    """Rich progress: one line per stage, an overall bar, elapsed time."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("[bold]总进度", total=total)

    @contextlib.contextmanager
    def __call__(self, description: str) -> Iterator[None]:
        task = self.progress.add_task(description, total=1)
        yield
        self.progress.update(task, completed=1, description=f"[green]✓[/] {description}")
        self.progress.advance(self.overall)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TimeElapsedColumn(),
        console=console,
    )


@lab_app.command("up")
def up_command() -> None:
    """启动 lab（幂等）：构建/复用根文件系统，创建网络与代理，启动三台主机并等待 SSH。

    Builds the Debian 12 root fs once (debootstrap, cached), boots db/app/backup with
    systemd-nspawn, and writes the Ansible inventory inventories/lab/hosts.yml.
    """
    settings = _settings()
    try:
        with _progress() as progress:
            report = lab.up(settings, step=_Steps(progress, total=7))
    except LabError as exc:
        _fail(str(exc))
    image_note = "本次新建（debootstrap）" if report.image_built else "使用缓存"
    console.print(f"\n[bold green]lab 已就绪[/]，用时 {report.seconds:.1f} 秒。")
    console.print(f"根文件系统：{report.image}（{image_note}）")
    if report.copied:
        console.print(f"新复制的主机磁盘：{'、'.join(report.copied)}")
    console.print(f"本次启动的进程：{'、'.join(report.started) or '无（已在运行）'}")
    _print_hosts(settings)
    console.print(f"Ansible inventory：{report.inventory}")
    console.print("登录主机：[cyan]oa-ops lab ssh db[/]；在 lab 网络内运行："
                  "[cyan]ip netns exec oa-lab <命令>[/]")  # fmt: skip


def _print_hosts(settings: LabSettings) -> None:
    table = Table(title="lab 主机")
    table.add_column("主机")
    table.add_column("Ansible 组")
    table.add_column("地址")
    for host in settings.hosts:
        table.add_row(host.name, host.group, str(settings.address(host)))
    console.print(table)
    console.print(f"软件包代理（主机内 apt 使用）：{settings.proxy_url}")


@lab_app.command("down")
def down_command(
    purge: Annotated[
        bool, typer.Option("--purge", help="同时删除主机磁盘（下次 up 从缓存镜像重新复制）。")
    ] = False,
) -> None:
    """关闭 lab：按记录的 PID 停止所有进程，删除网络命名空间、veth、网桥与挂载。

    Stops only processes `up` started (by their recorded PIDs). Host disks are kept unless
    --purge; the cached root fs image is always kept.
    """
    settings = _settings()
    try:
        with _progress() as progress:
            stopped = lab.down(settings, purge=purge, step=_Steps(progress, total=3 + purge))
    except LabError as exc:
        _fail(str(exc))
    console.print(f"[bold green]lab 已关闭[/]。已停止：{'、'.join(stopped) or '无（未在运行）'}")
    if purge:
        console.print("主机磁盘已删除。")


def _status_json(status: lab.LabStatus) -> str:
    return json.dumps(
        {
            "subnet": status.subnet,
            "network_up": status.network_up,
            "processes": status.processes,
            "all_up": status.all_up,
            "hosts": [
                {
                    "name": h.host.name,
                    "address": h.address,
                    "running": h.running,
                    "pid": h.pid,
                    "system": h.health.system if h.health else None,
                    "services": h.health.services if h.health else {},
                    "failed_units": h.health.failed_units if h.health else [],
                }
                for h in status.hosts
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def _status_tables(status: lab.LabStatus) -> None:
    table = Table(title=f"lab 主机（子网 {status.subnet}）")
    for col in ("主机", "容器", "地址", "systemd", "关键服务", "失败单元"):
        table.add_column(col, no_wrap=col != "失败单元")
    for h in status.hosts:
        container = f"[green]运行中[/]\nPID {h.pid}" if h.running else "[red]已停止[/]"
        system = services = failed = "-"
        if h.health:
            system = SYSTEM_TEXT.get(h.health.system, h.health.system)
            services = "\n".join(
                f"{name}：{STATE_TEXT.get(v, v)}" for name, v in h.health.services.items()
            )
            failed = "\n".join(h.health.failed_units) or "无"
        table.add_row(h.host.name, container, h.address, system, services, failed)
    console.print(table)
    infra = Table(title="lab 基础设施")
    infra.add_column("组件")
    infra.add_column("状态")
    infra.add_row("网络命名空间与网桥", "[green]存在[/]" if status.network_up else "[red]不存在[/]")
    for name, alive in status.processes.items():
        infra.add_row(name, "[green]运行中[/]" if alive else "[red]未运行[/]")
    console.print(infra)


@lab_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出（供脚本使用）。")] = False,
) -> None:
    """显示各主机状态：容器、地址、systemd 状态、关键服务，以及代理与网络。

    Exit code 0 when the whole lab is up, 1 otherwise.
    """
    settings = _settings()
    try:
        status = lab.status(settings)
    except (LabError, PermissionError) as exc:
        _fail(f"无法读取 lab 状态（需要 root）：{exc}")
    if as_json:
        print(_status_json(status))
        raise typer.Exit(0 if status.all_up else 1)
    _status_tables(status)
    if not status.running:
        console.print("[yellow]lab 未完全运行[/]：请运行 [cyan]oa-ops lab up[/]")
    raise typer.Exit(0 if status.all_up else 1)


@lab_app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh_command(
    host: Annotated[str, typer.Argument(help="主机名：db、app 或 backup。")],
    command: Annotated[
        list[str] | None, typer.Argument(help="在主机上执行的命令（放在 -- 之后）。")
    ] = None,
) -> None:
    """以 root 登录 lab 主机（经 lab 网络命名空间），或执行一条命令。

    Example: oa-ops lab ssh db -- systemctl is-system-running
    """
    settings = _settings()
    try:
        spec = host_by_name(host)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    if os.geteuid() != 0:
        _fail("oa-ops lab ssh 需要 root 权限（进入 lab 网络命名空间）")
    if not settings.ssh_key.exists() or not network.netns_exists(NETNS_LAB):
        _fail("lab 未运行：请先运行 oa-ops lab up")
    argv = hosts.ssh_argv(settings, spec, command or [], tty=not command and sys.stdin.isatty())
    sys.stdout.flush()
    os.execvp(argv[0], argv)
