"""The wheelhouse: the project's wheel and its pinned dependencies, built on the controller.

The app servers have no internet: they install with `pip install --no-index --find-links`.
The dependencies are fetched as binary wheels for the servers' platform (CPython 3.11,
x86-64, glibc 2.28 or newer: Debian 12, RHEL 8 and 9), not the controller's. Both parts are
cached by content hash, so an unchanged project deploys the very same files again (no change
on the hosts) and a re-deploy needs no network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ops_cli.deploy.paths import DeployError, Project

TARGET_PYTHON = "3.11"
TARGET_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64",
                    "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64")
SOURCE_PARTS = ("pyproject.toml", "app", "ops_cli")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SOURCE_DATE_EPOCH = "1700000000"  # fixed timestamps inside the wheel


def _source_files(root: Path) -> Iterable[Path]:
    for part in SOURCE_PARTS:
        path = root / part
        if path.is_file():
            yield path
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if not name.endswith((".pyc", ".pyo")):
                    yield Path(dirpath) / name


def source_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _run(command: list[str], cwd: Path | None = None) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise DeployError(f"构建 wheelhouse 失败：{' '.join(command[:4])} …\n{tail}")


def _build_project_wheel(root: Path, into: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="oa-wheel-") as tmp:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp, str(root)])
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise DeployError(f"构建项目 wheel 时得到 {len(wheels)} 个文件")
        target = into / wheels[0].name
        shutil.move(str(wheels[0]), target)
        return target


def _download_dependencies(project_wheel: Path, into: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
               "--python-version", TARGET_PYTHON, "--implementation", "cp", "-d", str(into)]
    for platform in TARGET_PLATFORMS:
        command += ["--platform", platform]
    _run([*command, str(project_wheel)])


def build(project: Project, say: Callable[[str], None], reuse: bool = False) -> Path:
    """The up-to-date wheelhouse folder (rebuilt only when the sources changed); with `reuse`,
    the last one built, as it is."""
    house = project.wheelhouse
    stamp = house / ".source-hash"
    if reuse:
        if not any(house.glob("*.whl")):
            raise DeployError("还没有构建过 wheelhouse：请去掉 --reuse-wheelhouse 再运行。")
        say("按要求原样使用上次构建的 wheelhouse。")
        return house
    wanted = source_hash(project.root)
    if stamp.is_file() and stamp.read_text().strip() == wanted and any(house.glob("*.whl")):
        say("wheelhouse 已是最新（源码未变），直接复用。")
        return house
    say("构建 wheelhouse：项目 wheel 与锁定版本的依赖（目标：CPython 3.11 / x86-64）…")
    project.work_dir.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=project.work_dir))
    try:
        wheel = _build_project_wheel(project.root, fresh)
        _download_dependencies(wheel, fresh)
        (fresh / ".source-hash").write_text(wanted + "\n")
        shutil.rmtree(house, ignore_errors=True)
        fresh.rename(house)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    say(f"wheelhouse 就绪：{len(list(house.glob('*.whl')))} 个 wheel。")
    return house
