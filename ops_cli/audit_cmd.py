"""oa-ops audit: verify the tamper-evident audit trail, export it."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import tempfile
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ops_cli.runtime import console, open_database, resolved_settings

app = typer.Typer(help="安全审计：校验审计日志哈希链、导出审计日志。", no_args_is_help=True)


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@app.command("verify")
def verify(batch_size: int = typer.Option(5000, min=100, max=100_000,
                                          help="每批读取的记录数")) -> None:
    """逐条校验审计日志哈希链：完整时退出码为 0，否则为 1 并指出第一条异常记录。"""
    from app.audit.chain import read_head, verify_chain
    from app.core.db import close_database, run_in_transaction

    open_database(resolved_settings())
    try:
        head = run_in_transaction(read_head)
        total = max(0, head.last_id - head.anchor_id)
        with _progress() as progress:
            task = progress.add_task("校验审计日志", total=total)
            result = run_in_transaction(
                verify_chain, batch_size=batch_size,
                progress=lambda n: progress.advance(task, n))
            progress.update(task, completed=result.checked)
    finally:
        close_database()
    if head.anchor_id:
        console.print(f"链起点：编号 {head.anchor_id} 之前的记录已归档（锚点哈希 "
                      f"{head.anchor_hash[:16]}…）。")
    if result.ok:
        console.print(f"[bold green]✓ {result.message}[/]", soft_wrap=True)
        return
    console.print(f"[bold red]✗ {result.message}[/]", soft_wrap=True)
    console.print(f"请立即保全数据库并上报安全管理员；可用 [bold]oa-ops audit export[/] "
                  f"导出编号 {result.first_bad_id} 附近的记录核查。", soft_wrap=True)
    raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                    transient=False)


def _date(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"应为日期，格式如 2026-11-24：{value}",
                                 param_hint=option) from None


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="输出文件（写完后原子替换）"),
    since: str = typer.Option(None, "--since", help="开始日期（本地日期，含当天），如 2026-11-01"),
    until: str = typer.Option(None, "--until", help="结束日期（本地日期，含当天），如 2026-11-30"),
    file_format: ExportFormat = typer.Option(None, "--format",
                                             help="csv 或 xlsx（默认按文件扩展名）"),
) -> None:
    """按日期范围导出审计日志（CSV 含 BOM，Excel 可直接打开；或 XLSX）。导出本身也记入审计。"""
    from app.audit.service import AuditQuery
    from app.core.db import close_database, run_in_transaction
    from app.core.errors import ValidationError

    chosen = file_format or (ExportFormat.xlsx if out.suffix.lower() == ".xlsx"
                             else ExportFormat.csv)
    try:
        query = AuditQuery(since=_date(since, "--since"), until=_date(until, "--until"))
    except ValidationError as error:
        raise typer.BadParameter("；".join(error.fields.values())) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    open_database(resolved_settings())
    try:
        # The file is renamed into place only once the export's audit record has committed.
        count = run_in_transaction(_export_to_file, query, chosen, Path(temporary), out)
        os.chmod(temporary, 0o600)
        os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)
        close_database()
    console.print(f"[green]✓[/] 已导出 {count} 条审计记录到 {out}")


def _export_to_file(query, file_format: ExportFormat, temporary: Path, out: Path) -> int:
    """Stream the matching rows into `temporary` and record the export in the trail."""
    from app.audit import export as files
    from app.audit.service import iter_events, record
    from app.core.context import RequestContext

    if file_format == ExportFormat.csv:
        with temporary.open("w", encoding="utf-8", newline="") as stream:
            count = files.write_csv(iter_events(query), stream)
    else:
        count = files.write_xlsx(iter_events(query), temporary)
    ctx = RequestContext(principal=None, ip="127.0.0.1", request_id="oa-ops",
                         user_agent="oa-ops audit export")
    record(ctx, "audit.export", object_type="audit_event",
           details={"via": "oa-ops", "os_user": _os_user(), "format": str(file_format),
                    "filters": query.as_details(), "rows": count, "file": str(out)})
    return count


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
