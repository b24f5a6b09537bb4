"""`oa-ops serve` as production runs it: forked workers, each on its own SO_REUSEPORT socket,
with the long-lived objects kept out of the garbage collector's generations (finding 77)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.database import TestDatabase


def _wait_until_both_workers_froze(log: Path, process: subprocess.Popen) -> list[tuple[str, int]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        ready = re.findall(r"工作进程 (\d+) 就绪：(\d+) 个长期对象不再参与垃圾回收", text)
        if len(ready) == 2:
            return [(pid, int(count)) for pid, count in ready]
        assert process.poll() is None, f"服务进程已退出：\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"60 秒内两个工作进程未就绪：\n{log.read_text()}")


def test_workers_serve_with_the_startup_objects_frozen(pg: TestDatabase, tmp_path: Path,
                                                       free_port: int) -> None:
    port = free_port
    log = tmp_path / "serve.log"
    env = {**os.environ, "OA_CONFIG_FILE": str(tmp_path / "none"),
           "OA_DATABASE_URL": pg.runtime_url, "OA_MIGRATION_DATABASE_URL": pg.owner_url,
           "OA_SECRET_FILE": str(tmp_path / "cookie_secret"),
           "OA_METRICS_DIR": str(tmp_path / "metrics")}
    oa_ops = Path(sys.executable).with_name("oa-ops")
    with log.open("w") as output:
        process = subprocess.Popen([str(oa_ops), "serve", "--port", str(port), "--workers", "2"],
                                   env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        workers = _wait_until_both_workers_froze(log, process)
        assert len({pid for pid, _ in workers}) == 2
        # the modules and the whole application: far more than a bare interpreter's objects
        assert all(count > 50_000 for _, count in workers), workers
        text = log.read_text()
        assert re.search(r"启动：(\d+) 个长期对象不再参与垃圾回收", text), text
        response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert response.status_code == 200
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
