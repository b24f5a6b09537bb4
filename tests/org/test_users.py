"""Users: validation in Chinese, uniqueness, moves, secondary departments, status, and who may
see what of a person."""

from __future__ import annotations

import pytest

from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.core.features import Scope
from app.org import service
from app.org.models import User
from tests.org.conftest import ADDRESSBOOK, MANAGE, context, user_by_no


def new_user(bureau, **changes):
    data = {"username": "zhangsan", "employee_no": "020001", "name": "张三",
            "department_id": bureau["X市公安局/办公室"], "phone": "13812345678",
            "office_phone": "8123", "email": "zhangsan@gaj.x.gov.cn", "clearance": 1}
    data.update(changes)
    return data


def test_create_user_computes_pinyin(bureau, admin_ctx, call) -> None:
    user = call(service.create_user, admin_ctx, new_user(bureau))
    assert user["name_pinyin"] == "zhangsan" and user["name_initials"] == "zs"
    assert user["department"] == "办公室" and user["clearance_title"] == "秘密"
    assert user["status"] == "active"


def test_create_user_reports_every_bad_field_in_chinese(bureau, admin_ctx, call) -> None:
    with pytest.raises(ValidationError) as caught:
        call(service.create_user, admin_ctx, {
            "username": "张三", "employee_no": "", "name": "", "department_id": "办公室",
            "phone": "12345", "email": "not-an-email", "clearance": 5,
            "office_phone": "电话", "status": "gone"})
    assert caught.value.fields == {
        "username": "用户名只能包含小写字母、数字、点、下划线和连字符，长度2到32位",
        "employee_no": "请填写工号",
        "name": "请填写姓名",
        "department_id": "所属部门必须是整数",
        "phone": "手机格式不正确（手机号11位，或区号-号码）",
        "office_phone": "办公电话只能包含数字和连字符，如 8123 或 0571-87001234",
        "email": "电子邮箱不是有效的电子邮箱地址",
        "clearance": "密级不能大于3",
        "status": "状态只能是：在职、停用",
    }
    assert call(lambda: User.select().where(User.employee_no == "").count()) == 0


def test_unknown_department_and_position(bureau, admin_ctx, call) -> None:
    with pytest.raises(ValidationError) as caught:
        call(service.create_user, admin_ctx,
             new_user(bureau, department_id=999999, position_id=999999,
                      secondary_department_ids=[999998]))
    assert caught.value.fields == {"department_id": "所选部门不存在",
                                   "position_id": "所选职务不存在",
                                   "secondary_department_ids": "所选兼职部门不存在"}


def test_username_unique_case_insensitively_and_employee_no_unique(bureau, admin_ctx,
                                                                  call) -> None:
    call(service.create_user, admin_ctx, new_user(bureau))
    with pytest.raises(ValidationError) as caught:
        call(service.create_user, admin_ctx,
             new_user(bureau, username="ZhangSan", employee_no="020001"))
    assert caught.value.fields == {
        "username": "用户名“zhangsan”已被使用（不区分大小写）",
        "employee_no": "工号“020001”已被使用"}
    # a mixed-case entry is stored in lower case
    user = call(service.create_user, admin_ctx,
                new_user(bureau, username="Zhang.San2", employee_no="020002"))
    assert user["username"] == "zhang.san2"


def test_edit_user_moves_department_and_keeps_secondary(bureau, admin_ctx, call) -> None:
    user = call(service.create_user, admin_ctx, new_user(
        bureau, secondary_department_ids=[bureau["X市公安局/指挥中心"]]))
    squad = bureau["X市公安局/刑侦支队/一大队"]
    updated = call(service.update_user, admin_ctx, user["id"],
                   {"department_id": squad, "name": "张山", "clearance": 2})
    assert updated["department"] == "刑侦支队/一大队"
    assert updated["name_initials"] == "zs" and updated["name_pinyin"] == "zhangshan"
    assert updated["secondary_departments"] == ["指挥中心"]
    assert updated["clearance"] == 2
    # the primary department is never also a secondary one
    updated = call(service.update_user, admin_ctx, user["id"],
                   {"secondary_department_ids": [squad, bureau["X市公安局/政治处"]]})
    assert updated["secondary_departments"] == ["政治处"]


def test_edit_user_validation_and_unknown_id(bureau, admin_ctx, call) -> None:
    user_id = user_by_no("010103").id
    with pytest.raises(ValidationError) as caught:
        call(service.update_user, admin_ctx, user_id, {"username": "wangjianguo"})
    assert caught.value.fields == {"username": "用户名“wangjianguo”已被使用（不区分大小写）"}
    with pytest.raises(ValidationError) as caught:
        call(service.update_user, admin_ctx, user_id, {"clearance": "高"})
    assert caught.value.fields == {"clearance": "密级必须是整数"}
    with pytest.raises(NotFound):
        call(service.update_user, admin_ctx, 999999, {"name": "无人"})


