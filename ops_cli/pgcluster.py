"""A private PostgreSQL cluster under a folder of ours: the embedded default of `make run`
and the throwaway database of the tests. Listens only on its own unix socket directory."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

OWNER_ROLE = "oa_owner"
RUNTIME_ROLE = "oa_app"


class ClusterError(RuntimeError):
    pass


def find_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists():
            return bindir
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ClusterError(
        "未找到 PostgreSQL 服务端（initdb）。请以 root 运行 `make run`（将自动安装 Debian 的 "
        "postgresql 软件包），或手动执行：apt-get install postgresql"
    )


def _run_as() -> str | None:
    """initdb refuses root: as root, the cluster belongs to the `postgres` account."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError(
            "以 root 运行时需要系统账户 postgres（安装 postgresql 软件包即有）"
        ) from None
    return "postgres"


@dataclass
class LocalCluster:
    root: Path
    port: int = 55432
    database: str = "oa"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "postgresql.log"

    def url(self, role: str, database: str | None = None) -> str:
        return (f"postgresql://{role}@/{database or self.database}"
                f"?host={self.sockets.resolve()}&port={self.port}")

    @property
    def owner_url(self) -> str:
        return self.url(OWNER_ROLE)

    @property
    def runtime_url(self) -> str:
        return self.url(RUNTIME_ROLE)

    # ---- commands -----------------------------------------------------------------------
    def _cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = _run_as()
        command = list(args)
        if user:
            command = ["runuser", "-u", user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(args[:2])} 失败：{result.stderr.strip()[-800:]}")
        return result

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        user = _run_as()
        if user:
            entry = pwd.getpwnam(user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # the postgres account must be able to reach the folder
            for parent in self.root.resolve().parents:
                if parent.stat().st_mode & 0o001 == 0:
                    raise ClusterError(f"postgres 账户无法进入目录 {parent}（缺少 o+x 权限）")

    def initialise(self) -> bool:
        if (self.data / "PG_VERSION").exists():
            return False
        self._prepare_dirs()
        bindir = find_bindir()
        self._cmd(str(bindir / "initdb"), "-D", str(self.data.resolve()), "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject", "-U", "postgres")
        settings = (
            "listen_addresses = ''\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.sockets.resolve()}'\n"
            "unix_socket_permissions = 0770\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
            "fsync = on\n"
            "log_min_duration_statement = 1000\n"
            "timezone = 'UTC'\n"
        )
        with open(self.data / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
            handle.write(settings)
        return True

    def is_running(self) -> bool:
        bindir = find_bindir()
        return self._cmd(str(bindir / "pg_ctl"), "status", "-D", str(self.data.resolve()),
                         check=False).returncode == 0

    def start(self, *settings: str) -> None:
        """Start unless running; `settings` ("name=value") apply to this start only."""
        if self.is_running():
            return
        bindir = find_bindir()
        options = ["-o", " ".join(f"-c {s}" for s in settings)] if settings else []
        self._cmd(str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D",
                  str(self.data.resolve()), "-l", str(self.logfile.resolve()), *options)

    def stop(self) -> None:
        if self.data.exists() and self.is_running():
            bindir = find_bindir()
            self._cmd(str(bindir / "pg_ctl"), "stop", "-m", "fast", "-w", "-D",
                      str(self.data.resolve()))

    def psql(self, sql: str, database: str = "postgres") -> str:
        bindir = find_bindir()
        result = self._cmd(str(bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-h", str(self.sockets.resolve()), "-p", str(self.port),
                           "-U", "postgres", "-d", database, "-c", sql)
        return result.stdout.strip()

    def ensure_database(self, database: str | None = None) -> None:
        """Roles and database, created once: the owner runs migrations, the runtime role
        gets only what the migrations grant it."""
        name = database or self.database
        for role in (OWNER_ROLE, RUNTIME_ROLE):
            if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
                self.psql(f'CREATE ROLE "{role}" LOGIN')
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.psql(f'CREATE DATABASE "{name}" OWNER "{OWNER_ROLE}"')
            self.psql(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            self.psql(f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO "{RUNTIME_ROLE}"')
            self.psql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", database=name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def ensure(self) -> None:
        self.initialise()
        self.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.psql("SELECT 1")
                break
            except ClusterError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.ensure_database()
