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
import contextlib
import contextvars
import functools
import itertools
import logging
import math
import os
import queue
import re
import select
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
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

    def save(self, force_insert: bool = False, only: Any = None) -> Any:
        """peewee's `save` (and so `create`), with the INSERT or UPDATE text made once per model
        and set of columns and run prepared (bench/README.md, finding 54): the workflow engine
        writes a node run, a task and a history row per step. What `save_row` does not cover
        goes to peewee."""
        from app.core.sql import save_row  # app.core.sql builds on this module

        rows = None if only is not None else save_row(self, force_insert)
        return super().save(force_insert=force_insert, only=only) if rows is None else rows

    @classmethod
    def get_by_id(cls, pk: Any) -> Any:
        """peewee's `get_by_id`, its statement made once per model for an integer key (the
        task and 公文 pages read rows by id several times each)."""
        if type(pk) is not int or not cls._meta.auto_increment:
            return super().get_by_id(pk)
        from app.core.sql import row_by_key  # app.core.sql builds on this module

        row = row_by_key(cls, pk)
        if row is None:
            raise cls.DoesNotExist(f"{cls.__name__} {pk} 不存在")
        return row


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

    # ---- statements that ride along with the next one -------------------------------------
    # peewee sends BEGIN as a round trip of its own. Here it waits, per thread, and goes out
    # in front of the transaction's first statement ("BEGIN;SELECT ...": one message, one
    # round trip, the server opens the transaction block and runs the statement in it). A
    # transaction that ran no statement sends neither BEGIN nor COMMIT. A deferred statement
    # (`defer`: one that returns nothing, such as the audit event's INSERT) waits the same
    # way and goes out in front of the transaction's next statement, savepoint or COMMIT, so
    # it keeps its place in the order of the transaction's statements; a rollback drops it.
    def begin(self, isolation_level: Any = None) -> None:
        self.forget_reads()
        if isolation_level is not None or self._isolation_level:
            super().begin(isolation_level)
        else:
            self._state.begin_pending = True

    def defer(self, statement: str) -> None:
        """Send `statement` (complete SQL text, no placeholders) with the transaction's next
        statement or its COMMIT. Only inside a transaction; its error surfaces there."""
        if not self.in_transaction():
            raise RuntimeError("只有事务里的语句可以随下一条语句发出")
        self.forget_reads()
        self._state.deferred = [*getattr(self._state, "deferred", ()), statement]

    def _execute_cursor(self, sql: str, params: Any, **cursor_options: Any) -> Any:
        if not _only_reads(sql):
            self.forget_reads()
        ahead = self._take_waiting()
        if ahead:
            if cursor_options:  # a named (server-side) cursor takes one statement only
                with peewee.__exception_wrapper__:
                    self.cursor().execute(ahead)
            else:  # the statement goes through psycopg2's formatting, the text ahead too
                sql = ahead.replace("%", "%%") + sql
        return super()._execute_cursor(sql, params, **cursor_options)

    def commit(self) -> None:
        self.forget_reads()
        ahead = self._take_waiting()
        if ahead == _BEGIN:  # the transaction ran nothing: the server never saw it
            return
        if not ahead:
            super().commit()
            return
        with peewee.__exception_wrapper__:
            self.cursor().execute(ahead + "COMMIT")

    def rollback(self) -> None:
        self.forget_reads()
        if not self._take_waiting().startswith(_BEGIN):
            super().rollback()

    # ---- what this thread's unit of work has read while it wrote nothing -----------------
    # Values a unit reads again and again (the generation stamps of kept reference data) are
    # read once per unit: the memo holds while the unit has only read. Any statement that may
    # write (all but a SELECT or a prepared SELECT: savepoints and deferred statements too),
    # BEGIN, COMMIT, ROLLBACK and the start of every unit empty it, so a unit always sees its
    # own changes; another transaction's commit meanwhile is seen by the next unit.
    def unit_reads(self) -> dict[Any, Any]:
        memo = getattr(self._state, "read_memo", None)
        if memo is None:
            memo = self._state.read_memo = {}
        return memo

    def forget_reads(self) -> None:
        self._state.read_memo = None

    def keep_connection(self) -> None:
        """This thread's connection for one more unit of work (see _connection_for_unit): the
        one it kept when that is alive, idle and younger than stale_timeout; otherwise that
        one is closed for good and another checked out of the pool."""
        state = self._state
        if not state.closed:
            age = time.monotonic() - getattr(state, "kept_since", -math.inf)
            if age < (self._stale_timeout or math.inf) and not self._is_closed(state.conn):
                return
            self.manual_close()
        self.connect()
        state.kept_since = time.monotonic()

    def close(self) -> bool:
        self._take_waiting()  # nothing of an unfinished transaction waits for the next one
        return super().close()

    def _take_waiting(self) -> str:
        """The BEGIN and deferred statements still waiting, as SQL text ('' when none)."""
        state = self._state
        ahead = (_BEGIN if getattr(state, "begin_pending", False) else "") + "".join(
            f"{statement};" for statement in getattr(state, "deferred", ()))
        state.begin_pending = False
        state.deferred = ()
        return ahead