def test_disable_and_enable_user(bureau, admin_ctx, call) -> None:
    user_id = user_by_no("010103").id
    call(service.set_user_status, admin_ctx, user_id, "disabled")
    assert call(lambda: User.get_by_id(user_id).status) == "disabled"
    call(service.set_user_status, admin_ctx, user_id, "active")
    assert call(lambda: User.get_by_id(user_id).status) == "active"


def test_administrator_cannot_disable_themself(bureau, call) -> None:
    me = user_by_no("010601")
    ctx = context(me.id, {MANAGE: Scope.ALL}, me.department_id)
    with pytest.raises(ValidationError) as caught:
        call(service.set_user_status, ctx, me.id, "disabled")
    assert caught.value.message == "不能停用自己的账号"


def test_list_users_filters_and_paginates(bureau, admin_ctx, call) -> None:
    page = call(service.list_users, admin_ctx, {"per_page": 10, "page": 2})
    assert page["total"] == 60 and page["pages"] == 6 and len(page["items"]) == 10
    criminal = call(service.list_users, admin_ctx,
                    {"department": bureau["X市公安局/刑侦支队"], "per_page": 100})
    assert criminal["total"] == 12  # the 支队 and its three sub-units
    found = call(service.list_users, admin_ctx, {"q": "zgq"})
    assert [u["name"] for u in found["items"]] == ["郑国庆"]
    with pytest.raises(ValidationError) as caught:
        call(service.list_users, admin_ctx, {"page": "x"})
    assert caught.value.fields == {"page": "页码必须是整数"}


def test_staff_sees_only_the_address_book_entry(bureau, staff_ctx, call) -> None:
    target = user_by_no("010101")
    entry = call(service.get_user, staff_ctx, target.id)
    assert entry["name"] == "刘海涛" and entry["department"] == "办公室"
    for hidden in ("employee_no", "clearance", "username", "status", "name_pinyin"):
        assert hidden not in entry
    with pytest.raises(PermissionDenied):
        call(service.get_user_for_edit, staff_ctx, target.id)
    with pytest.raises(PermissionDenied):
        call(service.list_users, staff_ctx, {})
    with pytest.raises(PermissionDenied):
        call(service.update_user, staff_ctx, target.id, {"clearance": 3})
    assert call(lambda: User.get_by_id(target.id).clearance) == 2


def test_users_see_their_own_full_record_and_no_disabled_colleague(bureau, admin_ctx,
                                                                   call) -> None:
    me = user_by_no("010103")
    ctx = context(me.id, {ADDRESSBOOK: Scope.DEPARTMENT}, me.department_id)
    assert call(service.get_user, ctx, me.id)["employee_no"] == "010103"
    other = user_by_no("010104")
    call(service.set_user_status, admin_ctx, other.id, "disabled")
    with pytest.raises(NotFound):
        call(service.get_user, ctx, other.id)
    nobody = context(me.id, {}, me.department_id)
    with pytest.raises(PermissionDenied):
        call(service.get_user, nobody, user_by_no("010101").id)


def test_department_scoped_administrator_manages_only_their_branch(bureau, call) -> None:
    criminal = bureau["X市公安局/刑侦支队"]
    ctx = context(permissions={MANAGE: Scope.SUBTREE}, department_id=criminal)
    inside = user_by_no("010712")
    outside = user_by_no("010103")
    call(service.update_user, ctx, inside.id, {"office_phone": "8899"})
    with pytest.raises(PermissionDenied):
        call(service.update_user, ctx, outside.id, {"office_phone": "8899"})
    with pytest.raises(PermissionDenied):
        call(service.get_user_for_edit, ctx, outside.id)
    with pytest.raises(ValidationError) as caught:
        call(service.update_user, ctx, inside.id, {"department_id": bureau["X市公安局/办公室"]})
    assert caught.value.fields == {"department_id": "您无权管理该部门的人员"}
    listed = call(service.list_users, ctx, {"per_page": 100})
    assert listed["total"] == 12


def test_positions_crud(bureau, admin_ctx, call) -> None:
    created = call(service.create_position, admin_ctx, {"name": "技术员", "rank": 65})
    with pytest.raises(ValidationError) as caught:
        call(service.create_position, admin_ctx, {"name": "技术员"})
    assert caught.value.fields == {"name": "已有同名职务"}
    call(service.update_position, admin_ctx, created["id"], {"name": "技术员", "rank": 66,
                                                              "is_leader": "1"})
    assert call(service.get_position, admin_ctx, created["id"])["is_leader"] is True
    call(service.delete_position, admin_ctx, created["id"])
    police = next(p for p in call(service.list_positions, admin_ctx) if p["name"] == "民警")
    with pytest.raises(ValidationError) as caught:
        call(service.delete_position, admin_ctx, police["id"])
    assert "不能删除职务“民警”" in caught.value.message
