"""The client's address and scheme as the request's first hop saw them, from a trusted proxy.

Behind nginx every request comes from nginx's address; nginx passes the client's own in
X-Real-IP (and X-Forwarded-For, X-Forwarded-Proto). The audit trail records that address and
/metrics admits by it, so it is taken from these headers only when the connection itself comes
from a proxy listed in `trusted_proxies` (addresses or networks; default the loopback, where
nginx runs beside the workers). From anyone else the headers are ignored: a client that reaches
a worker directly cannot write another address into the audit trail or into /metrics'
allow-list. (Tornado's `xheaders=True` believed them from every client, and checked each
address with a getaddrinfo call per request, 2-3 % of a 待办 request; bench/README.md,
finding 67.)
"""

from __future__ import annotations

import functools
import ipaddress

from tornado.httputil import HTTPServerRequest

from app.core.config import ip_networks
from app.core.web import header_value


@functools.lru_cache(maxsize=1024)  # the peers: nginx, a monitoring host, a tester
def _is_trusted(peer: str, entries: tuple[str, ...]) -> bool:
    address = _address(peer)
    return address is not None and any(address in net for net in ip_networks(entries))


@functools.lru_cache(maxsize=8192)  # the addresses of the bureau's staff, checked once each
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_client(request: HTTPServerRequest) -> str | None:
    """X-Real-IP, else the last X-Forwarded-For entry (the address the proxy saw)."""
    headers = request.headers
    claimed = (header_value(headers, "X-Real-Ip")
               or header_value(headers, "X-Forwarded-For").rpartition(",")[2])
    claimed = claimed.strip()
    return claimed if claimed and _address(claimed) is not None else None


def apply_proxy_headers(request: HTTPServerRequest, trusted: tuple[str, ...]) -> None:
    """Replace the request's address and scheme by the proxy's headers, if its peer is trusted."""
    if not trusted or not _is_trusted(request.remote_ip or "", trusted):
        return
    client = _forwarded_client(request)
    if client is not None:
        request.remote_ip = client
    scheme = header_value(request.headers, "X-Forwarded-Proto").strip().lower()
    if scheme in ("http", "https"):
        request.protocol = scheme
