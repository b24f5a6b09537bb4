"""The database and the one way the web process touches it.

The pattern, used everywhere: a request's unit of work is ONE plain function that takes its
inputs and returns plain values. `unit_of_work(fn, *args)` runs it on a bounded thread pool, inside
a pooled connection and one transaction, so that

- the Tornado IOLoop never waits on PostgreSQL (it awaits the future),
- the work commits whole or not at all (an exception rolls everything back),
- the number of concurrent database sessions is bounded by the pool, not by the request rate.

    rows = await unit_of_work(service.list_users, ctx, query)

Inside the function, call peewee freely; never await, never call `unit_of_work` again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import select
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

import peewee
import psycopg2.extensions
from playhouse.postgres_ext import PooledPostgresqlExtDatabase

T = TypeVar("T")

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def connect_params(url: str) -> dict[str, Any]:
    """psycopg2 keyword arguments from a postgresql:// URL (host may be a socket directory)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"数据库地址必须以 postgresql:// 开头：{url}")
    params: dict[str, Any] = {"database": unquote(parsed.path.lstrip("/")) or "oa"}
    if parsed.hostname:
        params["host"] = unquote(parsed.hostname)
    if parsed.port:
        params["port"] = parsed.port
    if parsed.username:
        params["user"] = unquote(parsed.username)
    if parsed.password:
        params["password"] = unquote(parsed.password)
    for pair in filter(None, parsed.query.split("&")):
        key, _, value = pair.partition("=")
        params[key] = unquote(value)
    return params


class _Pool(PooledPostgresqlExtDatabase):
    def _is_closed(self, conn: Any) -> bool:
        """Whether a pooled connection is dead, without a `SELECT 1` on every checkout.

        An idle connection's socket has nothing to read unless the server said something: a
        terminated or restarted backend leaves its FATAL message or EOF there. Only then is
        the round trip of peewee's own check paid (which also copes with a notification)."""
        if conn.closed:
            return True
        readable = select.poll()
        readable.register(conn.fileno(), select.POLLIN)
        if readable.poll(0):
            return super()._is_closed(conn)
        return conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE


def make_database(url: str, pool_size: int) -> PooledPostgresqlExtDatabase:
    params = connect_params(url)
    name = params.pop("database")
    return _Pool(
        name,
        max_connections=pool_size,
        stale_timeout=300,
        timeout=30,
        register_hstore=False,
        autorollback=False,
        application_name="oa-platform",
        **params,
    )


class _Runtime:
    executor: ThreadPoolExecutor | None = None


_runtime = _Runtime()


def init_database(url: str, pool_size: int, threads: int) -> None:
    """Bind the models to a pooled database and create the bounded thread pool."""
    database.initialize(make_database(url, pool_size))
    if _runtime.executor is not None:
        _runtime.executor.shutdown(wait=False)
    _runtime.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")


def close_database() -> None:
    if _runtime.executor is not None:
        _runtime.executor.shutdown(wait=True)
        _runtime.executor = None
    if database.obj is not None:
        database.obj.close_all()


def run_in_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking: one pooled connection, one transaction. For CLI, tests and workers."""
    with database.connection_context(), database.atomic():
        return fn(*args, **kwargs)


def run_without_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking: one pooled connection in autocommit, each statement its own transaction."""
    with database.connection_context():
        return fn(*args, **kwargs)


async def unit_of_work(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` as one transaction on the database thread pool; see the module doc."""
    return await _on_pool(functools.partial(run_in_transaction, fn, *args, **kwargs))


async def run_statements(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like `unit_of_work`, but without BEGIN/COMMIT: only for a function whose every statement
    stands on its own (session resolution: one statement, rarely a second), saving the
    transaction's two round trips on every request."""
    return await _on_pool(functools.partial(run_without_transaction, fn, *args, **kwargs))


async def _on_pool(call: Callable[[], T]) -> T:
    if _runtime.executor is None:
        raise RuntimeError("数据库尚未初始化（init_database）")
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_runtime.executor, context.run, call)


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run CPU-heavy or blocking work that is not a database call (hashing, images)."""
    if _runtime.executor is None:
        raise RuntimeError("数据库尚未初始化（init_database）")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_runtime.executor, functools.partial(fn, *args, **kwargs))
