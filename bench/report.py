"""Figures and the written report: per-action throughput and latency percentiles, the
capacity figure, the ceiling ratio; Markdown plus a PNG of latency against users."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

from bench.samples import Sample

CAPACITY_P95_MS = 200.0
WINDOW_SECONDS = 10
WORST_WINDOWS = 5


def percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def summarise_step(users: int, samples: list[Sample], seconds: float) -> dict:
    by_action: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_action[sample.action].append(sample)
    actions = {}
    for action, rows in sorted(by_action.items()):
        actions[action] = {"count": len(rows), "rps": round(len(rows) / seconds, 1),
                           "errors": sum(1 for r in rows if not r.ok),
                           "kib": round(sum(r.size for r in rows) / len(rows) / 1024, 1),
                           **percentiles([r.latency for r in rows])}
    return {"users": users, "seconds": round(seconds, 1), "requests": len(samples),
            "rps": round(len(samples) / seconds, 1),
            "errors": sum(1 for s in samples if not s.ok),
            **percentiles([s.latency for s in samples]), "actions": actions,
            "worst_windows": worst_windows(samples)}


def signing_in(samples: list[Sample], batch_seconds: list[float],
               errors: dict[str, int]) -> dict:
    """A step's sign-in phase: the pages of the users at work while the others sign in (8 at
    a time, each an Argon2 verification), and how long each batch of sign-ins took."""
    pages = [s for s in samples if s.action != "login"]
    return {"requests": len(pages), "errors": sum(errors.values()),
            **percentiles([s.latency for s in pages]),
            "batch": percentiles(batch_seconds)}


def worst_windows(samples: list[Sample]) -> list[dict]:
    """The 10-second windows of a step with the slowest p99, in time order: a tail that comes
    from intermittent stalls (a checkpoint, a full GC) shows as a few bad windows with their
    UTC times, one spread over the run does not."""
    by_window: dict[int, list[float]] = defaultdict(list)
    for sample in samples:
        by_window[int(sample.at // WINDOW_SECONDS)].append(sample.latency)
    worst = sorted(by_window, key=lambda w: percentiles(by_window[w])["p99_ms"],
                   reverse=True)[:WORST_WINDOWS]
    return [{"start": dt.datetime.fromtimestamp(w * WINDOW_SECONDS, dt.UTC).strftime("%H:%M:%S"),
             "requests": len(by_window[w]), **percentiles(by_window[w]),
             "max_ms": round(max(by_window[w]) * 1000, 1)} for w in sorted(worst)]


def capacity(steps: list[dict]) -> int:
    """The largest user count whose step had p95 < 200 ms over all requests and no error;
    stepping stops counting at the first step that fails (a later pass is luck)."""
    best = 0
    for step in steps:
        if step["errors"] == 0 and step["p95_ms"] < CAPACITY_P95_MS:
            best = step["users"]
        else:
            break
    return best


def stamp() -> str:
    """The UTC moment that names a result file: 2026-12-07T135332Z."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")


def throughput_ratio(ceiling: dict) -> float:
    """The todo-list ratio: our requests per second over the ceiling's."""
    return ceiling["platform"]["rps"] / max(ceiling["ceiling"]["rps"], 1e-9)


def cpu_ratio(ceiling: dict) -> float:
    """The todo-list ratio as CPU-bound throughput would give it: the ceiling's CPU seconds
    per request (server + database) over ours."""

    def per_request(row: dict) -> float:
        return (row["app_cpu"] + row["db_cpu"]) / max(row["rps"], 1e-9)

    return per_request(ceiling["ceiling"]) / max(per_request(ceiling["platform"]), 1e-12)


def turns_text(ceiling: dict) -> str:
    """How steady the ratio was over the turns the two sides took (bench.run.measure_ratio)."""
    turns = ceiling.get("turns") or []
    if not turns:
        return ""
    return (f"两者轮流各测 {len(turns)} 轮（每轮先后互换，机器快慢的变化两边均摊），"
            f"各轮吞吐比 {min(turns):.0%}–{max(turns):.0%}")


