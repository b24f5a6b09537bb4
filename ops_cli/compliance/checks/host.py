"""Checks of the servers' operating system (testinfra over SSH; read-only commands)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

PACKAGE_SETS = {
    "insecure": {"Debian": ["telnetd", "inetutils-telnetd", "telnet", "rsh-server", "rsh-client",
                            "rsh-redone-server", "rsh-redone-client", "ftp", "vsftpd",
                            "proftpd-basic", "tftpd-hpa", "tftp-hpa", "tftp", "atftpd"],
                 "RedHat": ["telnet-server", "telnet", "rsh-server", "rsh", "ftp", "vsftpd",
                            "tftp-server", "tftp"]},
    "unneeded": {"Debian": ["xinetd", "avahi-daemon", "cups", "rpcbind", "nfs-kernel-server",
                            "samba", "nis", "talkd", "snmpd", "slapd", "bind9", "isc-dhcp-server"],
                 "RedHat": ["xinetd", "avahi", "cups", "rpcbind", "nfs-utils", "samba", "ypserv",
                            "talk-server", "net-snmp", "openldap-servers", "bind",
                            "dhcp-server"]},
}
ADMINS = ("sysadm", "secadm", "audadm")


def _read(ctx: Context, path: str) -> str | None:
    result = ctx.run(f"cat {shlex.quote(path)}")
    return result.stdout if result.rc == 0 else None


def _settings(text: str, sep: str = "=") -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if sep == " ":
            parts = line.split(None, 1)
        else:
            parts = [p.strip() for p in line.split(sep, 1)] if sep in line else [line, ""]
        values[parts[0].strip()] = parts[1].strip() if len(parts) > 1 else ""
    return values


def _sshd(ctx: Context, match: str = "") -> dict[str, str]:
    result = ctx.run("sshd -T" + (f" -C {match}" if match else ""))
    if result.rc != 0:
        return {}
    return {k.lower(): v for k, v in _settings(result.stdout, " ").items()}


def _mode(ctx: Context, path: str) -> tuple[int, str, str] | None:
    result = ctx.run(f"stat -c '%a %U %G' {shlex.quote(path)}")
    if result.rc != 0:
        return None
    mode, user, group = result.stdout.split()
    return int(mode, 8), user, group


@check("host.unique_identities")
def unique_identities(ctx: Context, params: dict[str, Any]) -> Verdict:
    rows = [line.split(":") for line in (_read(ctx, "/etc/passwd") or "").splitlines() if line]
    names = [r[0] for r in rows]
    uid0 = [r[0] for r in rows if r[2] == "0"]
    uids = [r[2] for r in rows]
    dup_uids = sorted({u for u in uids if uids.count(u) > 1})
    if uid0 != ["root"] or dup_uids or len(set(names)) != len(names):
        return fail(f"UID 0 账户：{uid0}；重复 UID：{dup_uids}")
    return ok(f"{len(rows)} 个账户标识唯一，UID 0 只有 root")


@check("host.pwquality")
def pwquality(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = _read(ctx, "/etc/security/pwquality.conf") or ""
    extra = ctx.run("cat /etc/security/pwquality.conf.d/*.conf 2>/dev/null").stdout
    values = _settings(text + "\n" + extra)
    minlen, minclass = int(values.get("minlen", "0") or 0), int(values.get("minclass", "0") or 0)
    stack = ctx.run("grep -h pam_pwquality.so /etc/pam.d/common-password "
                    "/etc/pam.d/system-auth /etc/pam.d/password-auth 2>/dev/null")
    if "pam_pwquality.so" not in stack.stdout:
        return fail("PAM 口令栈中没有 pam_pwquality")
    if minlen < params["minlen"] or minclass < params["minclass"]:
        return fail(f"minlen={minlen}、minclass={minclass}，要求 ≥ {params['minlen']}、"
                    f"≥ {params['minclass']}")
    return ok(f"pam_pwquality 启用，minlen={minlen}，minclass={minclass}")


@check("host.password_ageing")
def password_ageing(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(_read(ctx, "/etc/login.defs") or "", " ")
    got = {k: int(values.get(k, "99999")) for k in ("PASS_MAX_DAYS", "PASS_MIN_DAYS",
                                                    "PASS_WARN_AGE")}
    if got["PASS_MAX_DAYS"] > params["max_days"] or got["PASS_MIN_DAYS"] < params["min_days"] \
            or got["PASS_WARN_AGE"] < params["warn_age"]:
        return fail(f"login.defs：{got}")
    for user in params.get("accounts", []):
        fields = ctx.run(f"getent shadow {user}").stdout.strip().split(":")
        if len(fields) < 6 or not fields[4] or int(fields[4]) > params["max_days"]:
            return fail(f"账户 {user} 的口令最长有效期未设置或超过 {params['max_days']} 天")
    return ok(f"login.defs：{got}；管理员账户最长 {params['max_days']} 天")


def _pam_lines(ctx: Context, params: dict[str, Any]) -> list[str]:
    files = [params["file"]] if params.get("file") else (
        ["/etc/pam.d/common-" + params["stack"]] if ctx.os_family() == "Debian"
        else ["/etc/pam.d/system-auth", "/etc/pam.d/password-auth"])
    lines: list[str] = []
    for path in files:
        for line in (_read(ctx, path) or "").splitlines():
            words = line.split()
            if words and not words[0].startswith("#") and words[0] == params["stack"]:
                lines.append(line.strip())
    return lines


@check("host.pam_module")
def pam_module(ctx: Context, params: dict[str, Any]) -> Verdict:
    module = params["module"]
    lines = [line for line in _pam_lines(ctx, params) if module in line]
    if not lines:
        return fail(f"{params['stack']} 栈中没有 {module}")
    options = params.get("options", [])
    conf = ""
    if module == "pam_pwhistory.so":
        conf = _read(ctx, "/etc/security/pwhistory.conf") or ""
    missing = [o for o in options if not any(o in line for line in lines)
               and o.replace("=", " = ") not in conf]
    if missing:
        return fail(f"{module} 缺少参数 {missing}：{lines}")
    return ok("；".join(lines))


@check("host.no_empty_passwords")
def no_empty_passwords(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("awk -F: '$2 == \"\" {print $1}' /etc/shadow")
    if result.rc != 0:
        return fail("无法读取 /etc/shadow")
    empty = result.stdout.split()
    sshd = _sshd(ctx)
    if empty or sshd.get("permitemptypasswords") != "no":
        return fail(f"空口令账户：{empty}；PermitEmptyPasswords={sshd.get('permitemptypasswords')}")
    return ok("没有空口令账户，SSH PermitEmptyPasswords no")


@check("host.faillock")
def faillock(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(_read(ctx, "/etc/security/faillock.conf") or "")
    lines = _pam_lines(ctx, {"stack": "auth"})
    preauth = any("pam_faillock.so" in line and "preauth" in line for line in lines)
    authfail = any("pam_faillock.so" in line and "authfail" in line for line in lines)
    deny = int(values.get("deny", "0") or 0)
    unlock = int(values.get("unlock_time", "0") or 0)
    if not (preauth and authfail):
        return fail(f"PAM auth 栈中 pam_faillock 不完整（preauth={preauth}，authfail={authfail}）")
    if not 0 < deny <= params["deny"] or unlock < params["unlock_time"]:
        return fail(f"faillock.conf：deny={deny}，unlock_time={unlock}")
    return ok(f"pam_faillock 在 auth 栈中；deny={deny}，unlock_time={unlock} 秒")


@check("host.shell_timeout")
def shell_timeout(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("grep -hE '^\\s*(readonly\\s+)?TMOUT=|^\\s*readonly\\s+TMOUT' "
                     "/etc/profile /etc/profile.d/*.sh /etc/bash.bashrc 2>/dev/null")
    values = [int(m) for m in re.findall(r"TMOUT=(\d+)", result.stdout)]
    if not values or max(values) > params["max_seconds"] or "readonly" not in result.stdout:
        return fail(f"TMOUT 未设置为只读且 ≤ {params['max_seconds']}：{result.stdout.strip()}")
    if ctx.runtime:
        live = ctx.run("bash -lc 'echo $TMOUT'").stdout.strip()
        if not live.isdigit() or int(live) > params["max_seconds"]:
            return fail(f"登录 shell 中 TMOUT={live!r}")
    return ok(f"TMOUT={min(values)}（只读）")


@check("host.sshd_options")
def sshd_options(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _sshd(ctx)
    if not config:
        return fail("sshd -T 失败")
    problems = []
    for key, limit in (params.get("max") or {}).items():
        if int(config.get(key, "999999")) > limit:
            problems.append(f"{key}={config.get(key)} > {limit}")
    for key, limit in (params.get("min") or {}).items():
        if int(config.get(key, "0")) < limit:
            problems.append(f"{key}={config.get(key)} < {limit}")
    for key, allowed in (params.get("allowed") or {}).items():
        if config.get(key) not in allowed:
            problems.append(f"{key}={config.get(key)}（允许：{'/'.join(allowed)}）")
    keys = [*params.get("max", {}), *params.get("min", {}), *params.get("allowed", {})]
    shown = "，".join(f"{k}={config.get(k)}" for k in dict.fromkeys(keys))
    return fail("；".join(problems)) if problems else ok(shown)


@check("host.sshd_algorithms")
def sshd_algorithms(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _sshd(ctx)
    offered = [a for a in config.get(params["option"], "").split(",") if a]
    weak = [a for a in offered if a in params["forbidden"] or a.endswith("-cbc")]
    if not offered or weak:
        return fail(f"{params['option']} 含弱算法：{weak or '（无法读取）'}")
    return ok(f"{params['option']}：{','.join(offered)}")


@check("host.packages_absent")
def packages_absent(ctx: Context, params: dict[str, Any]) -> Verdict:
    names = PACKAGE_SETS[params["set"]][ctx.os_family()]
    if ctx.os_family() == "Debian":
        query = "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' " + " ".join(names)
        found = [line.split()[-1] for line in ctx.run(query + " 2>/dev/null").stdout.splitlines()
                 if line.startswith("ii")]
    else:
        found = [n for n in names if ctx.run(f"rpm -q {n}").rc == 0]
    return fail(f"已安装：{found}") if found else ok(f"均未安装：{', '.join(names)}")


def _mgmt_addr(ctx: Context) -> str:
    addresses = ctx.var("hardening_management_addresses") or ["127.0.0.1"]
    return str(addresses[0]).split("/")[0]


@check("host.admin_mfa")
def admin_mfa(ctx: Context, params: dict[str, Any]) -> Verdict:
    shown = []
    for user in params["users"]:
        groups = ctx.run(f"id -nG {user}")
        if groups.rc != 0:
            return fail(f"账户 {user} 不存在")
        config = _sshd(ctx, f"user={user},host=mgmt,addr={_mgmt_addr(ctx)}")
        methods = config.get("authenticationmethods", "")
        if "publickey,password" not in methods.split():
            return fail(f"{user} 的 AuthenticationMethods 为 {methods!r}，不是 publickey,password")
        shadow = ctx.run(f"getent shadow {user}").stdout.split(":")
        if len(shadow) < 2 or shadow[1].startswith(("!", "*")) or not shadow[1]:
            return fail(f"{user} 没有可用口令（口令为第二因素）")
        shown.append(f"{user}：{methods}")
    return ok("；".join(shown))


@check("host.admin_accounts")
def admin_accounts(ctx: Context, params: dict[str, Any]) -> Verdict:
    uids = []
    for user in params["users"]:
        entry = ctx.run(f"getent passwd {user}").stdout.strip().split(":")
        if len(entry) < 7:
            return fail(f"管理员账户 {user} 不存在")
        if entry[2] == "0":
            return fail(f"管理员账户 {user} 的 UID 为 0")
        uids.append(entry[2])
    if len(set(uids)) != len(uids):
        return fail(f"管理员账户 UID 重复：{uids}")
    return ok(f"三员账户：{', '.join(params['users'])}（UID {', '.join(uids)}）")


@check("host.system_accounts_locked")
def system_accounts_locked(ctx: Context, params: dict[str, Any]) -> Verdict:
    passwd = [line.split(":") for line in (_read(ctx, "/etc/passwd") or "").splitlines() if line]
    shadow = ctx.run("cat /etc/shadow").stdout
    hashes = {f[0]: f[1] for f in (line.split(":") for line in shadow.splitlines()) if len(f) > 1}
    shells, unlocked = [], []
    for name, _, uid, *_rest in passwd:
        if int(uid) >= 1000 or name in params["shell_allowed"]:
            continue
        if not _rest[-1].endswith(("nologin", "false")):
            shells.append(f"{name}:{_rest[-1]}")
        if hashes.get(name, "*")[:1] not in ("!", "*"):
            unlocked.append(name)
    if shells or unlocked:
        return fail(f"有登录 shell 的系统账户：{shells}；口令未锁定：{unlocked}")
    return ok("系统账户均无登录 shell，口令锁定")


@check("host.file_setting")
def file_setting(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(_read(ctx, params["path"]) or "", params.get("sep", "="))
    raw = values.get(params["key"], "")
    if not raw.lstrip("-").isdigit():
        return fail(f"{params['path']} 中没有 {params['key']}")
    value = int(raw)
    if value > params.get("max", value) or value < params.get("min", value):
        return fail(f"{params['key']}={value}")
    return ok(f"{params['path']}：{params['key']}={value}")


def _sudo_rules(ctx: Context, user: str) -> str:
    return ctx.run(f"LC_ALL=C sudo -l -U {user}").stdout


def _has_sudo_all(rules: str) -> bool:
    granted = rules.split("may run the following commands", 1)[-1]
    return bool(re.search(r"\)\s*(NOPASSWD:\s*)?ALL\s*$", granted, re.M))


def _group_members(ctx: Context, group: str) -> list[str]:
    entry = ctx.run(f"getent group {group}").stdout.strip()
    return [m for m in entry.split(":")[3].split(",") if m] if entry.count(":") == 3 else []


@check("host.sudo_separation")
def sudo_separation(ctx: Context, params: dict[str, Any]) -> Verdict:
    """The administrators each hold their duty's commands; the members of `groups` (the
    operators) at most a duty's commands: nobody but root holds ALL."""
    for user in params["users"]:
        rules = _sudo_rules(ctx, user)
        if _has_sudo_all(rules):
            return fail(f"{user} 拥有 ALL 权限")
        if "may run" not in rules:
            return fail(f"{user} 没有任何 sudo 规则（职责命令缺失）")
    operators = [m for group in params.get("groups", []) for m in _group_members(ctx, group)]
    holding_all = [user for user in operators if _has_sudo_all(_sudo_rules(ctx, user))]
    if holding_all:
        return fail(f"运维账户拥有 ALL 权限：{', '.join(holding_all)}")
    shown = f"；运维账户 {', '.join(operators)} 只有所属职责的命令" if operators else ""
    return ok(f"{', '.join(params['users'])} 各自只有本职命令，无 ALL{shown}")


