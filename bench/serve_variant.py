"""The platform served like `oa-ops serve`, with proposed changes switched on one by one, so
that their effect is MEASURED before anyone edits the files they belong to (app/core/server.py,
app/core/db.py, app/core/application.py, app/workflow/service.py). Each flag patches the
running process only; nothing in app/ is modified. See bench/README.md, "Findings".

    OA_DATABASE_URL=... python -m bench.serve_variant --port 18888 --workers 2 \\
        --reuse-port --no-pool-ping --no-gzip --single-count

--reuse-port     each forked worker binds its own socket with SO_REUSEPORT (server.py): the
                 kernel spreads new connections; with one shared socket Tornado's accept
                 handler drains the backlog in whichever worker wakes first, so a burst of
                 keep-alive connections lands on one process.
--no-pool-ping   the connection pool trusts psycopg2's own `closed` flag instead of a
                 `SELECT 1` round trip on every checkout (peewee's default; db.py would
                 subclass PooledPostgresqlExtDatabase and override `_is_closed`).
--no-gzip        no response compression in Python (application.py compress_response=False;
                 nginx compresses in production).
--single-count   todo_list reuses its page's COUNT for the badge when no filter is set
                 (workflow/service.py) instead of counting the same rows twice.
--graph-cache    engine.graph_of keeps the graphs of PUBLISHED definitions per process
                 (workflow/engine.py; published versions are immutable, a trigger refuses
                 changes, so the cache is always right; drafts are read every time).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

import tornado.httpserver
import tornado.netutil
import tornado.process


def _patch_pool_ping() -> None:
    from playhouse import pool

    def is_closed(self, conn) -> bool:
        return bool(conn.closed)

    pool._PooledPostgresqlDatabase._is_closed = is_closed


def _patch_single_count() -> None:
    from app.workflow import service

    original = service.todo_count

    def todo_list(ctx, raw):
        f = service._filters(raw)
        query = service.todo_query(service._uid(ctx), f)
        order = [*service._URGENT_FIRST, service.Task.due_at.asc(nulls="LAST"),
                 service.Task.created_at.desc()]
        result = service._task_list(ctx, query, f, order, "workflow.todo.list")
        unfiltered = not any(v for k, v in f.items() if k != "page")
        result["count"] = result["total"] if unfiltered else original(ctx)
        return result

    service.todo_list = todo_list


def _patch_graph_cache() -> None:
    from app.workflow import engine
    from app.workflow.models import Definition

    published: dict[int, engine.Graph] = {}

    def graph_of(definition_id: int) -> engine.Graph:
        graph = published.get(definition_id)
        if graph is None:
            definition = Definition.get_by_id(definition_id)
            graph = engine.Graph(definition.graph)
            if definition.status == "published":
                published[definition_id] = graph
        return graph

    engine.graph_of = graph_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--no-pool-ping", action="store_true")
    parser.add_argument("--no-gzip", action="store_true")
    parser.add_argument("--single-count", action="store_true")
    parser.add_argument("--graph-cache", action="store_true")
    args = parser.parse_args()

    from app.core.config import load_settings, override_settings
    from app.core.logs import configure_logging
    from app.core.server import prepare_metrics_dir

    cfg = dataclasses.replace(load_settings(), port=args.port, workers=args.workers)
    override_settings(cfg)
    configure_logging()
    prepare_metrics_dir(cfg)
    from app.core.application import cookie_secret, make_app
    from app.core.db import init_database
    from app.features import installed_features

    if args.no_pool_ping:
        _patch_pool_ping()
    if args.single_count:
        _patch_single_count()
    if args.graph_cache:
        _patch_graph_cache()
    cookie_secret(cfg)
    shared = None if args.reuse_port else tornado.netutil.bind_sockets(cfg.port, cfg.host)
    if cfg.process_count > 1:
        tornado.process.fork_processes(cfg.process_count, max_restarts=0)

    async def serve() -> None:
        sockets = shared or tornado.netutil.bind_sockets(cfg.port, cfg.host, reuse_port=True)
        init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)
        application = make_app(installed_features(), cfg)
        if args.no_gzip:
            application.transforms = [t for t in application.transforms
                                      if t.__name__ != "GZipContentEncoding"]
        server = tornado.httpserver.HTTPServer(
            application, xheaders=True, max_body_size=cfg.max_body_mb * 1024 * 1024)
        server.add_sockets(sockets)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
