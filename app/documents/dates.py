"""Dates as the bureau sees them (its time zone), and the standard's printed forms."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from app.core.config import settings


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(settings().time_zone)).date()


def local_date(value: dt.datetime) -> dt.date:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(settings().time_zone)).date()


def chinese_date(value: dt.date) -> str:
    """成文日期 per GB/T 9704-2012 7.3.5.2: Arabic numerals, full year, no padding zeros."""
    return f"{value.year}年{value.month}月{value.day}日"
