"""Settings for the commands: the configured database, or the embedded private cluster."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from app.core.config import Settings, override_settings, settings
from ops_cli.pgcluster import ClusterError, LocalCluster

console = Console()
T = TypeVar("T")
EMBEDDED_ROOT = Path("var/pg")


def embedded_cluster() -> LocalCluster:
    return LocalCluster(EMBEDDED_ROOT)


def install_postgres_if_missing() -> None:
    """On a fresh Debian machine, as root: install Debian's PostgreSQL server."""
    import os

    try:
        from ops_cli.pgcluster import find_bindir

        find_bindir()
        return
    except ClusterError:
        if os.geteuid() != 0:
            raise
    console.print("[yellow]未找到 PostgreSQL 服务端，正在安装 Debian 的 postgresql 软件包…[/]")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)


def resolved_settings(start_embedded: bool = True) -> Settings:
    """The process settings; with no OA_DATABASE_URL configured, the embedded cluster's."""
    cfg = settings()
    if cfg.database_url:
        return cfg
    cluster = embedded_cluster()
    if start_embedded:
        install_postgres_if_missing()
        cluster.ensure()
    cfg = dataclasses.replace(cfg, database_url=cluster.runtime_url,
                              migration_database_url=cluster.owner_url)
    override_settings(cfg)
    return cfg


def open_database(cfg: Settings) -> None:
    from app.core.db import init_database

    init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads, cfg.cpu_threads)


def run_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Open the database, run `fn` as one transaction, close; a domain error (bad input,
    unknown object) ends the command with its Chinese message and exit code 1."""
    from app.core.db import close_database, run_in_transaction
    from app.core.errors import DomainError, ValidationError

    open_database(resolved_settings())
    try:
        return run_in_transaction(fn, *args, **kwargs)
    except DomainError as error:
        details = "；".join(error.fields.values()) if isinstance(error, ValidationError) else ""
        console.print(f"[red]失败：{details or error.message}[/]")
        raise typer.Exit(1) from None
    finally:
        close_database()
