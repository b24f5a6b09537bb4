"""`make bench`: seed (or reuse) the year of data, start the platform and the ceiling, load
them, and write the report under bench/results/.

    python -m bench.run               # the short version (< 5 minutes with a cached seed)
    python -m bench.run --full        # steps up to 2000 users, longer steps
    python -m bench.run --seed-only   # build the seeded template and stop

Everything runs on a private PostgreSQL cluster under var/bench/pg (port 55433, unix socket
only); the developer's embedded var/pg is never touched. The seeded database is kept as a
template named after the checksum of every migration and of bench/seed.py, and each run works
on a fresh copy (CREATE DATABASE .. TEMPLATE), so runs start from the same state and the seed
is rebuilt only when the schema or the seed changes. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bench import load, report
from bench.procstat import ProcessGroup
from bench.seed import BENCH_PASSWORD, FULL, USERNAME_PREFIX, Scale, seed, source_checksum
from ops_cli.pgcluster import RUNTIME_ROLE, LocalCluster

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
RESULTS = ROOT / "bench" / "results"
RUN_DB = "oa_bench_run"
APP_PORT, CEILING_PORT = 18888, 18890


@dataclasses.dataclass
class Plan:
    steps: list[int]          # concurrent virtual users, stepped up
    step_seconds: float       # measuring window per step (after the step's logins)
    think: float              # mean think time between a user's actions (seconds)
    ceiling_seconds: float    # each side's closed-loop time for the todo-list ratio (in turns)
    ceiling_concurrency: int
    workers: int              # processes of the platform and of the ceiling


# The ratio's turns of 3 s each scatter by several points on a shared VM (bench/README.md,
# finding 81): the short plan takes 8 of them within its five minutes, the long plan 20.
SHORT = Plan(steps=[50, 100, 200, 400], step_seconds=20, think=5.0, ceiling_seconds=24,
             ceiling_concurrency=16, workers=2)
LONG = Plan(steps=[100, 250, 500, 1000, 1500, 2000], step_seconds=120, think=10.0,
            ceiling_seconds=60, ceiling_concurrency=16, workers=2)


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


# ---- the database ------------------------------------------------------------------------------
def cluster() -> LocalCluster:
    return LocalCluster(VAR / "pg", port=55433, database=RUN_DB)


def _features_dirs() -> list[Path]:
    from app.features import installed_features

    return [f.package_dir for f in installed_features()]


def template_name(scale: Scale) -> str:
    return f"oa_bench_tpl_{source_checksum(_features_dirs())}_{scale.label()}"[:63]


def ensure_template(pg: LocalCluster, scale: Scale) -> tuple[str, dict | None]:
    """The seeded template for this schema and scale; built when missing (minutes)."""
    from app.core.db import close_database, init_database
    from app.core.migrations import migrate
    from app.features import installed_features

    name = template_name(scale)
    if pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        return name, None
    current = name[:len("oa_bench_tpl_") + 12]
    for stale in pg.psql("SELECT datname FROM pg_database WHERE datname LIKE 'oa_bench_tpl_%'"
                         f" AND datname NOT LIKE '{current}%'").split():  # older schemas only
        pg.psql(f'ALTER DATABASE "{stale}" IS_TEMPLATE false')
        pg.drop_database(stale)
    building = name[:50] + "_building"
    pg.drop_database(building)
    pg.ensure_database(building)
    owner = pg.url("oa_owner", building)
    started = time.monotonic()
    log(f"构建基准数据模板 {name}（首次或迁移已变化，需数分钟）")
    migrate(owner, installed_features(), RUNTIME_ROLE)
    init_database(owner, 4, 2)
    try:
        seeded = seed(owner, pg.url("postgres", building), scale, log=log)
    finally:
        close_database()
    pg.psql(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    pg.psql(f'ALTER DATABASE "{name}" IS_TEMPLATE true')
    info = {**dataclasses.asdict(seeded), "total_seconds": round(time.monotonic() - started, 1)}
    (VAR / f"{name}.json").write_text(json.dumps(info, ensure_ascii=False, indent=1))
    return name, info


def fresh_copy(pg: LocalCluster, template: str) -> None:
    pg.drop_database(RUN_DB)
    pg.psql(f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{template}" OWNER oa_owner')
    pg.psql(f'REVOKE ALL ON DATABASE "{RUN_DB}" FROM PUBLIC')
    pg.psql(f'GRANT CONNECT, TEMPORARY ON DATABASE "{RUN_DB}" TO "{RUNTIME_ROLE}"')


# ---- the servers -------------------------------------------------------------------------------
def _wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"127.0.0.1:{port} 未在 {seconds} 秒内开始监听")


def start_platform(pg: LocalCluster, workers: int, extra_env: dict[str, str],
                   variant: list[str] | None = None, port: int = APP_PORT,
                   tree: Path = ROOT) -> subprocess.Popen:
    """`oa-ops serve`, or with `variant` flags bench.serve_variant (proposed changes on). With
    `tree`, the application's code comes from that directory (another revision exported with
    `git archive`; bench.compare), the rest from this checkout's .venv."""
    env = {**os.environ, "OA_CONFIG_FILE": str(VAR / "no-config"),
           "OA_DATABASE_URL": pg.url(RUNTIME_ROLE, RUN_DB),
           "OA_MIGRATION_DATABASE_URL": pg.url("oa_owner", RUN_DB),
           "OA_SECRET_FILE": str(VAR / "secret" / "cookie_secret"),
           "OA_METRICS_DIR": str(VAR / ("metrics" if port == APP_PORT else f"metrics-{port}")),
           **extra_env}
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree)
    name = "platform.log" if port == APP_PORT else f"platform-{port}.log"
    logfile = open(VAR / name, "w")  # noqa: SIM115 - lives as long as the process
    command = ([sys.executable, "-m", "bench.serve_variant", *variant] if variant
               else [str(ROOT / ".venv" / "bin" / "oa-ops"), "serve"])
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)], cwd=tree, env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT, start_new_session=True)
    _wait_port(port)
    return process


