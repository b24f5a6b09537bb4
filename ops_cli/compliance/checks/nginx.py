"""Checks of nginx on the application servers (its effective configuration and real requests)."""

from __future__ import annotations

import re
from typing import Any

from ops_cli.compliance.checks import Context, Verdict, check, fail, ok

LOCAL = "https://127.0.0.1"


def _config(ctx: Context) -> str:
    result = ctx.run("nginx -T 2>/dev/null | grep -v '^\\s*#'")
    return result.stdout


def _headers(ctx: Context, path: str) -> dict[str, str]:
    text = ctx.run(f"curl -sk -o /dev/null -D - {LOCAL}{path}").stdout
    headers = {}
    for line in text.splitlines()[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    status = text.split()[1] if len(text.split()) > 1 else ""
    headers[":status"] = status
    return headers


def _handshake(ctx: Context, option: str, cipher: str = "") -> bool:
    extra = f" -cipher '{cipher}'" if cipher else " -cipher 'DEFAULT:@SECLEVEL=0'"
    result = ctx.run(f"echo | timeout 10 openssl s_client -connect 127.0.0.1:443 {option}{extra}"
                     " 2>&1 | grep -E '^(New|Protocol|    Protocol|    Cipher)' | head -3")
    return "Cipher is (NONE)" not in result.stdout and "New, " in result.stdout


@check("nginx.directives")
def directives(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _config(ctx)
    problems, shown = [], []
    for name, limit in params["max_seconds"].items():
        values = re.findall(rf"^\s*{name}\s+(\d+)s?\s*;", config, re.M)
        shown.append(f"{name}={'/'.join(values) or '默认'}")
        if not values or any(int(v) > limit for v in values):
            problems.append(f"{name} 未设置或大于 {limit}s")
    return fail("；".join(problems)) if problems else ok("，".join(shown))


@check("nginx.tls_protocols")
def tls_protocols(ctx: Context, params: dict[str, Any]) -> Verdict:
    results = {v: _handshake(ctx, f"-{v}") for v in ("tls1", "tls1_1", "tls1_2", "tls1_3")}
    if results["tls1"] or results["tls1_1"] or not results["tls1_2"]:
        return fail(f"握手结果：{results}")
    return ok(f"TLS 1.0/1.1 被拒绝，TLS 1.2{'/1.3' if results['tls1_3'] else ''} 可用")


@check("nginx.default_site_removed")
def default_site_removed(ctx: Context, params: dict[str, Any]) -> Verdict:
    leftover = ctx.run("ls /etc/nginx/sites-enabled/ 2>/dev/null").stdout.split()
    config = _config(ctx)
    if leftover or "/usr/share/nginx/html" in config or "/var/www/html" in config:
        return fail(f"默认站点仍在：{leftover or '（默认文档根）'}")
    return ok("没有发行版默认站点，只有平台站点")


@check("nginx.worker_user")
def worker_user(ctx: Context, params: dict[str, Any]) -> Verdict:
    users = ctx.run("ps -o user= -C nginx").stdout.split()
    workers = users[1:] if users and users[0] == "root" else users
    if not workers or "root" in workers:
        return fail(f"nginx 进程用户：{users}")
    return ok(f"主进程 root，工作进程 {', '.join(sorted(set(workers)))}")


@check("nginx.metrics_restricted")
def metrics_restricted(ctx: Context, params: dict[str, Any]) -> Verdict:
    code = ctx.run(f"curl -sk -o /dev/null -w '%{{http_code}}' {LOCAL}/metrics").stdout.strip()
    if code != "403":
        return fail(f"本机（非监控服务器）访问 /metrics 返回 {code}，应为 403")
    return ok("非监控来源访问 /metrics 得到 403")


@check("nginx.file_modes")
def file_modes(ctx: Context, params: dict[str, Any]) -> Verdict:
    result = ctx.run("stat -c '%n %a %U' /etc/nginx/nginx.conf /etc/nginx/conf.d/*.conf "
                     "/etc/nginx/oa-security-headers.conf")
    bad = [line for line in result.stdout.splitlines()
           if line.split()[2] != "root" or int(line.split()[1], 8) & 0o022]
    if result.rc != 0 or bad:
        return fail(f"权限不符：{bad or result.stderr.strip()}")
    return ok(result.stdout.strip().replace("\n", "；"))


@check("nginx.access_log")
def access_log(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _config(ctx)
    logs = re.findall(r"^\s*access_log\s+([^;]+);", config, re.M)
    if not logs or any(entry.strip() == "off" for entry in logs):
        return fail(f"access_log：{logs}")
    if not re.search(r"^\s*error_log\s+", config, re.M):
        return fail("没有 error_log")
    return ok("access_log：" + "；".join(entry.split()[0] for entry in logs))


@check("nginx.log_format")
def log_format(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _config(ctx)
    block = re.search(r"log_format\s+oa_timed(.*?);", config, re.S)
    text = block.group(1) if block else ""
    missing = [f for f in params["required"] if f not in text]
    return fail(f"日志格式缺少 {missing}") if missing or not block else \
        ok(f"log_format oa_timed 含 {', '.join(params['required'])}")


@check("nginx.syslog")
def syslog(ctx: Context, params: dict[str, Any]) -> Verdict:
    config = _config(ctx)
    if not re.search(r"^\s*access_log\s+syslog:", config, re.M):
        return fail("访问日志没有写入 syslog")
    return ok("access_log 与 error_log 同时写入 syslog（rsyslog 转发日志主机）")


@check("nginx.server_header")
def server_header(ctx: Context, params: dict[str, Any]) -> Verdict:
    headers = _headers(ctx, "/healthz")
    redirect = ctx.run("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "
                       "http://127.0.0.1/login").stdout.strip()
    if headers.get("server") != "nginx":
        return fail(f"Server 头：{headers.get('server')!r}")
    if not redirect.startswith("301 https://"):
        return fail(f"HTTP 未跳转到 HTTPS：{redirect}")
    return ok(f"Server: nginx（无版本号）；HTTP → {redirect}")


@check("nginx.security_headers")
def security_headers(ctx: Context, params: dict[str, Any]) -> Verdict:
    headers = _headers(ctx, "/login")
    wanted = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}
    wrong = {k: headers.get(k) for k, v in wanted.items() if headers.get(k) != v}
    body = re.findall(r"^\s*client_max_body_size\s+(\S+);", _config(ctx), re.M)
    if wrong or "referrer-policy" not in headers or not body:
        return fail(f"响应头不符：{wrong}；client_max_body_size：{body}")
    return ok(f"nosniff、X-Frame-Options DENY、Referrer-Policy；client_max_body_size {body[0]}")


@check("nginx.version")
def version(ctx: Context, params: dict[str, Any]) -> Verdict:
    text = ctx.run("nginx -v 2>&1").stdout
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", text)
    if not found:
        return fail(f"无法读取版本：{text.strip()}")
    major, minor = int(found.group(1)), int(found.group(2))
    want = tuple(int(p) for p in params["min"].split("."))
    if (major, minor) < want:
        return fail(f"nginx {found.group(0)} 低于 {params['min']}")
    return ok(f"{found.group(0)}（发行版软件包）")


@check("nginx.hsts")
def hsts(ctx: Context, params: dict[str, Any]) -> Verdict:
    value = _headers(ctx, "/healthz").get("strict-transport-security", "")
    age = re.search(r"max-age=(\d+)", value)
    if not age or int(age.group(1)) < 15552000:
        return fail(f"HSTS：{value!r}（max-age 应 ≥ 180 天）")
    return ok(f"Strict-Transport-Security: {value}")


@check("nginx.ciphers")
def ciphers(ctx: Context, params: dict[str, Any]) -> Verdict:
    weak = {c: _handshake(ctx, "-tls1_2", c) for c in ("AES128-SHA", "DES-CBC3-SHA", "RC4-SHA",
                                                       "AES256-SHA256")}
    strong = _handshake(ctx, "-tls1_2", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
    accepted = [c for c, done in weak.items() if done]
    if accepted or not strong:
        return fail(f"接受的弱套件：{accepted}；强套件握手：{strong}")
    return ok("弱套件（无前向保密或 CBC/3DES/RC4）握手被拒；ECDHE-GCM 可用")
