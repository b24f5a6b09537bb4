"""`oa-ops audit export`: a date range into a CSV or XLSX file, written atomically."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.core.config import settings
from app.core.db import init_database
from tests.audit.helpers import stored_rows, write_at


@pytest.fixture
def cli(pg):
    from ops_cli.audit_cmd import app

    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    cfg = settings()
    init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)


def test_export_date_range_to_xlsx_and_csv(db, cli, tmp_path):
    write_at(dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC), "test.in_range")
    write_at(dt.datetime(2026, 3, 5, 2, tzinfo=dt.UTC), "test.after")
    out = tmp_path / "audit.xlsx"
    result = cli("export", "--since", "2026-03-01", "--until", "2026-03-02", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert [r[7] for r in rows[1:]] == ["test.in_range"]
    assert rows[1][1] == "2026-03-01 10:00:00"
    assert [p.name for p in tmp_path.iterdir()] == ["audit.xlsx"]  # no temporary left
    init_database(settings().database_url, settings().db_pool_size, settings().db_threads)
    csv_out = tmp_path / "all.csv"
    result = cli("export", "--format", "csv", "--out", str(csv_out))
    assert result.exit_code == 0, result.output
    text = csv_out.read_text(encoding="utf-8-sig")
    assert "test.in_range" in text and "test.after" in text
    init_database(settings().database_url, settings().db_pool_size, settings().db_threads)
    assert [r[3] for r in stored_rows()].count("audit.export") == 2


def test_bad_date_is_refused(db, cli, tmp_path):
    result = cli("export", "--since", "2026-13-01", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code != 0
    assert not (tmp_path / "x.csv").exists()
