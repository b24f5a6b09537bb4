"""Checks of PostgreSQL, by SQL as the local superuser (peer, over the socket) on the db host."""

from __future__ import annotations

from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

UNITS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}


def _show(ctx: Context, names: list[str]) -> dict[str, str]:
    quoted = ", ".join(f"'{n}'" for n in names)
    rows = ctx.sql(f"SELECT name, setting, unit FROM pg_settings WHERE name IN ({quoted})",
                   "postgres")
    return {r[0]: (r[1], r[2] if len(r) > 2 else "") for r in rows}  # type: ignore[misc]


def _seconds(value: str, unit: str) -> float:
    factor = {"ms": 0.001, "s": 1, "min": 60, "": 1}.get(unit, 1)
    return float(value) * factor


@check("pg.settings")
def settings(ctx: Context, params: dict[str, Any]) -> Verdict:
    names = sorted({*params.get("equal", {}), *params.get("one_of", {}),
                    *params.get("contains", {}), *params.get("max_seconds", {})})
    got = _show(ctx, names)
    if not got:
        return fail("无法查询 pg_settings")
    problems, shown = [], []
    for name in names:
        value, unit = got.get(name, ("", ""))
        shown.append(f"{name}={value}{unit or ''}")
        if name == "log_file_mode" and value.isdigit():
            value = f"0{int(value):o}" if not value.startswith("0") else value
        if name in params.get("equal", {}) and value != str(params["equal"][name]):
            problems.append(f"{name}={value}")
        if name in params.get("one_of", {}) and value not in params["one_of"][name]:
            problems.append(f"{name}={value}")
        if name in params.get("contains", {}) and params["contains"][name] not in value:
            problems.append(f"{name}={value}")
        limit = params.get("max_seconds", {}).get(name)
        if limit is not None and not 0 < _seconds(value, unit) <= limit:
            problems.append(f"{name}={value}{unit}（应 ≤ {limit} 秒且不为 0）")
    return fail("；".join(problems)) if problems else ok("，".join(shown))


@check("pg.no_passwordless_login")
def no_passwordless_login(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT rolname FROM pg_authid WHERE rolcanlogin AND rolpassword IS NULL "
                   "AND rolname <> 'postgres' ORDER BY 1", "postgres")
    names = [r[0] for r in rows]
    return fail(f"无口令的可登录角色：{names}") if names else ok("所有可登录角色都有口令")


def _hba(ctx: Context) -> list[list[str]]:
    return ctx.sql("SELECT type, array_to_string(database, ','), array_to_string(user_name, ','),"
                   " coalesce(address, ''), coalesce(netmask, ''), auth_method, coalesce(error, '')"
                   " FROM pg_hba_file_rules ORDER BY line_number", "postgres")


