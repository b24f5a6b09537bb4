"""CPU and memory of a group of processes, from /proc (Linux): the platform's workers, or
the PostgreSQL server's backends. CPU is reported in cores (1.0 = one core busy)."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, CPU ticks) of a live process: its own user and system time, and that of its
    children which ended and were reaped (cutime, cstime). So a backend that exits between
    two marks (the pool closes connections older than five minutes) still counts, in its
    parent's figure; without the reaped part a 10-minute step lost most of the database's CPU."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(value) for value in fields[11:15])


def _children(root: int) -> list[int]:
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                by_parent.setdefault(stat[0], []).append(int(entry.name))
    found, queue = [root], [root]
    while queue:
        for child in by_parent.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class ProcessGroup:
    """A root process and all its descendants, re-listed at every mark (backends come and go;
    an ended one's CPU moves to its parent's reaped-children time, see _stat)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._ticks: dict[int, int] = {}
        self._at = time.monotonic()

    @classmethod
    def of_parent(cls, pid: int) -> ProcessGroup:
        return cls(pid)

    @classmethod
    def postgres(cls, data_dir: Path) -> ProcessGroup:
        return cls(int((data_dir / "postmaster.pid").read_text().split()[0]))

    def _sample(self) -> dict[int, int]:
        ticks = {}
        for pid in _children(self.root):
            stat = _stat(pid)
            if stat:
                ticks[pid] = stat[1]
        return ticks

    def mark(self) -> None:
        self._ticks, self._at = self._sample(), time.monotonic()

    def cpu_share(self) -> float:
        """Cores used since the last mark. A process alive at the mark that has ended since is
        in its parent's reaped-children time with ALL its CPU, the part before the mark too:
        that part is taken off (without it a backend that lived through the sign-ins and
        closed during a step brought their CPU into the step's)."""
        now, elapsed = self._sample(), max(1e-6, time.monotonic() - self._at)
        used = sum(t - self._ticks.get(pid, 0) for pid, t in now.items())
        used -= sum(t for pid, t in self._ticks.items() if pid not in now)
        return round(used / TICKS / elapsed, 2)

    def rss_mb(self) -> float:
        total = 0
        for pid in _children(self.root):
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            except OSError:
                continue
        return round(total / 2 ** 20, 1)
