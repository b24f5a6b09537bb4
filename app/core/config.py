"""Settings from `OA_*` environment variables over an optional config file.

The file (``OA_CONFIG_FILE``, default ``/etc/oa/oa.conf`` when present) holds ``KEY = value``
lines using the same names as the environment without the ``OA_`` prefix, lower-case
(``database_url = postgresql://...``). The environment wins over the file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CONFIG_FILE = Path("/etc/oa/oa.conf")


@dataclass(frozen=True)
class Settings:
    database_url: str = ""  # empty: the embedded private cluster under var/ (oa-ops run)
    migration_database_url: str = ""  # the schema owner's URL; empty means database_url
    db_runtime_role: str = "oa_app"
    db_pool_size: int = 16
    db_threads: int = 8
    cpu_threads: int = 1  # per process, for Argon2 and images; each hash uses 4 lanes itself
    host: str = "127.0.0.1"
    port: int = 8888
    workers: int = 0  # 0 means one process per core
    cookie_secret: str = ""
    secret_file: str = "var/secret/cookie_secret"
    secure_cookies: bool = False  # True behind TLS: Secure cookies and HSTS
    max_body_mb: int = 20
    # a connection waiting this long for its next request is closed (app.core.httpserver);
    # longer than nginx's 60 s for its idle upstream connections, so the proxy closes first
    idle_connection_seconds: int = 300
    debug: bool = False
    metrics_dir: str = ""
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")  # who may scrape /metrics
    # whose X-Real-IP / X-Forwarded-* headers are believed (app.core.client_address)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # sessions
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    session_max_per_user: int = 5
    # passwords and login
    password_min_length: int = 8
    password_min_classes: int = 3
    password_history: int = 5
    password_max_age_days: int = 90
    password_warn_days: int = 7
    lockout_threshold: int = 5
    lockout_minutes: int = 30
    totp_required_roles: tuple[str, ...] = ("sysadmin", "secadmin", "auditor")
    totp_issuer: str = "公安局办公平台"
    audit_retention_days: int = 180
    time_zone: str = "Asia/Shanghai"
    # Alertmanager's bearer token for /api/alerts/alertmanager; empty: the webhook is refused
    alert_webhook_token: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def process_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


def _read_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip().lower()] = value.strip().strip('"').strip("'")
    return values


def _coerce(raw: str, current: object) -> object:
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def ip_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network,
                                                   ...]:
    """Addresses or networks (`10.0.0.0/24`) of a setting such as trusted_proxies."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    config_file = Path(env.get("OA_CONFIG_FILE", str(DEFAULT_CONFIG_FILE)))
    raw: dict[str, str] = _read_file(config_file) if config_file.is_file() else {}
    for key, value in env.items():
        if key.startswith("OA_") and key != "OA_CONFIG_FILE":
            raw[key[3:].lower()] = value
    defaults = Settings()
    known = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    values: dict[str, object] = {}
    extra: dict[str, str] = {}
    for key, value in raw.items():
        if key in known:
            try:
                values[key] = _coerce(value, getattr(defaults, key))
                if key == "trusted_proxies":
                    ip_networks(values[key])  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"配置项 {key} 的值无效：{value!r}") from exc
        else:
            extra[key] = value
    return Settings(**values, extra=extra)  # type: ignore[arg-type]


_settings: Settings | None = None


def settings() -> Settings:
    """The process-wide settings, loaded once."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def override_settings(new: Settings) -> None:
    """Replace the process-wide settings (start-up code and tests)."""
    global _settings
    _settings = new
