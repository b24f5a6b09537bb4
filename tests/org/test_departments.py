"""The department tree: create, edit (机关代字, leaders), move without cycles, disable rules,
and the helpers other features build on."""

from __future__ import annotations

import datetime as dt

import pytest

from app.core.errors import PermissionDenied, ValidationError
from app.core.features import Scope
from app.org import service
from app.org.models import Department, User
from tests.org.conftest import MANAGE, context, user_by_no


def test_demo_bureau_has_departments_doc_codes_and_leaders(bureau, admin_ctx, call) -> None:
    tree = call(service.department_tree, admin_ctx, False)
    assert len(tree) == 1 and tree[0]["name"] == "X市公安局" and tree[0]["doc_code"] == "X公"
    names = [child["name"] for child in tree[0]["children"]]
    for expected in ("办公室", "政治处", "警务保障处", "法制大队", "指挥中心", "信息中心",
                     "刑侦支队", "治安支队", "交警支队"):
        assert expected in names
    office = next(c for c in tree[0]["children"] if c["name"] == "办公室")
    assert office["doc_code"] == "X公办" and office["leader_name"] == "刘海涛"
    criminal = next(c for c in tree[0]["children"] if c["name"] == "刑侦支队")
    assert [c["name"] for c in criminal["children"]] == ["一大队", "二大队", "技术室"]
    assert criminal["deputy_names"] == ["谢宏伟"]


def test_demo_is_idempotent(bureau, call) -> None:
    from app.org.demo import load_demo
    from app.org.models import User

    before = call(lambda: (Department.select().count(), User.select().count()))
    call(load_demo)
    assert call(lambda: (Department.select().count(), User.select().count())) == before
    assert 55 <= before[1] <= 70


def test_create_and_edit_department(bureau, admin_ctx, call) -> None:
    root = bureau["X市公安局"]
    created = call(service.create_department, admin_ctx,
                   {"name": "反恐支队", "parent_id": root, "doc_code": "X公反"})
    dept = call(service.get_department, admin_ctx, created["id"])
    assert dept["path"] == "反恐支队" and dept["doc_code"] == "X公反"
    leader = user_by_no("011001")
    call(service.update_department, admin_ctx, created["id"],
         {"name": "反恐怖支队", "doc_code": "X公恐", "leader_id": leader.id}, True)
    dept = call(service.get_department, admin_ctx, created["id"])
    assert (dept["name"], dept["doc_code"], dept["leader_name"]) == ("反恐怖支队", "X公恐", "贾斌")


def test_create_department_reports_each_bad_field_in_chinese(bureau, admin_ctx, call) -> None:
    with pytest.raises(ValidationError) as caught:
        call(service.create_department, admin_ctx,
             {"name": "", "parent_id": "abc", "doc_code": "x" * 21})
    assert caught.value.fields == {"name": "请填写部门名称", "parent_id": "上级部门必须是整数",
                                   "doc_code": "机关代字不能超过20个字符"}
    with pytest.raises(ValidationError) as caught:
        call(service.create_department, admin_ctx, {"name": "办公室",
                                                    "parent_id": bureau["X市公安局"]})
    assert caught.value.fields == {"name": "同一上级部门下已有同名部门"}
    with pytest.raises(ValidationError) as caught:
        call(service.create_department, admin_ctx, {"name": "另一个局"})
    assert caught.value.fields["parent_id"] == "已有根部门，请选择上级部门"


def test_move_department_and_refuse_cycles(bureau, admin_ctx, call) -> None:
    criminal = bureau["X市公安局/刑侦支队"]
    squad = bureau["X市公安局/刑侦支队/一大队"]
    with pytest.raises(ValidationError) as caught:
        call(service.move_department, admin_ctx, criminal, {"parent_id": squad})
    assert caught.value.fields["parent_id"] == "不能把部门移动到它自己或它的下级部门之下"
    with pytest.raises(ValidationError):
        call(service.move_department, admin_ctx, criminal, {"parent_id": criminal})
    # the edit form moves too, with the same refusal
    with pytest.raises(ValidationError) as caught:
        call(service.update_department, admin_ctx, criminal, {"parent_id": squad}, True)
    assert "下级部门" in caught.value.fields["parent_id"]
    # a legal move: 技术室 under 二大队, and the path follows
    tech = bureau["X市公安局/刑侦支队/技术室"]
    second = bureau["X市公安局/刑侦支队/二大队"]
    call(service.move_department, admin_ctx, tech, {"parent_id": second})
    assert call(service.department_path, tech) == ["X市公安局", "刑侦支队", "二大队", "技术室"]
    assert tech in call(service.department_subtree_ids, bureau["X市公安局/刑侦支队/二大队"])


def test_move_refuses_a_name_clash_under_the_new_parent(bureau, admin_ctx, call) -> None:
    traffic_squad = bureau["X市公安局/交警支队/秩序大队"]
    call(service.update_department, admin_ctx, traffic_squad, {"name": "一大队"}, True)
    with pytest.raises(ValidationError) as caught:
        call(service.move_department, admin_ctx, traffic_squad,
             {"parent_id": bureau["X市公安局/刑侦支队"]})
    assert caught.value.fields["parent_id"] == "新的上级部门下已有同名部门"


