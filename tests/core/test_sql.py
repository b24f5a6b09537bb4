"""Compiled queries (app.core.sql): the SQL is generated once, and every call substitutes its
own values, so two calls never see each other's inputs."""

from __future__ import annotations

import peewee as pw
import pytest

from app.core.db import run_in_transaction
from app.core.sql import Compiled, count_of
from app.org.models import Department, User
from tests.support.accounts import make_user
from tests.support.statements import counted_statements


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
    by_id = Compiled(lambda user: User.select().where(User.id == user), user=int)
    assert run_in_transaction(by_id.first, user=ids[2]).username == "user2"
    assert run_in_transaction(by_id.first, user=10**12) is None
    counted = Compiled(lambda low: count_of(User.select().where(User.id > low)), low=int)
    assert run_in_transaction(counted.scalar, low=ids[2]) == run_in_transaction(
        lambda: User.select().where(User.id > ids[2]).count()) == 2


def test_later_calls_build_rows_as_peewee_does_from_the_first_calls_set_up(db) -> None:
    users = [make_user(f"member{n}") for n in range(3)]
    ids = [u.id for u in users]

    def build(low: int):
        return (User.select(User, Department.name.alias("dept_name"), Department.created_at,
                            (User.id * 2).alias("twice"))
                .join(Department, attr="dept").where(User.id >= low).order_by(User.id))

    joined = Compiled(build, low=int)

    def seen(rows: list[User]) -> list[tuple]:
        return [(u.id, u.username, u.created_at, u.dept.name, u.dept.created_at, u.dept.dept_name,
                 u.twice, u.dirty_fields) for u in rows]

    assert run_in_transaction(joined.rows, low=10**9) == []  # no row: nothing set up yet
    for low in (ids[0], ids[2], ids[1]):
        assert seen(run_in_transaction(joined.rows, low=low)) == seen(
            run_in_transaction(lambda low=low: list(build(low))))
    assert type(run_in_transaction(joined.rows, low=ids[2])[0].created_at).__name__ == "datetime"


def test_a_slot_the_sql_does_not_carry_is_refused(db) -> None:
    lost = Compiled(lambda user: User.select().where(User.id > 0), user=int)
    with pytest.raises(ValueError, match="user"):
        run_in_transaction(lost.rows, user=1)
    with pytest.raises(TypeError):
        Compiled(lambda name: User.select(), name=str)


def _prepared_here() -> list[str]:
    from app.core.db import database

    return [r[0] for r in database.execute_sql(
        "SELECT statement FROM pg_prepared_statements ORDER BY prepare_time").fetchall()]


def test_statements_are_planned_once_per_connection(db) -> None:
    from app.core.db import database, execute_prepared, run_without_transaction

    make_user("zhangsan", name="张三")
    sql = ("SELECT name, %(tag)s || '%%' FROM app_user WHERE username = %(who)s"
           " AND %(who)s <> %s")

    def twice() -> tuple[list, list, list[str]]:
        first = execute_prepared(sql.replace(" AND %(who)s <> %s", ""),
                                 {"tag": "甲", "who": "zhangsan"}).fetchall()
        second = execute_prepared("SELECT %s::int + %s::int, '100%%'", (2, 3)).fetchall()
        again = execute_prepared("SELECT %s::int + %s::int, '100%%'", (5, 6)).fetchall()
        return first, second + again, _prepared_here()

    first, sums, prepared = run_without_transaction(twice)
    assert first == [("张三", "甲%")]
    assert sums == [(5, "100%"), (11, "100%")]
    assert len([p for p in prepared if "$1::int + $2::int" in p]) == 1  # prepared once, run twice

    def after_rollback() -> list:
        try:
            with database.atomic():
                execute_prepared("SELECT %s::int * 2", (21,))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        return execute_prepared("SELECT %s::int * 2", (21,)).fetchall()

    assert run_without_transaction(after_rollback) == [(42,)]
    database.close_all()  # a new connection has nothing prepared: it prepares again
    assert run_without_transaction(lambda: execute_prepared(
        "SELECT %s::int * 2", (4,)).fetchall()) == [(8,)]


def test_the_application_runs_prepared_statements_on_generic_plans(db) -> None:
    from app.core.db import database

    assert run_in_transaction(lambda: database.execute_sql(
        "SHOW plan_cache_mode").fetchone()[0]) == "force_generic_plan"


def test_a_page_that_is_not_full_needs_no_count(db) -> None:
    from app.core.sql import paginated

    ids = [make_user(f"clerk{n}").id for n in range(5)]

    def pages(statements: list[object]) -> list[tuple[list[int], int, int]]:
        query = User.select().where(User.id << ids).order_by(User.id)
        seen = []
        for page, per_page in ((1, 2), (3, 2), (2, 5), (1, 10), (4, 2)):
            before = len(statements)
            rows, total = paginated(query, page, per_page)
            seen.append(([u.id for u in rows], total, len(statements) - before))
        return seen

    with counted_statements() as statements:
        seen = run_in_transaction(pages, statements)
    # (rows, total, statements): a full page or one past the end also counts
    assert seen == [(ids[:2], 5, 2), ([ids[4]], 5, 1), ([], 5, 2), (ids, 5, 1), ([], 5, 2)]


def test_get_by_id_reads_the_row_peewee_reads_through_one_statement(db) -> None:
    from app.core.sql import _BY_KEY

    users = [make_user(f"officer{n}") for n in range(2)]

    def read() -> list[tuple]:
        rows = [User.get_by_id(u.id) for u in users]
        built = [pw.Model.get_by_id.__func__(User, u.id) for u in users]  # peewee's own
        return [(r.id, r.username, r.department_id, r.created_at, r.dirty_fields)
                for r in rows + built]

    seen = run_in_transaction(read)
    assert seen[:2] == seen[2:] and [s[1] for s in seen[:2]] == ["officer0", "officer1"]
    assert (User, False) in _BY_KEY
    with pytest.raises(User.DoesNotExist):
        run_in_transaction(User.get_by_id, 10**12)


def test_a_row_read_by_key_for_update_is_locked_until_the_unit_ends(db) -> None:
    import psycopg2
    import psycopg2.errors

    from app.core.db import connect_params
    from app.core.sql import row_by_key

    user = make_user("officer")

    def other_session_may_lock() -> bool:
        conn = psycopg2.connect(**connect_params(db.owner_url))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM app_user WHERE id = %s FOR UPDATE NOWAIT", (user.id,))
            return True
        except psycopg2.errors.LockNotAvailable:
            return False
        finally:
            conn.close()

    def read(for_update: bool) -> tuple[str, bool]:
        return row_by_key(User, user.id, for_update).username, other_session_may_lock()

    assert run_in_transaction(read, True) == ("officer", False)
    assert run_in_transaction(read, False) == ("officer", True)
    assert run_in_transaction(row_by_key, User, 10**12, True) is None
