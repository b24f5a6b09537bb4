"""The client's address: from nginx's headers only when the connection comes from a trusted proxy.

The live server listens on the loopback, the default trusted proxy (nginx beside the workers),
so these requests play nginx when they send X-Real-IP and a stranger once the setting no
longer trusts the loopback."""

from __future__ import annotations

import pytest

from app.core.config import load_settings
from tests.conftest import Client
from tests.support.accounts import login, make_user
from tests.support.audit import chain_audit_trail
from tests.support.database import TestDatabase

MONITOR = "10.20.30.40"


def _metrics_status(client: Client, headers: dict[str, str] | None = None) -> int:
    return client.get("/metrics", headers=headers or {}).status_code


def test_metrics_admit_the_client_a_trusted_proxy_names(client: Client,
                                                       settings_override) -> None:
    settings_override(metrics_allow=(MONITOR,))
    assert _metrics_status(client) == 403  # the loopback itself is not the monitoring host
    assert _metrics_status(client, {"X-Real-IP": MONITOR}) == 200
    assert _metrics_status(client, {"X-Forwarded-For": f"192.0.2.9, {MONITOR}"}) == 200
    assert _metrics_status(client, {"X-Real-IP": "not-an-address"}) == 403


@pytest.mark.parametrize("trusted", [(), ("192.0.2.0/24",)])
def test_headers_from_an_untrusted_peer_are_ignored(client: Client, settings_override,
                                                    trusted: tuple[str, ...]) -> None:
    settings_override(metrics_allow=(MONITOR,), trusted_proxies=trusted)
    assert _metrics_status(client, {"X-Real-IP": MONITOR}) == 403
    assert _metrics_status(client, {"X-Forwarded-For": MONITOR}) == 403


def test_a_trusted_network_is_given_as_cidr(client: Client, settings_override) -> None:
    settings_override(metrics_allow=(MONITOR,), trusted_proxies=("127.0.0.0/8",))
    assert _metrics_status(client, {"X-Real-IP": MONITOR}) == 200


def _login_addresses(db: TestDatabase) -> list[str]:
    chain_audit_trail()
    conn = db.superuser()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ip FROM audit_event WHERE action = 'auth.login.success'"
                        " ORDER BY id")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_the_audit_trail_records_the_address_nginx_saw(client: Client, db: TestDatabase,
                                                       settings_override) -> None:
    make_user("zhangsan", roles=("staff",))
    client.headers["X-Real-IP"] = "10.1.2.3"
    login(client, "zhangsan")
    settings_override(trusted_proxies=())
    stranger = Client(client.base)
    stranger.headers["X-Real-IP"] = "10.9.9.9"  # written by the client itself, not by nginx
    login(stranger, "zhangsan")
    assert _login_addresses(db) == ["10.1.2.3", "127.0.0.1"]


def test_a_trusted_proxy_that_is_no_address_is_refused_when_settings_load() -> None:
    assert load_settings({"OA_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies == (
        "10.0.0.0/8", "::1")
    with pytest.raises(ValueError, match="配置项 trusted_proxies 的值无效"):
        load_settings({"OA_TRUSTED_PROXIES": "10.0.0.0/8,nginx-host"})
