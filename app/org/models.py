"""Peewee models of the organisation; the schema itself is in migrations/."""

from __future__ import annotations

from collections.abc import Iterable

import peewee as pw

from app.core.db import BaseModel, execute_prepared

CLEARANCE_TITLES = {0: "非密", 1: "秘密", 2: "机密", 3: "绝密"}
STATUS_TITLES = {"active": "在职", "disabled": "停用"}


class Department(BaseModel):
    parent = pw.ForeignKeyField("self", null=True, backref="children", column_name="parent_id")
    name = pw.TextField()
    short_name = pw.TextField(default="")
    doc_code = pw.TextField(default="")
    sort_order = pw.IntegerField(default=0)
    leader_id = pw.BigIntegerField(null=True)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "department"


class Position(BaseModel):
    name = pw.TextField()
    rank = pw.IntegerField(default=100)
    is_leader = pw.BooleanField(default=False)

    class Meta:
        table_name = "position"


class User(BaseModel):
    username = pw.TextField()
    employee_no = pw.TextField()
    name = pw.TextField()
    name_pinyin = pw.TextField(default="")
    name_initials = pw.TextField(default="")
    department = pw.ForeignKeyField(Department, backref="users", column_name="department_id")
    position = pw.ForeignKeyField(Position, null=True, column_name="position_id")
    phone = pw.TextField(default="")
    office_phone = pw.TextField(default="")
    email = pw.TextField(default="")
    clearance = pw.SmallIntegerField(default=0)
    status = pw.TextField(default="active")
    sort_order = pw.IntegerField(default=0)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "app_user"

    @property
    def active(self) -> bool:
        return self.status == "active"


class UserDepartment(BaseModel):
    user = pw.ForeignKeyField(User, column_name="user_id")
    department = pw.ForeignKeyField(Department, column_name="department_id")

    class Meta:
        table_name = "user_department"
        primary_key = pw.CompositeKey("user", "department")


class DepartmentDeputy(BaseModel):
    department = pw.ForeignKeyField(Department, column_name="department_id")
    user = pw.ForeignKeyField(User, column_name="user_id")

    class Meta:
        table_name = "department_deputy"
        primary_key = pw.CompositeKey("department", "user")


def user_names(ids: Iterable[int | None]) -> dict[int, str]:
    """id -> name of these users (whatever their status). One statement with fixed SQL: it
    runs on every list page, where building it with peewee cost more than running it."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(execute_prepared("SELECT id, name FROM app_user WHERE id = ANY(%s)",
                                 (wanted,)).fetchall())
