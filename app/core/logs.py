"""Logging with the request id on every line, including lines written by services on the
database threads (the unit of work copies the request's context into its thread)."""

from __future__ import annotations

import contextvars
import logging
import time

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class SecondCachingFormatter(logging.Formatter):
    """The standard format; the local time of day is formatted once per second, not per line
    (localtime + strftime were a fifth of the access log's cost; bench/README.md, finding 38)."""

    _cached: tuple[int, str] = (-1, "")  # (second, its text): replaced whole, never torn

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(second)))
            self._cached = cached
        return self.default_msec_format % (cached[1], record.msecs)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(SecondCachingFormatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    # The format uses no caller, thread or multiprocessing name: not collecting them spares
    # every line (one access-log line per request) a walk up the stack (the logging HOWTO's
    # "Optimization"; bench/README.md, finding 32).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
