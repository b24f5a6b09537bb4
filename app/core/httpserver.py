"""Every worker's HTTP server: Tornado's, with two of its per-request costs paid per connection.

- TCP_NODELAY. Tornado switches Nagle's algorithm off at the end of every response and on
  again before the next (two `setsockopt` calls, and a look at the socket's family through
  Python's enum, per request: 2.4 % of a 待办 request's samples). Here it is off once for the
  connection's life: each response is written as one piece anyway, and nginx in front sends
  its own with `tcp_nodelay` on.
- The idle limit. Tornado guards the wait for each request's headers with a timer of its
  own (`gen.with_timeout`: a timer scheduled and cancelled, a future chained, per request:
  3.9 %). Here the connections waiting for their next request are noted in a dict, and one
  sweep every few seconds closes those that have waited longer than `idle_seconds`. A
  connection in the middle of a request is never closed for idling, as before.

bench/README.md, finding 80.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

import tornado.httpserver
import tornado.ioloop
import tornado.iostream
from tornado import httputil

from app.core.config import Settings

SWEEPS_PER_LIMIT = 4  # a connection is closed at most a quarter of the limit late
LONGEST_SWEEP_INTERVAL = 15.0  # seconds


class PlatformHTTPServer(tornado.httpserver.HTTPServer):
    """`HTTPServer(application, idle_seconds=..., max_body_size=...)`; call `stop()` to end it."""

    def initialize(self, request_callback: Any, idle_seconds: float = 300.0,
                   **kwargs: Any) -> None:
        super().initialize(request_callback, **kwargs)
        if idle_seconds <= 0:
            raise ValueError(f"空闲连接时限（idle_connection_seconds={idle_seconds}）必须大于 0")
        self.conn_params.header_timeout = None  # the sweep enforces it instead
        self.idle_seconds = idle_seconds
        self._waiting: dict[object, float] = {}  # server connection -> waiting since
        interval = min(idle_seconds / SWEEPS_PER_LIMIT, LONGEST_SWEEP_INTERVAL)
        self._sweep = tornado.ioloop.PeriodicCallback(self._close_idle, interval * 1000)
        self._sweep.start()

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple) -> None:
        stream.set_nodelay(True)  # only where it applies (TCP): a Unix socket is left alone
        stream.set_nodelay = _keep_as_set  # type: ignore[method-assign]
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        """Called as a connection starts waiting for its next request's headers."""
        self._waiting[server_conn] = time.monotonic()
        delegate = super().start_request(server_conn, request_conn)
        return _HeadersArrival(delegate, self._waiting, server_conn)

    def on_close(self, server_conn: object) -> None:
        self._waiting.pop(server_conn, None)
        super().on_close(server_conn)

    def stop(self) -> None:
        self._sweep.stop()
        super().stop()

    def _close_idle(self) -> None:
        oldest = time.monotonic() - self.idle_seconds
        for connection, since in list(self._waiting.items()):
            if since < oldest:
                del self._waiting[connection]
                connection.stream.close()  # type: ignore[attr-defined]  # its loop ends


def server_for(application: Any, cfg: Settings) -> PlatformHTTPServer:
    """A worker's server for `application`, with the body and idle limits of `cfg`."""
    return PlatformHTTPServer(application, max_body_size=cfg.max_body_mb * 1024 * 1024,
                              idle_seconds=cfg.idle_connection_seconds)


def _keep_as_set(value: bool) -> None:
    """A connection's TCP_NODELAY stays as `handle_stream` set it."""


class _HeadersArrival(httputil.HTTPMessageDelegate):
    """The application's delegate for one request, which first notes that the connection is
    no longer waiting."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate,
                 waiting: dict[object, float], connection: object) -> None:
        self._delegate = delegate
        self._waiting = waiting
        self._connection = connection

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        self._waiting.pop(self._connection, None)
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