def start_ceiling(pg: LocalCluster, workers: int, threads: int) -> subprocess.Popen:
    logfile = open(VAR / "ceiling.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.ceiling", "--port", str(CEILING_PORT), "--workers",
         str(workers), "--threads", str(threads), "--database-url", pg.url(RUNTIME_ROLE, RUN_DB)],
        cwd=ROOT, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    _wait_port(CEILING_PORT)
    return process


def stop(process: subprocess.Popen | None) -> None:
    """End a server we started: its own process group (the forked workers), by its id."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


# ---- the run ------------------------------------------------------------------------------------
def bench_usernames(pg: LocalCluster, count: int) -> list[tuple[int, str]]:
    rows = pg.psql(f"SELECT id || ' ' || username FROM app_user WHERE username LIKE "
                   f"'{USERNAME_PREFIX}%' ORDER BY md5(username) LIMIT {count}", database=RUN_DB)
    return [(int(line.split()[0]), line.split()[1]) for line in rows.splitlines()]


RATIO_TURN_SECONDS = 3.0
RATIO_SETTLE_SECONDS = 1.5  # the audit chain pass runs each second


async def measure_ratio(sides: list[tuple[str, list[str], list[str], ProcessGroup]],
                        seconds: float, concurrency: int, connector: aiohttp.BaseConnector,
                        db_group: ProcessGroup) -> dict:
    """Each side's closed-loop throughput and CPU over `seconds` of its own, the sides taking
    turns of about RATIO_TURN_SECONDS (A B, B A, A B, ...). Measured one after the other, the
    ratio of two sides also measured how the machine's speed changed between them: on a shared
    VM the same code gave 35-50 % (bench/README.md, finding 69); taking turns, a drift slows
    both alike. After each turn the side's lagging work (the platform chains the turn's audit
    events within a second) is let finish for RATIO_SETTLE_SECONDS, its CPU counted to that
    side and not to the next. "turns" holds the ratio of the second side's throughput to the
    first's, round by round."""
    rounds = max(2, round(seconds / RATIO_TURN_SECONDS))
    totals = {name: collections.Counter() for name, *_ in sides}
    latencies: dict[str, list[float]] = {name: [] for name, *_ in sides}
    turns = []
    for number in range(rounds):
        rps = {}
        for name, urls, cookies, group in (sides if number % 2 == 0 else sides[::-1]):
            group.mark(), db_group.mark()
            own0 = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            count, errors, taken = await load.closed_loop(
                urls, cookies, seconds / rounds, concurrency, connector)
            elapsed = time.monotonic() - started
            await asyncio.sleep(RATIO_SETTLE_SECONDS)
            with_settling = time.monotonic() - started  # cpu_share: cores since mark()
            totals[name].update(requests=count, errors=errors, seconds=elapsed,
                                app=group.cpu_share() * with_settling,
                                db=db_group.cpu_share() * with_settling, client=_own_cpu(own0))
            latencies[name] += taken
            rps[name] = count / elapsed
        first, second = (name for name, *_ in sides)
        turns.append(round(rps[second] / max(rps[first], 1e-9), 3))
    result: dict = {"turns": turns}
    for name, total in totals.items():
        elapsed = total["seconds"]
        result[name] = {
            "requests": total["requests"], "errors": total["errors"],
            "rps": total["requests"] / elapsed, **report.percentiles(latencies[name]),
            "app_cpu": round(total["app"] / elapsed, 2), "db_cpu": round(total["db"] / elapsed, 2),
            "client_cpu": total["client"] / elapsed}
        log(f"  {name}: {total['requests'] / elapsed:.0f} 次/秒")
    return result


