"""`oa-ops backup run | list`, `oa-ops restore`, `oa-ops drill` — from the controller, over SSH,
driving the backup program (`oa-backup`, ops_cli/backup/agent.py) that the roles install."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops_cli.app_units import APP_TARGET, WORKER_PREFIX, worker_port, worker_units
from ops_cli.backup.agent import compare_counts
from ops_cli.backup.remote import AGENT, Fleet, RemoteError
from ops_cli.compliance.hosts import InventoryError, InventoryHost

console = Console()
backup_app = typer.Typer(help="备份：立即备份、列出归档（备份服务器上的 borg 仓库）。",
                         no_args_is_help=True)
INVENTORY_HELP = "主机清单目录（inventories/lab 或 inventories/production）"
DRY_RUN_HELP = "预演：只列出将在各服务器上执行的操作，不做任何修改"
# The enabled workers and the address they listen on.
WORKERS_CMD = (f"systemctl show --property=Wants --value {APP_TARGET}; "
               "sed -n 's/^host *= *//p' /etc/oa/oa.conf")
HEALTH_CHECKS = "各工作进程和经 nginx 的 HTTPS /healthz"
TIME_ZONE = dt.timezone(dt.timedelta(hours=8))  # the bureau's (Asia/Shanghai, no DST)


class What(StrEnum):
    db = "db"
    files = "files"
    all = "all"


class Target(StrEnum):
    scratch = "scratch"
    in_place = "in-place"


@contextmanager
def fleet_of(inventory: Path) -> Iterator[Fleet]:
    try:
        fleet = Fleet.open(inventory)
    except InventoryError as exc:
        console.print(f"[red]错误：{exc}[/]")
        raise typer.Exit(1) from None
    try:
        yield fleet
    except RemoteError as exc:
        console.print(f"[red]失败：{exc}[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        fleet.close()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=False)


def _step(progress: Progress, description: str, action: Callable[[], Any]) -> Any:
    task = progress.add_task(description, total=1)
    try:
        result = action()
    except RemoteError:
        progress.update(task, description=f"[red]✗ {description}[/]")
        raise
    progress.update(task, completed=1, description=f"[green]✓[/] {description}")
    return result


# --- backup run | list ----------------------------------------------------------------------

def backup_jobs(fleet: Fleet, host: str | None, what: What) -> list[tuple[InventoryHost, str]]:
    """The (server, systemd unit) pairs a `backup run` starts, in order."""
    clients = [fleet.named(host)] if host else fleet.clients()
    if host and clients[0] not in fleet.clients():
        raise RemoteError(f"{host} 不是备份客户端（数据库或应用服务器）")
    jobs = []
    for client in clients:
        if what in (What.db, What.all) and "dbservers" in client.groups:
            jobs.append((client, "oa-backup-db.service"))
        if what in (What.files, What.all):
            jobs.append((client, "oa-backup-files.service"))
    if not jobs:
        raise RemoteError("没有符合条件的备份任务（数据库备份只在数据库服务器上）")
    return jobs


@backup_app.command("run")
def backup_run(
    inventory: Path = typer.Option(..., "--inventory", "-i", help=INVENTORY_HELP),
    host: str = typer.Option(None, "--host", help="只备份这台主机（默认全部客户端）"),
    what: What = typer.Option(What.all, "--what", help="备份内容：db 数据库、files 文件、all 全部"),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """立即执行备份（与定时任务相同的 systemd 服务），失败时显示其日志。"""
    with fleet_of(inventory) as fleet:
        jobs = backup_jobs(fleet, host, what)
        if dry_run:
            for client, unit in jobs:
                console.print(f"将执行：{client.name} 上 systemctl start {unit}")
            return
        started = time.monotonic()
        with _progress() as progress:
            for client, unit in jobs:
                _step(progress, f"{client.name}：{unit}",
                      lambda c=client, u=unit: _start(fleet, c, u))
        elapsed = time.monotonic() - started
        console.print(f"[bold green]备份完成[/]：{len(jobs)} 项，用时 {elapsed:.1f} 秒。")


def _start(fleet: Fleet, host: InventoryHost, unit: str) -> None:
    result = fleet.run(host, f"systemctl start {shlex.quote(unit)}", check=False)
    if result.returncode != 0:
        journal = fleet.run(host, f"journalctl -u {shlex.quote(unit)} -n 15 --no-pager -o cat",
                            check=False).stdout
        raise RemoteError(f"{host.name} 上 {unit} 失败：\n{journal.strip()[-1500:]}")


@backup_app.command("list")
def backup_list(
    inventory: Path = typer.Option(..., "--inventory", "-i", help=INVENTORY_HELP),
) -> None:
    """列出备份服务器上每个仓库的归档。"""
    with fleet_of(inventory) as fleet:
        server = fleet.backup_server()
        table = Table(title=f"备份归档（{server.name}）")
        for column in ("仓库", "归档", "时间"):
            table.add_column(column)
        total = 0
        for client in fleet.clients():
            for archive in fleet.agent(server, "list", "--repo", client.name) or []:
                table.add_row(client.name, archive["name"], archive["time"][:19].replace("T", " "))
                total += 1
        console.print(table)
        console.print(f"共 {total} 个归档。")


# --- restore --------------------------------------------------------------------------------

def parse_point_in_time(text: str) -> dt.datetime:
    """'2026-11-24 10:15' (the bureau's time, unless a zone is given) → an aware datetime."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"时间点格式应为 2026-11-24 10:15，收到：{text}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=TIME_ZONE)


def choose_source(archive: str | None, latest: bool, point_in_time: str | None,
                  with_files: bool = False) -> str | None:
    """The database source named on the command line; None (files only) when no source is
    named but --files is."""
    given = [name for name, value in (("--archive", archive), ("--latest", latest),
                                      ("--point-in-time", point_in_time)) if value]
    if not given and with_files:
        return None
    if len(given) != 1:
        raise typer.BadParameter("请在 --archive、--latest、--point-in-time 中指定且只指定一个"
                                 "（只恢复文件时只用 --files）。")
    return given[0]


def restore(
    inventory: Path = typer.Option(..., "--inventory", "-i", help=INVENTORY_HELP),
    archive: str = typer.Option(None, "--archive", help="数据库归档名（见 oa-ops backup list）"),
    latest: bool = typer.Option(False, "--latest", help="最新的数据库归档"),
    point_in_time: str = typer.Option(None, "--point-in-time",
                                      help="恢复到该时间点（例如 '2026-11-24 10:15'，北京时间）"),
    target: Target = typer.Option(Target.scratch, "--target",
                                  help="scratch：恢复到备份服务器上的临时实例；in-place：替换生产数据库"),
    with_files: bool = typer.Option(False, "--files",
                                    help="恢复文件（最新文件归档）；不指定数据库来源时只恢复文件"),
    yes: bool = typer.Option(False, "--yes", help="不再询问，直接替换生产数据"),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """恢复数据库（逻辑备份或按时间点）与文件，并按备份清单核对；打印实测用时。"""
    source = choose_source(archive, latest, point_in_time, with_files)
    moment = parse_point_in_time(point_in_time) if point_in_time else None
    with fleet_of(inventory) as fleet:
        plan = restore_plan(fleet, source, archive, moment, target, with_files)
        if dry_run:
            for line in plan:
                console.print(f"将执行：{line}")
            return
        if target is Target.in_place and not yes:
            console.print(
                "[bold red]将停止应用并替换生产数据库[/]，当前数据将被备份中的数据覆盖。" if source
                else "[bold red]将用最新文件归档覆盖各服务器上的原文件[/]（归档外的文件不动）。")
            if not typer.confirm("确认恢复？"):
                console.print("已取消，未做任何修改。")
                raise typer.Exit(1)
        started = time.monotonic()
        with _progress() as progress:
            results = _restore(fleet, progress, source, archive, moment, target, with_files)
        for line in results:
            console.print(line, soft_wrap=True)
        console.print(f"[bold green]恢复完成[/]，实测用时 {time.monotonic() - started:.1f} 秒。")


def restore_plan(fleet: Fleet, source: str | None, archive: str | None, moment: dt.datetime | None,
                 target: Target, with_files: bool) -> list[str]:
    server = fleet.backup_server()
    db = fleet.group("dbservers")[0]
    what = (f"数据库按时间点 {moment.isoformat()}" if moment else
            f"数据库归档 {archive}" if archive else "最新的数据库归档")
    steps = []
    if source is None:
        pass
    elif target is Target.scratch:
        steps.append(f"{server.name}：把{what}恢复到临时实例并核对清单")
    else:
        steps += [f"{h.name}：停止 oa-app.target" for h in fleet.group("appservers")]
        steps.append(f"{server.name}：按时间点恢复到临时实例，转储后写入 {db.name}" if moment
                     else f"{db.name}：用{what}替换数据库 oa 并核对行数")
        steps += [f"{h.name}：执行待执行的数据库迁移，启动 oa-app.target，检查{HEALTH_CHECKS}"
                  for h in fleet.group("appservers")]
    if with_files:
        where = "原路径" if target is Target.in_place else f"{server.name} 的临时目录"
        steps += [f"{c.name}：恢复最新文件归档到{where}并核对校验和" for c in fleet.clients()]
        if source is None and target is Target.in_place:
            steps += [f"{h.name}：检查{HEALTH_CHECKS}" for h in fleet.group("appservers")]
    return steps


def _restore(fleet: Fleet, progress: Progress, source: str | None, archive: str | None,
             moment: dt.datetime | None, target: Target, with_files: bool) -> list[str]:
    server = fleet.backup_server()
    lines = _restore_database(fleet, progress, archive, moment, target) if source else []
    if with_files:
        for client in fleet.clients():
            result = _step(progress, f"{client.name}：恢复文件", lambda c=client: _files(
                fleet, c, server, target))
            lines.append(f"{client.name} 文件：归档 {result['archive']}，"
                         f"{result['files']} 个文件校验和一致。")
        if source is None and target is Target.in_place:
            for app in fleet.group("appservers"):
                _step(progress, f"{app.name}：检查健康", lambda a=app: _healthy(fleet, a))
    return lines


def _restore_database(fleet: Fleet, progress: Progress, archive: str | None,
                      moment: dt.datetime | None, target: Target) -> list[str]:
    server = fleet.backup_server()
    db = fleet.group("dbservers")[0]
    apps = fleet.group("appservers")
    archive_args = ["--archive", archive] if archive else []
    lines: list[str] = []
    if target is Target.scratch:
        if moment:
            result = _step(progress, "按时间点恢复到临时实例", lambda: fleet.agent(
                server, "pitr", "--time", moment.isoformat()))
            lines.append(f"临时实例（{server.name} 上 {result['socket']} 端口 {result['port']}）"
                         f"已恢复到 {moment.isoformat()}，基础备份 {result['base']}。")
        else:
            result = _step(progress, "恢复数据库到临时实例", lambda: fleet.agent(
                server, "restore-db", "--repo", db.name, *archive_args))
            lines.append(_counts_line(result))
    else:
        for app in apps:
            _step(progress, f"{app.name}：停止应用", lambda a=app: fleet.run(
                a, f"systemctl stop {APP_TARGET}"))
        try:
            if moment:
                recovered = _step(progress, "按时间点恢复到临时实例", lambda: fleet.agent(
                    server, "pitr", "--time", moment.isoformat()))
                loaded = _step(progress, f"转储临时实例并替换 {db.name} 的数据库",
                               lambda: fleet.pipe(server, f"{AGENT} dump-scratch",
                                                  db, f"{AGENT} load-db"))
                lines.append(_pitr_line(moment, recovered, loaded))
            else:
                result = _step(progress, f"{db.name}：恢复数据库", lambda: fleet.agent(
                    db, "restore-db", "--in-place", *archive_args))
                lines.append(_counts_line(result))
            for app in apps[:1]:
                _step(progress, f"{app.name}：数据库迁移", lambda a=app: _migrate(fleet, a))
        finally:
            for app in apps:
                _step(progress, f"{app.name}：启动应用并检查健康",
                      lambda a=app: _start_app(fleet, a))
    return lines


def _pitr_line(moment: dt.datetime, recovered: dict[str, Any], loaded: dict[str, Any]) -> str:
    """The production database now holds what the point-in-time instance held, table by table."""
    comparison = compare_counts(recovered["counts"], loaded["counts"])
    if comparison.problems:
        raise RemoteError("写入生产库的数据与时间点实例不符："
                          + "；".join(comparison.problems[:10]))
    return (f"数据库已恢复到 {moment.isoformat()}（基础备份 {recovered['base']}），"
            f"{comparison.checked} 张表的行数与时间点实例一致。")


def _counts_line(result: dict[str, Any]) -> str:
    if result["problems"]:
        raise RemoteError("恢复后的数据与清单不符：" + "；".join(result["problems"][:10]))
    return f"数据库：归档 {result['archive']}，{result['tables']} 张表的行数与备份清单一致。"


def _files(fleet: Fleet, client: InventoryHost, server: InventoryHost,
           target: Target) -> dict[str, Any]:
    if target is Target.in_place:
        result = fleet.agent(client, "restore-files", "--repo", client.name, "--in-place",
                             "--target", "/")
    else:
        result = fleet.agent(server, "restore-files", "--repo", client.name, "--target",
                             f"/srv/oa-restore/files/{client.name}")
    if result["problems"]:
        raise RemoteError("恢复的文件与清单不符：" + "；".join(result["problems"][:10]))
    return result


def _migrate(fleet: Fleet, app: InventoryHost) -> None:
    """Pending migrations (a dump older than the deployed code) run as the owner role, by the
    deploy's own migrate tasks. They are looked up as the owner too (root's migrate.env): the
    runtime role may not even read the migrations' state table into being."""
    status = fleet.run(app, "set -a; . /etc/oa/migrate.env; /opt/oa/venv/bin/oa-ops db status",
                       check=False)
    if status.returncode == 0:
        return
    result = subprocess.run([str(Path(sys.executable).parent / "oa-ops"), "deploy", "-i",
                             str(fleet.inventory), "--tags", "migrate", "--limit", app.name,
                             "--reuse-wheelhouse"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RemoteError(f"数据库迁移失败：{result.stdout[-600:]}")


def _start_app(fleet: Fleet, app: InventoryHost) -> None:
    fleet.run(app, f"systemctl start {APP_TARGET}")
    _healthy(fleet, app)


def _healthy(fleet: Fleet, app: InventoryHost, timeout: float = 90) -> None:
    """Every worker answers /healthz itself, then nginx does over HTTPS: nginx alone answers
    as soon as the first worker is up, while the others may still be starting."""
    command = health_command(fleet.run(app, WORKERS_CMD).stdout)
    deadline = time.monotonic() + timeout
    while True:
        unhealthy = fleet.run(app, command, check=False).stdout.split()
        if not unhealthy:
            return
        if time.monotonic() >= deadline:
            raise RemoteError(f"{app.name}：{timeout:.0f} 秒内 /healthz 仍不正常："
                              f"{'、'.join(unhealthy)}")
        time.sleep(2)


def health_command(workers: str) -> str:
    """A shell command that prints what does not answer /healthz (worker ports, then `nginx`),
    from the output of WORKERS_CMD: the target's Wants, then the listen host."""
    wants, _, host = workers.partition("\n")
    ports = [worker_port(unit) for unit in worker_units(wants.split())]
    if not ports:
        raise RemoteError(f"{APP_TARGET} 下没有启用的工作进程（{WORKER_PREFIX}端口.service）")
    host = host.strip() or "127.0.0.1"
    address = f"[{host}]" if ":" in host else host
    checks = [f"curl -fs -o /dev/null --max-time 5 http://{address}:{port}/healthz "
              f"|| echo 工作进程{port}" for port in ports]
    checks.append("curl -fsk -o /dev/null --max-time 5 https://127.0.0.1/healthz || echo nginx")
    return "; ".join(checks)


# --- drill ----------------------------------------------------------------------------------

def drill(
    inventory: Path = typer.Option(..., "--inventory", "-i", help=INVENTORY_HELP),
    list_only: bool = typer.Option(False, "--list", help="只列出以往的演练回执"),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """恢复演练：在备份服务器上恢复最新的数据库与文件并按清单核对、校验审计日志哈希链、测 RTO。

    回执（JSON 与可打印的中文 HTML）保存在备份服务器上，作为审计证据。
    """
    with fleet_of(inventory) as fleet:
        server = fleet.backup_server()
        if list_only:
            _print_receipts(fleet.agent(server, "drill-list") or [])
            return
        if dry_run:
            console.print(f"将执行：{server.name} 上 systemctl start oa-backup-drill.service")
            return
        with _progress() as progress:
            outcome = _step(progress, f"{server.name}：恢复演练", lambda: fleet.run(
                server, "systemctl start oa-backup-drill.service", check=False))
        receipts = fleet.agent(server, "drill-list") or []
        if not receipts:
            raise RemoteError("演练没有生成回执：" + outcome.stderr[-400:])
        last = receipts[-1]
        _print_receipt(fleet.agent(server, "drill-show", "--file", last["file"]))
        if outcome.returncode != 0 or not last["ok"]:
            raise typer.Exit(1)


def _print_receipts(receipts: list[dict[str, Any]]) -> None:
    table = Table(title="恢复演练回执")
    for column in ("开始时间", "结论", "RTO（秒）", "回执文件"):
        table.add_column(column)
    for item in receipts:
        table.add_row(item["started"].replace("T", " ")[:19], "[green]通过[/]" if item["ok"]
                      else "[red]未通过[/]", f"{item['rto_seconds']:.1f}", item["file"])
    console.print(table)
    console.print(f"共 {len(receipts)} 次演练。")


def _print_receipt(receipt: dict[str, Any]) -> None:
    table = Table(title=f"恢复演练（{receipt['started'].replace('T', ' ')[:19]}）")
    for column in ("项目", "结果", "说明", "用时"):
        table.add_column(column)
    for step in receipt["steps"]:
        table.add_row(step["name"], "[green]通过[/]" if step["ok"] else "[red]失败[/]",
                      step["detail"], f"{step['seconds']:.1f} 秒")
    console.print(table)
    verdict = "[bold green]通过[/]" if receipt["ok"] else "[bold red]未通过[/]"
    console.print(f"演练结论：{verdict}；实测恢复时间（RTO）{receipt['rto_seconds']:.1f} 秒"
                  f"（要求 30 分钟内）；回执：{receipt.get('file', '')}")


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore)
    app.command("drill")(drill)
