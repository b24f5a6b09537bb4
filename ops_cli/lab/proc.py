"""Running commands and the lab's long-lived processes.

Every command is an argument list (never a shell string). Long-lived processes (tinyproxy, the
socat relays, systemd-nspawn) are detached with a double fork in a fresh helper interpreter, so
they belong to no terminal, outlive `oa-ops`, and are re-parented to PID 1 at once. Each one is
remembered by its PID *and* its kernel start time, so `down` never signals a recycled PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class LabError(RuntimeError):
    """An error with a message meant for the operator (in Chinese)."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = 120,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, and raise LabError with its stderr if it fails."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"找不到命令 {argv[0]}：请先运行 scripts/install-lab-deps.sh") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"命令超时（{timeout} 秒）：{' '.join(argv)}") from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise LabError(f"命令失败（退出码 {result.returncode}）：{' '.join(argv)}\n{detail}")
    return result


# Runs in a fresh, single-threaded interpreter: fork-safe whatever threads `oa-ops` has (rich
# starts a refresh thread). It starts a new session, forks, prints the grandchild's PID and exits,
# so the daemon is orphaned (re-parented to PID 1) before `oa-ops` continues.
_SPAWN_HELPER = """
import os, sys
log = sys.argv[1]
argv = sys.argv[2:]
os.setsid()
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.closerange(3, 65536)
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    os.write(2, f"exec {argv[0]}: {exc}\\n".encode())
    os._exit(127)
"""


@dataclass(frozen=True)
class ProcRecord:
    """A process the lab started: enough to find it again, and only it."""

    name: str
    pid: int
    start_time: int
    argv: list[str]
    log: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcRecord:
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            argv=[str(a) for a in data["argv"]],
            log=str(data["log"]),
        )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after the last ')' is fixed.
    return raw[raw.rindex(")") + 2 :].split()


def start_time_of(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(rec: ProcRecord) -> bool:
    """True when the recorded process still runs (same PID, same start time, not a zombie)."""
    fields = _stat_fields(rec.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == rec.start_time


def children_of(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (a scan of /proc: no CONFIG_PROC_CHILDREN needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def record_of(name: str, pid: int, argv: Sequence[str], log: str = "") -> ProcRecord | None:
    start = start_time_of(pid)
    if start is None:
        return None
    return ProcRecord(name=name, pid=pid, start_time=start, argv=list(argv), log=log)


def spawn(name: str, argv: Sequence[str], log: Path) -> ProcRecord:
    """Start a detached process that logs to `log`; return its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    helper = run([sys.executable, "-c", _SPAWN_HELPER, str(log), *argv], timeout=30)
    pid = int(helper.stdout.strip())
    start = start_time_of(pid)
    if start is None:
        raise LabError(f"进程 {name} 启动后立即退出，请查看日志 {log}")
    return ProcRecord(name=name, pid=pid, start_time=start, argv=list(argv), log=str(log))


def wait_exit(rec: ProcRecord, timeout: float) -> bool:
    """Wait until the process is gone; True if it went within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(rec):
            return True
        time.sleep(0.1)
    return not is_alive(rec)


def stop(rec: ProcRecord, *, sig: int = signal.SIGTERM, grace: float = 15) -> None:
    """Stop a recorded process: `sig`, then SIGKILL after `grace` seconds. Never another PID."""
    if not is_alive(rec):
        return
    try:
        os.kill(rec.pid, sig)
    except ProcessLookupError:
        return
    if wait_exit(rec, grace):
        return
    if is_alive(rec):
        os.kill(rec.pid, signal.SIGKILL)
        if not wait_exit(rec, 10):
            raise LabError(f"无法结束进程 {rec.name}（PID {rec.pid}）")