_BEGIN = "BEGIN;"


# Prepared statements (execute_prepared) run on ONE generic plan. They are index lookups whose
# best plan does not depend on the values; left to choose (plan_cache_mode = auto) the server
# kept planning the 待办 page afresh for every execution (0.4 ms of planning, 0.06 ms of work)
# and its custom plans for a leader's list were worse (BitmapAnd over a due-date index, 1.1 ms
# against 0.4 ms). This setting concerns only prepared statements and PL/pgSQL's own
# statements (the audit chain and role triggers, all lookups by key), never plain queries.
_SESSION_OPTIONS = "-c plan_cache_mode=force_generic_plan"


def session_params(url: str) -> dict[str, Any]:
    """psycopg2's connection parameters for `url`, with the platform's session options."""
    params = connect_params(url)
    params["options"] = f"{params.get('options', '')} {_SESSION_OPTIONS}".strip()
    return params


def make_database(url: str, pool_size: int) -> PooledPostgresqlExtDatabase:
    params = session_params(url)
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


class DatabaseThreads:
    """A bounded pool of threads handing each result straight to the awaiting asyncio future:
    the one that runs units of work (each thread keeps its connection), and the one for
    CPU-heavy work (no connection, below the pages' priority; `run_blocking`).

    `loop.run_in_executor` with a ThreadPoolExecutor does the same through a concurrent.futures
    Future chained to an asyncio one (locks, a condition and callbacks per call): 31 µs of CPU
    per hop against 11 µs here, and every request makes two hops (its session, its work;
    bench/README.md, finding 35)."""

    def __init__(self, count: int, name: str = "db", keeps_connections: bool = True,
                 niceness: int = 0) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._keeps_connections = keeps_connections
        self._niceness = niceness
        self._threads = [threading.Thread(target=self._serve, name=f"{name}_{n}", daemon=True)
                         for n in range(count)]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Run `call` on one of the threads, in a copy of the caller's context."""
        if self._closed:
            raise RuntimeError("数据库线程池已关闭")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, contextvars.copy_context(), call))
        return future

    def shutdown(self, wait: bool) -> None:
        """Refuse new calls; the threads finish the calls already queued, then stop."""
        self._closed = True
        for _ in self._threads:
            self._calls.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _serve(self) -> None:
        _kept.active = self._keeps_connections
        if self._niceness:
            _lower_own_priority(self._niceness)
        try:
            self._serve_calls()
        finally:
            _release_kept_connection()

    def _serve_calls(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, future, context, call = item
            try:
                outcome: tuple[Any, BaseException | None] = (context.run(call), None)
            except StopIteration as error:  # an asyncio future refuses to hold one
                outcome = (None, RuntimeError(f"工作单元抛出了 StopIteration：{error!r}"))
            except BaseException as error:  # handed to the awaiting caller, whatever it is
                outcome = (None, error)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, *outcome)


