"""The ceiling runs the 待办 list's own statements the way the platform runs its hot statements:
prepared once per connection, on one generic plan (finding 59: a ceiling left on custom plans
planned its page on every request and made the platform's ratio look better than it was)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from app.core.db import run_in_transaction
from app.workflow.models import Instance, Task
from bench.ceiling import Ceiling


def _open_tasks() -> dict[int, list[int]]:
    """assignee -> the instances of their open tasks (the ceiling's rows name the instance)."""
    rows = (Task.select(Task.assignee_id, Task.instance_id)
            .join(Instance, on=(Instance.id == Task.instance_id))
            .where(Task.status == "open", Task.kind != "circulate", Instance.status == "running")
            .tuples())
    tasks: dict[int, list[int]] = {}
    for assignee, instance in rows:
        tasks.setdefault(assignee, []).append(instance)
    return tasks


def test_the_ceiling_lists_open_tasks_on_generic_plans(seeded) -> None:
    db, _ = seeded
    user_id, tasks = max(run_in_transaction(_open_tasks).items(), key=lambda kv: len(kv[1]))
    ceiling = Ceiling(db.runtime_url, threads=1)
    try:
        listed = ceiling.query(user_id)
        with ceiling._conn().cursor() as cur:
            cur.execute("SHOW plan_cache_mode")
            mode = cur.fetchone()[0]
            cur.execute("SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
                        " ORDER BY name")
            plans = cur.fetchall()
    finally:
        ceiling._conn().close()
        ceiling.executor.shutdown()
    assert listed["total"] == len(tasks)
    assert {item["instance_id"] for item in listed["items"]} <= set(tasks)
    assert len(listed["items"]) == min(len(tasks), 20)
    assert mode == "force_generic_plan"
    assert plans == [("ceiling_count", 1, 0), ("ceiling_page", 1, 0)]


def _listening_sockets(port: int) -> int:
    """Sockets listening on 127.0.0.1:`port` (state 0A in /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1] == wanted and row[3] == "0A")


def test_each_ceiling_worker_listens_on_its_own_socket(db) -> None:
    """As `oa-ops serve` (finding 2): on one shared socket the worker that woke first now and
    then took every connection of a run, and the ceiling's figure swung by a quarter (64)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.ceiling", "--port", str(port), "--workers", "2",
         "--database-url", db.runtime_url], cwd=Path(__file__).parents[2], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while _listening_sockets(port) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _listening_sockets(port) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
