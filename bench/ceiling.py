"""The ceiling: a bare Tornado handler running the 待办 list's own queries with raw psycopg2.

    python -m bench.ceiling --port 8890 --workers 2 --database-url postgresql://...

GET /todo?user=<id> runs exactly the SQL that app.workflow.service.todo_list runs for the
list itself (the page of open tasks joined to their instances, and its COUNT for the badge),
generated from the same peewee query builder (`todo_query`), so the two cannot drift apart.
Nothing else: no session lookup, no permission check, no audit event, no template; JSON out.
Both statements are prepared once per connection and run on one generic plan, like the
platform's hot statements (the same session options: finding 59).
Same process count as the application (forked, each on its own SO_REUSEPORT socket) and the
same concurrency model (a bounded thread pool, one connection per thread), so our figure
divided by this one is the cost of everything the platform adds around the query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import peewee
import psycopg2
import tornado.httpserver
import tornado.netutil
import tornado.process
import tornado.web

from app.core.db import database, session_params


def todo_sql() -> tuple[str, str]:
    """(page query, count query) of the unfiltered 待办 list, with one %s for the user id."""
    from app.core.sql import count_of
    from app.workflow.service import _TODO_ORDER, PAGE_SIZE, todo_query

    if database.obj is None:
        database.initialize(peewee.PostgresqlDatabase(None))  # SQL generation only
    marker = -424242
    query = todo_query(marker)
    page = query.order_by(*_TODO_ORDER).paginate(1, PAGE_SIZE)  # the list's own order
    page_sql, page_params = page.sql()
    count_sql, count_params = count_of(query).sql()  # what peewee's Query.count() executes
    return _bind_user(page_sql, page_params, marker), _bind_user(count_sql, count_params, marker)


def _bind_user(sql: str, params: list, marker: int) -> str:
    """Inline every constant but the user id (they are fixed literals of the list query)."""
    parts = sql.split("%s")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out.append("%(user)s" if value == marker else psycopg2.extensions.adapt(value).getquoted()
                   .decode())
        out.append(rest)
    return "".join(out)


class Ceiling:
    def __init__(self, url: str, threads: int) -> None:
        self.params = session_params(url)
        self.local = threading.local()
        self.executor = ThreadPoolExecutor(max_workers=threads)
        self.page_sql, self.count_sql = todo_sql()

    def _conn(self):
        """One connection per thread, with both statements prepared (planned once), as the
        platform's hot statements are (app.core.db.execute_prepared)."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = psycopg2.connect(**self.params)
            conn.autocommit = True
            with conn.cursor() as cur:
                for name, sql in (("ceiling_count", self.count_sql),
                                  ("ceiling_page", self.page_sql)):
                    cur.execute(f"PREPARE {name} AS " + sql.replace("%(user)s", "$1"))
            self.local.conn = conn
        return conn

    def query(self, user_id: int) -> dict:
        with self._conn().cursor() as cur:
            cur.execute("EXECUTE ceiling_count (%s)", (user_id,))
            total = cur.fetchone()[0]
            cur.execute("EXECUTE ceiling_page (%s)", (user_id,))
            columns = [d[0] for d in cur.description]
            rows = [dict(zip(columns, row, strict=False)) for row in cur.fetchall()]
        return {"total": total, "items": rows}


class TodoHandler(tornado.web.RequestHandler):
    def initialize(self, ceiling: Ceiling) -> None:
        self.ceiling = ceiling

    async def get(self) -> None:
        user_id = int(self.get_argument("user"))
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.ceiling.executor, self.ceiling.query, user_id)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps(result, default=str, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    if args.workers > 1:
        tornado.process.fork_processes(args.workers, max_restarts=0)

    async def serve() -> None:
        # each worker on its own socket, as `oa-ops serve` (finding 2): on one shared socket
        # the first worker to wake took every connection of the run now and then (finding 64)
        sockets = tornado.netutil.bind_sockets(args.port, "127.0.0.1", reuse_port=True)
        ceiling = Ceiling(args.database_url, args.threads)
        app = tornado.web.Application([(r"/todo", TodoHandler, {"ceiling": ceiling})])
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
