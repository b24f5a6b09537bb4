"""Server-rendered SVG bar charts (no script, so the strict CSP holds): geometry only, the
template draws it. Horizontal bars, because the labels are long Chinese department names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.statistics.service import Table

WIDTH, LABEL_WIDTH, VALUE_WIDTH, BAR_HEIGHT, GAP = 640, 200, 70, 18, 6
MAX_BARS = 15
TOTAL_LABEL = "合计"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    y: float
    width: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    label_width: int
    bars: list[Bar]
    bar_height: int = BAR_HEIGHT


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def chart_for(table: Table) -> Chart | None:
    """The table's chart column, largest first, at most MAX_BARS bars; None without data."""
    column = table.chart_column
    if column is None:
        return None
    rows = [r for r in table.rows if r[0] != TOTAL_LABEL]
    if table.key != "months":  # months keep their order and their empty months
        rows = sorted((r for r in rows if _number(r[column]) > 0),
                      key=lambda r: -_number(r[column]))[:MAX_BARS]
    if not any(_number(r[column]) > 0 for r in rows):
        return None
    peak = max(_number(r[column]) for r in rows)  # > 0, checked above
    usable = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = [Bar(label=_short(str(row[0])), value=_number(row[column]), text=str(row[column]),
                y=i * (BAR_HEIGHT + GAP) + GAP,
                width=round(usable * _number(row[column]) / peak, 1))
            for i, row in enumerate(rows)]
    title = f"{table.title}：{table.columns[column].title}"
    return Chart(title=title, width=WIDTH, height=len(bars) * (BAR_HEIGHT + GAP) + GAP,
                 label_width=LABEL_WIDTH, bars=bars)
