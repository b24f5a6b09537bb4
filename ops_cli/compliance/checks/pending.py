"""Controls whose enforcement is a later issue's: the check looks for what would enforce them
and reports plainly that they are not yet enforced (the runner marks them "pending")."""

from __future__ import annotations

from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail


def _units(ctx: Context, pattern: str) -> list[str]:
    out = ctx.run(f"systemctl list-unit-files --no-legend '{pattern}'").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@check("pending.backup")
def backup(ctx: Context, params: dict[str, Any]) -> Verdict:
    units = _units(ctx, "oa-backup*") + _units(ctx, "oa-wal-receiver*")
    found = "；已有备份单元：" + ", ".join(units) if units else "；主机上没有备份单元"
    return fail("尚未实施：热冗余需要第二台（热备）服务器，本平台未提供；"
                "备份（issue 6）只提供异地实时 WAL 归档与实测的快速恢复" + found)


@check("pending.monitoring")
def monitoring(ctx: Context, params: dict[str, Any]) -> Verdict:
    units = _units(ctx, "prometheus*")
    found = "，已有单元：" + ", ".join(units) if units else "，主机上没有 exporter"
    return fail("尚未实施：监控角色（issue 6）还没有加入 site.yml" + found)
