"""`oa-ops status -i INVENTORY`: each server's services, the platform's health over HTTPS
through nginx, the database reached from the application server, the deployed version, and
whether Prometheus and Alertmanager answer (over HTTPS with the CA, when they have a
certificate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ops_cli.app_units import worker_units
from ops_cli.deploy.paths import DeployError, Project
from ops_cli.deploy.run import Progress, RunRequest, new_run_dir, run_playbook

console = Console()
# The services each kind of server runs (the lab's names and RHEL's); shown when installed.
WATCHED = {
    "all": ("ssh", "sshd", "chrony", "chronyd", "rsyslog"),
    "dbservers": ("postgresql", "postgresql@15-main"),
    "appservers": ("nginx",),
    "backupservers": ("oa-wal-receiver", "prometheus", "prometheus-alertmanager"),
}


def _watched(facts: dict[str, Any], groups: list[str]) -> list[str]:
    names = [n for group in ("all", *groups) for n in WATCHED.get(group, ())
             if n + ".service" in facts]
    if "appservers" in groups:
        names += [unit.removesuffix(".service") for unit in worker_units(facts)]
    return names


def _services(progress_events: list[dict[str, Any]],
              host_groups: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for event in progress_events:
        data = event.get("event_data", {})
        facts = data.get("res", {}).get("ansible_facts", {}).get("services")
        if event.get("event") == "runner_on_ok" and facts:
            names = _watched(facts, host_groups.get(data["host"], []))
            states = {
                name: f"{facts[name + '.service']['state']}/{facts[name + '.service']['status']}"
                for name in names
            }
            if "postgresql@15-main" in states:  # Debian: `postgresql` is only an umbrella unit
                states.pop("postgresql", None)
            found[data["host"]] = {n: s for n, s in states.items() if not s.endswith("/alias")}
    return found


def _print(services: dict[str, dict[str, str]], progress: Progress) -> bool:
    healthy = True
    table = Table(title="服务器与服务状态")
    for column in ("主机", "服务（运行状态/开机启动）"):
        table.add_column(column)
    for host, states in sorted(services.items()):
        text = "  ".join(f"[{'green' if s.startswith('running') else 'red'}]{n}={s}[/]"
                         for n, s in states.items())
        healthy &= all(s.startswith("running") or n.startswith("chrony") for n, s in states.items())
        table.add_row(host, text)
    console.print(table)
    for host, info in (progress.custom_stats.get("platform") or {}).items():
        healthy &= _print_platform(host, info)
    for host, info in (progress.custom_stats.get("monitoring") or {}).items():
        healthy &= _print_monitoring(host, info)
    return healthy


def _print_monitoring(host: str, info: dict[str, Any]) -> bool:
    """One monitoring server: Prometheus' and Alertmanager's /-/healthy."""
    answers = info.get("answers") or {}
    shown = "，".join(f"{name} {'[green]正常[/]' if code == 200 else '[red]异常[/]'}（{code}）"
                     for name, code in answers.items())
    scheme = "HTTPS" if info.get("https") else "[yellow]明文 HTTP[/]"
    console.print(f"{host}：监控（{scheme}）{shown or '[red]无应答[/]'}", highlight=False)
    return bool(answers) and all(code == 200 for code in answers.values())


def _print_platform(host: str, info: dict[str, Any]) -> bool:
    """One application server: nginx's HTTPS /healthz, each worker's, the database, the version."""
    ok = info.get("health") == 200
    workers = info.get("workers") or {}
    workers_ok = bool(workers) and all(code == 200 for code in workers.values())
    database_ok = info.get("database_ok") is True
    database = (f"[green]可达（PostgreSQL {info.get('database')}）[/]" if database_ok
                else f"[red]不可达：{info.get('database') or '-'}[/]")
    shown = "  ".join(f"[{'green' if code == 200 else 'red'}]{port}={code}[/]"
                      for port, code in sorted(workers.items())) or "[red]无[/]"
    console.print(f"{host}：HTTPS /healthz {'[green]正常[/]' if ok else '[red]异常[/]'}"
                  f"（{info.get('health')}），工作进程 {shown}，数据库 {database}，"
                  f"版本 {info.get('version') or '-'}", highlight=False)
    return ok and workers_ok and database_ok


def status(
    inventory: Path = typer.Option(..., "--inventory", "-i", help="主机清单目录"),
    limit: str = typer.Option(None, "--limit", "-l", help="只查看这些主机或组"),
) -> None:
    """查看每台服务器的服务、平台健康（经 nginx 的 HTTPS）、数据库连通与已部署版本。"""
    from ops_cli.deploy.cli import _check_inventory

    try:
        project = Project.locate()
        in_lab = _check_inventory(inventory)
    except DeployError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    events: list[dict[str, Any]] = []
    rc, progress = run_playbook(RunRequest(
        ansible_dir=project.ansible_dir, playbook="status.yml", inventory=inventory,
        run_dir=new_run_dir(project.runs_dir), in_lab=in_lab, extravars={}, cmdline=[],
        limit=limit), console, on_event=events.append)
    healthy = _print(_services(events, progress.custom_stats.get("groups") or {}), progress)
    if rc != 0 or progress.failures or not healthy:
        console.print("[bold red]存在异常。[/]")
        raise typer.Exit(1)
    console.print("[bold green]全部正常。[/]")
