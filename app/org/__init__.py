"""组织机构: departments, positions, users, the address book."""

from pathlib import Path

from app.core.features import Duty, Feature, NavItem, Permission
from app.org import handlers
from app.org.demo import load_demo

_ID = r"(?P<{}>\d{{1,18}})"

feature = Feature(
    name="org",
    title="组织机构",
    package_dir=Path(__file__).resolve().parent,
    routes=[
        (r"/addressbook", handlers.AddressBookHandler),
        (r"/admin/org/departments", handlers.DepartmentTreeHandler),
        (r"/admin/org/departments/new", handlers.DepartmentEditHandler),
        (r"/admin/org/departments/" + _ID.format("dept_id"), handlers.DepartmentEditHandler),
        (r"/admin/org/departments/" + _ID.format("dept_id") + r"/(?P<action>disable|enable)",
         handlers.DepartmentStatusHandler),
        (r"/admin/org/positions", handlers.PositionListHandler),
        (r"/admin/org/positions/" + _ID.format("position_id"), handlers.PositionEditHandler),
        (r"/admin/org/users", handlers.UserListHandler),
        (r"/admin/org/users/new", handlers.UserEditHandler),
        (r"/admin/org/users/" + _ID.format("user_id"), handlers.UserEditHandler),
        (r"/admin/org/users/" + _ID.format("user_id") + r"/(?P<action>disable|enable)",
         handlers.UserStatusHandler),
        (r"/admin/org/import", handlers.ImportHandler),
        (r"/admin/org/import/template\.xlsx", handlers.ImportTemplateHandler),
        (r"/api/org/departments", handlers.DepartmentsApi),
        (r"/api/org/users", handlers.UsersApi),
        (r"/api/org/users/(?P<user_id>\d+)", handlers.UserApi),
        (r"/api/addressbook", handlers.AddressBookApi),
    ],
    permissions=[
        Permission("org.manage", "管理组织机构（部门、职务、人员、批量导入）", Duty.SYSTEM),
        Permission("org.addressbook.view", "查看通讯录", Duty.BUSINESS),
    ],
    nav=[
        NavItem("通讯录", "/addressbook", permission="org.addressbook.view", order=80),
        NavItem("组织机构", "/admin/org/departments", permission="org.manage", order=900),
    ],
    demo=load_demo,
)
