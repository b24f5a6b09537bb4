"""The organisation over HTTP: pages and JSON API, signed in through the real login, with the
authorisation a staff member and a 系统管理员 actually get."""

from __future__ import annotations

import re

import pytest

from app.audit.models import AuditEvent
from app.core.db import run_in_transaction
from app.org.models import Department, User
from tests.org.test_import import GOOD_ROWS, csv_bytes
from tests.support.accounts import login, make_user, totp_secret
from tests.support.audit import chain_audit_trail


def department(name: str) -> Department:
    return run_in_transaction(lambda: Department.get(Department.name == name))


def employee(no: str) -> User:
    return run_in_transaction(lambda: User.get(User.employee_no == no))


@pytest.fixture
def staff(client, bureau):
    make_user("tester", name="测试员", roles=("staff",), department=department("办公室"))
    login(client, "tester")
    return client


@pytest.fixture
def admin(client, bureau):
    user = make_user("sysadm", name="系统管理员", roles=("sysadmin",), totp=True,
                     department=department("信息中心"))
    login(client, "sysadm", totp_secret=totp_secret(user))
    return client


def first_cells(html: str, table_id: str) -> list[str]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>\s*<td[^>]*>(.*?)</td>", table, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in rows]


def test_address_book_page_finds_by_initials(staff) -> None:
    page = staff.get("/addressbook", params={"q": "lht"})
    assert page.status_code == 200
    assert first_cells(page.text, "addressbook-results") == ["刘海涛"]
    assert 'data-label="办公电话"' in page.text
    by_department = staff.get("/addressbook",
                              params={"department": department("刑侦支队").id})
    assert len(first_cells(by_department.text, "addressbook-results")) == 12
    assert staff.get("/addressbook", params={"department": "x"}).status_code == 200


def test_a_search_text_comes_back_escaped(staff) -> None:
    hostile = """张"><script>alert('x')</script>&amp;"""
    page = staff.get("/addressbook", params={"q": hostile})
    assert page.status_code == 200
    assert ('value="张&quot;&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;amp;"'
            in page.text)
    assert "<script>alert" not in page.text


def test_staff_is_refused_admin_pages_and_api(staff) -> None:
    target = employee("010101")
    for url in ("/admin/org/departments", "/admin/org/users", f"/admin/org/users/{target.id}",
                "/admin/org/users/new", "/admin/org/import", "/admin/org/positions",
                "/admin/org/import/template.xlsx", "/api/org/users",
                f"/api/org/users/{target.id}"):
        assert staff.get(url, allow_redirects=False).status_code == 403, url
    assert staff.patch(f"/api/org/users/{target.id}", json={"clearance": 0}).status_code == 403
    assert staff.post("/api/org/users", json={"name": "x"}).status_code == 403
    response = staff.post(f"/admin/org/users/{target.id}/disable")
    assert response.status_code == 403
    assert employee("010101").status == "active"
    # what the staff member may see of a colleague is the address-book entry only
    entry = staff.get("/api/addressbook", params={"q": "刘海涛"}).json()["items"][0]
    assert set(entry) == {"id", "name", "department_id", "department", "position",
                          "office_phone", "phone", "email"}
    chain_audit_trail()
    denials = run_in_transaction(lambda: AuditEvent.select().where(
        AuditEvent.action == "auth.permission_denied").count())
    assert denials >= 1
    assert "组织机构" not in staff.get("/addressbook").text.split("</nav>")[0]


def test_department_tree_api_is_open_to_staff(staff) -> None:
    tree = staff.get("/api/org/departments").json()
    assert tree[0]["name"] == "X市公安局"


def test_admin_pages_render(admin) -> None:
    office = department("办公室")
    person = employee("010103")
    for url in ("/admin/org/departments", "/admin/org/departments/new",
                f"/admin/org/departments/{office.id}", "/admin/org/users",
                "/admin/org/users?q=zw&page=1", "/admin/org/users/new",
                f"/admin/org/users/{person.id}", "/admin/org/positions", "/admin/org/import"):
        response = admin.get(url, allow_redirects=False)
        assert response.status_code == 200, url
        assert "style=" not in response.text and "<script>" not in response.text
    user_page = admin.get(f"/admin/org/users/{person.id}").text
    assert f'action="/admin/users/{person.id}/reset-password"' in user_page
    assert f'action="/admin/users/{person.id}/unlock"' in user_page
    assert admin.get("/admin/org/users/99999999").status_code == 404
    assert admin.get("/admin/org/departments/99999999").status_code == 404


