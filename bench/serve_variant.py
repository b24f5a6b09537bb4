"""The platform served like `oa-ops serve`, with proposed changes switched on one by one, so
that their effect is MEASURED before anyone edits the files they belong to (app/core/server.py,
app/core/application.py). Each flag patches the running process only; nothing in app/ is
modified. See bench/README.md, "Findings". (The earlier --no-pool-ping, --single-count and
--graph-cache variants are gone: those changes are now in app/core/db.py and app/workflow/.)

    OA_DATABASE_URL=... python -m bench.serve_variant --port 18888 --workers 2 \\
        --no-gzip

Each forked worker binds its own socket with SO_REUSEPORT, as `oa-ops serve` does (finding 2).

--no-gzip        no response compression in Python (application.py compress_response=False;
                 nginx compresses in production).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

import tornado.httpserver
import tornado.netutil
import tornado.process
import tornado.web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-gzip", action="store_true")
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

    cookie_secret(cfg)
    if cfg.process_count > 1:
        tornado.process.fork_processes(cfg.process_count, max_restarts=0)

    async def serve() -> None:
        sockets = tornado.netutil.bind_sockets(cfg.port, cfg.host, reuse_port=True)
        init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads, cfg.cpu_threads)
        application = make_app(installed_features(), cfg)
        if args.no_gzip:
            # by kind, not name: the platform's own is FastGzip, a GZipContentEncoding
            application.transforms = [t for t in application.transforms
                                      if not issubclass(t, tornado.web.GZipContentEncoding)]
        server = tornado.httpserver.HTTPServer(
            application, max_body_size=cfg.max_body_mb * 1024 * 1024)
        server.add_sockets(sockets)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
