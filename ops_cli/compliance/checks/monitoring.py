"""等保三级 8.1.5.4 集中管控 c) 集中监测 and f) 安全事件识别报警: the exporters on every server,
Prometheus and Alertmanager on the backup (monitoring) server with every target up and the
rules loaded, and alerts delivered to the application's 系统管理员 and 安全管理员."""

from __future__ import annotations

import json
from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

CA_FILE = "/etc/prometheus/tls/ca.crt"  # monitoring_server_tls_dir
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
NODE_SERVICE = {"Debian": "prometheus-node-exporter", "RedHat": "node_exporter"}
POSTGRES_SERVICE = {"Debian": "prometheus-postgres-exporter", "RedHat": "postgres_exporter"}
WEBHOOK_PATH = "/api/alerts/alertmanager"


def _active(ctx: Context, unit: str) -> bool:
    return ctx.run(f"systemctl is-active {unit}").stdout.strip() == "active"


def _series(ctx: Context, port: int, prefix: str) -> int:
    """How many samples of `prefix` the local exporter answers over TLS."""
    out = ctx.run(f"curl -sk https://127.0.0.1:{port}/metrics | grep -c '^{prefix}'").stdout
    return int(out.strip() or 0)


def _api(ctx: Context, params: dict[str, Any], server: str, path: str) -> Any:
    """GET a JSON API of Prometheus or Alertmanager over HTTPS, by this server's address (the
    name its certificate carries), trusting the CA that issued it."""
    port = params.get(f"{server}_port", {"prometheus": PROMETHEUS_PORT,
                                           "alertmanager": ALERTMANAGER_PORT}[server])
    url = f"https://{ctx.var('ansible_host', ctx.host)}:{port}{path}"
    try:
        return json.loads(ctx.run(f"curl -s --max-time 10 --cacert "
                                  f"{params.get('ca_file', CA_FILE)} {url}").stdout)
    except ValueError:
        return None


def _tls_only(ctx: Context, port: int) -> bool:
    """Plain HTTP on the port gets no page (a TLS server answers 400 or drops it)."""
    plain = ctx.run(f"curl -s -o /dev/null -w '%{{http_code}}' "
                    f"http://127.0.0.1:{port}/metrics").stdout.strip()
    return plain != "200"


@check("monitoring.node_exporter")
def node_exporter(ctx: Context, params: dict[str, Any]) -> Verdict:
    """node_exporter runs with the systemd collector and answers over TLS only."""
    unit = NODE_SERVICE.get(ctx.os_family(), NODE_SERVICE["Debian"])
    port = params.get("port", 9100)
    if not _active(ctx, unit):
        return fail(f"{unit} 未运行")
    if _series(ctx, port, "node_systemd_unit_state") == 0:
        return fail("node_exporter 未经 TLS 提供 systemd 单元状态（--collector.systemd / TLS）")
    if not _tls_only(ctx, port):
        return fail("node_exporter 接受明文 HTTP 采集")
    return ok(f"{unit} 运行中，仅 TLS 采集，含 systemd 单元状态")


@check("monitoring.postgres_exporter")
def postgres_exporter(ctx: Context, params: dict[str, Any]) -> Verdict:
    """postgres_exporter runs, is connected (pg_up 1), answers over TLS only, and its login
    holds pg_monitor and no attribute beyond LOGIN."""
    unit = POSTGRES_SERVICE.get(ctx.os_family(), POSTGRES_SERVICE["Debian"])
    port = params.get("port", 9187)
    up = ctx.run(f"curl -sk https://127.0.0.1:{port}/metrics | grep '^pg_up '").stdout.split()
    if not _active(ctx, unit) or up[-1:] != ["1"]:
        return fail(f"{unit} 未运行或连不上数据库（pg_up={up[-1:] or '无'}）")
    if not _tls_only(ctx, port):
        return fail(f"{unit} 接受明文 HTTP 采集")
    role = params["role"]
    rows = ctx.sql("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication"
                   " OR rolbypassrls, pg_has_role(oid, 'pg_monitor', 'MEMBER')"
                   f" FROM pg_roles WHERE rolname = '{role}'", "postgres")
    if rows != [["f", "t"]]:
        return fail(f"监测账户 {role} 不存在、不属于 pg_monitor 或有多余权限：{rows}")
    return ok(f"{unit} 已连接数据库，仅 TLS 采集；账户 {role} 只属于 pg_monitor")


