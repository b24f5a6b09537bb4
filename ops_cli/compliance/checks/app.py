"""Checks of the application: its effective settings (read through its own configuration code
on the app server, secrets never printed), its CLI (`oa-ops audit verify`) and its tables."""

from __future__ import annotations

import json
import shlex
from typing import Any

from ops_cli.app_units import APP_TARGET, worker_port, worker_units
from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

VENV = "/opt/oa/venv"
SECRET_KEYS = ("cookie_secret", "database_url", "migration_database_url", "extra")
SETTINGS_SCRIPT = (
    "import dataclasses, json; from app.core.config import load_settings; "
    "s = dataclasses.asdict(load_settings()); "
    f"print(json.dumps({{k: v for k, v in s.items() if k not in {SECRET_KEYS!r}}}))"
)


def _settings(ctx: Context) -> dict[str, Any]:
    result = ctx.run(f"{VENV}/bin/python -c {shlex.quote(SETTINGS_SCRIPT)}")
    if result.rc != 0:
        return {}
    return json.loads(result.stdout)


@check("app.settings")
def settings(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(ctx)
    if not values:
        return fail("无法读取应用配置（/etc/oa/oa.conf）")
    problems, shown = [], []
    for key, limit in (params.get("min") or {}).items():
        shown.append(f"{key}={values.get(key)}")
        if values.get(key) is None or values[key] < limit:
            problems.append(f"{key}={values.get(key)} < {limit}")
    for key, limit in (params.get("max") or {}).items():
        shown.append(f"{key}={values.get(key)}")
        if values.get(key) is None or values[key] > limit:
            problems.append(f"{key}={values.get(key)} > {limit}")
    for key, wanted in (params.get("equal") or {}).items():
        shown.append(f"{key}={values.get(key)}")
        if values.get(key) != wanted:
            problems.append(f"{key}={values.get(key)}（应为 {wanted}）")
    for key, wanted in (params.get("includes") or {}).items():
        shown.append(f"{key}={','.join(values.get(key) or [])}")
        missing = [w for w in wanted if w not in (values.get(key) or [])]
        if missing:
            problems.append(f"{key} 缺少 {missing}")
    return fail("；".join(problems)) if problems else ok("，".join(dict.fromkeys(shown)))


@check("app.admin_roles")
def admin_roles(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT admin_kind, code, name FROM role WHERE admin_kind IS NOT NULL "
                   "ORDER BY 1")
    kinds = {r[0]: f"{r[2]}（{r[1]}）" for r in rows}
    missing = [k for k in params["kinds"] if k not in kinds]
    return fail(f"缺少内置管理角色：{missing}") if missing else \
        ok("；".join(f"{k}：{kinds[k]}" for k in params["kinds"]))


@check("app.no_default_accounts")
def no_default_accounts(ctx: Context, params: dict[str, Any]) -> Verdict:
    names = "', '".join(params["demo_usernames"])
    rows = ctx.sql(f"SELECT username FROM app_user WHERE username IN ('{names}') "
                   "AND status = 'active'")
    unchanged = ctx.sql("SELECT count(*) FROM credential WHERE NOT must_change "
                        "AND last_login_at IS NULL")
    if rows:
        return fail(f"存在默认/演示账户：{[r[0] for r in rows]}")
    if unchanged and unchanged[0][0] != "0":
        return fail(f"{unchanged[0][0]} 个账户的初始口令无需修改即可使用")
    return ok("没有默认或演示账户；初始口令都须在首次登录时修改")


@check("app.admin_separation")
def admin_separation(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                   "'role'::regclass AND contype = 'u'")
    if not any("admin_kind" in r[0] for r in rows):
        return fail("role.admin_kind 没有唯一约束")
    return ok("三员各为一个内置角色（role.admin_kind 唯一约束）：" +
              "；".join(r[0] for r in rows if "admin_kind" in r[0]))


@check("app.security_labels")
def security_labels(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = "
                   "'app_user'::regclass AND pg_get_constraintdef(c.oid) LIKE '%clearance%'")
    if not rows:
        return fail("app_user 没有密级（clearance）标记")
    return ok(f"app_user.clearance：{rows[0][0]}（0 非密、1 秘密、2 机密、3 绝密）")


@check("app.audit_events")
def audit_events(ctx: Context, params: dict[str, Any]) -> Verdict:
    triggers = ctx.sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
                       "('audit_event'::regclass, 'audit_event_pending'::regclass) ORDER BY 1")
    insert = ctx.sql("SELECT has_table_privilege('oa_app', 'audit_event_pending', 'INSERT')")
    rows = ctx.sql("SELECT count(*), count(DISTINCT action), coalesce(max(occurred_at)::text, '')"
                   " FROM audit_event")
    if not triggers or insert[0][0] != "t":
        return fail(f"审计链触发器：{[t[0] for t in triggers]}；运行角色可写入待审计表："
                    f"{insert[0][0]}")
    return ok(f"审计链触发器 {', '.join(t[0] for t in triggers)}；运行角色可追加事件；"
              f"现有 {rows[0][0]} 条记录、{rows[0][1]} 种事件（最近 {rows[0][2] or '无'}）")


