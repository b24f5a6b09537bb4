"""oa-ops: deploy, operate and audit the office platform from one command."""

from __future__ import annotations

import typer

from ops_cli.runtime import console, open_database, resolved_settings

app = typer.Typer(
    help="公安局办公平台运维命令：本地运行、数据库迁移、用户、审计、实验环境与部署。",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="数据库：迁移与状态。", no_args_is_help=True)
demo_app = typer.Typer(help="演示数据。", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")


def _features():
    from app.features import installed_features

    return installed_features()


@db_app.command("migrate")
def db_migrate() -> None:
    """执行所有尚未执行的数据库迁移（只进不退，可重复执行）。"""
    from app.core.migrations import migrate

    cfg = resolved_settings()
    applied = migrate(cfg.owner_database_url, _features(), cfg.db_runtime_role)
    for migration in applied:
        console.print(f"  [green]✓[/] {migration.feature}/{migration.path.name}")
    console.print(f"数据库迁移完成：本次执行 {len(applied)} 个迁移。")


@db_app.command("status")
def db_status() -> None:
    """列出尚未执行的迁移。"""
    from app.core.migrations import pending

    cfg = resolved_settings()
    waiting = pending(cfg.owner_database_url, _features())
    if not waiting:
        console.print("[green]数据库结构已是最新。[/]")
        return
    for migration in waiting:
        console.print(f"  待执行：{migration.feature}/{migration.path.name}")
    raise typer.Exit(1)


@demo_app.command("load")
def demo_load() -> None:
    """载入演示数据（部门、人员、角色等；已存在的不重复创建）。"""
    from app.core.db import close_database, run_in_transaction
    from app.core.features import ordered

    cfg = resolved_settings()
    open_database(cfg)
    try:
        for feature in ordered(_features()):
            if feature.demo is not None:
                run_in_transaction(feature.demo)
                console.print(f"  [green]✓[/] {feature.title}")
    finally:
        close_database()  # no pool or thread may outlive this before `serve` forks
    console.print("演示数据已就绪。")


@app.command("serve")
def serve(
    port: int = typer.Option(None, help="监听端口（默认 OA_PORT 或 8888）"),
    workers: int = typer.Option(None, help="进程数（默认每个 CPU 核一个）"),
) -> None:
    """启动 Web 服务（多进程）。"""
    import dataclasses

    from app.core.config import override_settings
    from app.core.logs import configure_logging
    from app.core.server import prepare_metrics_dir

    cfg = resolved_settings()
    changes = {k: v for k, v in {"port": port, "workers": workers}.items() if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    override_settings(cfg)
    configure_logging()
    prepare_metrics_dir(cfg)
    from app.core.server import ServeError
    from app.core.server import serve as serve_forever

    console.print(f"[bold green]服务地址：http://{cfg.host}:{cfg.port}[/]")
    try:
        serve_forever(cfg)
    except ServeError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


@app.command("run")
def run() -> None:
    """一键本地运行：准备内置数据库、迁移、载入演示数据，然后启动服务。"""
    db_migrate()
    demo_load()
    serve(port=None, workers=None)


def _register_command_groups() -> None:
    from ops_cli import audit_cmd, deploy, org_cmd, user_cmd
    from ops_cli.lab.cli import lab_app

    app.add_typer(org_cmd.app, name="org")
    app.add_typer(user_cmd.app, name="user")
    app.add_typer(audit_cmd.app, name="audit")
    app.add_typer(lab_app, name="lab")
    deploy.register(app)
    from ops_cli.compliance.cli import app as compliance_app

    app.add_typer(compliance_app, name="compliance")
    from ops_cli.backup import cli as backup_cli

    backup_cli.register(app)


_register_command_groups()


def main() -> None:
    """The console script: known operational errors end with a Chinese message, not a trace."""
    import peewee
    import psycopg2

    from app.core.migrations import MigrationError
    from ops_cli.pgcluster import ClusterError

    try:
        app()
    except (ClusterError, MigrationError) as exc:
        console.print(f"[red]错误：{exc}[/]")
        raise SystemExit(1) from None
    except (psycopg2.OperationalError, peewee.OperationalError) as exc:
        console.print(f"[red]无法连接数据库：{str(exc).strip()}[/]")
        console.print("请检查 OA_DATABASE_URL / OA_MIGRATION_DATABASE_URL 与数据库服务状态。")
        raise SystemExit(1) from None
