"""oa-ops org: the organisation from the server console — above all, the first department on a
fresh database, so that `oa-ops user create` has somewhere to put the first administrator."""

from __future__ import annotations

from typing import Any

import typer

from ops_cli.runtime import console, run_transaction

app = typer.Typer(help="组织机构：在服务器控制台创建与查看部门（均记入审计日志）。",
                  no_args_is_help=True)
department_app = typer.Typer(help="部门。", no_args_is_help=True)
app.add_typer(department_app, name="department")


def _console_ctx() -> Any:
    """Whoever holds the server's credentials acts with the 系统管理员's organisation duty."""
    import getpass

    from app.core.context import Principal, RequestContext
    from app.core.features import Scope

    principal = Principal(user_id=0, username="console", name="服务器控制台", department_id=None,
                          session_id="", permissions={"org.manage": Scope.ALL})
    return RequestContext(principal=principal, ip="cli", request_id="oa-ops-org",
                          user_agent=f"oa-ops ({getpass.getuser()})")


@department_app.command("create")
def create(
    name: str = typer.Argument(..., help="部门名称，如 X市公安局"),
    parent: str = typer.Option("", help="上级部门名称或编号（留空为顶级）"),
    doc_code: str = typer.Option("", "--doc-code",
                                 help="机关代字，如 X公（用于 X公发〔2026〕7号）"),
    short_name: str = typer.Option("", "--short-name", help="简称"),
) -> None:
    """新建部门。全新数据库上先建顶级机关，再用 oa-ops user create 建第一位管理员。"""
    from app.org import service

    def work() -> dict[str, Any]:
        ctx = _console_ctx()
        parent_id = _department_id(parent) if parent else None
        return service.create_department(ctx, {"name": name, "parent_id": parent_id,
                                               "doc_code": doc_code, "short_name": short_name})

    created = run_transaction(work)
    console.print(f"[green]已新建部门：{created['name']}（编号 {created['id']}）[/]")


@department_app.command("list")
def list_departments() -> None:
    """列出全部部门（树形）。"""
    from app.org import service

    tree = run_transaction(lambda: service.department_tree(_console_ctx(), include_disabled=True))
    for line in _tree_lines(tree, 0):
        console.print(line)
    if not tree:
        console.print("尚无部门。先执行：oa-ops org department create \"X市公安局\" --doc-code X公")


def _tree_lines(nodes: list[dict[str, Any]], depth: int) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        code = f"  代字 {node['doc_code']}" if node.get("doc_code") else ""
        state = "" if node.get("active", True) else "  [已停用]"
        lines.append(f"{'  ' * depth}{node['id']:>4}  {node['name']}{code}{state}")
        lines.extend(_tree_lines(node.get("children", []), depth + 1))
    return lines


def _department_id(reference: str) -> int:
    from app.core.errors import ValidationError
    from app.org.models import Department

    if reference.isdigit():
        return int(reference)
    found = list(Department.select(Department.id).where(Department.name == reference))
    if len(found) != 1:
        message = "未找到该上级部门" if not found else "有多个同名部门，请改用部门编号"
        raise ValidationError({"parent": message})
    return found[0].id