def _lower_own_priority(by: int) -> None:
    """Per thread on Linux; the threads this one starts (Argon2's lanes) inherit it. A sandbox
    that forbids setpriority (the app unit allows it) leaves the work at the pages' priority."""
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread,
                       min(19, os.getpriority(os.PRIO_PROCESS, thread) + by))
    except OSError as error:
        logging.getLogger(__name__).warning("计算线程未能降低优先级：%s", error)


_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context,
              Callable[[], Any]]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting request was cancelled (a client went away)
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


# CPU-heavy work yields to the units of work: a page's thread at nice 0 weighs about ten times
# an Argon2 lane at nice 10 in the kernel's scheduler, so a wave of sign-ins slows the sign-ins,
# not every page of the people already at work (bench/README.md, finding 49).
CPU_WORK_NICENESS = 10


class _Runtime:
    threads: DatabaseThreads | None = None  # units of work
    cpu: DatabaseThreads | None = None  # run_blocking: hashing, images; no connection


_runtime = _Runtime()


def init_database(url: str, pool_size: int, threads: int, cpu_threads: int = 1) -> None:
    """Bind the models to a pooled database and start the bounded thread pools: `threads`
    for units of work, `cpu_threads` for CPU-heavy work (`run_blocking`)."""
    if pool_size < threads:
        raise ValueError(f"数据库连接池（db_pool_size={pool_size}）不能小于数据库线程数"
                         f"（db_threads={threads}）：每个数据库线程保留一个连接")
    if cpu_threads < 1:
        raise ValueError(f"计算线程数（cpu_threads={cpu_threads}）至少为 1")
    database.initialize(make_database(url, pool_size))
    _stop_pools(wait=False)
    _runtime.threads = DatabaseThreads(threads)
    _runtime.cpu = DatabaseThreads(cpu_threads, name="cpu", keeps_connections=False,
                                   niceness=CPU_WORK_NICENESS)


def _stop_pools(wait: bool) -> None:
    for pool in (_runtime.threads, _runtime.cpu):
        if pool is not None:
            pool.shutdown(wait=wait)
    _runtime.threads = _runtime.cpu = None


def close_database() -> None:
    _stop_pools(wait=True)
    if database.obj is not None:
        database.obj.close_all()


def run_in_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking: one pooled connection, one transaction. For CLI, tests and workers."""
    with _connection_for_unit(), database.atomic():
        return fn(*args, **kwargs)


def run_without_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking: one pooled connection in autocommit, each statement its own transaction."""
    with _connection_for_unit():
        database.obj.forget_reads()
        return fn(*args, **kwargs)


# ---- a database thread keeps its connection ---------------------------------------------------
# Checking a connection out of the pool and back in for every unit of work (twice a request:
# the session, the work) cost 3.5 % of a 待办 request (bench/README.md, finding 39). Each of
# the DatabaseThreads keeps the connection of its last unit for the next, with the pool's own
# checks made at each start (the connection is alive, idle, and younger than stale_timeout);
# it gives it back when the thread stops. Any other thread (the CLI, tests) checks out per unit.
_kept = threading.local()


def _connection_for_unit() -> contextlib.AbstractContextManager[Any]:
    if not getattr(_kept, "active", False):
        return database.connection_context()
    pool = database.obj
    if getattr(_kept, "pool", pool) is not pool:  # the database was bound anew meanwhile
        _release_kept_connection()
    pool.keep_connection()
    _kept.pool = pool
    return contextlib.nullcontext()


def _release_kept_connection() -> None:
    pool = getattr(_kept, "pool", None)
    if pool is not None and not pool.is_closed():
        pool.close()


# ---- statements planned once per connection ---------------------------------------------------
# The statements of nearly every request (session resolution, the todo page and badge, the
# audit insert) cost PostgreSQL several times more to PLAN than to run (pg_stat_statements,
# bench/README.md): 0.4-0.5 ms of planning against 0.07-0.09 ms of execution. psycopg2 sends
# every statement as text, so the server plans it each time; `execute_prepared` has each
# pooled connection PREPARE a statement once and EXECUTE it from then on. PostgreSQL replans a
# prepared statement by itself when a table it uses changes (a migration), and a prepared
# statement outlives a rolled-back transaction; a new connection starts with none.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_statements: dict[str, tuple[str, str, str, list[str | int]]] = {}
_statement_numbers = itertools.count(1)
_prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()
_SELECT = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_reading_statements: set[str] = set()  # the prepared statements that are SELECTs
_EXECUTE = "EXECUTE "


