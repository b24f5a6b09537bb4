"""`oa-ops compliance check -i INVENTORY [--format html|json|pdf] [--out DIR]
[--clause 8.1.4.1]`."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # the command's modules load only when it runs (the servers lack Jinja2)
    from ops_cli.compliance import catalogue as catalogue_mod
    from ops_cli.compliance import hosts as hosts_mod
    from ops_cli.compliance import report as report_mod
    from ops_cli.compliance import runner

console = Console()
app = typer.Typer(help="等保三级符合性核查：按控制项目录只读核查服务器，生成审计报告。",
                  no_args_is_help=True)
STYLE = {"pass": "green", "config-only": "yellow", "fail": "red", "error": "red",
         "pending": "magenta", "not-applicable": "dim"}
VERSION_CMD = ("/opt/oa/venv/bin/python -c \"import importlib.metadata as m; "
               "print(m.version('oa-platform'))\"")


class Format(StrEnum):
    html = "html"
    json = "json"
    pdf = "pdf"


def _check_lab(inventory: Path) -> bool:
    from ops_cli.compliance import hosts as hosts_mod

    return hosts_mod.require_inventory(inventory)


def _versions(sessions: dict[str, hosts_mod.Session]) -> dict[str, str]:
    found = {}
    for name, session in sessions.items():
        if "appservers" in session.host.groups:
            result = session.run(VERSION_CMD)
            found[name] = result.stdout.strip() if result.rc == 0 else "（未部署）"
    return found


def _summary(report: report_mod.Report) -> None:
    from ops_cli.compliance import report as report_mod
    from ops_cli.compliance import runner

    table = Table(title=f"等保三级核查结果（得分 {report.score()}）")
    table.add_column("对象")
    for status in report_mod.ORDER:
        table.add_column(runner.STATUS_ZH[status], justify="right")
    for target, counts in report.by_target().items():
        table.add_row(report.catalogue.targets[target]["title"],
                      *(f"[{STYLE[s]}]{counts[s]}[/]" if counts[s] else "0"
                        for s in report_mod.ORDER))
    console.print(table)
    for finding in report.failed():
        console.print(f"[red]✗ {finding.control}（{finding.clause}）@{finding.host}："
                      f"{finding.title} — {finding.detail}[/]", highlight=False)


def _run(catalogue: catalogue_mod.Catalogue, inventory: Path, clause: str | None,
         in_lab: bool) -> report_mod.Report:
    from ops_cli.compliance import hosts as hosts_mod
    from ops_cli.compliance import report as report_mod
    from ops_cli.compliance import runner

    started = time.monotonic()
    inventory_hosts = hosts_mod.read_inventory(inventory)
    with tempfile.TemporaryDirectory(prefix="oa-compliance-") as tmp:
        config = hosts_mod.ssh_config(inventory_hosts, in_lab, Path(tmp) / "ssh_config")
        sessions = {h.name: hosts_mod.Session.open(h, config) for h in inventory_hosts}
        the_plan = runner.plan(catalogue, clause, sessions)
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("核查控制项", total=the_plan.total)

            def tick(finding: runner.Finding) -> None:
                progress.update(task, advance=1,
                                description=f"{finding.host} {finding.control}")

            try:
                findings = runner.execute(the_plan, in_lab, runner.extra_vars(inventory_hosts),
                                          tick)
                versions = _versions(sessions)
            finally:
                for session in sessions.values():
                    session.close()
    findings += runner.not_applicable(catalogue, clause, inventory_hosts)
    return report_mod.Report(catalogue, findings, str(inventory), in_lab, runner.now_text(),
                             versions, clause, time.monotonic() - started)


@app.command("check")
def check(
    inventory: Path = typer.Option(..., "--inventory", "-i", help="主机清单目录"),
    formats: list[Format] = typer.Option([Format.html, Format.json], "--format", "-f",
                                         help="报告格式，可重复：html、json、pdf"),
    out: Path = typer.Option(Path("var/compliance"), "--out", "-o", help="报告输出目录"),
    clause: str = typer.Option(None, "--clause", "-c",
                               help="只核查某一条款，如 8.1.4.1 或 8.1.4.1.a"),
) -> None:
    """只读核查：逐项运行控制项目录的检查，生成中文报告；有不符合项时退出码为 1。"""
    from ops_cli.compliance import catalogue as catalogue_mod
    from ops_cli.compliance import hosts as hosts_mod
    from ops_cli.compliance import report as report_mod

    try:
        catalogue = catalogue_mod.load()
        if clause and not catalogue.select(clause):
            raise hosts_mod.InventoryError(f"目录中没有条款 {clause} 的控制项")
        in_lab = _check_lab(inventory)
        report = _run(catalogue, inventory, clause, in_lab)
    except (catalogue_mod.CatalogueError, hosts_mod.InventoryError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    stem = f"compliance-{inventory.resolve().name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    written = report_mod.write(report, [f.value for f in formats], out, stem)
    _summary(report)
    for path in written:
        console.print(f"报告：{path}")
    if report.failed():
        console.print(f"[bold red]{len(report.failed())} 项不符合。[/]")
        raise typer.Exit(1)
    console.print("[bold green]适用的控制项全部符合。[/]")