@check("host.sudo_role")
def sudo_role(ctx: Context, params: dict[str, Any]) -> Verdict:
    granted = _sudo_rules(ctx, params["user"]).split("may run the following commands", 1)[-1]
    commands = re.findall(r"(?<![!\w])/\S+/(\w[\w.-]*)", granted)
    missing = [c for c in params["must"] if c not in commands]
    forbidden = [c for c in params["must_not"]
                 if re.search(rf"(?<!!)/\S*/{re.escape(c)}\b", granted)]
    if missing or forbidden:
        return fail(f"{params['user']}：缺少 {missing}；不应有 {forbidden}")
    return ok(f"{params['user']} 可执行：{', '.join(sorted(set(commands)))}")


@check("host.sudo_logging")
def sudo_logging(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = ctx.run("cat /etc/sudoers /etc/sudoers.d/* 2>/dev/null").stdout
    if not re.search(r"^Defaults\s+logfile=", text, re.M) or "use_pty" not in text:
        return fail("sudo 未配置 logfile 与 use_pty")
    return ok("sudo：logfile=/var/log/sudo.log，use_pty，log_year，log_host")


@check("host.sudoers_files")
def sudoers_files(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("stat -c '%n %a %U %G' /etc/sudoers /etc/sudoers.d/*")
    bad = [line for line in result.stdout.splitlines()
           if line.split()[0] != "/etc/sudoers.d/README"
           and (line.split()[2] != "root" or int(line.split()[1], 8) & 0o022
                or (not line.split()[0].endswith("sudoers.d") and int(line.split()[1], 8) & 0o137))]
    if result.rc != 0 or bad:
        return fail(f"权限不符：{bad}")
    return ok(result.stdout.strip().replace("\n", "；"))


@check("host.file_mode")
def file_mode(ctx: Context, params: dict[str, Any]) -> Verdict:
    found = _mode(ctx, params["path"])
    if found is None:
        return fail(f"{params['path']} 不存在")
    mode, user, group = found
    limit = int(params["max_mode"], 8)
    if mode & ~limit or user != params.get("owner", user):
        return fail(f"{params['path']}：{mode:04o} {user}:{group}（应不高于 {params['max_mode']}，"
                    f"属主 {params.get('owner')}）")
    return ok(f"{params['path']}：{mode:04o} {user}:{group}")


@check("host.cron_modes")
def cron_modes(ctx: Context, params: dict[str, Any]) -> Verdict:
    paths = ["/etc/crontab", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly",
             "/etc/cron.weekly", "/etc/cron.monthly"]
    shown, bad = [], []
    for path in paths:
        found = _mode(ctx, path)
        if found is None:
            continue
        mode, user, _ = found
        shown.append(f"{path} {mode:04o}")
        if user != "root" or mode & 0o077:
            bad.append(f"{path} {mode:04o} {user}")
    if bad:
        return fail(f"权限过宽：{bad}")
    return ok("；".join(shown) if shown else "未安装 cron（无 crontab 与 cron 目录）")


@check("host.home_modes")
def home_modes(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("awk -F: '$3 >= 1000 && $6 ~ /^\\/home\\// {print $6}' /etc/passwd"
                     " | xargs -r stat -c '%n %a' ; stat -c '%n %a' /root")
    bad = []
    for line in result.stdout.splitlines():
        path, mode = line.rsplit(" ", 1)
        limit = 0o700 if path == "/root" else 0o750
        if int(mode, 8) & ~limit:
            bad.append(line)
    return fail(f"主目录权限过宽：{bad}") if bad else ok(result.stdout.strip().replace("\n", "；"))


@check("host.umask")
def umask(ctx: Context, params: dict[str, Any]) -> Verdict:
    defs = _settings(_read(ctx, "/etc/login.defs") or "", " ").get("UMASK", "")
    if defs.lstrip("0") != params["umask"].lstrip("0"):
        return fail(f"login.defs UMASK={defs}")
    if ctx.runtime:
        live = ctx.run("bash -lc umask").stdout.strip()
        if int(live or "0", 8) & 0o027 != 0o027:
            return fail(f"登录 shell 的 umask 为 {live}")
        return ok(f"login.defs UMASK={defs}；登录 shell umask {live}")
    return ok(f"login.defs UMASK={defs}")


@check("host.mandatory_access_control")
def mandatory_access_control(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.os_family() == "RedHat":
        config = _settings(_read(ctx, "/etc/selinux/config") or "")
        if config.get("SELINUX") != "enforcing":
            return fail(f"/etc/selinux/config：SELINUX={config.get('SELINUX')}")
        if ctx.runtime and ctx.run("getenforce").stdout.strip() != "Enforcing":
            return fail("getenforce 不是 Enforcing")
        return ok("SELinux enforcing（targeted）")
    enabled = ctx.run("systemctl is-enabled apparmor").stdout.strip()
    if enabled != "enabled":
        return fail(f"apparmor.service：{enabled}")
    if ctx.runtime:
        status = ctx.run("aa-status --enabled")
        if status.rc != 0:
            return fail("AppArmor 未在内核中启用（aa-status --enabled）")
        return ok("AppArmor 已启用并加载策略")
    return ok("AppArmor 已安装并开机启用（容器内不能加载策略）")


@check("host.banner")
def banner(ctx: Context, params: dict[str, Any]) -> Verdict:
    issue = _read(ctx, "/etc/issue.net") or ""
    sshd = _sshd(ctx)
    if "授权" not in issue or sshd.get("banner") != "/etc/issue.net":
        return fail(f"警示信息缺失（Banner={sshd.get('banner')}）")
    return ok("SSH Banner /etc/issue.net：" + issue.strip().splitlines()[1][:40])


@check("host.auditd_enabled")
def auditd_enabled(ctx: Context, params: dict[str, Any]) -> Verdict:
    enabled = ctx.run("systemctl is-enabled auditd").stdout.strip()
    if enabled != "enabled":
        return fail(f"auditd：{enabled}")
    if ctx.runtime:
        if ctx.run("systemctl is-active auditd").stdout.strip() != "active":
            return fail("auditd 未运行")
        status = ctx.run("auditctl -s").stdout
        if not re.search(r"enabled [12]", status):
            return fail(f"内核审计未启用：{status.strip()}")
        return ok("auditd 运行中，内核审计已启用")
    return ok("auditd 已安装并开机启用")


def _audit_rules(ctx: Context) -> str:
    if ctx.runtime:
        return ctx.run("auditctl -l").stdout
    return ctx.run("cat /etc/audit/rules.d/*.rules").stdout


@check("host.audit_rules")
def audit_rules(ctx: Context, params: dict[str, Any]) -> Verdict:
    rules = _audit_rules(ctx)
    missing = [k for k in params["keys"]
               if not re.search(rf"(-k |key=){re.escape(k)}\b", rules)]
    if missing:
        return fail(f"缺少审计规则（key）：{missing}")
    count = sum(1 for line in rules.splitlines()
                if any(re.search(rf"(-k |key=){re.escape(k)}\b", line) for k in params["keys"]))
    return ok(f"{count} 条规则，key：{', '.join(params['keys'])}")


@check("host.audit_immutable")
def audit_immutable(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.runtime:
        status = ctx.run("auditctl -s").stdout
        return ok("auditctl -s：enabled 2") if "enabled 2" in status else fail(status.strip())
    # augenrules puts the -e option last whatever file it is in.
    text = ctx.run("cat /etc/audit/rules.d/*.rules").stdout
    lines = [line.strip() for line in text.splitlines()]
    enables = [line for line in lines if line.startswith("-e ")]
    if enables != ["-e 2"]:
        return fail(f"rules.d 中的 -e 设置：{enables or '无'}（应只有 -e 2）")
    return ok("rules.d 含 -e 2（augenrules 将其置于最后，加载后规则不可变）")


@check("host.auditd_conf")
def auditd_conf(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(_read(ctx, "/etc/audit/auditd.conf") or "")
    wrong = {k: values.get(k) for k, v in params["settings"].items()
             if (values.get(k) or "").upper() != v.upper()}
    return fail(f"auditd.conf：{wrong}") if wrong else ok(f"auditd.conf：{params['settings']}")


@check("host.time_sync")
def time_sync(ctx: Context, params: dict[str, Any]) -> Verdict:
    service = "chrony" if ctx.os_family() == "Debian" else "chronyd"
    enabled = ctx.run(f"systemctl is-enabled {service}").stdout.strip()
    if enabled != "enabled":
        return fail(f"{service}：{enabled}")
    if ctx.runtime:
        tracking = ctx.run("chronyc tracking")
        if tracking.rc != 0 or "Not synchronised" in tracking.stdout:
            return fail("chrony 未同步：" + tracking.stdout.strip()[:200])
        return ok("chrony 已同步")
    return ok(f"{service} 已安装并开机启用")


@check("host.journald")
def journald(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = ctx.run("cat /etc/systemd/journald.conf /etc/systemd/journald.conf.d/*.conf").stdout
    values = _settings(text)
    if values.get("Storage") != "persistent":
        return fail(f"Storage={values.get('Storage')}")
    if values.get("MaxRetentionSec", "0") not in ("0", ""):
        return fail(f"MaxRetentionSec={values.get('MaxRetentionSec')}（会按时间删除日志）")
    if ctx.runtime and ctx.run("test -d /var/log/journal").rc != 0:
        return fail("/var/log/journal 不存在（日志不落盘）")
    return ok(f"Storage=persistent，MaxRetentionSec=0，SystemMaxUse="
              f"{values.get('SystemMaxUse')}")


def _rsyslog_config(ctx: Context) -> str:
    """rsyslog's configuration without its comments (Debian's rsyslog.conf carries a commented
    plain `imtcp` example)."""
    text = ctx.run("cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf 2>/dev/null").stdout
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _rsyslog_tls_problems(ctx: Context, text: str) -> list[str]:
    """The gtls driver with a CA, a certificate and a key that exist (a readable PEM each)."""
    files = {key: re.search(rf'DefaultNetstreamDriver{key}File="([^"]+)"', text)
             for key in ("CA", "Cert", "Key")}
    problems = [f"未配置 {key}File" for key, match in files.items() if not match]
    if not re.search(r'DefaultNetstreamDriver="gtls"', text):
        problems.append("未使用 gtls（TLS）驱动")
    for match in filter(None, files.values()):
        if ctx.run(f"grep -q -- '-----BEGIN' {shlex.quote(match.group(1))}").rc != 0:
            problems.append(f"{match.group(1)} 不存在或不是 PEM")
    return problems


@check("host.rsyslog_forward")
def rsyslog_forward(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = _rsyslog_config(ctx)
    match = re.search(r'omfwd"\s+target="([^"]+)"\s+port="(\d+)"', text)
    if not match:
        return fail("rsyslog 没有转发到日志主机的规则")
    problems = _rsyslog_tls_problems(ctx, text)
    if not re.search(r'StreamDriverMode="1"', text) or \
            not re.search(r'StreamDriverAuthMode="x509/name"', text):
        problems.append("转发未启用 TLS 或未校验日志主机证书名称（StreamDriverMode/AuthMode）")
    peers = re.search(r'StreamDriverPermittedPeers="([^"]+)"', text)
    if not peers:
        problems.append("未限定日志主机的证书名称（StreamDriverPermittedPeers）")
    if "queue.filename" not in text:
        problems.append("转发没有落盘队列")
    if ctx.runtime:
        if ctx.run("systemctl is-active rsyslog").stdout.strip() != "active":
            problems.append("rsyslog 未运行")
        elif not ctx.run(f"ss -Htn state established '( dport = :{match.group(2)} )'").stdout:
            problems.append(f"没有到 {match.group(1)}:{match.group(2)} 的已建立连接")
    if problems:
        return fail("；".join(problems))
    return ok(f"*.* → {match.group(1)}:{match.group(2)}/tcp，TLS（gtls，校验证书与名称 "
              f"{peers.group(1) if peers else ''}），磁盘队列")


@check("host.logrotate_retention")
def logrotate_retention(ctx: Context, params: dict[str, Any]) -> Verdict:
    files = ["/etc/logrotate.d/rsyslog", "/etc/logrotate.d/nginx"]
    shown, bad = [], []
    for path in files:
        text = _read(ctx, path)
        if text is None:
            continue
        counts = [int(n) for n in re.findall(r"^\s*rotate\s+(\d+)", text, re.M)]
        period = 7 if re.search(r"^\s*weekly", text, re.M) else (
            30 if re.search(r"^\s*monthly", text, re.M) else 1)
        days = min(counts or [0]) * period
        shown.append(f"{path}：{days} 天")
        if days < params["days"]:
            bad.append(path)
    if bad or not shown:
        return fail(f"保留不足 {params['days']} 天：{bad or files}")
    return ok("；".join(shown))


@check("host.services_running")
def services_running(ctx: Context, params: dict[str, Any]) -> Verdict:
    states = {s: ctx.run(f"systemctl is-active {s}").stdout.strip() for s in params["services"]}
    down = {s: v for s, v in states.items() if v != "active"}
    return fail(f"未运行：{down}") if down else ok(f"运行中：{', '.join(states)}")


LISTEN_ALLOWED = {"dbservers": {22, 5432}, "appservers": {22, 80, 443},
                  "backupservers": {22, 6514, 9090, 9093}}


@check("host.listening_ports")
def listening_ports(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("ss -Hltn")
    allowed: set[int] = set()
    for group in ctx.groups:
        allowed |= LISTEN_ALLOWED.get(group, set())
    extra = []
    for line in result.stdout.splitlines():
        local = line.split()[3]
        address, port = local.rsplit(":", 1)
        loopback = address.startswith(("127.", "[::1]", "::1"))
        if int(port) not in allowed and not loopback and not 9100 <= int(port) <= 9199:
            extra.append(local)
    if result.rc != 0 or extra:
        return fail(f"不应监听：{extra}")
    return ok("监听：" + ", ".join(sorted({ln.split()[3] for ln in result.stdout.splitlines()})))


def _nft(ctx: Context) -> str:
    return ctx.run("nft list ruleset").stdout


@check("host.firewall_default_deny")
def firewall_default_deny(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.os_family() == "RedHat":
        zone = ctx.run("firewall-cmd --get-default-zone").stdout.strip()
        return ok(f"firewalld 默认区域 {zone}") if zone == "drop" else fail(f"默认区域 {zone}")
    ruleset = _nft(ctx)
    hooks = {h: re.search(rf"hook {h} priority \S+; policy (\w+);", ruleset)
             for h in ("input", "forward")}
    policies = {h: m.group(1) if m else None for h, m in hooks.items()}
    if policies != {"input": "drop", "forward": "drop"}:
        return fail(f"nftables 策略：{policies}")
    return ok("nftables：input、forward 策略均为 drop")


def _accept_rules(ruleset: str) -> list[str]:
    return [line.strip() for line in ruleset.splitlines()
            if line.strip().endswith("accept") or " accept comment " in line]


@check("host.firewall_flows")
def firewall_flows(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.os_family() == "RedHat":
        rules = ctx.run("firewall-cmd --zone=drop --list-rich-rules").stdout
        open_ports = ctx.run("firewall-cmd --zone=drop --list-ports --list-services").stdout
        if open_ports.strip():
            return fail(f"不限来源开放：{open_ports.strip()}")
        return ok(rules.strip().replace("\n", "；"))
    ruleset = _nft(ctx)
    unscoped = [r for r in _accept_rules(ruleset) if "dport" in r and "saddr" not in r]
    ports = sorted(set(re.findall(r"tcp dport (\S+) ip saddr", ruleset)))
    if not ports or unscoped:
        return fail(f"不限来源的放行规则：{unscoped or '（没有任何规则）'}")
    return ok(f"放行端口（均限定来源）：{', '.join(ports)}")


@check("host.firewall_ssh_management")
def firewall_ssh_management(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.os_family() == "RedHat":
        rules = ctx.run("firewall-cmd --zone=drop --list-rich-rules").stdout
        ok_rules = [r for r in rules.splitlines() if 'port="22"' in r and "source" in r]
        return ok("；".join(ok_rules)) if ok_rules else fail("没有限定来源的 SSH 规则")
    ruleset = _nft(ctx)
    ssh = [r for r in _accept_rules(ruleset) if "dport 22 " in r]
    if not ssh or any("saddr @management" not in r and not _borg_rule(ctx, r) for r in ssh):
        return fail(f"SSH 规则：{ssh}")
    elements = re.search(r"set management \{.*?elements = \{([^}]*)\}", ruleset, re.S)
    return ok(f"SSH 只来自管理地址：{elements.group(1).strip() if elements else '?'}")


def _borg_rule(ctx: Context, rule: str) -> bool:
    """The backup server also admits SSH from its backup clients (append-only borg only)."""
    return "backupservers" in ctx.groups and 'comment "borg over SSH' in rule


@check("host.ssh_source_restriction")
def ssh_source_restriction(ctx: Context, params: dict[str, Any]) -> Verdict:
    users = _sshd(ctx).get("allowusers", "")
    entries = users.split()
    if not entries or any("@" not in e for e in entries):
        return fail(f"AllowUsers 未限定来源：{users!r}")
    return ok(f"AllowUsers {users}")


@check("host.timer_enabled")
def timer_enabled(ctx: Context, params: dict[str, Any]) -> Verdict:
    timer = params["timer"]
    enabled = ctx.run(f"systemctl is-enabled {timer}").stdout.strip()
    active = ctx.run(f"systemctl is-active {timer}").stdout.strip()
    if enabled != "enabled" or active != "active":
        return fail(f"{timer}：{enabled}/{active}")
    if params.get("script") and ctx.run(f"test -x {params['script']}").rc != 0:
        return fail(f"{params['script']} 不存在")
    return ok(f"{timer} 已启用且在计划中")


@check("host.sysctl")
def sysctl(ctx: Context, params: dict[str, Any]) -> Verdict:
    values = _settings(_read(ctx, params["file"]) or "")
    wrong = {k: values.get(k) for k, v in params["values"].items() if values.get(k) != v}
    if wrong:
        return fail(f"{params['file']} 中不符：{wrong}")
    if ctx.runtime:
        live = {k: ctx.run(f"sysctl -n {k}").stdout.strip() for k in params["values"]}
        wrong = {k: v for k, v in live.items() if v != params["values"][k]}
        if wrong:
            return fail(f"运行值不符：{wrong}")
        return ok(f"运行值：{live}")
    return ok(f"{params['file']}：{params['values']}")


@check("host.modules_disabled")
def modules_disabled(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = ctx.run("cat /etc/modprobe.d/*.conf").stdout
    missing = [m for m in params["modules"]
               if not re.search(rf"^install\s+{re.escape(m)}\s+/bin/(false|true)", text, re.M)]
    return fail(f"未禁用：{missing}") if missing else ok(f"已禁用：{', '.join(params['modules'])}")


def _aide_config(ctx: Context) -> tuple[str, str]:
    path = "/etc/aide/oa-aide.conf" if ctx.os_family() == "Debian" else "/etc/aide-oa.conf"
    return path, _read(ctx, path) or ""


@check("host.aide")
def aide(ctx: Context, params: dict[str, Any]) -> Verdict:
    path, config = _aide_config(ctx)
    if not config:
        return fail(f"{path} 不存在")
    if ctx.run("test -s /var/lib/aide/oa-aide.db").rc != 0:
        return fail("完整性基线数据库 /var/lib/aide/oa-aide.db 不存在（未初始化）")
    return timer_enabled(ctx, {"timer": "oa-aide-check.timer"})


@check("host.aide_scope")
def aide_scope(ctx: Context, params: dict[str, Any]) -> Verdict:
    path, config = _aide_config(ctx)
    covered = [line.split()[0] for line in config.splitlines()
               if line.startswith("/") and len(line.split()) > 1]
    wanted = [p for p in params["paths"]
              if ctx.os_family() == "Debian" or p not in params.get("debian_only", [])]
    missing = [p for p in wanted if p not in covered]
    if missing:
        return fail(f"{path} 未覆盖：{missing}")
    return ok(f"{path} 覆盖：{', '.join(covered)}")


@check("host.aide_database")
def aide_database(ctx: Context, params: dict[str, Any]) -> Verdict:
    return file_mode(ctx, {"path": "/var/lib/aide/oa-aide.db", "max_mode": "0600",
                           "owner": "root"})


@check("host.clamav_scan")
def clamav_scan(ctx: Context, params: dict[str, Any]) -> Verdict:
    unit = ctx.run("systemctl cat oa-clamscan.service").stdout
    missing = [p for p in params["paths"] if p not in unit]
    if missing:
        return fail(f"扫描范围未包含：{missing}")
    timer = timer_enabled(ctx, {"timer": "oa-clamscan.timer"})
    if not timer.ok:
        return timer
    if ctx.runtime:
        sigs = ctx.run("ls /var/lib/clamav/ | grep -E '\\.(cvd|cld)$'").stdout.split()
        if not sigs:
            return fail("没有病毒库（/var/lib/clamav 中无 .cvd/.cld）")
        return ok(f"每日扫描 {', '.join(params['paths'])}；病毒库：{', '.join(sigs)}")
    return ok(f"每日扫描 {', '.join(params['paths'])}（定时器已启用）")


@check("host.clamav_mirror")
def clamav_mirror(ctx: Context, params: dict[str, Any]) -> Verdict:
    path = "/etc/clamav/freshclam.conf" if ctx.os_family() == "Debian" else "/etc/freshclam.conf"
    mirror = _settings(_read(ctx, path) or "", " ").get("PrivateMirror")
    if not mirror:
        return fail(f"{path} 没有 PrivateMirror（内网病毒库镜像）")
    service = "clamav-freshclam"
    if ctx.run(f"systemctl is-enabled {service}").stdout.strip() != "enabled":
        return fail(f"{service} 未开机启用")
    if ctx.runtime:
        age = ctx.run("find /var/lib/clamav -name 'daily.c[lv]d' -mtime -2").stdout.strip()
        if not age:
            return fail("病毒库超过 2 天未更新")
        return ok(f"PrivateMirror {mirror}；病毒库 2 天内已更新")
    return ok(f"PrivateMirror {mirror}；{service} 已启用")


@check("host.password_hashing")
def password_hashing(ctx: Context, params: dict[str, Any]) -> Verdict:
    method = _settings(_read(ctx, "/etc/login.defs") or "", " ").get("ENCRYPT_METHOD", "")
    if method.upper() not in ("YESCRYPT", "SHA512"):
        return fail(f"ENCRYPT_METHOD={method}")
    weak = ctx.run("awk -F: '$2 ~ /^\\$(1|2a|5)\\$/ {print $1}' /etc/shadow").stdout.split()
    if weak:
        return fail(f"弱散列的口令：{weak}")
    return ok(f"ENCRYPT_METHOD={method}；没有 MD5/SHA-256 散列的口令")


@check("host.core_dumps")
def core_dumps(ctx: Context, params: dict[str, Any]) -> Verdict:
    limits = ctx.run("cat /etc/security/limits.conf /etc/security/limits.d/*.conf").stdout
    coredump = ctx.run("cat /etc/systemd/coredump.conf.d/*.conf 2>/dev/null").stdout
    if not re.search(r"^\*\s+hard\s+core\s+0", limits, re.M) or "Storage=none" not in coredump:
        return fail("core 限制或 systemd-coredump 设置缺失")
    if ctx.runtime:
        hard = ctx.run("bash -lc 'ulimit -Hc'").stdout.strip()
        if hard != "0":
            return fail(f"登录会话的 core 硬限制为 {hard}")
        return ok("登录会话 ulimit -Hc = 0；systemd-coredump Storage=none")
    return ok("limits.d：* hard core 0；systemd-coredump Storage=none")


@check("host.management_path")
def management_path(ctx: Context, params: dict[str, Any]) -> Verdict:
    service = "ssh" if ctx.os_family() == "Debian" else "sshd"
    if ctx.run(f"systemctl is-active {service}").stdout.strip() != "active":
        return fail("SSH 服务未运行")
    ports = {line.split()[3].rsplit(":", 1)[1] for line in ctx.run("ss -Hltn").stdout.splitlines()}
    plain = sorted(ports & {"21", "23", "69", "512", "513"})
    return fail(f"明文管理端口在监听：{plain}") if plain else ok("管理路径只有 SSH")


@check("host.log_receiver")
def log_receiver(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = _rsyslog_config(ctx)
    if "imtcp" not in text or "/var/log/remote/" not in text:
        return fail("日志主机没有接收配置")
    problems = _rsyslog_tls_problems(ctx, text)
    if not re.search(r'StreamDriver\.Mode="1"', text) or \
            not re.search(r'StreamDriver\.AuthMode="x509/name"', text):
        problems.append("接收未启用 TLS 或未校验发送方证书名称（StreamDriver.Mode/AuthMode）")
    if not re.search(r"PermittedPeer=\[", text):
        problems.append("未限定发送方的证书名称（PermittedPeer）")
    kept = re.search(r"^d /var/log/remote \S+ \S+ \S+ (\d+)d$",
                     ctx.run("cat /etc/tmpfiles.d/oa-remote-logs.conf").stdout, re.M)
    if not kept or int(kept.group(1)) < params.get("days", 180):
        problems.append(f"接收的日志保留期不足 {params.get('days', 180)} 天")
    if problems:
        return fail("；".join(problems))
    if ctx.runtime:
        port = re.search(r'imtcp" port="(\d+)"', text)
        listening = ctx.run("ss -Hltn").stdout
        if not port or f":{port.group(1)} " not in listening:
            return fail("rsyslog 未在接收端口监听")
        hosts = ctx.run("ls /var/log/remote").stdout.split()
        return ok(f"接收 {port.group(1)}/tcp（TLS，校验发送方证书名称），保留 {kept.group(1)} 天；"
                  f"已收到：{', '.join(hosts) or '（尚无）'}")
    return ok(f"rsyslog imtcp 经 TLS 接收，按主机/日期存放，保留 {kept.group(1)} 天")


@check("host.central_sources")
def central_sources(ctx: Context, params: dict[str, Any]) -> Verdict:
    if ctx.os_family() == "Debian":
        text = ctx.run("cat /etc/apt/apt.conf.d/* /etc/apt/sources.list 2>/dev/null").stdout
        proxy = re.search(r'Acquire::http::Proxy\s+"([^"]+)"', text)
        if proxy:
            return ok(f"apt 经内网代理 {proxy.group(1)}")
        mirror = re.search(r"^deb\s+(\S+)", text, re.M)
        return ok(f"apt 源 {mirror.group(1)}") if mirror else fail("没有软件源设置")
    text = ctx.run("cat /etc/dnf/dnf.conf /etc/yum.repos.d/oa-mirror.repo 2>/dev/null").stdout
    found = re.search(r"^(proxy|baseurl)\s*=\s*(\S+)", text, re.M)
    return ok(f"dnf {found.group(1)}={found.group(2)}") if found else fail("没有内网镜像或代理")


@check("host.security_alerts")
def security_alerts(ctx: Context, params: dict[str, Any]) -> Verdict:
    units = ctx.run("systemctl cat oa-aide-check.service oa-clamscan.service").stdout
    if units.count("authpriv.alert") < 2:
        return fail("完整性检查或恶意代码扫描没有报警动作")
    if "backupservers" not in ctx.groups:
        forward = rsyslog_forward(ctx, {})
        if not forward.ok:
            return forward
    return ok("AIDE 与 ClamAV 发现问题时以 authpriv.alert 报警，转发日志主机")
