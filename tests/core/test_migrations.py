"""Migrations build the whole schema from an empty database, once, and refuse edits."""

import uuid
from pathlib import Path

import psycopg2
import pytest

from app.core.db import connect_params
from app.core.features import Feature
from app.core.migrations import MigrationError, migrate, pending
from app.features import installed_features
from tests.support.database import TestDatabase, _with_database


@pytest.fixture
def empty_database(pg: TestDatabase):
    name = f"oa_empty_{uuid.uuid4().hex[:8]}"
    conn = pg.superuser()
    conn.cursor().execute(f'CREATE DATABASE "{name}" OWNER oa_owner')
    yield _with_database(pg.owner_url, name)
    conn.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    conn.close()


def _tables(url: str) -> set[str]:
    with psycopg2.connect(**connect_params(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def test_migrations_from_empty_then_nothing_pending(empty_database: str) -> None:
    features = installed_features()
    applied = migrate(empty_database, features, "oa_app")
    assert applied, "no migration ran on an empty database"
    assert {"schema_migration", "app_user", "department"} <= _tables(empty_database)
    assert pending(empty_database, features) == []
    assert migrate(empty_database, features, "oa_app") == []


def _feature_with(tmp_path: Path, sql: str) -> Feature:
    (tmp_path / "migrations").mkdir(exist_ok=True)
    (tmp_path / "migrations" / "0001_thing.sql").write_text(sql)
    return Feature(name="probe", title="probe", package_dir=tmp_path)


def test_an_applied_migration_that_was_edited_is_refused(
    empty_database: str, tmp_path: Path
) -> None:
    migrate(empty_database, [_feature_with(tmp_path, "CREATE TABLE probe (id int);")], "oa_app")
    edited = _feature_with(tmp_path, "CREATE TABLE probe (id bigint);")
    with pytest.raises(MigrationError, match="已执行的迁移被修改"):
        migrate(empty_database, [edited], "oa_app")


def test_a_failing_migration_leaves_nothing_behind(empty_database: str, tmp_path: Path) -> None:
    broken = _feature_with(tmp_path, "CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(MigrationError, match="迁移失败"):
        migrate(empty_database, [broken], "oa_app")
    assert "half" not in _tables(empty_database)
    assert pending(empty_database, [broken]) != []