def test_disable_refused_while_users_or_children_are_active(bureau, admin_ctx, call) -> None:
    criminal = bureau["X市公安局/刑侦支队"]
    with pytest.raises(ValidationError) as caught:
        call(service.disable_department, admin_ctx, criminal)
    assert "不能停用“刑侦支队”" in caught.value.message
    assert "3 名在职人员" in caught.value.message
    assert "3 个启用中的下级部门" in caught.value.message
    tech = bureau["X市公安局/刑侦支队/技术室"]
    for person in ("010731", "010732"):
        call(service.set_user_status, admin_ctx, user_by_no(person).id, "disabled")
    call(service.disable_department, admin_ctx, tech)
    assert call(lambda: Department.get_by_id(tech).active) is False
    # a disabled department takes no new people and hides from the address book's filter
    with pytest.raises(ValidationError) as caught:
        call(service.update_user, admin_ctx, user_by_no("010712").id, {"department_id": tech})
    assert "已停用" in caught.value.fields["department_id"]
    assert tech not in [o["id"] for o in call(service.department_options, admin_ctx)]
    call(service.enable_department, admin_ctx, tech)
    assert call(lambda: Department.get_by_id(tech).active) is True


def test_enable_refused_under_a_disabled_parent(bureau, admin_ctx, call) -> None:
    parent = call(service.create_department, admin_ctx,
                  {"name": "临时专班", "parent_id": bureau["X市公安局"]})["id"]
    child = call(service.create_department, admin_ctx, {"name": "一组", "parent_id": parent})["id"]
    call(service.disable_department, admin_ctx, child)
    call(service.disable_department, admin_ctx, parent)
    with pytest.raises(ValidationError) as caught:
        call(service.enable_department, admin_ctx, child)
    assert "上级部门已停用" in caught.value.message


def test_leaders_must_be_active_and_distinct(bureau, admin_ctx, call) -> None:
    office = bureau["X市公安局/办公室"]
    chief = user_by_no("010101")
    with pytest.raises(ValidationError) as caught:
        call(service.update_department, admin_ctx, office,
             {"leader_id": chief.id, "deputy_ids": [chief.id]}, True)
    assert caught.value.fields == {"deputy_ids": "部门负责人不能同时列为副职领导"}
    with pytest.raises(ValidationError) as caught:
        call(service.update_department, admin_ctx, office, {"leader_id": 999999}, True)
    assert caught.value.fields == {"leader_id": "部门负责人必须是在职人员"}


def test_leader_of_inherits_from_above(bureau, call) -> None:
    squad = bureau["X市公安局/刑侦支队/一大队"]
    assert call(service.leader_of, squad) == user_by_no("010711").id
    moment = dt.datetime.now(dt.UTC)
    new = call(lambda: Department.create(parent=squad, name="探组", created_at=moment,
                                         updated_at=moment).id)
    assert call(service.leader_of, new) == user_by_no("010711").id
    assert call(service.leader_of, new, False) is None
    assert call(service.deputies_of, bureau["X市公安局/刑侦支队"]) == [user_by_no("010702").id]


def test_leader_of_passes_over_a_leader_who_is_not_active(bureau, call) -> None:
    squad = bureau["X市公安局/刑侦支队/一大队"]
    squad_leader = call(lambda: Department.get_by_id(squad).leader_id)
    assert squad_leader is not None and call(service.leader_of, squad) == squad_leader
    call(lambda: User.update(status="disabled").where(User.id == squad_leader).execute())
    assert call(service.leader_of, squad) == call(
        lambda: Department.get_by_id(bureau["X市公安局/刑侦支队"]).leader_id)
    assert call(service.leader_of, squad, False) is None


def test_the_helpers_read_the_kept_tree(bureau, call) -> None:
    squad = bureau["X市公安局/刑侦支队/一大队"]
    assert call(service.department_top, squad).name == "X市公安局"
    assert call(service.department, squad).name == "一大队"
    office = bureau["X市公安局/办公室"]
    assert call(service.active_department_named, "办公室") == office
    moment = dt.datetime.now(dt.UTC)
    call(lambda: Department.create(parent=squad, name="办公室", created_at=moment,
                                   updated_at=moment))  # a younger namesake
    assert call(service.active_department_named, "办公室") == office
    call(lambda: Department.update(active=False).where(Department.id == office).execute())
    assert call(service.active_department_named, "办公室") != office
    assert call(service.active_department_named, "不存在的部门") is None
    from app.core.errors import NotFound

    for helper in (service.department, service.department_top):
        with pytest.raises(NotFound):
            call(helper, 987654)


def test_unknown_department_is_not_found(bureau, admin_ctx, call) -> None:
    from app.core.errors import NotFound

    with pytest.raises(NotFound):
        call(service.get_department, admin_ctx, 987654)
    with pytest.raises(NotFound):
        call(service.disable_department, admin_ctx, 987654)


def test_department_changes_need_org_manage(bureau, staff_ctx, call) -> None:
    with pytest.raises(PermissionDenied):
        call(service.create_department, staff_ctx, {"name": "x", "parent_id": 1})
    with pytest.raises(PermissionDenied):
        call(service.disable_department, staff_ctx, bureau["X市公安局/办公室"])


def test_subtree_scoped_administrator_stays_in_the_branch(bureau, call) -> None:
    criminal = bureau["X市公安局/刑侦支队"]
    branch_admin = context(permissions={MANAGE: Scope.SUBTREE}, department_id=criminal)
    call(service.create_department, branch_admin, {"name": "三大队", "parent_id": criminal})
    with pytest.raises(PermissionDenied):
        call(service.update_department, branch_admin, bureau["X市公安局/办公室"],
             {"doc_code": "X"}, True)
    with pytest.raises(ValidationError) as caught:
        call(service.create_department, branch_admin,
             {"name": "外部", "parent_id": bureau["X市公安局"]})
    assert caught.value.fields["parent_id"] == "您无权在该部门下建立部门"