def _only_reads(sql: str) -> bool:
    """Whether a statement only reads: a SELECT, or the EXECUTE of a prepared SELECT. (A CTE
    may hold an UPDATE: it counts as a write, as does anything else.)"""
    if sql.startswith(_EXECUTE):
        return sql[len(_EXECUTE):].partition(" ")[0] in _reading_statements
    return _SELECT.match(sql) is not None


def _numbered(sql: str) -> tuple[str, list[str | int]]:
    """psycopg2 placeholders (%s or %(name)s) -> $1, $2 ...; and what fills each, in order
    (a position in the parameter sequence, or a name of the mapping)."""
    order: list[str | int] = []
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%%"  # the PREPARE text goes through psycopg2's formatting too
        name = match.group(1)
        if name is None:
            order.append(len(order))
            return f"${len(order)}"
        if name not in names:
            order.append(name)
            names[name] = len(order)
        return f"${names[name]}"

    return _PLACEHOLDER.sub(number, sql), order


def _statement(sql: str) -> tuple[str, str, str, list[str | int]]:
    """(name, PREPARE text, EXECUTE text, what fills each parameter) of a statement."""
    known = _statements.get(sql)
    if known is None:
        numbered, order = _numbered(sql)
        with _prepared_lock:
            name = f"oa_stmt_{next(_statement_numbers)}"
            if _SELECT.match(sql):
                _reading_statements.add(name)
            arguments = f" ({', '.join(['%s'] * len(order))})" if order else ""
            known = _statements.setdefault(
                sql, (name, f"PREPARE {name} AS {numbered}", f"EXECUTE {name}{arguments}", order))
    return known


def execute_prepared(sql: str, params: Sequence[Any] | Mapping[str, Any] = (), *,
                     deferred: bool = False) -> Any:
    """`database.execute_sql(sql, params)`, but planned once per connection (see above).
    For statements whose text is fixed (no values spliced into it) and run very often.

    `deferred`: a statement that returns nothing goes out with the transaction's next
    statement or its COMMIT (`_Pool.defer`), saving its round trip; outside a transaction
    it runs at once. Returns the cursor, or None when deferred."""
    name, prepare, execute, order = _statement(sql)
    conn = database.connection()
    with _prepared_lock:
        done = _prepared_on.setdefault(conn, set())
    if name not in done:
        database.execute_sql(prepare)
        done.add(name)
    values = [params[key] for key in order]  # type: ignore[index]
    if deferred and database.in_transaction():
        with conn.cursor() as cursor:
            database.obj.defer(cursor.mogrify(execute, values).decode())
        return None
    return database.execute_sql(execute, values)


async def unit_of_work(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` as one transaction on the database thread pool; see the module doc."""
    return await _on_pool(functools.partial(run_in_transaction, fn, *args, **kwargs),
                           _runtime.threads)


async def run_statements(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like `unit_of_work`, but without BEGIN/COMMIT: only for a function whose every statement
    stands on its own (session resolution: one statement, rarely a second), saving the
    transaction's two round trips on every request."""
    return await _on_pool(functools.partial(run_without_transaction, fn, *args, **kwargs),
                           _runtime.threads)


async def _on_pool(call: Callable[[], T], threads: DatabaseThreads | None) -> T:
    if threads is None:
        raise RuntimeError("数据库尚未初始化（init_database）")
    return await threads.submit(call)


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run CPU-heavy work that is not a database call (Argon2, captcha and QR images) on
    threads of its own. On the database threads a wave of sign-ins (the bench's 8 at a time;
    the bureau's staff at 8 in the morning) took every one of them for an Argon2 hash each,
    and every page behind them waited (bench/README.md, finding 49); here at most
    `cpu_threads` hashes run per process, queueing among themselves, while pages go on."""
    return await _on_pool(functools.partial(fn, *args, **kwargs), _runtime.cpu)
