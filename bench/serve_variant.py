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
--gc-threshold N the youngest generation's threshold (Python's default is 700).
--switch-interval MS  sys.setswitchinterval: how long a thread may keep the GIL while
                 another waits for it (Python's default is 5 ms).
--gc-log         every 30 s each worker logs its garbage collections by generation: how many,
                 their total pause, its CPU time and the longest pause (gc.callbacks).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import sys
import time

import tornado.ioloop
import tornado.netutil
import tornado.process
import tornado.web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-gzip", action="store_true")
    parser.add_argument("--gc-threshold", type=int)
    parser.add_argument("--gc-log", action="store_true")
    parser.add_argument("--switch-interval", type=float)
    args = parser.parse_args()

    from app.core.config import load_settings, override_settings
    from app.core.logs import configure_logging
    from app.core.server import freeze_long_lived_objects, prepare_metrics_dir

    cfg = dataclasses.replace(load_settings(), port=args.port, workers=args.workers)
    override_settings(cfg)
    configure_logging()
    prepare_metrics_dir(cfg)
    from app.core.application import cookie_secret, make_app
    from app.core.db import init_database
    from app.core.httpserver import server_for
    from app.features import installed_features

    cookie_secret(cfg)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    freeze_long_lived_objects("启动")
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
        server = server_for(application, cfg)
        server.add_sockets(sockets)
        freeze_long_lived_objects(f"工作进程 {os.getpid()} 就绪")
        if args.gc_log:
            _log_collections()
        await asyncio.Event().wait()

    asyncio.run(serve())


@dataclasses.dataclass
class _Pauses:
    count: int = 0
    seconds: float = 0.0
    longest: float = 0.0
    cpu_seconds: float = 0.0


def _log_collections() -> None:
    """Every collection's pause, summed per generation and logged every 30 seconds."""
    log = logging.getLogger("bench.gc")
    by_generation: dict[int, _Pauses] = {}
    started = {"wall": 0.0, "cpu": 0.0}

    def on_collection(phase: str, info: dict) -> None:
        if phase == "start":
            started.update(wall=time.perf_counter(), cpu=time.thread_time())
            return
        pause = time.perf_counter() - started["wall"]
        pauses = by_generation.setdefault(info["generation"], _Pauses())
        pauses.count += 1
        pauses.seconds += pause
        pauses.longest = max(pauses.longest, pause)
        pauses.cpu_seconds += time.thread_time() - started["cpu"]

    def report() -> None:
        text = "; ".join(f"gen{g} {p.count} x, {1000 * p.seconds:.1f} ms, "
                         f"cpu {1000 * p.cpu_seconds:.1f} ms, max {1000 * p.longest:.2f} ms"
                         for g, p in sorted(by_generation.items()))
        log.info("gc pid %d: %s; frozen %d", os.getpid(), text or "none",
                 gc.get_freeze_count())

    gc.callbacks.append(on_collection)
    tornado.ioloop.PeriodicCallback(report, 30_000).start()

if __name__ == "__main__":
    main()
