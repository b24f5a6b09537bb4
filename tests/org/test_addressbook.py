"""The address book: name, pinyin initials, full pinyin, department with sub-departments."""

from __future__ import annotations

from app.org import service
from tests.org.conftest import user_by_no


def names(result) -> list[str]:
    return [item["name"] for item in result["items"]]


def test_pinyin_initials_find_zhang_san(bureau, admin_ctx, staff_ctx, call) -> None:
    call(service.create_user, admin_ctx, {
        "username": "zhangsan", "employee_no": "020001", "name": "张三",
        "department_id": bureau["X市公安局/刑侦支队/一大队"], "office_phone": "8123"})
    result = call(service.addressbook, staff_ctx, {"q": "zs"})
    assert names(result) == ["张三"]
    assert result["items"][0]["department"] == "刑侦支队/一大队"
    assert result["items"][0]["office_phone"] == "8123"
    assert "employee_no" not in result["items"][0] and "clearance" not in result["items"][0]


def test_full_pinyin_prefix_name_and_surname_readings(bureau, staff_ctx, call) -> None:
    assert names(call(service.addressbook, staff_ctx, {"q": "zhangw"})) == ["张伟", "张伟"]
    assert names(call(service.addressbook, staff_ctx, {"q": "海涛"})) == ["刘海涛"]
    assert names(call(service.addressbook, staff_ctx, {"q": "ZengQ"})) == ["曾庆春"]
    assert names(call(service.addressbook, staff_ctx, {"q": "shan"})) == ["单立新", "单晓琳"]


def test_a_name_matches_its_characters_in_order_and_wildcards_are_plain_text(
        bureau, admin_ctx, staff_ctx, call) -> None:
    for number, username, name in (("020011", "alimu", "阿力木·Tursun"),
                                   ("020012", "pct_1", "王百分")):
        call(service.create_user, admin_ctx, {
            "username": username, "employee_no": number, "name": name,
            "department_id": bureau["X市公安局/办公室"]})
    assert names(call(service.addressbook, staff_ctx, {"q": "海涛"})) == ["刘海涛"]
    assert names(call(service.addressbook, staff_ctx, {"q": "涛海"})) == []
    assert names(call(service.addressbook, staff_ctx, {"q": "tursun"})) == ["阿力木·Tursun"]
    assert names(call(service.addressbook, staff_ctx, {"q": "·T"})) == ["阿力木·Tursun"]
    assert names(call(service.addressbook, staff_ctx, {"q": "%"})) == []
    assert names(call(service.addressbook, staff_ctx, {"q": "pct_"})) == ["王百分"]
    assert names(call(service.addressbook, staff_ctx, {"q": "pc_"})) == []
    assert names(call(service.addressbook, staff_ctx, {"q": "020012"})) == ["王百分"]


def test_department_filter_includes_sub_departments(bureau, staff_ctx, call) -> None:
    result = call(service.addressbook, staff_ctx,
                  {"department": bureau["X市公安局/刑侦支队"], "per_page": 100})
    assert result["total"] == 12
    assert "唐勇" in names(result) and "郑国庆" in names(result)
    by_name = call(service.addressbook, staff_ctx, {"q": "技术室"})
    assert names(by_name) == ["程立", "曹雨欣"]


def test_secondary_department_members_are_listed(bureau, admin_ctx, staff_ctx, call) -> None:
    person = user_by_no("010103")
    call(service.update_user, admin_ctx, person.id,
         {"secondary_department_ids": [bureau["X市公安局/信息中心"]]})
    result = call(service.addressbook, staff_ctx,
                  {"department": bureau["X市公安局/信息中心"], "per_page": 100})
    assert "张伟" in names(result)


def test_disabled_users_are_not_listed(bureau, admin_ctx, staff_ctx, call) -> None:
    searches = ("刘海涛", "lht", "liuhaitao", "010101")  # each arm of the search in turn
    assert all(names(call(service.addressbook, staff_ctx, {"q": q})) == ["刘海涛"]
               for q in searches)
    call(service.set_user_status, admin_ctx, user_by_no("010101").id, "disabled")
    for q in searches:
        assert names(call(service.addressbook, staff_ctx, {"q": q})) == [], q
    assert call(service.addressbook, staff_ctx, {})["total"] == 59


def test_wildcards_are_literal(bureau, staff_ctx, call) -> None:
    assert call(service.addressbook, staff_ctx, {"q": "%"})["total"] == 0
    assert call(service.addressbook, staff_ctx, {"q": "_"})["total"] == 0


def test_every_page_states_the_whole_count(bureau, staff_ctx, call) -> None:
    pages = [call(service.addressbook, staff_ctx, {"per_page": 25, "page": n}) for n in (1, 3, 4)]
    assert [(len(p["items"]), p["total"], p["pages"]) for p in pages] == [
        (25, 60, 3), (10, 60, 3), (0, 60, 3)]  # page 4 is past the end: counted on its own
    assert set(pages[0]["items"][0]) == {"id", "name", "department_id", "department", "position",
                                         "office_phone", "phone", "email"}
