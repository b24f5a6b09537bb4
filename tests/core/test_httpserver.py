"""The workers' HTTP server: idle connections closed by a sweep, TCP_NODELAY set once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import tornado.netutil
import tornado.web

from app.core.httpserver import PlatformHTTPServer

IDLE = 0.4  # seconds: the sweep runs every 0.1 s


class Slow(tornado.web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("seconds")))
        self.write("done")


class NoDelay(tornado.web.RequestHandler):
    def get(self) -> None:
        sock = self.request.connection.stream.socket  # type: ignore[union-attr]
        self.write(str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))


@contextlib.contextmanager
def serving() -> Iterator[tuple[int, PlatformHTTPServer]]:
    started = threading.Event()
    state: dict = {}

    async def main() -> None:
        app = tornado.web.Application([(r"/slow", Slow), (r"/nodelay", NoDelay)])
        server = state["server"] = PlatformHTTPServer(app, idle_seconds=IDLE)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        state["port"] = sockets[0].getsockname()[1]
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await state["stop"].wait()
        server.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield state["port"], state["server"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(5)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _ask(sock: socket.socket, path: str) -> bytes:
    """One keep-alive request on `sock`; its body (the responses here are short)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response or not _complete(response):
        chunk = sock.recv(4096)
        assert chunk, f"连接在响应中途被关闭：{response!r}"
        response += chunk
    return response.split(b"\r\n\r\n", 1)[1]


def _complete(response: bytes) -> bool:
    head, body = response.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return len(body) >= length


def _seconds_until_closed(sock: socket.socket) -> float:
    started = time.monotonic()
    assert sock.recv(4096) == b""
    return time.monotonic() - started


def test_a_connection_that_never_sends_a_request_is_closed_after_the_limit() -> None:
    with serving() as (port, _), _connect(port) as sock:
        waited = _seconds_until_closed(sock)
    assert IDLE * 0.9 <= waited <= IDLE + 1.5, waited


def test_a_kept_alive_connection_is_closed_once_it_idles_past_the_limit() -> None:
    with serving() as (port, _), _connect(port) as sock:
        assert _ask(sock, "/slow?seconds=0") == b"done"
        assert _seconds_until_closed(sock) >= IDLE * 0.9


def test_a_request_that_takes_longer_than_the_limit_is_not_cut_off() -> None:
    with serving() as (port, _), _connect(port) as sock:
        assert _ask(sock, f"/slow?seconds={IDLE * 3}") == b"done"
        assert _ask(sock, "/slow?seconds=0") == b"done"  # and the connection lives on


def test_a_connection_closed_by_its_client_is_forgotten() -> None:
    with serving() as (port, server):
        for _ in range(5):
            with _connect(port) as sock:
                _ask(sock, "/slow?seconds=0")
        deadline = time.monotonic() + 5
        while server._waiting and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server._waiting == {}


def test_nagle_stays_off_for_the_connections_whole_life() -> None:
    # Tornado alone leaves it off until a response is finishing: every request saw 0
    with serving() as (port, _), _connect(port) as sock:
        assert [_ask(sock, "/nodelay") for _ in range(3)] == [b"1", b"1", b"1"]


def test_the_limit_must_be_positive() -> None:
    app = tornado.web.Application([])
    with pytest.raises(ValueError, match="必须大于 0"):
        PlatformHTTPServer(app, idle_seconds=0)
