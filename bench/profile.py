"""Profile the platform under the benchmark's load: py-spy on every worker process.

    python -m bench.profile --path /api/todo --seconds 20 [--concurrency 16] [--idle]
    python -m bench.profile --mix --seconds 40 [--concurrency 100] [--think 1]

Starts the platform on a fresh copy of the seeded template, signs in `concurrency` seeded
staff, requests `path` back to back (or, with --mix, has them do the load's mix of staff work
with `think` seconds between actions) for `seconds` while `py-spy record` samples each worker
(only the thread holding the GIL, i.e. Python's CPU, unless --wall), and prints the functions
with the largest inclusive share of samples (raw stacks stay under var/bench/profile/).
PostgreSQL's side: the backends' wait events are sampled (what tells lock waits from work);
with --statements the cluster is restarted with pg_stat_statements loaded for this run only,
and the statements are listed by their share of the database's execution and planning time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import threading
import time
from pathlib import Path

import aiohttp

from bench import load
from bench.procstat import _children
from bench.run import (
    APP_PORT,
    RUN_DB,
    VAR,
    bench_usernames,
    cluster,
    ensure_template,
    fresh_copy,
    start_platform,
    stop,
)
from bench.seed import BENCH_PASSWORD, FULL

OUT = VAR / "profile"


def top_frames(collapsed: list[Path], limit: int = 45) -> list[tuple[str, float]]:
    """Inclusive share of samples per function (line numbers dropped) of the platform's own
    code, Tornado, peewee and psycopg2, from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for path in collapsed:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples = int(count)
            total += samples
            for frame in {re.sub(r":\d+\)", ")", f) for f in stack.split(";")}:
                inclusive[frame] += samples
    wanted = ("app/", "tornado/", "peewee", "psycopg2", "argon2", "json/", "logging/")
    return [(frame, round(100 * n / max(total, 1), 1)) for frame, n in inclusive.most_common()
            if any(w in frame for w in wanted)][:limit]


async def _load(path: str | None, users: list[str], seconds: float, concurrency: int,
                think: float, signed_in: threading.Event) -> tuple[int, int]:
    """Load for `seconds`: `path` back to back, or (path None) the mix of staff work."""
    connector = aiohttp.TCPConnector(limit=0)
    recorder = load.Recorder()
    import random

    vus = [load.VirtualUser(f"http://127.0.0.1:{APP_PORT}", u, BENCH_PASSWORD,
                            connector if path else None, recorder, random.Random(n), think)
           for n, u in enumerate(users[:concurrency])]
    for index in range(0, len(vus), 8):  # as the benchmark signs in: Argon2 is costly
        assert all(await asyncio.gather(*(vu.login() for vu in vus[index:index + 8])))
    signed_in.set()
    if path is None:
        recorder.samples = []
        await asyncio.gather(*(vu.run(time.monotonic() + seconds) for vu in vus))
        count, errors = len(recorder.samples), sum(not s.ok for s in recorder.samples)
        print("各操作次数：", dict(collections.Counter(s.action for s in recorder.samples)))
    else:
        count, errors, _ = await load.closed_loop(
            [f"http://127.0.0.1:{APP_PORT}{path}"], [vu.cookie_header() for vu in vus],
            seconds, concurrency, connector)
    for vu in vus:
        await vu.close()
    await connector.close()
    return count, errors


def _sample_waits(pg, seconds: float) -> collections.Counter[str]:
    waits: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = pg.psql("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' '"
                       " || state FROM pg_stat_activity WHERE datname = '" + RUN_DB + "'"
                       " AND state <> 'idle'", database=RUN_DB)
        waits.update(line for line in rows.splitlines() if line)
        time.sleep(0.1)
    return waits


def print_statements(pg) -> None:
    """The run's statements by share of execution + planning time (pg_stat_statements). A
    prepared statement planned about as many times as it ran is on custom plans: planned
    again on every EXECUTE (finding 59)."""
    rows = pg.psql(
        "WITH s AS (SELECT calls, plans, total_exec_time + total_plan_time AS total,"
        " mean_exec_time, mean_plan_time, wal_bytes / greatest(calls, 1) AS wal,"
        " regexp_replace(query, '\\s+', ' ', 'g') AS query"
        " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
        f" WHERE datname = '{RUN_DB}'))"
        " SELECT round((100 * total / sum(total) OVER ())::numeric, 1), calls, plans,"
        " round(mean_exec_time::numeric, 3), round(mean_plan_time::numeric, 3), round(wal),"
        " left(query, 150)"
        " FROM s ORDER BY total DESC LIMIT 25", database=RUN_DB)
    print("--- 语句（占数据库执行+计划时间 %、次数、计划次数、平均执行 ms、平均计划 ms、"
          "每次 WAL 字节、语句）")
    for line in rows.splitlines():
        print("  " + line.replace("|", "  "))


def main() -> None:
    parser = argparse.ArgumentParser(description="在基准负载下对平台采样（py-spy）")
    parser.add_argument("--path", default="/api/todo")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mix", action="store_true",
                        help="以基准的混合操作（有思考时间）代替对 --path 的连续请求")
    parser.add_argument("--think", type=float, default=1.0, help="--mix 的平均思考时间（秒）")
    parser.add_argument("--statements", action="store_true",
                        help="本次以 pg_stat_statements 启动集群，列出各语句的执行与计划耗时")
    parser.add_argument("--wall", action="store_true",
                        help="按墙钟采样所有线程（含等待数据库）；默认只采样持有 GIL 的线程")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    pg = cluster()
    pg.ensure()
    template, _ = ensure_template(pg, FULL)
    fresh_copy(pg, template)
    if args.statements:
        pg.stop()
        pg.start("shared_preload_libraries=pg_stat_statements",
                 "pg_stat_statements.track_planning=on")
        pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=RUN_DB)
    users = [u for _, u in bench_usernames(pg, args.concurrency)]
    platform = None
    spies: list[subprocess.Popen] = []
    try:
        platform = start_platform(pg, 2, {})
        time.sleep(1)
        workers = [pid for pid in _children(platform.pid) if pid != platform.pid]
        py_spy = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "py-spy")
        loop_result: dict = {}
        signed_in = threading.Event()

        def run_load() -> None:
            loop_result["v"] = asyncio.run(_load(None if args.mix else args.path, users,
                                                 args.seconds, args.concurrency, args.think,
                                                 signed_in))

        thread = threading.Thread(target=run_load)
        thread.start()
        signed_in.wait()  # the sign-ins (Argon2) are not what is profiled
        for pid in workers:
            command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                       "--duration", str(int(args.seconds)), "--output",
                       str(OUT / f"worker-{pid}.txt")]
            if not args.wall:
                command.append("--gil")
            spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        if args.statements:
            pg.psql("SELECT pg_stat_statements_reset()", database=RUN_DB)
        waits = _sample_waits(pg, args.seconds - 2)
        thread.join()
        for spy in spies:
            spy.wait(60)
        count, errors = loop_result["v"]
        print(f"{'混合操作' if args.mix else args.path}: {count / args.seconds:.0f} 次/秒，"
              f"错误 {errors}")
        print("数据库后端状态采样：", dict(waits.most_common(8)))
        files = [OUT / f"worker-{pid}.txt" for pid in workers]
        print("--- 各函数（含调用）占采样的百分比，两个进程合计")
        for frame, share in top_frames([f for f in files if f.exists()]):
            print(f"{share:5.1f}  {frame}")
        if args.statements:
            print_statements(pg)
    finally:
        stop(platform)
        pg.drop_database(RUN_DB)
        pg.stop()


if __name__ == "__main__":
    main()
