"""The report's figures from a step's samples: a tail that comes from a stall is placed in
time, so it can be matched with what the server did then."""

from __future__ import annotations

import datetime as dt

from bench.report import WINDOW_SECONDS, summarise_step, worst_windows
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