@check("app.audit_fields")
def audit_fields(ctx: Context, params: dict[str, Any]) -> Verdict:
    wanted = ["occurred_at", "actor_id", "actor_username", "ip", "action", "object_type",
              "object_id", "outcome"]
    rows = ctx.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                   "'audit_event'")
    missing = [c for c in wanted if c not in {r[0] for r in rows}]
    return fail(f"审计记录缺少字段：{missing}") if missing else \
        ok(f"审计记录字段：{', '.join(wanted)}")


@check("app.audit_verify")
def audit_verify(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run(f"COLUMNS=200 {VENV}/bin/oa-ops audit verify")
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return ok(last) if result.rc == 0 else fail(f"哈希链校验失败：{last}")


def _unit_properties(ctx: Context, unit: str, names: list[str]) -> dict[str, str]:
    out = ctx.run(f"systemctl show {unit} -p {','.join(names)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _workers(ctx: Context) -> list[str]:
    """The worker units (oa-app@PORT.service) the target starts: the enabled instances."""
    return worker_units(_unit_properties(ctx, APP_TARGET, ["Wants"]).get("Wants", "").split())


@check("app.service")
def service(ctx: Context, params: dict[str, Any]) -> Verdict:
    target = _unit_properties(ctx, APP_TARGET, ["UnitFileState", "ActiveState"])
    problems = [] if target == {"UnitFileState": "enabled", "ActiveState": "active"} \
        else [f"{APP_TARGET}：{target}"]
    workers = _workers(ctx)
    if not workers:
        problems.append(f"{APP_TARGET} 下没有工作进程单元")
    for unit in workers:
        props = _unit_properties(ctx, unit, ["Restart", "UnitFileState", "ActiveState"])
        if props.get("Restart") not in ("on-failure", "always") or \
                props.get("UnitFileState") != "enabled" or props.get("ActiveState") != "active":
            problems.append(f"{unit}：{props}")
    if problems:
        return fail("；".join(problems))
    return ok(f"{APP_TARGET} 已启用并运行，工作进程 {', '.join(workers)} "
              "均开机启动、异常退出自动重启")


@check("app.sandbox")
def sandbox(ctx: Context, params: dict[str, Any]) -> Verdict:
    wanted = params.get("properties") or {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                                          "PrivateTmp": "yes", "ProtectHome": "yes"}
    workers = _workers(ctx)
    if not workers:
        return fail(f"{APP_TARGET} 下没有工作进程单元")
    shown, wrong = {}, {}
    for unit in workers:
        props = _unit_properties(ctx, unit, list(wanted))
        shown[unit] = props
        wrong.update({f"{unit} {k}": props.get(k) for k, v in wanted.items() if props.get(k) != v})
    return fail(f"沙箱设置不符：{wrong}") if wrong else ok(f"{shown}")


@check("app.listen_local")
def listen_local(ctx: Context, params: dict[str, Any]) -> Verdict:
    ports = [worker_port(unit) for unit in _workers(ctx)]
    if not ports:
        return fail(f"{APP_TARGET} 下没有工作进程单元")
    filters = " or ".join(f"sport = :{port}" for port in ports)
    lines = ctx.run(f"ss -Hltn '( {filters} )'").stdout.split("\n")
    addresses = [line.split()[3] for line in lines if line.strip()]
    if len(addresses) < len(ports) or any(not a.startswith(("127.", "[::1]")) for a in addresses):
        return fail(f"工作进程（端口 {', '.join(ports)}）监听：{addresses}")
    return ok(f"工作进程只监听 {', '.join(addresses)}")


@check("app.audit_forward")
def audit_forward(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The daily export of the audit trail into a file rsyslog reads (imfile, tag oa-audit) and
    forwards to the log host: its timer runs, its last run succeeded."""
    timer = _unit_properties(ctx, "oa-audit-export.timer", ["UnitFileState", "ActiveState"])
    service = _unit_properties(ctx, "oa-audit-export.service",
                               ["Result", "ExecMainStartTimestamp"])
    problems = []
    if timer != {"UnitFileState": "enabled", "ActiveState": "active"}:
        problems.append(f"oa-audit-export.timer：{timer}")
    if ctx.run("grep -q 'Tag=\"oa-audit:\"' /etc/rsyslog.d/45-oa-audit.conf").rc != 0:
        problems.append("rsyslog 未读取审计导出文件（/etc/rsyslog.d/45-oa-audit.conf）")
    if service.get("Result") != "success":
        problems.append(f"上次导出失败：{service.get('Result')}")
    if problems:
        return fail("；".join(problems))
    last = service.get("ExecMainStartTimestamp") or "尚未运行"
    return ok(f"每日导出审计记录，rsyslog 读取（标记 oa-audit）并转发日志主机；上次：{last}")


@check("app.input_validation")
def input_validation(ctx: Context, params: dict[str, Any]) -> Verdict:
    page = ctx.run("curl -sk https://127.0.0.1/login | grep -c 'name=\"_xsrf\"'").stdout.strip()
    body = _settings(ctx).get("max_body_mb")
    if page in ("", "0") or not body or body > 50:
        return fail(f"登录表单 XSRF 字段：{page}；max_body_mb={body}")
    return ok(f"表单带 _xsrf 令牌；请求体上限 {body} MB；服务端校验每个输入")


@check("app.dependencies")
def dependencies(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run(f"{VENV}/bin/python -m pip check --disable-pip-version-check")
    return ok(result.stdout.strip()) if result.rc == 0 else fail(result.stdout.strip()[:300])


@check("app.audit_outcomes")
def audit_outcomes(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                   "'audit_event'::regclass AND pg_get_constraintdef(oid) LIKE '%outcome%'")
    failures = ctx.sql("SELECT count(*) FROM audit_event WHERE outcome <> 'success'")
    if not rows or "failure" not in rows[0][0]:
        return fail("审计记录没有失败结果字段")
    return ok(f"审计记录区分结果（{rows[0][0]}）；非成功事件 {failures[0][0]} 条")


@check("app.db_tls")
def db_tls(ctx: Context, params: dict[str, Any]) -> Verdict:
    # Count matches only: the URL holds a password and must not reach the report.
    count = ctx.run("grep -c 'sslmode=verify-full' /etc/oa/oa.conf").stdout.strip()
    ca = ctx.run("test -s /etc/oa/db-ca.crt").rc
    if count in ("", "0") or ca != 0:
        return fail("数据库连接没有使用 sslmode=verify-full 或缺少 CA 证书")
    return ok("database_url 使用 sslmode=verify-full，CA /etc/oa/db-ca.crt")


@check("app.password_hashes")
def password_hashes(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT count(*) FILTER (WHERE password_hash LIKE '$argon2id$%'), count(*) "
                   "FROM credential")
    if not rows or rows[0][0] != rows[0][1]:
        return fail(f"Argon2id 散列 {rows[0][0] if rows else '?'} / {rows[0][1] if rows else '?'}")
    return ok(f"{rows[0][1]} 个口令均为 Argon2id 散列")


@check("app.session_tokens")
def session_tokens(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                   "'user_session'")
    columns = {r[0] for r in rows}
    if "token_hash" not in columns or "token" in columns:
        return fail(f"user_session 字段：{sorted(columns)}")
    return ok("会话令牌只存 SHA-256 散列（token_hash），结束的会话记 ended_at 不可再用")


@check("app.personal_columns")
def personal_columns(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                   f"'{params['table']}' ORDER BY ordinal_position")
    extra = [r[0] for r in rows if r[0] not in params["approved"]]
    if not rows or extra:
        return fail(f"{params['table']} 有未经审核的字段：{extra}")
    return ok(f"{params['table']} 字段均在审核清单内：{', '.join(r[0] for r in rows)}")


@check("app.personal_grants")
def personal_grants(ctx: Context, params: dict[str, Any]) -> Verdict:
    tables = "', '".join(params["tables"])
    rows = ctx.sql("SELECT DISTINCT grantee, table_name FROM information_schema.role_table_grants"
                   f" WHERE table_name IN ('{tables}')")
    extra = [r for r in rows if r[0] not in params["allowed_roles"]]
    return fail(f"个人信息表的额外授权：{extra}") if extra else \
        ok(f"{', '.join(params['tables'])} 只授权给 {', '.join(params['allowed_roles'])}")


@check("app.audit_tools")
def audit_tools(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run(f"COLUMNS=200 {VENV}/bin/oa-ops audit --help")
    if result.rc != 0 or "verify" not in result.stdout or "export" not in result.stdout:
        return fail("oa-ops audit verify/export 不可用")
    return ok("oa-ops audit verify（哈希链校验）、oa-ops audit export（导出）可用")


@check("app.metrics_allow")
def metrics_allow(ctx: Context, params: dict[str, Any]) -> Verdict:
    allowed = set(_settings(ctx).get("metrics_allow") or [])
    known = {"127.0.0.1", "::1", *(ctx.var("backup_addresses") or [])}
    extra = sorted(allowed - known)
    return fail(f"metrics_allow 含监控服务器以外的地址：{extra}") if extra or not allowed else \
        ok(f"metrics_allow：{', '.join(sorted(allowed))}")