@check("pg.hba_tls_only")
def hba_tls_only(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = _hba(ctx)
    ssl = _show(ctx, ["ssl"]).get("ssl", ("", ""))[0]
    weak = [r for r in rows if r[0] in ("host", "hostnossl") and r[5] != "reject"]
    errors = [r for r in rows if r[6]]
    if ssl != "on" or weak or errors or not rows:
        return fail(f"ssl={ssl}；非 TLS 放行规则：{weak}；错误：{errors}")
    return ok(f"ssl=on；网络规则均为 hostssl 或 reject（{len(rows)} 条）")


@check("pg.superuser_local_only")
def superuser_local_only(ctx: Context, params: dict[str, Any]) -> Verdict:
    supers = ctx.sql("SELECT rolname, rolpassword IS NULL FROM pg_authid WHERE rolsuper "
                     "ORDER BY 1", "postgres")
    if [r[0] for r in supers] != ["postgres"] or supers[0][1] != "t":
        return fail(f"超级用户：{supers}（应只有无口令的 postgres）")
    rows = _hba(ctx)
    network = [r for r in rows if r[0] != "local" and r[5] != "reject"
               and ("postgres" in r[2].split(",") or "all" in r[2].split(","))]
    local = [r for r in rows if r[0] == "local" and "postgres" in r[2].split(",")]
    if network or any(r[5] != "peer" for r in local):
        return fail(f"postgres 可经网络或非 peer 登录：{network or local}")
    return ok("超级用户只有 postgres：无口令，只能本机经 peer 登录")


@check("pg.roles_separated")
def roles_separated(ctx: Context, params: dict[str, Any]) -> Verdict:
    wanted = [params["owner"], params["runtime"], params["audit"]]
    rows = ctx.sql("SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = ANY("
                   f"ARRAY{wanted!r}) ORDER BY 1".replace('"', "'"), "postgres")
    found = {r[0]: r for r in rows}
    missing = [w for w in wanted if w not in found]
    supers = [r[0] for r in rows if r[1] == "t"]
    if missing or supers:
        return fail(f"缺少角色：{missing}；超级用户：{supers}")
    if found[params["audit"]][2] == "t":
        return fail(f"审计角色 {params['audit']} 可以登录")
    return ok(f"管理 {params['owner']}、应用 {params['runtime']}、审计 {params['audit']} 分立，"
              "均非超级用户")


@check("pg.login_roles_allowed")
def login_roles_allowed(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1", "postgres")
    extra = [r[0] for r in rows if r[0] not in params["allowed"]]
    names = ", ".join(r[0] for r in rows)
    return fail(f"多余的可登录角色：{extra}") if extra else ok(f"可登录角色：{names}")


@check("pg.runtime_least_privilege")
def runtime_least_privilege(ctx: Context, params: dict[str, Any]) -> Verdict:
    role = params["role"]
    rows = ctx.sql("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                   f"FROM pg_roles WHERE rolname = '{role}'", "postgres")
    if not rows:
        return fail(f"角色 {role} 不存在")
    if "t" in rows[0]:
        return fail(f"{role} 有特权属性：{rows[0]}")
    create = ctx.sql(f"SELECT has_schema_privilege('{role}', 'public', 'CREATE'), "
                     f"has_database_privilege('{role}', current_database(), 'CREATE')")
    owns = ctx.sql(f"SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                   f"WHERE r.rolname = '{role}'")
    if "t" in create[0] or owns[0][0] != "0":
        return fail(f"{role} 可建对象（schema/db CREATE：{create[0]}）或拥有 {owns[0][0]} 个对象")
    return ok(f"{role}：非超级用户，不能建库建角色，不能在 public 模式建对象，不拥有任何表")


@check("pg.no_public_grants")
def no_public_grants(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT has_database_privilege('public', current_database(), 'CONNECT'), "
                   "has_database_privilege('public', current_database(), 'TEMP'), "
                   "has_schema_privilege('public', 'public', 'CREATE'), "
                   "has_schema_privilege('public', 'public', 'USAGE')")
    tables = ctx.sql("SELECT table_name, privilege_type FROM information_schema.role_table_grants"
                     " WHERE grantee = 'PUBLIC' AND table_schema = 'public'")
    if not rows or "t" in rows[0] or tables:
        return fail(f"PUBLIC 的权限：库/模式 {rows}；表 {tables}")
    return ok("PUBLIC 在应用库、public 模式与各表上没有权限")


@check("pg.table_level_grants")
def table_level_grants(ctx: Context, params: dict[str, Any]) -> Verdict:
    role = params["role"]
    rows = ctx.sql("SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                   f"WHERE grantee = '{role}' AND privilege_type IN "
                   "('TRUNCATE', 'TRIGGER', 'REFERENCES') ORDER BY 1")
    count = ctx.sql("SELECT count(DISTINCT table_name) FROM information_schema.role_table_grants"
                    f" WHERE grantee = '{role}'")
    if rows:
        return fail(f"{role} 有不需要的表权限：{rows}")
    return ok(f"{role} 在 {count[0][0]} 张表上有逐表授予的权限，无 TRUNCATE/TRIGGER/REFERENCES")


@check("pg.table_privileges")
def table_privileges(ctx: Context, params: dict[str, Any]) -> Verdict:
    role, table = params["role"], params["table"]
    found = [p for p in params["forbidden"]
             if ctx.sql(f"SELECT has_table_privilege('{role}', '{table}', '{p}')")[0][0] == "t"]
    return fail(f"{role} 对 {table} 有 {found}") if found else \
        ok(f"{role} 对 {table} 没有 {', '.join(params['forbidden'])}")


@check("pg.log_line_prefix")
def log_line_prefix(ctx: Context, params: dict[str, Any]) -> Verdict:
    prefix = _show(ctx, ["log_line_prefix"]).get("log_line_prefix", ("", ""))[0]
    missing = [p for p in params["required"] if p not in prefix]
    return fail(f"log_line_prefix={prefix!r} 缺少 {missing}") if missing else \
        ok(f"log_line_prefix={prefix!r}")


@check("pg.audit_table_append_only")
def audit_table_append_only(ctx: Context, params: dict[str, Any]) -> Verdict:
    role, found = params["role"], []
    for table in params["tables"]:
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            rows = ctx.sql(f"SELECT has_table_privilege('{role}', '{table}', '{privilege}')")
            if not rows:
                return fail(f"表 {table} 不存在")
            if rows[0][0] == "t":
                found.append(f"{table}.{privilege}")
    return fail(f"{role} 可修改审计表：{found}") if found else \
        ok(f"{role} 对 {', '.join(params['tables'])} 没有 UPDATE/DELETE/TRUNCATE")


@check("pg.no_privileged_memberships")
def no_privileged_memberships(ctx: Context, params: dict[str, Any]) -> Verdict:
    names = "', '".join(params["roles"])
    existing = ctx.sql(f"SELECT count(*) FROM pg_roles WHERE rolname IN ('{names}')", "postgres")
    if not existing or int(existing[0][0]) != len(params["roles"]):
        return fail(f"角色不全：{params['roles']}")
    rows = ctx.sql("SELECT m.rolname, g.rolname FROM pg_auth_members a JOIN pg_roles m ON "
                   "m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid WHERE m.rolname IN "
                   f"('{names}') AND (g.rolname LIKE 'pg\\_%' OR g.rolsuper)", "postgres")
    acl = ctx.sql("SELECT count(*) FROM pg_parameter_acl", "postgres")
    if rows or (acl and acl[0][0] != "0"):
        return fail(f"特权成员关系：{rows}；参数授权：{acl}")
    return ok(f"{', '.join(params['roles'])} 不属于任何 pg_* 特权角色；没有参数级授权")


@check("pg.extensions_allowed")
def extensions_allowed(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT extname FROM pg_extension ORDER BY 1")
    extra = [r[0] for r in rows if r[0] not in params["allowed"]]
    return fail(f"未登记的扩展：{extra}") if extra else \
        ok(f"扩展：{', '.join(r[0] for r in rows)}")


@check("pg.listen_addresses")
def listen_addresses(ctx: Context, params: dict[str, Any]) -> Verdict:
    value = _show(ctx, ["listen_addresses"]).get("listen_addresses", ("", ""))[0]
    if not value or "*" in value or "0.0.0.0" in value:
        return fail(f"listen_addresses={value!r}")
    return ok(f"listen_addresses={value!r}")


@check("pg.hba_sources")
def hba_sources(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = [r for r in _hba(ctx) if r[0] != "local"]
    allow = [r for r in rows if r[5] != "reject"]
    wide = [r for r in allow if r[4] not in ("255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:"
                                              "ffff:ffff")]
    last = rows[-1] if rows else None
    if wide or not last or last[5] != "reject":
        return fail(f"非单个地址的放行：{wide}；最后一条：{last}")
    sources = sorted({r[3] for r in allow})
    return ok(f"只放行 {', '.join(sources)}（/32），其余 reject")


@check("pg.version")
def version(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SHOW server_version_num", "postgres")
    number = int(rows[0][0]) if rows else 0
    if number // 10000 < params["min_major"]:
        return fail(f"server_version_num={number}")
    return ok(f"PostgreSQL {number // 10000}.{number % 10000}")


@check("pg.password_verifiers")
def password_verifiers(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolpassword IS "
                   "NOT NULL ORDER BY 1", "postgres")
    weak = [r[0] for r in rows if r[1] != "SCRAM-SHA-256$"]
    return fail(f"非 SCRAM 的口令：{weak}") if weak else \
        ok(f"{len(rows)} 个角色的口令均为 SCRAM-SHA-256 校验值")


@check("pg.config_files")
def config_files(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = ctx.sql("SELECT setting FROM pg_settings WHERE name IN ('hba_file', 'config_file')",
                   "postgres")
    bad, shown = [], []
    for (path,) in rows:
        result = ctx.run(f"stat -c '%n %a %U' {path}")
        name, mode, user = result.stdout.split()
        shown.append(f"{name} {mode} {user}")
        if user not in ("postgres", "root") or int(mode, 8) & 0o022:
            bad.append(result.stdout.strip())
    hba = [s for s in shown if "pg_hba" in s]
    if bad or not hba or int(hba[0].split()[1], 8) & 0o007:
        return fail(f"配置文件权限：{shown}")
    return ok("；".join(shown))


@check("pg.audit_role")
def audit_role(ctx: Context, params: dict[str, Any]) -> Verdict:
    role = params["role"]
    rows = ctx.sql(f"SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = '{role}'",
                   "postgres")
    if not rows or rows[0] != ["f", "f"]:
        return fail(f"审计角色 {role}：{rows or '不存在'}")
    missing = [t for t in params["tables"]
               if ctx.sql(f"SELECT has_table_privilege('{role}', '{t}', 'SELECT')")[0][0] != "t"]
    writable = [t for t in params["tables"]
                if ctx.sql(f"SELECT has_table_privilege('{role}', '{t}', 'INSERT,UPDATE,DELETE')"
                           )[0][0] == "t"]
    if missing or writable:
        return fail(f"{role} 不能读：{missing}；可写：{writable}")
    return ok(f"{role}：不可登录、非超级用户，只读 {', '.join(params['tables'])}")


