"""The servers of an inventory for the backup commands: plain SSH (streams between hosts, long
commands), using the compliance checker's inventory reading and SSH configuration."""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops_cli.compliance.hosts import InventoryHost, read_inventory, require_inventory, ssh_config

AGENT = "/usr/local/sbin/oa-backup"


class RemoteError(RuntimeError):
    """A command on a server failed (message in Chinese)."""


@dataclass
class Fleet:
    """The inventory's servers and an ssh_config to reach them."""

    inventory: Path
    hosts: list[InventoryHost]
    config: Path
    workdir: tempfile.TemporaryDirectory[str]

    @classmethod
    def open(cls, inventory: Path) -> Fleet:
        in_lab = require_inventory(inventory)
        hosts = read_inventory(inventory)
        workdir = tempfile.TemporaryDirectory(prefix="oa-backup-")
        config = ssh_config(hosts, in_lab, Path(workdir.name) / "ssh_config")
        return cls(inventory, hosts, config, workdir)

    def close(self) -> None:
        self.workdir.cleanup()

    def group(self, name: str) -> list[InventoryHost]:
        return [h for h in self.hosts if name in h.groups]

    def named(self, name: str) -> InventoryHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise RemoteError(f"主机清单中没有主机 {name}")

    def backup_server(self) -> InventoryHost:
        servers = self.group("backupservers")
        if not servers:
            raise RemoteError("主机清单中没有备份服务器（backupservers 组）")
        return servers[0]

    def clients(self) -> list[InventoryHost]:
        seen = self.group("dbservers") + self.group("appservers")
        return [h for i, h in enumerate(seen) if h not in seen[:i]]

    def command(self, host: InventoryHost, command: str) -> list[str]:
        remote = command if host.user == "root" else f"sudo -n sh -c {shlex.quote(command)}"
        return ["ssh", "-F", str(self.config), "-o", "BatchMode=yes", host.name, remote]

    def run(self, host: InventoryHost, command: str, timeout: float = 3600,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.command(host, command), capture_output=True, text=True,
                                check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise RemoteError(f"{host.name}：{command.split()[0]} 失败（{result.returncode}）："
                              f"{_tail(result.stderr or result.stdout)}")
        return result

    def agent(self, host: InventoryHost, *args: str, timeout: float = 3600) -> Any:
        """Run the backup program on a server; its last stdout line is JSON."""
        return _last_json(self.run(host, shlex.join([AGENT, *args]), timeout=timeout).stdout)

    def pipe(self, source: InventoryHost, source_cmd: str, sink: InventoryHost,
             sink_cmd: str, timeout: float = 3600) -> Any:
        """source_cmd's stdout into sink_cmd's stdin, through this controller; sink_cmd's answer
        (its last stdout line, JSON)."""
        producer = subprocess.Popen(self.command(source, source_cmd), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        consumer = subprocess.run(self.command(sink, sink_cmd), stdin=producer.stdout,
                                  capture_output=True, text=True, check=False, timeout=timeout)
        producer.stdout.close()  # type: ignore[union-attr]
        _, err = producer.communicate(timeout=timeout)
        if producer.returncode != 0:
            raise RemoteError(f"{source.name}：{_tail(err.decode(errors='replace'))}")
        if consumer.returncode != 0:
            raise RemoteError(f"{sink.name}：{_tail(consumer.stderr)}")
        return _last_json(consumer.stdout)


def _last_json(stdout: str) -> Any:
    """The backup program answers with one JSON line, its last."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def _tail(text: str) -> str:
    return text.strip()[-600:] or "（无输出）"