@check("monitoring.server")
def server(ctx: Context, params: dict[str, Any]) -> Verdict:
    """Prometheus and Alertmanager run and answer over HTTPS only; every scrape target is up;
    the rule groups are loaded."""
    stopped = [u for u in params["services"] if not _active(ctx, u)]
    if stopped:
        return fail(f"监控服务未运行：{'、'.join(stopped)}")
    plain = [name for name, port in (
        ("Prometheus", params.get("prometheus_port", PROMETHEUS_PORT)),
        ("Alertmanager", params.get("alertmanager_port", ALERTMANAGER_PORT)))
        if not _tls_only(ctx, port)]
    if plain:
        return fail(f"{'、'.join(plain)} 接受明文 HTTP 访问")
    targets = _api(ctx, params, "prometheus", "/api/v1/targets?state=active")
    if not targets:
        return fail("Prometheus 的 HTTPS 接口无应答（或证书不受信任）")
    active = targets["data"]["activeTargets"]
    down = [f"{t['labels'].get('job')}/{t['labels'].get('instance')}：{t['lastError'][:80]}"
            for t in active if t["health"] != "up"]
    jobs = {t["labels"].get("job") for t in active}
    missing = sorted(set(params["jobs"]) - jobs)
    if down or missing:
        return fail(f"采集异常：{'；'.join(down) or '无'}；缺少采集任务：{missing or '无'}")
    rules = (_api(ctx, params, "prometheus", "/api/v1/rules?type=alert")
             or {"data": {"groups": []}})
    count = sum(len(g["rules"]) for g in rules["data"]["groups"])
    if count < params.get("min_rules", 1):
        return fail(f"只加载了 {count} 条告警规则")
    return ok(f"Prometheus、Alertmanager 仅经 HTTPS 访问；{len(active)} 个采集目标全部正常"
              f"（{'、'.join(sorted(jobs))}）；{count} 条告警规则")


@check("monitoring.alert_delivery")
def alert_delivery(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The security-event rules (e.g. failed-login bursts) are loaded and healthy, and
    Alertmanager delivers to the application's webhook with a token."""
    rules = _api(ctx, params, "prometheus", "/api/v1/rules?type=alert")
    if not rules:
        return fail("Prometheus 的 HTTPS 接口无应答（或证书不受信任）")
    loaded = {r["name"]: r.get("health") for g in rules["data"]["groups"] for r in g["rules"]}
    absent = [name for name in params["alerts"] if loaded.get(name) != "ok"]
    if absent:
        return fail(f"安全事件告警规则缺失或出错：{'、'.join(absent)}")
    status = _api(ctx, params, "alertmanager", "/api/v2/status")
    original = (status or {}).get("config", {}).get("original", "")
    if WEBHOOK_PATH not in original:
        return fail("Alertmanager 未配置向应用推送告警（webhook）")
    token = ctx.run(f"test -s {params['token_file']} && echo set").stdout.strip()
    if token != "set":
        return fail(f"告警推送令牌 {params['token_file']} 为空")
    return ok(f"告警规则 {'、'.join(params['alerts'])} 已加载；告警推送到应用（{WEBHOOK_PATH}）")


@check("monitoring.app_webhook")
def app_webhook(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The application accepts alerts (its webhook token is set) and counts failed logins."""
    length = ctx.run("awk -F' = ' '/^alert_webhook_token/ {print length($2)}' "
                     f"{params.get('config', '/etc/oa/oa.conf')}").stdout.strip()
    if not length or int(length.splitlines()[0]) < params.get("min_token_length", 32):
        return fail("应用未配置足够长的告警接口令牌（alert_webhook_token）")
    code = ctx.run("curl -sk -o /dev/null -w '%{http_code}' -X POST "
                   f"https://127.0.0.1{WEBHOOK_PATH}").stdout.strip()
    if code != "403":
        return fail(f"无令牌的告警推送未被拒绝（HTTP {code}）")
    return ok(f"告警接口令牌已配置（{length} 位），无令牌的推送被拒绝")
