"""Helpers for the identity tests: SQL as the database superuser (to move time)."""

from __future__ import annotations

import re

import pytest

from tests.support.audit import chain_audit_trail
from tests.support.database import TestDatabase


class Sql:
    def __init__(self, database: TestDatabase) -> None:
        self.database = database

    def run(self, statement: str, *params: object) -> list[tuple]:
        conn = self.database.superuser()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def one(self, statement: str, *params: object) -> object:
        rows = self.run(statement, *params)
        return rows[0][0] if rows else None


@pytest.fixture
def sql(db: TestDatabase) -> Sql:
    return Sql(db)


def field_errors(html: str) -> list[str]:
    return re.findall(r'<div class="error">([^<]*)</div>', html)


def audit_actions(sql: Sql) -> list[tuple[str, str]]:
    """(action, outcome) of every audit event, oldest first."""
    chain_audit_trail()
    return [(a, o) for a, o in sql.run("SELECT action, outcome FROM audit_event ORDER BY id")]
