"""Every read and change of the organisation leaves an audit row, in the same transaction."""

from __future__ import annotations

import pytest

from app.audit.models import AuditEvent
from app.core.errors import ValidationError
from app.org import importer, service
from tests.org.conftest import user_by_no
from tests.support.audit import chain_audit_trail


def events(call, action: str) -> list[AuditEvent]:
    chain_audit_trail()
    return call(lambda: list(AuditEvent.select().where(AuditEvent.action == action)
                             .order_by(AuditEvent.id)))


def test_reads_are_audited(bureau, admin_ctx, staff_ctx, call) -> None:
    target = user_by_no("010101")
    call(service.department_tree, admin_ctx, True)
    call(service.get_department, admin_ctx, bureau["X市公安局/办公室"])
    call(service.list_users, admin_ctx, {"q": "liu"})
    call(service.get_user_for_edit, admin_ctx, target.id)
    call(service.get_user, staff_ctx, target.id)
    call(service.addressbook, staff_ctx, {"q": "zs"})
    call(service.list_positions, admin_ctx)
    for action in ("org.department.tree", "org.department.read", "org.user.list",
                   "org.user.read", "org.addressbook.read", "org.addressbook.search",
                   "org.position.list"):
        assert events(call, action), action
    read = events(call, "org.user.read")[-1]
    assert (read.object_type, read.object_id, read.actor_username) == ("user", str(target.id),
                                                                       "sysadmin")
    search = events(call, "org.addressbook.search")[-1]
    assert search.details["q"] == "zs" and search.actor_username == "staff"


def test_changes_are_audited_with_what_changed(bureau, admin_ctx, call) -> None:
    office = bureau["X市公安局/办公室"]
    dept = call(service.create_department, admin_ctx, {"name": "督察支队",
                                                       "parent_id": bureau["X市公安局"]})
    call(service.update_department, admin_ctx, office, {"doc_code": "X公办字"}, True)
    call(service.move_department, admin_ctx, dept["id"], {"parent_id": office})
    call(service.disable_department, admin_ctx, dept["id"])
    call(service.enable_department, admin_ctx, dept["id"])
    user = call(service.create_user, admin_ctx, {"username": "lisi", "employee_no": "040001",
                                                 "name": "李四", "department_id": office})
    call(service.update_user, admin_ctx, user["id"], {"clearance": 2})
    call(service.set_user_status, admin_ctx, user["id"], "disabled")
    call(service.set_user_status, admin_ctx, user["id"], "active")
    position = call(service.create_position, admin_ctx, {"name": "见习民警"})
    call(service.update_position, admin_ctx, position["id"], {"name": "见习警员"})
    call(service.delete_position, admin_ctx, position["id"])
    for action in ("org.department.create", "org.department.update", "org.department.move",
                   "org.department.disable", "org.department.enable", "org.user.create",
                   "org.user.update", "org.user.disable", "org.user.enable",
                   "org.position.create", "org.position.update", "org.position.delete"):
        assert events(call, action), action
    update = [e for e in events(call, "org.user.update") if e.object_id == str(user["id"])][-1]
    assert update.details["changes"] == {"clearance": [0, 2]}
    dept_update = events(call, "org.department.update")[-1]
    assert dept_update.details["changes"] == {"doc_code": ["X公办", "X公办字"]}


def test_a_refused_change_writes_nothing(bureau, admin_ctx, call) -> None:
    before = len(events(call, "org.user.create"))
    with pytest.raises(ValidationError):
        call(service.create_user, admin_ctx, {"username": "x"})
    assert len(events(call, "org.user.create")) == before


def test_imports_are_audited_whether_they_succeed_or_not(bureau, admin_ctx, call) -> None:
    bad = importer.read_rows("bad.csv", "工号,姓名,部门\n050001,甲,无此部门\n".encode())
    call(importer.import_users, admin_ctx, "bad.csv", bad, False)
    good = importer.read_rows("good.csv", "工号,姓名,部门\n050001,甲乙,办公室\n".encode())
    call(importer.import_users, admin_ctx, "good.csv", good, False)
    failed, succeeded = events(call, "org.user.import")
    assert failed.outcome == "failure" and failed.details["errors"] == 1
    assert succeeded.outcome == "success" and succeeded.details["imported"] == 1