def _plot(path: Path, steps: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [s["users"] for s in steps]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=90)
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        ax.plot(users, [s[key] for s in steps], marker="o", label=label)
    ax.axhline(CAPACITY_P95_MS, color="grey", linestyle="--", linewidth=1, label="200 ms")
    ax.set_xlabel("concurrent users (with think time)")
    ax.set_ylabel("latency, all requests (ms)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(conditions: dict, measured: dict, plot_name: str) -> str:
    steps = measured["steps"]
    ceiling = measured["ceiling"]
    ratio = throughput_ratio(ceiling)
    m, plan = conditions["machine"], conditions["plan"]
    lines = [
        f"# 基准报告 {conditions['started']}",
        "",
        f"- 机器：{m['cpu']}，{m['cores']} 核，{m['memory_gib']} GiB；{m['postgres']}；"
        f"Python {m['python']}；开始时负载 {', '.join(f'{x:.2f}' for x in m['load_at_start'])}",
        f"- 数据：{conditions['scale']['users']} 人，{conditions['scale']['instances']} 件公文，"
        f"{conditions['scale']['audit']} 条审计记录（模板 {conditions['template']}）",
        f"- 平台 {plan['workers']} 个进程；每级测量 {plan['step_seconds']} 秒；平均思考时间 "
        f"{plan['think']} 秒；数据库与应用、压测客户端同在本机",
        "",
        f"**容量：{capacity(steps)} 人**（p95 < {CAPACITY_P95_MS:.0f} ms 且无错误的最大并发人数）",
        "",
        f"**待办列表吞吐：上限的 {ratio:.0%}**（平台 /api/todo {ceiling['platform']['rps']:.0f} "
        f"次/秒，裸 Tornado + psycopg2 {ceiling['ceiling']['rps']:.0f} 次/秒，"
        f"{plan['ceiling_concurrency']} 个并发、无思考时间）；按每请求 CPU（平台进程 + 数据库）"
        f"折算为上限的 {cpu_ratio(ceiling):.0%}。{turns_text(ceiling)}",
        "",
        "CPU 以核计（1.0 = 一个核满载）；“每请求 CPU”= 该组进程的 CPU 时间 / 请求数，"
        "受本机其他负载的影响远小于吞吐量，是跨次运行比较的主要依据。",
        "",
        "| 对象 | 次/秒 | p50 ms | p95 ms | p99 ms | 错误 | 服务 CPU | 数据库 CPU "
        "| 每请求服务 CPU ms | 每请求数据库 CPU ms | 客户端 CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("platform", "ceiling"):
        c = ceiling[name]
        per = max(c["rps"], 1e-9)
        lines.append(f"| {name} | {c['rps']:.0f} | {c['p50_ms']} | {c['p95_ms']} | "
                     f"{c['p99_ms']} | {c['errors']} | {c['app_cpu']} | {c['db_cpu']} | "
                     f"{1000 * c['app_cpu'] / per:.2f} | {1000 * c['db_cpu'] / per:.2f} | "
                     f"{c.get('client_cpu', 0):.2f} |")
    lines += ["", f"![latency against users]({plot_name})", "",
              "| 并发人数 | 次/秒 | p50 ms | p95 ms | p99 ms | 错误 | 应用 CPU | 数据库 CPU "
              "| 每请求应用 CPU ms | 客户端 CPU | 应用内存 MiB | 登录耗时 s |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: |"]
    for s in steps:
        per = 1000 * s["app_cpu"] / max(s["rps"], 1e-9)
        lines.append(f"| {s['users']} | {s['rps']} | {s['p50_ms']} | {s['p95_ms']} | "
                     f"{s['p99_ms']} | {s['errors']} | {s['app_cpu']} | {s['db_cpu']} | "
                     f"{per:.2f} | {s['client_cpu']:.2f} | {s['app_rss_mb']} | "
                     f"{s['login_seconds']} |")
    if measured.get("seq_scans"):
        lines += ["", "顺序扫描最多的表（整个运行期间，pg_stat_user_tables）：", "",
                  "| 表 | 顺序扫描次数 | 顺序读取行数 | 索引扫描次数 |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {r['table']} | {r['seq_scans']} | {r['rows_read']} | {r['index_scans']} |"
                  for r in measured["seq_scans"]]
    lines += ["", "## 各操作（每级）", ""]
    for s in steps:
        lines += [f"### {s['users']} 人", "",
                  "| 操作 | 次数 | 次/秒 | p50 ms | p95 ms | p99 ms | 错误 | 平均 KiB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for action, a in s["actions"].items():
            lines.append(f"| {action} | {a['count']} | {a['rps']} | {a['p50_ms']} | "
                         f"{a['p95_ms']} | {a['p99_ms']} | {a['errors']} | "
                         f"{a.get('kib', '')} |")
        if s.get("signing_in", {}).get("requests"):
            g = s["signing_in"]
            lines += ["", "登录阶段（新用户每批 8 人登录，不计入上表）："
                      f"已在工作的用户 {g['requests']} 次访问，p50 {g['p50_ms']} ms、"
                      f"p95 {g['p95_ms']} ms、p99 {g['p99_ms']} ms，"
                      f"错误 {g['errors']}；每批登录 p50 {g['batch']['p50_ms']} ms、"
                      f"p95 {g['batch']['p95_ms']} ms"]
        if s.get("worst_windows"):
            lines += ["", f"p99 最差的 {WINDOW_SECONDS} 秒时段（UTC，按时间排列）："
                      + "；".join(f"{w['start']} 起 {w['requests']} 次，p99 {w['p99_ms']} ms，"
                                 f"最长 {w['max_ms']} ms" for w in s["worst_windows"])]
        if s["errors_by_kind"]:
            lines.append("")
            messages = s.get("error_messages", {})
            lines.append("错误：" + "；".join(
                f"{k} ×{v}" + (f"（{messages[k]}）" if messages.get(k) else "")
                for k, v in s["errors_by_kind"].items()))
        lines.append("")
    return "\n".join(lines) + "\n"


def rerender(json_path: Path) -> Path:
    """Rewrite a result's Markdown from its JSON (after a change to this module)."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    path = json_path.with_suffix(".md")
    plot = json_path.with_name(json_path.stem + "-latency.png").name
    path.write_text(markdown(data["conditions"], data["measured"], plot), encoding="utf-8")
    return path


def write(folder: Path, conditions: dict, measured: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = stamp()
    plot = folder / f"{name}-latency.png"
    _plot(plot, measured["steps"])
    path = folder / f"{name}.md"
    path.write_text(markdown(conditions, measured, plot.name), encoding="utf-8")
    (folder / f"{name}.json").write_text(
        json.dumps({"conditions": conditions, "measured": measured}, ensure_ascii=False,
                   indent=1, default=str), encoding="utf-8")
    return path


def write_ratio(folder: Path, conditions: dict, ratio: dict) -> Path:
    """Keep a ratio-only measurement (`bench.run --ratio-only`) with its conditions."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ratio-{stamp()}.json"
    path.write_text(json.dumps({**conditions, "ratio": ratio}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path
