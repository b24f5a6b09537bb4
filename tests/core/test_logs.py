"""Log lines carry the same timestamps as the standard formatter's."""

from __future__ import annotations

import logging

from app.core.logs import SecondCachingFormatter

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("oa.access", logging.INFO, __file__, 1, "GET /", None, None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def test_timestamps_match_the_standard_formatter_across_seconds() -> None:
    cached, standard = SecondCachingFormatter(_FORMAT), logging.Formatter(_FORMAT)
    for created in (1_796_000_000.001, 1_796_000_000.999, 1_796_000_001.5, 1_796_000_000.25,
                    1_796_086_400.0):
        record = _record(created)
        assert cached.format(record) == standard.format(record)


def test_an_explicit_date_format_is_honoured() -> None:
    record = _record(1_796_000_000.5)
    cached = SecondCachingFormatter("%(asctime)s", datefmt="%Y-%m-%d")
    assert cached.format(record) == logging.Formatter("%(asctime)s", "%Y-%m-%d").format(record)