async def measure(plan: Plan, app_group: ProcessGroup, ceiling_group: ProcessGroup,
                  db_group: ProcessGroup, users: list[tuple[int, str]],
                  platform_path: str = "/api/todo") -> dict:
    base = f"http://127.0.0.1:{APP_PORT}"
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60)
    rng = random.Random(11)
    recorder = load.Recorder()
    vus: list[load.VirtualUser] = []
    running: list[asyncio.Task] = []
    steps: list[dict] = []
    # Only a safety net: the users are cancelled when the steps end (finally, below). It once
    # was steps x (window + 300 s), and on a loaded machine the logins of the later steps took
    # longer than that, so the 2000-user step ran with every user already stopped (0 requests).
    stop_at = time.monotonic() + 6 * 3600
    result: dict = {}
    try:
        # 1. the ceiling ratio: the same todo-list query, back to back, both servers warm
        probe = [load.VirtualUser(base, u, BENCH_PASSWORD, connector, recorder, rng, plan.think)
                 for _, u in users[:plan.ceiling_concurrency]]
        logged = await asyncio.gather(*(vu.login() for vu in probe))
        if not all(logged):
            raise RuntimeError("基准用户登录失败：请查看 var/bench/platform.log")
        ids = [i for i, _ in users[:plan.ceiling_concurrency]]
        ceiling_urls = [f"http://127.0.0.1:{CEILING_PORT}/todo?user={i}" for i in ids]
        await load.closed_loop(ceiling_urls, [""], 2, plan.ceiling_concurrency, connector)
        await load.closed_loop([base + platform_path], [vu.cookie_header() for vu in probe], 2,
                               plan.ceiling_concurrency, connector)
        result["ceiling"] = await measure_ratio(
            [("ceiling", ceiling_urls, [""], ceiling_group),
             ("platform", [base + platform_path], [vu.cookie_header() for vu in probe],
              app_group)],
            plan.ceiling_seconds, plan.ceiling_concurrency, connector, db_group)
        for vu in probe:
            await vu.close()
        # 2. step up the virtual staff
        for target in plan.steps:
            new = users[len(vus):target]
            started = time.monotonic()
            batch = [load.VirtualUser(base, u, BENCH_PASSWORD, None, recorder, rng,
                                      plan.think) for _, u in new]
            login_latency: list[float] = []
            recorder.samples = []  # the pages of those at work while the others sign in
            for index in range(0, len(batch), 8):  # logins 8 at a time: Argon2 is costly
                chunk = batch[index:index + 8]
                t0 = time.perf_counter()
                ok = await asyncio.gather(*(vu.login() for vu in chunk))
                login_latency.append(time.perf_counter() - t0)
                if not all(ok):
                    raise RuntimeError("基准用户登录失败：请查看 var/bench/platform.log")
                vus.extend(chunk)  # at work as soon as signed in, as in the morning
                running.extend(asyncio.create_task(vu.run(stop_at)) for vu in chunk)
            await asyncio.sleep(min(plan.think, 5))  # the last ones' first clicks
            phase, errors, _ = recorder.take(measuring=True)
            signing_in = report.signing_in(phase, login_latency, errors)
            app_group.mark(), db_group.mark()
            own0 = resource.getrusage(resource.RUSAGE_SELF)
            window0 = time.monotonic()
            await asyncio.sleep(plan.step_seconds)
            window = time.monotonic() - window0
            own1 = resource.getrusage(resource.RUSAGE_SELF)
            samples, errors, messages = recorder.take(measuring=False)
            step = report.summarise_step(target, samples, window)
            step.update(app_cpu=app_group.cpu_share(), db_cpu=db_group.cpu_share(),
                        client_cpu=_own_cpu(own0, own1) / window,
                        app_rss_mb=app_group.rss_mb(), login_seconds=round(
                            time.monotonic() - started - window, 1),
                        signing_in=signing_in, errors_by_kind=errors, error_messages=messages)
            steps.append(step)
            log(f"  {target} 人：{step['rps']:.0f} 次/秒，p95 {step['p95_ms']:.0f} ms，"
                f"错误 {step['errors']}，应用 CPU {step['app_cpu']:.2f} 核，"
                f"数据库 CPU {step['db_cpu']:.2f} 核")
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for vu in vus:
            await vu.close()
        await connector.close()
    result["steps"] = steps
    return result


