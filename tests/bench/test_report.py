"""The report's figures from a step's samples: a tail that comes from a stall is placed in
time, so it can be matched with what the server did then."""

from __future__ import annotations

import datetime as dt

from bench.report import WINDOW_SECONDS, markdown, signing_in, summarise_step, worst_windows
from bench.samples import Sample

START = dt.datetime(2026, 12, 4, 19, 0, tzinfo=dt.UTC).timestamp()


def _steady_with_one_stall() -> list[Sample]:
    samples = [Sample("todo_list", 0.010, True, 200, 100, START + n * 0.1) for n in range(600)]
    stalled = START + 3 * WINDOW_SECONDS + 2  # 19:00:32, in the window starting 19:00:30
    samples += [Sample("submit", 0.450, True, 200, 0, stalled + n * 0.01) for n in range(5)]
    return samples


def test_the_stalled_window_is_named_with_its_time() -> None:
    worst = worst_windows(_steady_with_one_stall())
    assert len(worst) == 5
    assert [w["start"] for w in worst] == sorted(w["start"] for w in worst)
    stalled = next(w for w in worst if w["start"] == "19:00:30")
    assert stalled["max_ms"] == 450.0 and stalled["p99_ms"] == 450.0
    assert stalled["requests"] == 105
    assert all(w["p99_ms"] == 10.0 for w in worst if w is not stalled)


def test_a_step_summary_carries_its_worst_windows() -> None:
    step = summarise_step(80, _steady_with_one_stall(), 60.0)
    assert step["requests"] == 605 and step["errors"] == 0
    assert "19:00:30" in [w["start"] for w in step["worst_windows"]]
    assert worst_windows([]) == []


def _report_with(step: dict) -> str:
    machine = {"cpu": "AMD EPYC", "cores": 2, "memory_gib": 23.5, "postgres": "15",
               "python": "3.11", "load_at_start": [0.1, 0.1, 0.1]}
    conditions = {"started": "2026-12-06T09:00:00+00:00", "machine": machine,
                  "plan": {"workers": 2, "step_seconds": 60.0, "think": 10.0,
                           "ceiling_concurrency": 16},
                  "scale": {"users": 2000, "instances": 100000, "audit": 1000000},
                  "template": "tpl"}
    side = {"rps": 1000.0, "p50_ms": 5, "p95_ms": 9, "p99_ms": 12, "errors": 0,
            "app_cpu": 1.0, "db_cpu": 0.5, "client_cpu": 0.2}
    measured = {"ceiling": {"platform": side, "ceiling": side}, "steps": [step]}
    return markdown(conditions, measured, "plot.png")


def test_the_sign_in_phase_is_reported_apart_from_the_measured_window() -> None:
    at_work = [Sample("portal", 0.020, True, 200, 100, START + n) for n in range(99)]
    at_work.append(Sample("todo_list", 0.900, True, 200, 100, START + 99))
    at_work += [Sample("login", 1.500, True, 302, 0, START + n) for n in range(20)]  # not pages
    step = summarise_step(2000, _steady_with_one_stall(), 60.0)
    step.update(app_cpu=1.0, db_cpu=0.5, client_cpu=0.1, app_rss_mb=300, login_seconds=170,
                errors_by_kind={}, signing_in=signing_in(at_work, [0.4, 0.5, 2.0], {"x:500": 1}))
    text = _report_with(step)
    assert ("登录阶段（新用户每批 8 人登录，不计入上表）：已在工作的用户 100 次访问，p50 20.0 ms、"
            "p95 20.0 ms、p99 900.0 ms，错误 1；每批登录 p50 500.0 ms、p95 2000.0 ms") in text
    assert "| 2000 | 10.1 |" in text  # the measured row holds only the window's 605 requests
