"""Compiled queries (app.core.sql): the SQL is generated once, and every call substitutes its
own values, so two calls never see each other's inputs."""

from __future__ import annotations

import pytest

from app.core.db import run_in_transaction
from app.core.sql import Compiled, count_of
from app.org.models import User
from tests.support.accounts import make_user


def test_slots_are_substituted_and_the_sql_made_once(db) -> None:
    users = [make_user(f"user{n}") for n in range(5)]
    built: list[int] = []

    def build(low: int, high: int):
        built.append(low)
        return User.select().where((User.id >= low) & (User.id <= high)).order_by(User.id)

    between = Compiled(build, low=int, high=int)
    ids = [u.id for u in users]
    assert [u.username for u in run_in_transaction(between.rows, low=ids[1], high=ids[3])] == [
        "user1", "user2", "user3"]
    assert [u.id for u in run_in_transaction(between.rows, low=ids[4], high=ids[4])] == [ids[4]]
    assert len(built) == 1
    counted = Compiled(lambda low: count_of(User.select().where(User.id > low)), low=int)
    assert run_in_transaction(counted.scalar, low=ids[2]) == run_in_transaction(
        lambda: User.select().where(User.id > ids[2]).count()) == 2


def test_a_slot_the_sql_does_not_carry_is_refused(db) -> None:
    lost = Compiled(lambda user: User.select().where(User.id > 0), user=int)
    with pytest.raises(ValueError, match="user"):
        run_in_transaction(lost.rows, user=1)
    with pytest.raises(TypeError):
        Compiled(lambda name: User.select(), name=str)
