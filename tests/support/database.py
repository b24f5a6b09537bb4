"""The tests' PostgreSQL: OA_TEST_DATABASE_URL (a superuser on a server the tests may use),
else a throwaway private cluster started with the machine's pg_ctl."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors

from app.core.db import connect_params
from ops_cli.pgcluster import OWNER_ROLE, RUNTIME_ROLE, LocalCluster


@dataclass
class TestDatabase:
    __test__ = False  # a fixture's value, not a test class

    superuser_url: str
    owner_url: str
    runtime_url: str
    cluster: LocalCluster | None = None

    def superuser(self):
        conn = psycopg2.connect(**connect_params(self.superuser_url))
        conn.autocommit = True
        return conn

    def truncate_all(self) -> None:
        """Empty every table but the migration state, past the audit trail's guards; the audit
        chain starts again from its genesis head, as in a newly migrated database."""
        for attempt in range(5):
            try:
                self._truncate()
                return
            except psycopg2.errors.DeadlockDetected:
                # a live server's background pass (audit chaining) locked a table first
                if attempt == 4:
                    raise

    def _truncate(self) -> None:
        with self.superuser() as conn, conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'schema_migration'")
            tables = [row[0] for row in cur.fetchall()]
            if tables:
                cur.execute("SET session_replication_role = replica")
                cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                            + " RESTART IDENTITY CASCADE")
            if "audit_chain" in tables:  # what audit migration 0001 inserts
                cur.execute("INSERT INTO audit_chain VALUES (true, 0, repeat('0', 64), 0,"
                            " repeat('0', 64))")
        conn.close()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


def _with_user(url: str, user: str) -> str:
    scheme, rest = url.split("://", 1)
    _, _, host_part = rest.rpartition("@")
    return f"{scheme}://{user}@{host_part}"


@contextmanager
def test_database() -> Iterator[TestDatabase]:
    given = os.environ.get("OA_TEST_DATABASE_URL")
    if given:
        name = f"oa_test_{os.getpid()}"
        conn = psycopg2.connect(**connect_params(given))
        conn.autocommit = True
        with conn.cursor() as cur:
            for role in (OWNER_ROLE, RUNTIME_ROLE):
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                if not cur.fetchone():
                    cur.execute(f'CREATE ROLE "{role}" LOGIN')
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER_ROLE}"')
            cur.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO "{RUNTIME_ROLE}"')
        db_url = _with_database(given, name)
        revoke = psycopg2.connect(**connect_params(db_url))
        revoke.autocommit = True
        with revoke.cursor() as cur:
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        revoke.close()
        try:
            yield TestDatabase(db_url, _with_user(db_url, OWNER_ROLE),
                               _with_user(db_url, RUNTIME_ROLE))
        finally:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.close()
        return
    root = Path(tempfile.mkdtemp(prefix="oa-test-pg-"))
    root.chmod(0o755)
    cluster = LocalCluster(root / "pg", port=56000 + os.getpid() % 1000, database="oa_test")
    cluster.ensure()
    try:
        yield TestDatabase(cluster.url("postgres"), cluster.owner_url, cluster.runtime_url,
                           cluster)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
