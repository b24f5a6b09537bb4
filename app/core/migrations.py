"""Versioned, forward-only schema migrations owned by the features.

A feature keeps its migrations as `migrations/NNNN_name.sql` in its package; the core keeps
its own few (facilities every feature may use, such as `cache_generation`) in `app/core/schema`
under the name "core". The core's run first, then the features' in dependency order, each
file in its own transaction under an advisory lock, and are recorded in the table
`schema_migration`. An applied file whose text changed is an error: migrations are never
edited, only added.

In the SQL, `{{runtime_role}}` stands for the application's runtime role (quoted identifier), so
a migration can grant it exactly what it needs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from app.core.db import connect_params
from app.core.features import Feature, ordered

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CORE_DIR = Path(__file__).resolve().parent / "schema"
_LOCK_KEY = 7_201_126  # pg_advisory_xact_lock key shared by every migrator

_STATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration (
    feature     text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feature, version)
)
"""


@dataclass(frozen=True)
class Migration:
    feature: str
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def discover(features: list[Feature]) -> list[Migration]:
    found = _in_directory("core", _CORE_DIR)
    for feature in ordered(features):
        found.extend(_in_directory(feature.name, feature.migrations_dir))
    return found


def _in_directory(owner: str, directory: Path) -> list[Migration]:
    if not directory.is_dir():
        return []
    found: list[Migration] = []
    versions: set[int] = set()
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"迁移文件名不合规范（应为 NNNN_name.sql）：{path}")
        version = int(match.group(1))
        if version in versions:
            raise MigrationError(f"{owner} 的迁移版本号重复：{version}")
        versions.add(version)
        found.append(Migration(owner, version, match.group(2), path))
    return found


def _render(migration: Migration, runtime_role: str) -> str:
    quoted = '"' + runtime_role.replace('"', '""') + '"'
    return migration.text.replace("{{runtime_role}}", quoted)


def _applied(cursor) -> dict[tuple[str, int], str]:
    cursor.execute("SELECT feature, version, checksum FROM schema_migration")
    return {(f, v): c for f, v, c in cursor.fetchall()}


def pending(owner_url: str, features: list[Feature]) -> list[Migration]:
    with psycopg2.connect(**connect_params(owner_url)) as conn, conn.cursor() as cur:
        cur.execute(_STATE_TABLE)
        applied = _applied(cur)
    return [m for m in discover(features) if (m.feature, m.version) not in applied]


def migrate(owner_url: str, features: list[Feature], runtime_role: str) -> list[Migration]:
    """Apply every pending migration; returns those applied now. Safe to run concurrently."""
    done: list[Migration] = []
    conn = psycopg2.connect(**connect_params(owner_url))
    try:
        for migration in discover(features):
            if _apply_one(conn, migration, runtime_role):
                done.append(migration)
    finally:
        conn.close()
    return done


def _apply_one(conn, migration: Migration, runtime_role: str) -> bool:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(_STATE_TABLE)
        applied = _applied(cur)
        key = (migration.feature, migration.version)
        if key in applied:
            if applied[key] != migration.checksum:
                raise MigrationError(
                    f"已执行的迁移被修改：{migration.feature}/{migration.path.name}"
                    "（迁移只能新增，不能修改）"
                )
            return False
        try:
            cur.execute(_render(migration, runtime_role))
        except psycopg2.Error as exc:
            raise MigrationError(
                f"迁移失败：{migration.feature}/{migration.path.name}：{exc}"
            ) from exc
        cur.execute(
            "INSERT INTO schema_migration (feature, version, name, checksum) "
            "VALUES (%s, %s, %s, %s)",
            (migration.feature, migration.version, migration.name, migration.checksum),
        )
    return True
