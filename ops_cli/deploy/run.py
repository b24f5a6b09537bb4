"""Run a playbook with ansible-runner, inside the lab's network namespace when needed, and
follow it live: per host the ok / changed / failed counts and the task now running."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ops_cli.lab.settings import NETNS_LAB


@dataclass
class HostCounts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class Failure:
    host: str
    task: str
    message: str


@dataclass
class Progress:
    """What the events told so far."""

    play: str = ""
    task: str = ""
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    changes: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    custom_stats: dict[str, Any] = field(default_factory=dict)

    def host(self, name: str) -> HostCounts:
        return self.hosts.setdefault(name, HostCounts())

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        host = data.get("host", "")
        task = data.get("task", "")
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
        elif kind == "playbook_on_task_start":
            self.task = task
        elif kind == "runner_on_ok":
            self._ok(host, task, data.get("res", {}))
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self.host(host).failed += 1
            self.failures.append(Failure(host, task, _message(data.get("res", {}))))
        elif kind == "runner_on_unreachable":
            self.host(host).unreachable += 1
            self.failures.append(Failure(host, task, _message(data.get("res", {}))))
        elif kind == "runner_on_skipped":
            self.host(host).skipped += 1
        elif kind == "playbook_on_stats":
            self.stats = data
            self.custom_stats = data.get("artifact_data", {}) or {}

    def _ok(self, host: str, task: str, res: dict[str, Any]) -> None:
        counts = self.host(host)
        counts.ok += 1
        if res.get("changed"):
            counts.changed += 1
            self.changes.append((host, task))


def _message(res: dict[str, Any]) -> str:
    for key in ("stderr", "module_stderr", "msg", "stdout"):
        value = res.get(key)
        if value:
            return str(value).strip()[-600:]
    return "（无详细信息）"


def render(progress: Progress) -> Group:
    table = Table(title=f"部署进行中：{progress.play}", expand=False)
    for column in ("主机", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(column, justify="left" if column == "主机" else "right")
    for name, c in sorted(progress.hosts.items()):
        table.add_row(name, str(c.ok), f"[yellow]{c.changed}[/]" if c.changed else "0",
                      f"[red]{c.failed}[/]" if c.failed else "0",
                      f"[red]{c.unreachable}[/]" if c.unreachable else "0", str(c.skipped))
    return Group(table, Text(f"当前任务：{progress.task}", style="cyan"))


@dataclass(frozen=True)
class RunRequest:
    ansible_dir: Path
    playbook: str
    inventory: Path
    run_dir: Path
    in_lab: bool
    extravars: dict[str, Any]
    cmdline: list[str]
    tags: str | None = None
    limit: str | None = None
    vault_password: str | None = None


def new_run_dir(runs_dir: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = runs_dir / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs_dir / f"{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


def _playbook_binary(run_dir: Path, in_lab: bool) -> str:
    """ansible-playbook of this environment; in the lab, wrapped to run inside its namespace."""
    playbook = Path(sys.executable).parent / "ansible-playbook"
    if not in_lab:
        return str(playbook)
    wrapper = run_dir / "ansible-playbook-in-lab"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {NETNS_LAB} "{playbook}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def _envvars(request: RunRequest) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "ANSIBLE_CONFIG": str(request.ansible_dir / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(request.ansible_dir / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
    }


def run_playbook(request: RunRequest, console: Console,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> tuple[int, Progress]:
    import ansible_runner

    progress = Progress()
    passwords = {}
    if request.vault_password:
        passwords[r"^Vault password.*:\s*?$"] = request.vault_password

    with Live(render(progress), console=console, refresh_per_second=4, transient=True) as live:
        def handle(event: dict[str, Any]) -> bool:
            progress.on_event(event)
            if on_event:
                on_event(event)
            live.update(render(progress))
            return True

        runner = ansible_runner.run(
            private_data_dir=str(request.run_dir),
            project_dir=str(request.ansible_dir),
            playbook=request.playbook,
            inventory=str(request.inventory.resolve()),
            extravars=request.extravars,
            # With `binary` (the namespace wrapper) ansible-runner adds no playbook itself.
            cmdline=shlex.join([*request.cmdline, str(request.ansible_dir / request.playbook)]),
            tags=request.tags,
            limit=request.limit,
            binary=_playbook_binary(request.run_dir, request.in_lab),
            envvars=_envvars(request),
            passwords=passwords,
            ident="ansible",
            event_handler=handle,
            quiet=True,
            suppress_env_files=True,
        )
    return runner.rc, progress
