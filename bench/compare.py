"""Two revisions of the platform side by side, page by page: which one costs less CPU.

    git archive <rev> | tar -x -C /tmp/before      # the revision to compare with
    python -m bench.compare --before /tmp/before [--path /api/todo --path /] [--seconds 24]

Both run on one fresh copy of the seeded database (this checkout's migrations: the older code
runs on the newer schema), with the same signed-in users, and are loaded in turns of 3 s
(bench.run.measure_ratio), so that a shared VM's drift slows both alike: measured one run
after the other, two 2000-user runs of nearly the same code differed by 12 % in application
CPU per request, and by 19 % in the load generator's own (bench/README.md, finding 69).
Prints, per path, each side's requests per second and CPU per request, and the ratios, and
keeps them with the machine's description in bench/results/compare-<UTC>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from pathlib import Path

import aiohttp

from bench import load, report, run
from bench.procstat import ProcessGroup
from bench.seed import BENCH_PASSWORD, FULL

BEFORE_PORT = 18891
DEFAULT_PATHS = ["/api/todo", "/", "/todo", "/todo/done", "/addressbook?q=%E5%BC%A0"]
CONCURRENCY = 16


async def compare(paths: list[str], seconds: float, users: list[str],
                  groups: dict[str, ProcessGroup], db_group: ProcessGroup) -> dict[str, dict]:
    bases = {"before": f"http://127.0.0.1:{BEFORE_PORT}", "after": f"http://127.0.0.1:{run.APP_PORT}"}
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60)
    signed_in = [load.VirtualUser(bases["after"], u, BENCH_PASSWORD, connector, load.Recorder(),
                                  random.Random(1), 5.0) for u in users]
    if not all(await asyncio.gather(*(vu.login() for vu in signed_in))):
        raise RuntimeError("基准用户登录失败：请查看 var/bench/platform.log")
    cookies = [vu.cookie_header() for vu in signed_in]  # one session table: valid on both
    results = {}
    try:
        for path in paths:
            sides = [(side, [base + path], cookies, groups[side]) for side, base in bases.items()]
            for _, urls, _, _ in sides:  # warm both
                await load.closed_loop(urls, cookies, 2, CONCURRENCY, connector)
            measured = await run.measure_ratio(sides, seconds, CONCURRENCY, connector, db_group)
            results[path] = _summary(measured)
            run.log(f"{path}：{json.dumps(results[path], ensure_ascii=False)}")
    finally:
        await connector.close()
    return results


def _summary(measured: dict) -> dict:
    row: dict = {}
    for side in ("before", "after"):
        m = measured[side]
        per = max(m["rps"], 1e-9)
        row[side] = {"rps": round(m["rps"]), "errors": m["errors"],
                     "app_ms": round(1000 * m["app_cpu"] / per, 3),
                     "db_ms": round(1000 * m["db_cpu"] / per, 3)}
    for cost in ("app_ms", "db_ms"):
        row[f"{cost}_after_over_before"] = round(
            row["after"][cost] / max(row["before"][cost], 1e-9), 3)
    row["turns_after_over_before"] = measured["turns"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description="两个版本的平台同时运行、轮流加压，逐页比较每请求 CPU")
    parser.add_argument("--before", type=Path, required=True,
                        help="较早版本的代码目录（git archive <rev> | tar -x -C 目录）")
    parser.add_argument("--path", action="append", dest="paths",
                        help="要比较的页面，可重复（默认 "
                             + " ".join(DEFAULT_PATHS).replace("%", "%%") + "）")
    parser.add_argument("--seconds", type=float, default=12.0, help="每个页面每一方的加压秒数")
    args = parser.parse_args()
    if not (args.before / "app").is_dir():
        parser.error(f"{args.before} 里没有 app/ 目录：请先用 git archive 导出较早的版本")
    pg = run.cluster()
    pg.ensure()
    try:
        template, _ = run.ensure_template(pg, FULL)
        run.fresh_copy(pg, template)
        users = [u for _, u in run.bench_usernames(pg, CONCURRENCY)]
        after = before = None
        try:
            after = run.start_platform(pg, 2, {})
            before = run.start_platform(pg, 2, {}, port=BEFORE_PORT, tree=args.before.resolve())
            groups = {"before": ProcessGroup.of_parent(before.pid),
                      "after": ProcessGroup.of_parent(after.pid)}
            results = asyncio.run(compare(args.paths or DEFAULT_PATHS, args.seconds, users,
                                          groups, ProcessGroup.postgres(pg.data)))
        finally:
            run.stop(after)
            run.stop(before)
            pg.drop_database(run.RUN_DB)
    finally:
        pg.stop()
    text = json.dumps({"machine": run.machine(), "before": str(args.before),
                       "seconds": args.seconds, "paths": results}, ensure_ascii=False, indent=1)
    path = run.RESULTS / f"compare-{report.stamp()}.json"
    path.write_text(text, encoding="utf-8")
    print(text)
    run.log(f"结果：{path}")


if __name__ == "__main__":
    main()
