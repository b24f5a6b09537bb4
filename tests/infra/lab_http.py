"""HTTP(S) checks run *inside* the lab network namespace, as a browser there would:

    ip netns exec oa-lab python -m tests.infra.lab_http CHECK ARGS...

Each check prints one JSON object. The tests call it through `lab_http()` (see test_deploy).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
from typing import Any

import requests

XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


def fetch(url: str, ca: str) -> dict[str, Any]:
    response = requests.get(url, verify=ca, allow_redirects=False, timeout=10)
    return {"status": response.status_code, "headers": dict(response.headers),
            "body": response.text[:2000]}


def _xsrf(session: requests.Session, url: str, ca: str) -> str:
    page = session.get(url, timeout=10, verify=ca)
    page.raise_for_status()
    match = XSRF.search(page.text)
    if not match:
        raise RuntimeError(f"no _xsrf field in {url}")
    return match.group(1)


def login(base: str, ca: str, username: str, password: str, new_password: str) -> dict[str, Any]:
    """Sign in through nginx; change the one-time password when asked; end on the portal."""
    # `verify` on every call: a session's own setting loses to REQUESTS_CA_BUNDLE in the env.
    session = requests.Session()
    steps: list[str] = []
    token = _xsrf(session, base + "/login", ca)
    response = session.post(base + "/login", timeout=20, verify=ca, data={
        "_xsrf": token, "username": username, "password": password, "captcha": ""})
    steps.append(f"POST /login -> {response.url}")
    if response.url.endswith("/account/password"):
        token = _xsrf(session, base + "/account/password", ca)
        response = session.post(base + "/account/password", timeout=20, verify=ca, data={
            "_xsrf": token, "old_password": password, "new_password": new_password,
            "confirm_password": new_password})
        steps.append(f"POST /account/password -> {response.url}")
    cookies = [{"name": c.name, "secure": c.secure} for c in session.cookies]
    return {"status": response.status_code, "url": response.url, "steps": steps,
            "body": response.text[:20000], "cookies": cookies}


def tls_versions(host: str, port: int) -> dict[str, bool]:
    """Which TLS versions the server completes a handshake with."""
    result: dict[str, bool] = {}
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2,
                    ssl.TLSVersion.TLSv1_3):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")  # the client offers everything; the server decides
        context.minimum_version = context.maximum_version = version
        try:
            with socket.create_connection((host, port), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname=host):
                result[version.name] = True
        except (ssl.SSLError, OSError):
            result[version.name] = False
    return result


def main(argv: list[str]) -> None:
    check, *args = argv
    if check == "fetch":
        out: Any = fetch(args[0], args[1])
    elif check == "login":
        out = login(*args)
    elif check == "tls":
        out = tls_versions(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown check {check}")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