def _own_cpu(before, after=None) -> float:
    """CPU seconds this process (the load generator) used between two rusage snapshots."""
    after = after or resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def seq_scans(pg: LocalCluster) -> list[dict]:
    """Tables read by sequential scans during the run (a list or search without its index
    shows up here first), busiest first."""
    rows = pg.psql("SELECT relname || ' ' || seq_scan || ' ' || seq_tup_read || ' ' ||"
                   " coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE seq_scan > 0"
                   " ORDER BY seq_tup_read DESC LIMIT 8", database=RUN_DB)
    keys = ("table", "seq_scans", "rows_read", "index_scans")
    return [dict(zip(keys, [p[0], *map(int, p[1:])], strict=True))
            for p in (line.split() for line in rows.splitlines())]


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    pg_version = subprocess.run([str(Path(cluster_bindir()) / "postgres"), "--version"],
                                capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(int(mem) / 1024 ** 2, 1),
            "kernel": os.uname().release, "python": sys.version.split()[0],
            "postgres": pg_version, "load_at_start": os.getloadavg()}


def cluster_bindir() -> str:
    from ops_cli.pgcluster import find_bindir

    return str(find_bindir())


def main() -> None:
    parser = argparse.ArgumentParser(description="公文与待办负载基准")
    parser.add_argument("--full", action="store_true", help="到 2000 人、每级 2 分钟")
    parser.add_argument("--seed-only", action="store_true", help="只构建种子数据模板")
    parser.add_argument("--steps", help="并发人数，逗号分隔（覆盖默认）")
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--think", type=float, help="平均思考时间（秒）")
    parser.add_argument("--variant", action="append", default=[],
                        help="以 bench.serve_variant 启动平台并打开该项试验修改，可重复："
                             "no-gzip、gc-log、gc-threshold=N、switch-interval=MS")
    parser.add_argument("--platform-path", default="/api/todo",
                        help="闭环压测平台时请求的路径（默认 /api/todo，与上限同一查询）")
    parser.add_argument("--ratio-only", action="store_true", help="只测待办列表与上限之比")
    parser.add_argument("--ratio-seconds", type=float,
                        help="测比值时每一方的加压秒数（默认短版 24、完整版 60；越长越稳）")
    parser.add_argument("--env", action="append", default=[],
                        help="平台进程的环境变量 KEY=VALUE（试验设置，如 OA_DB_THREADS=4）")
    parser.add_argument("--scale", default="full",
                        help="full，或 用户,公文,审计，例如 500,10000,50000")
    args = parser.parse_args()
    scale = FULL if args.scale == "full" else Scale(*(int(x) for x in args.scale.split(",")))
    plan = dataclasses.replace(LONG if args.full else SHORT)
    if args.steps:
        plan.steps = [int(x) for x in args.steps.split(",")]
    if args.step_seconds:
        plan.step_seconds = args.step_seconds
    if args.think:
        plan.think = args.think
    if args.ratio_only:
        plan.steps = []
    if args.ratio_seconds:
        plan.ceiling_seconds = args.ratio_seconds
    VAR.mkdir(parents=True, exist_ok=True)
    pg = cluster()
    pg.ensure()
    try:
        run(args, plan, scale, pg)
    finally:
        pg.stop()  # the bench cluster runs only while a benchmark does


def run(args: argparse.Namespace, plan: Plan, scale: Scale, pg: LocalCluster) -> None:
    template, seeded = ensure_template(pg, scale)
    if args.seed_only:
        log(f"模板就绪：{template}")
        return
    platform_env = dict(item.split("=", 1) for item in args.env)
    fresh_copy(pg, template)
    conditions = {"machine": machine(), "plan": dataclasses.asdict(plan), "env": platform_env,
                  "variant": args.variant,
                  "scale": dataclasses.asdict(scale), "template": template, "seed": seeded,
                  "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    users = bench_usernames(pg, max([*plan.steps, plan.ceiling_concurrency]))
    platform = ceiling = None
    try:
        variant = [f"--{v}" for v in args.variant]
        platform = start_platform(pg, plan.workers, platform_env, variant)
        ceiling = start_ceiling(pg, plan.workers, 8)
        app_group = ProcessGroup.of_parent(platform.pid)
        ceiling_group = ProcessGroup.of_parent(ceiling.pid)
        db_group = ProcessGroup.postgres(pg.data)
        log(f"平台 {plan.workers} 个进程、上限处理器已启动；开始测量")
        measured = asyncio.run(measure(plan, app_group, ceiling_group, db_group, users,
                                       args.platform_path))
        measured["seq_scans"] = seq_scans(pg)
    finally:
        stop(platform)
        stop(ceiling)
        pg.drop_database(RUN_DB)
    conditions["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not measured["steps"]:  # --ratio-only: the measurement and its conditions, kept
        path = report.write_ratio(RESULTS, conditions, measured["ceiling"])
        log(f"待办 / 上限：{report.throughput_ratio(measured['ceiling']):.1%}（{path}）")
        return
    path = report.write(RESULTS, conditions, measured)
    log(f"报告：{path}")


if __name__ == "__main__":
    main()
