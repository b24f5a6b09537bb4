"""Serve the application with several processes sharing one listening socket.

Import this module only after `prepare_metrics_dir()` has set PROMETHEUS_MULTIPROC_DIR: the
metrics library reads it at import time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
from pathlib import Path

import tornado.netutil
import tornado.process

from app.core.config import Settings

log = logging.getLogger("oa.server")


class ServeError(RuntimeError):
    pass


def prepare_metrics_dir(cfg: Settings) -> None:
    """Several forked workers share one scrape through a metrics folder; a single-process
    worker (one systemd unit per worker, each scraped on its own port) keeps its own."""
    if cfg.process_count == 1:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return
    directory = Path(cfg.metrics_dir or "var/run/metrics")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())


def _bind(cfg: Settings, reuse_port: bool) -> list:
    try:
        return tornado.netutil.bind_sockets(cfg.port, address=cfg.host, reuse_port=reuse_port)
    except OSError as exc:
        raise ServeError(
            f"无法监听 {cfg.host}:{cfg.port}：{exc.strerror}。平台可能已在运行；"
            "可用 --port 或环境变量 OA_PORT 指定其他端口。"
        ) from None


def freeze_long_lived_objects(stage: str) -> None:
    """Move every object alive now (modules, the application) out of the collector's reach.

    They live as long as the process, yet each full collection walked all of them: measured
    under load, a full collection came every 25 seconds or so and paused the whole worker
    (every request in it) for 175 ms on average, 473 ms at most; now 26-29 and 60 ms
    (bench/README.md, finding 77). Called before forking too, so the collector never writes
    to the pages the workers share."""
    gc.freeze()
    log.info("%s：%d 个长期对象不再参与垃圾回收", stage, gc.get_freeze_count())


def serve(cfg: Settings) -> None:
    from app.core.application import cookie_secret, make_app
    from app.core.db import init_database
    from app.core.httpserver import server_for
    from app.features import installed_features

    cookie_secret(cfg)  # made once before forking, so every worker shares it
    processes = cfg.process_count
    sockets = _bind(cfg, reuse_port=processes > 1)  # fails early and clearly if the port is taken
    log.info("服务启动：http://%s:%s，%d 个进程", cfg.host, cfg.port, processes)
    freeze_long_lived_objects("启动")
    if processes > 1:
        # One listening socket per worker (SO_REUSEPORT): the kernel spreads connections over
        # the workers. With one shared socket, measured, one worker took nearly every
        # keep-alive connection while the others idled (bench/README.md, finding 2).
        for sock in sockets:
            sock.close()
        tornado.process.fork_processes(processes, max_restarts=100)
        sockets = _bind(cfg, reuse_port=True)

    async def main() -> None:
        init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads, cfg.cpu_threads)
        application = make_app(installed_features(), cfg)
        server = server_for(application, cfg)
        server.add_sockets(sockets)
        freeze_long_lived_objects(f"工作进程 {os.getpid()} 就绪")
        await asyncio.Event().wait()

    asyncio.run(main())
