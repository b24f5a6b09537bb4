"""The package proxy of the lab: tinyproxy on the machine's loopback, relayed into the lab.

    host --tcp--> gateway:relay_port (socat, lab netns) --unix--> proxy.sock
         (socat, root netns) --tcp--> 127.0.0.1:proxy_port (tinyproxy) --> the mirrors

The unix socket is the only thing that crosses from the lab namespace to the machine: no
address, route or forwarding rule is needed in the root namespace, and the hosts still have
no route out.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from .proc import LabError, ProcRecord, spawn
from .settings import NETNS_LAB, LabSettings

TINYPROXY_CONF = """\
# oa-lab: written by `oa-ops lab up`; edits are overwritten.
User tinyproxy
Group tinyproxy
Listen 127.0.0.1
Port {port}
Timeout 600
MaxClients 64
LogLevel Notice
Allow 127.0.0.1
ConnectPort 443
DisableViaHeader Yes
"""


def _port_in_use(port: int) -> bool:
    """True when something listens on TCP `port` in this namespace (read from /proc: a probe
    connection would only add noise to tinyproxy's log)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_in_use(port):
            return
        time.sleep(0.1)
    raise LabError(f"代理未在 127.0.0.1:{port} 上监听")


def wait_path(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.1)
    raise LabError(f"中继套接字 {path} 未出现")


def start_tinyproxy(settings: LabSettings) -> ProcRecord:
    if _port_in_use(settings.proxy_port):
        raise LabError(f"127.0.0.1:{settings.proxy_port} 已被占用：请用 OA_LAB_PROXY_PORT 另选端口")
    conf = settings.run_dir / "tinyproxy.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(TINYPROXY_CONF.format(port=settings.proxy_port))
    rec = spawn(
        "tinyproxy", ["tinyproxy", "-d", "-c", str(conf)], settings.logs_dir / "tinyproxy.log"
    )
    wait_port(settings.proxy_port)
    return rec


def start_socket_relay(settings: LabSettings) -> ProcRecord:
    """Root namespace: unix socket -> tinyproxy on loopback."""
    sock = settings.proxy_socket
    sock.unlink(missing_ok=True)
    argv = [
        "socat",
        f"UNIX-LISTEN:{sock},fork,mode=600,unlink-early",
        f"TCP:127.0.0.1:{settings.proxy_port}",
    ]
    rec = spawn("relay-root", argv, settings.logs_dir / "relay-root.log")
    wait_path(sock)
    return rec


def start_lab_relay(settings: LabSettings) -> ProcRecord:
    """Lab namespace: gateway:relay_port -> unix socket. `ip netns exec` execs socat itself."""
    argv = [
        "ip", "netns", "exec", NETNS_LAB, "socat",
        f"TCP-LISTEN:{settings.relay_port},bind={settings.gateway},fork,reuseaddr",
        f"UNIX-CONNECT:{settings.proxy_socket}",
    ]  # fmt: skip
    return spawn("relay-lab", argv, settings.logs_dir / "relay-lab.log")
