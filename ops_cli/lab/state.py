"""The lab's state file: what `up` made, so that `down` removes exactly that and nothing else."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.files import write_atomically

from .proc import LabError, ProcRecord


@dataclass
class LabState:
    subnet: str = ""
    netns: list[str] = field(default_factory=list)
    processes: dict[str, ProcRecord] = field(default_factory=dict)
    # True when `up` found /run/netns not yet a mount point: `ip netns add` then made that bind
    # mount, and `down` unmounts it again once no namespace is left in it.
    made_run_netns_mount: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "subnet": self.subnet,
            "netns": self.netns,
            "processes": {k: v.to_dict() for k, v in self.processes.items()},
            "made_run_netns_mount": self.made_run_netns_mount,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabState:
        procs: dict[str, dict[str, Any]] = data.get("processes") or {}
        return cls(
            subnet=str(data.get("subnet", "")),
            netns=[str(n) for n in data.get("netns") or []],
            processes={k: ProcRecord.from_dict(v) for k, v in procs.items()},
            made_run_netns_mount=bool(data.get("made_run_netns_mount", False)),
        )

    def is_empty(self) -> bool:
        return not self.netns and not self.processes


def load(path: Path) -> LabState:
    if not path.exists():
        return LabState()
    try:
        return LabState.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"lab 状态文件损坏：{path}（{exc}）") from exc


def save(path: Path, state: LabState) -> None:
    """Write atomically, so a crash never leaves half a state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(state.to_dict(), indent=2, ensure_ascii=False).encode(),
                     mode=0o644)


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Serialise `up`/`down` runs (two pytest sessions, an operator and a test...)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(state_dir / "lab.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # another run busy: wait for it
        yield
