"""The department tree and the positions are kept per process under the "org" generation
stamp (app/core/generation.py): kept while nothing changes, read again after any change,
whoever made it, and never kept from a transaction that rolled back."""

from __future__ import annotations

import pytest

from app.core.db import run_in_transaction
from app.org import service
from app.org.service import DepartmentIndex


def _load() -> DepartmentIndex:
    return run_in_transaction(DepartmentIndex.load)


def test_the_tree_is_kept_while_nothing_changes(bureau) -> None:
    assert _load() is _load()
    assert run_in_transaction(service._position_names) is run_in_transaction(
        service._position_names)


def test_a_change_through_the_service_is_seen_at_once(bureau, admin_ctx, call) -> None:
    before = _load()
    created = call(service.create_department, admin_ctx,
                   {"name": "反恐支队", "parent_id": bureau["X市公安局"]})
    after = _load()
    assert after is not before and created["id"] in after.rows
    assert created["id"] in call(service.department_subtree_ids, bureau["X市公安局"])


def test_a_change_made_elsewhere_is_seen_at_the_next_unit_of_work(bureau, db) -> None:
    office = bureau["X市公安局/办公室"]
    assert _load().rows[office].name == "办公室"
    with db.superuser() as conn, conn.cursor() as cur:  # another process, triggers on
        cur.execute("UPDATE department SET name = '综合办公室' WHERE id = %s", (office,))
        cur.execute("UPDATE position SET name = '主任科员' WHERE id ="
                    " (SELECT min(id) FROM position) RETURNING id")
        position = cur.fetchone()[0]
    conn.close()
    assert run_in_transaction(service.department_path, office) == ["X市公安局", "综合办公室"]
    assert run_in_transaction(service._position_names)[position] == "主任科员"


def test_a_transaction_sees_its_own_change_and_a_rollback_leaves_nothing_kept(
        bureau, admin_ctx) -> None:
    office = bureau["X市公安局/办公室"]

    def rename_then_fail() -> None:
        service.update_department(admin_ctx, office, {"name": "临时名称"}, True)
        assert DepartmentIndex.load().rows[office].name == "临时名称"
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        run_in_transaction(rename_then_fail)
    assert _load().rows[office].name == "办公室"


def test_nothing_is_kept_without_a_stamp(bureau, db) -> None:
    with db.superuser() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM cache_generation WHERE topic = 'org'")
    conn.close()
    assert _load() is not _load()
