"""等保三级 8.1.4.9 备份与恢复: the schedules are enabled, the last run of each kind succeeded
recently (read from the metrics the backup program writes), the clients' keys can only append,
and WAL streams to the backup server."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def _timers_off(ctx: Context, timers: list[str]) -> list[str]:
    off = []
    for timer in timers:
        enabled = ctx.run(f"systemctl is-enabled {timer}").stdout.strip()
        active = ctx.run(f"systemctl is-active {timer}").stdout.strip()
        if enabled != "enabled" or active != "active":
            off.append(f"{timer}：{enabled or '不存在'}/{active}")
    return off


def _metric(text: str, name: str, kind: str) -> float | None:
    found = re.search(rf'^{name}{{kind="{kind}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


@check("backup.last_run")
def last_run(ctx: Context, params: dict[str, Any]) -> Verdict:
    """Timers enabled; each kind's last run succeeded within max_age_hours (a host deployed
    since its first scheduled time passes with the next run named)."""
    off = _timers_off(ctx, params["timers"])
    if off:
        return fail(f"备份定时任务未启用：{'；'.join(off)}")
    max_age = float(params.get("max_age_hours", 26)) * 3600
    seen = []
    for kind in params["kinds"]:
        text = ctx.run(f"cat {TEXTFILE_DIR}/oa_backup_{kind}.prom").stdout
        success = _metric(text, "oa_backup_last_run_success", kind)
        if success is None:
            timer = f"oa-backup-{kind.replace('_', '-')}.timer"
            nxt = ctx.run(f"systemctl show -P NextElapseUSecRealtime {timer}").stdout.strip()
            seen.append(f"{kind}：尚未运行（首次计划 {nxt or '未知'}）")
            continue
        last_ok = _metric(text, "oa_backup_last_success_timestamp_seconds", kind) or 0
        if success != 1:
            return fail(f"{kind} 最近一次备份失败（上次成功 {_age(last_ok)}）")
        if time.time() - last_ok > max_age:
            return fail(f"{kind} 上次成功备份已是 {_age(last_ok)}，超过 {max_age / 3600:.0f} 小时")
        seen.append(f"{kind}：{_age(last_ok)}成功")
    return ok("定时任务已启用；" + "；".join(seen))


def _age(timestamp: float) -> str:
    if not timestamp:
        return "从未"
    return f"{(time.time() - timestamp) / 3600:.1f} 小时前"


@check("backup.remote_repository")
def remote_repository(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The client writes to the backup server over SSH, trusting only its host key."""
    text = ctx.run("cat /etc/oa-backup/oa-backup.json").stdout
    try:
        repo = json.loads(text)["repo"]
    except (ValueError, KeyError):
        return fail("没有备份客户端配置 /etc/oa-backup/oa-backup.json")
    if not repo["url"].startswith("ssh://") or "StrictHostKeyChecking=yes" not in repo.get(
            "ssh_command", ""):
        return fail(f"备份仓库不在备份服务器上或未校验其主机密钥：{repo['url']}")
    return last_run(ctx, params) if params.get("kinds") else ok(f"异地仓库 {repo['url']}")


@check("backup.append_only")
def append_only(ctx: Context, params: dict[str, Any]) -> Verdict:
    """Every key of the borg account is forced to append-only borg serve of one repository;
    pruning, compaction and checks are scheduled here."""
    keys = [line for line in ctx.run(f"cat {params['home']}/.ssh/authorized_keys").stdout
            .splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        return fail("备份服务器上没有客户端密钥")
    loose = [k[:60] for k in keys if not re.match(
        r'command="borg serve --append-only --restrict-to-path \S+",restrict ', k)]
    if loose:
        return fail(f"未限定为 append-only 的密钥：{loose}")
    off = _timers_off(ctx, params["timers"])
    if off:
        return fail(f"定时任务未启用：{'；'.join(off)}")
    return ok(f"{len(keys)} 个客户端密钥均只能追加写入各自仓库；清理、压缩、检查已计划")


@check("backup.wal_streaming")
def wal_streaming(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The backup server's slot is active and its receiver holds back little WAL."""
    rows = ctx.sql("SELECT s.active, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                   "r.flush_lsn), -1)::bigint FROM pg_replication_slots s LEFT JOIN "
                   "pg_stat_replication r ON r.pid = s.active_pid "
                   f"WHERE s.slot_name = '{params['slot']}'", database="postgres")
    if not rows:
        return fail(f"没有复制槽 {params['slot']}")
    active, lag = rows[0][0] == "t", int(rows[0][1])
    if not active:
        return fail(f"复制槽 {params['slot']} 未被使用：WAL 没有流向备份服务器")
    if lag < 0 or lag > int(params.get("max_lag_bytes", 16 * 1024 * 1024)):
        return fail(f"WAL 流复制滞后 {lag} 字节")
    return ok(f"WAL 实时流向备份服务器（复制槽 {params['slot']}，滞后 {lag} 字节）")