def test_user_form_shows_messages_next_to_fields(admin) -> None:
    response = admin.post("/admin/org/users/new", data={
        "username": "wangjianguo", "employee_no": "", "name": "张三",
        "department_id": department("办公室").id, "phone": "123"})
    assert response.status_code == 400
    assert 'class="field has-error"' in response.text
    assert "用户名“wangjianguo”已被使用（不区分大小写）" in response.text
    assert "请填写工号" in response.text and "手机格式不正确" in response.text
    assert 'value="张三"' in response.text  # what was typed stays in the form
    created = admin.post("/admin/org/users/new", data={
        "username": "ZhangSan", "employee_no": "020001", "name": "张三",
        "department_id": department("办公室").id, "clearance": "1"})
    assert created.status_code == 302
    assert employee("020001").username == "zhangsan"


def test_department_form_refuses_a_cycle(admin) -> None:
    criminal = department("刑侦支队")
    squad = department("一大队")
    response = admin.post(f"/admin/org/departments/{criminal.id}",
                          data={"name": "刑侦支队", "parent_id": squad.id, "doc_code": "X公刑"})
    assert response.status_code == 400
    assert "不能把部门移动到它自己或它的下级部门之下" in response.text
    refused = admin.post(f"/admin/org/departments/{criminal.id}/disable")
    assert refused.status_code == 400 and "不能停用“刑侦支队”" in refused.text


def test_api_validation_gives_a_field_map(admin) -> None:
    response = admin.post("/api/org/users", json={
        "username": 5, "employee_no": "020009", "name": "李四", "department_id": "abc",
        "clearance": 9})
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields == {"username": "用户名必须是文本", "department_id": "所属部门必须是整数",
                      "clearance": "密级不能大于3"}
    assert admin.post("/api/org/users", data="{not json",
                      headers={"Content-Type": "application/json"}).status_code == 400
    assert admin.post("/api/org/users", json=[1, 2]).status_code == 400
    created = admin.post("/api/org/users", json={
        "username": "lisi", "employee_no": "020009", "name": "李四",
        "department_id": department("办公室").id})
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert admin.get(f"/api/org/users/{user_id}").json()["name_initials"] == "ls"
    patched = admin.patch(f"/api/org/users/{user_id}", json={"phone": "13900000000"})
    assert patched.status_code == 200 and patched.json()["phone"] == "13900000000"
    assert patched.json()["name"] == "李四"
    bad = admin.patch(f"/api/org/users/{user_id}", json={"department_id": 99999999})
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
        "department_id": "所选部门不存在"}
    assert admin.get("/api/org/users/99999999").status_code == 404
    assert admin.patch("/api/org/users/99999999", json={}).status_code == 404
    assert admin.get("/api/org/users/99999999999999999999999").status_code == 404
    assert admin.get("/api/org/users", params={"per_page": "many"}).status_code == 400
    listing = admin.get("/api/org/users", params={"q": "zhangw"}).json()
    assert [u["name"] for u in listing["items"]] == ["张伟", "张伟"]


def test_import_upload(admin) -> None:
    bad = csv_bytes([*GOOD_ROWS, ["030004", "", "赵六", "火星支队", "", "", "", "", ""]])
    response = admin.post("/admin/org/import", files={"file": ("人员.csv", bad, "text/csv")})
    assert response.status_code == 400
    assert "全部未导入" in response.text
    assert "第 5 行" in response.text and "火星支队" in response.text
    assert run_in_transaction(
        lambda: User.select().where(User.employee_no == "030001").count()) == 0
    good = csv_bytes(GOOD_ROWS, "gb18030")
    response = admin.post("/admin/org/import", files={"file": ("人员.csv", good, "text/csv")})
    assert response.status_code == 200 and "导入成功" in response.text
    assert employee("030003").username == "wangfang"
    nothing = admin.post("/admin/org/import", data={"dry_run": "1"})
    assert nothing.status_code == 400 and "请选择要导入的文件" in nothing.text
    template = admin.get("/admin/org/import/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"


def test_openapi_lists_the_org_api(client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/org/users"])
    assert {"get", "patch"} <= set(paths["/api/org/users/{user_id}"])
    assert "get" in paths["/api/org/departments"] and "get" in paths["/api/addressbook"]
    body = paths["/api/org/users"]["post"]["requestBody"]["content"]["application/json"]
    assert "employee_no" in body["schema"]["properties"]


def test_disabling_a_user_ends_their_access(live_server, staff) -> None:
    other = live_server.client()
    admin_user = make_user("sysadm2", name="管理员乙", roles=("sysadmin",), totp=True,
                           department=department("信息中心"))
    login(other, "sysadm2", totp_secret=totp_secret(admin_user))
    tester = run_in_transaction(lambda: User.get(User.username == "tester"))
    response = other.post(f"/admin/org/users/{tester.id}/disable")
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/admin/org/users/{tester.id}?saved=1"
    assert run_in_transaction(lambda: User.get_by_id(tester.id).status) == "disabled"
    page = staff.get("/addressbook", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    listed = other.get("/api/org/users", params={"q": "tester", "status": "disabled"}).json()
    assert [u["username"] for u in listed["items"]] == ["tester"]
