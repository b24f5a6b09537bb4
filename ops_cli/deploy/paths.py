"""Where the deploy finds the playbook and keeps its wheelhouse and run artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ops_cli.lab.settings import LabSettings


class DeployError(RuntimeError):
    """A problem the operator must fix before a deploy can run (message in Chinese)."""


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def locate(cls) -> Project:
        root = Path(__file__).resolve().parents[2]
        if not (root / "pyproject.toml").is_file() or not (root / "ansible" / "site.yml").is_file():
            raise DeployError("找不到 ansible/site.yml：请在项目源码目录中运行 oa-ops deploy。")
        return cls(root)

    @property
    def ansible_dir(self) -> Path:
        return self.root / "ansible"

    @property
    def work_dir(self) -> Path:
        return self.root / "var" / "deploy"

    @property
    def wheelhouse(self) -> Path:
        return self.work_dir / "wheelhouse"

    @property
    def runs_dir(self) -> Path:
        return self.work_dir / "runs"


def is_lab_inventory(inventory: Path, lab: LabSettings | None = None) -> bool:
    """True when the inventory is the lab's (its folder, or a file in it)."""
    lab = lab or LabSettings.from_env()
    target = inventory.resolve()
    folder = target if target.is_dir() else target.parent
    return folder == lab.inventory_dir.resolve()


def require_inventory(inventory: Path, error: type[Exception] = DeployError) -> bool:
    """The inventory exists (and, for the lab's, the lab is up); returns whether it is the lab's.
    Raises `error` with a Chinese message otherwise."""
    if not inventory.exists():
        raise error(f"主机清单不存在：{inventory}")
    in_lab = is_lab_inventory(inventory)
    if in_lab:
        from ops_cli.lab import lab as lab_core

        if not lab_core.status(LabSettings.from_env(), probe=False).running:
            raise error("lab 未运行：请先执行 oa-ops lab up")
    return in_lab
