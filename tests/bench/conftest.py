"""The benchmark's seeding at a tiny scale, for the tests of the seed and of the ceiling."""

from __future__ import annotations

import pytest

from bench.seed import Scale, seed

TINY = Scale(users=90, instances=200, audit=1000)


@pytest.fixture
def seeded(db):
    report = seed(db.owner_url, db.superuser_url, TINY, log=lambda _: None)
    return db, report
