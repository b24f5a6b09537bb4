"""组织机构的页面与接口: thin handlers over app.org.service."""

from __future__ import annotations

from typing import Any

from app.core.errors import NotFound, ValidationError
from app.core.forms import Boolean, Schema
from app.core.web import ApiHandler, BaseHandler, requires
from app.org import importer, service
from app.org.forms import (
    ADDRESSBOOK_QUERY,
    USER_QUERY,
    USER_SCHEMA,
)
from app.org.models import CLEARANCE_TITLES, STATUS_TITLES

MANAGE = service.MANAGE
ADDRESSBOOK = service.ADDRESSBOOK
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query_args(handler: BaseHandler, schema: Schema) -> dict[str, Any]:
    return {name: handler.get_argument(name, "") for name in schema.fields}


FLASH = {"added": "已添加", "deleted": "已删除", "saved": "已保存", "disabled": "已停用",
         "enabled": "已启用"}


class OrgPage(BaseHandler):
    """Shared rendering of the organisation's HTML pages."""

    def flash(self) -> str:
        """The outcome of the previous POST (a fixed text, never echoed from the URL)."""
        return FLASH.get(self.get_argument("done", ""), "")

    def render_page(self, template: str, **values: Any) -> None:
        values.setdefault("errors", {})
        values.setdefault("message", "")
        self.render(template, clearance_titles=CLEARANCE_TITLES, status_titles=STATUS_TITLES,
                    **values)

    def path_id(self, value: str) -> int:
        number = int(value)
        if number > 2**62:
            raise NotFound()
        return number


# ---- departments ------------------------------------------------------------------------------
class DepartmentTreeHandler(OrgPage):
    @requires(MANAGE)
    async def get(self) -> None:
        tree = await self.run(service.department_tree, self.ctx, True)
        self.render_page("org/departments.html", tree=tree, page_title="组织机构",
                         flash=self.flash())


class DepartmentEditHandler(OrgPage):
    """/admin/org/departments/new (create) and /admin/org/departments/<id> (edit, move)."""

    async def _options(self, dept_id: int | None) -> dict[str, Any]:
        def load(ctx: Any) -> dict[str, Any]:
            options = service.department_options(ctx, active_only=True)
            if dept_id is None:
                return {"departments": options, "candidates": []}
            # a department cannot move under itself or its own branch
            branch = service.department_subtree_ids(dept_id)
            return {"departments": [o for o in options if o["id"] not in branch],
                    "candidates": service.leader_candidates(ctx, dept_id)}

        return await self.run(load, self.ctx)

    @requires(MANAGE)
    async def get(self, dept_id: str | None = None) -> None:
        if dept_id is None:
            form = {"parent_id": self.get_argument("parent", ""), "deputy_ids": []}
            await self._show(None, form, {})
            return
        dept = await self.run(service.get_department, self.ctx, self.path_id(dept_id))
        await self._show(dept, dept, {})

    @requires(MANAGE)
    async def post(self, dept_id: str | None = None) -> None:
        data = self.form_data()
        data.setdefault("deputy_ids", [])
        try:
            if dept_id is None:
                created = await self.run(service.create_department, self.ctx, data)
                self.redirect(f"/admin/org/departments/{created['id']}?saved=1")
                return
            number = self.path_id(dept_id)
            await self.run(service.update_department, self.ctx, number, data)
            self.redirect(f"/admin/org/departments/{number}?saved=1")
        except ValidationError as error:
            dept = (await self.run(service.get_department, self.ctx, self.path_id(dept_id))
                    if dept_id else None)
            self.set_status(400)
            await self._show(dept, _form_echo(data), error.fields, error.message)

    async def _show(self, dept: dict[str, Any] | None, form: dict[str, Any],
                    errors: dict[str, str], message: str = "") -> None:
        options = await self._options(dept["id"] if dept else None)
        self.render_page("org/department_form.html", dept=dept, form=form, errors=errors,
                         message=message, saved=self.get_argument("saved", ""),
                         page_title=dept["name"] if dept else "新建部门", **options)


def _form_echo(data: dict[str, Any]) -> dict[str, Any]:
    """The submitted values, as the form template expects them back."""
    echo = dict(data)
    for key in ("deputy_ids", "secondary_department_ids"):
        value = echo.get(key) or []
        echo[key] = [int(v) for v in (value if isinstance(value, list) else [value])
                     if str(v).isdigit()]
    return echo


class DepartmentStatusHandler(OrgPage):
    """POST /admin/org/departments/<id>/disable | enable."""

    @requires(MANAGE)
    async def post(self, dept_id: str, action: str) -> None:
        number = self.path_id(dept_id)
        change = service.disable_department if action == "disable" else service.enable_department
        try:
            await self.run(change, self.ctx, number)
        except ValidationError as error:
            tree = await self.run(service.department_tree, self.ctx, True)
            self.set_status(400)
            self.render_page("org/departments.html", tree=tree, page_title="组织机构",
                             flash="", message=error.message)
            return
        done = "disabled" if action == "disable" else "enabled"
        self.redirect(f"/admin/org/departments?done={done}")


# ---- positions --------------------------------------------------------------------------------
class PositionListHandler(OrgPage):
    @requires(MANAGE)
    async def get(self) -> None:
        positions = await self.run(service.list_positions, self.ctx)
        self.render_page("org/positions.html", positions=positions, form={}, page_title="职务管理",
                         flash=self.flash())

    @requires(MANAGE)
    async def post(self) -> None:
        data = self.form_data()
        try:
            await self.run(service.create_position, self.ctx, data)
        except ValidationError as error:
            positions = await self.run(service.list_positions, self.ctx, False)
            self.set_status(400)
            self.render_page("org/positions.html", positions=positions, form=data,
                             errors=error.fields, message=error.message, page_title="职务管理",
                             flash="")
            return
        self.redirect("/admin/org/positions?done=added")


class PositionEditHandler(OrgPage):
    @requires(MANAGE)
    async def get(self, position_id: str) -> None:
        position = await self.run(service.get_position, self.ctx, self.path_id(position_id))
        self.render_page("org/position_form.html", position=position, form=position,
                         page_title="编辑职务")

    @requires(MANAGE)
    async def post(self, position_id: str) -> None:
        number = self.path_id(position_id)
        data = self.form_data()
        try:
            if self.get_argument("action", "") == "delete":
                await self.run(service.delete_position, self.ctx, number)
                self.redirect("/admin/org/positions?done=deleted")
                return
            await self.run(service.update_position, self.ctx, number, data)
        except ValidationError as error:
            position = await self.run(service.get_position, self.ctx, number)
            self.set_status(400)
            self.render_page("org/position_form.html", position=position,
                             form={**position, **data}, errors=error.fields,
                             message=error.message, page_title="编辑职务")
            return
        self.redirect("/admin/org/positions?done=saved")


# ---- users ------------------------------------------------------------------------------------
class UserListHandler(OrgPage):
    @requires(MANAGE)
    async def get(self) -> None:
        args = _query_args(self, USER_QUERY)
        try:
            result = await self.run(service.list_users, self.ctx, args)
            errors: dict[str, str] = {}
        except ValidationError as error:
            result = {"items": [], "total": 0, "page": 1, "pages": 1, "per_page": 20}
            errors = error.fields
        options = await self.run(service.user_form_options, self.ctx)
        self.render_page("org/users.html", result=result, args=args, errors=errors,
                         page_title="人员管理", flash=self.flash(),
                         **options)


class UserEditHandler(OrgPage):
    """/admin/org/users/new (create) and /admin/org/users/<id> (edit)."""

    @requires(MANAGE)
    async def get(self, user_id: str | None = None) -> None:
        user = None
        if user_id is not None:
            user = await self.run(service.get_user_for_edit, self.ctx, self.path_id(user_id))
        form = user or {"clearance": 0, "status": "active", "secondary_department_ids": [],
                        "department_id": self.get_argument("department", "")}
        await self._show(user, form, {})

    @requires(MANAGE)
    async def post(self, user_id: str | None = None) -> None:
        data = self.form_data()
        data.setdefault("secondary_department_ids", [])
        try:
            if user_id is None:
                created = await self.run(service.create_user, self.ctx, data)
                self.redirect(f"/admin/org/users/{created['id']}?saved=created")
                return
            number = self.path_id(user_id)
            await self.run(service.update_user, self.ctx, number, data, False)
            self.redirect(f"/admin/org/users/{number}?saved=1")
        except ValidationError as error:
            user = (await self.run(service.get_user_for_edit, self.ctx, self.path_id(user_id))
                    if user_id else None)
            self.set_status(400)
            await self._show(user, _form_echo(data), error.fields, error.message)

    async def _show(self, user: dict[str, Any] | None, form: dict[str, Any],
                    errors: dict[str, str], message: str = "") -> None:
        options = await self.run(service.user_form_options, self.ctx)
        self.render_page("org/user_form.html", user=user, form=form, errors=errors,
                         message=message, saved=self.get_argument("saved", ""),
                         page_title=user["name"] if user else "新建人员", **options)


class UserStatusHandler(OrgPage):
    """POST /admin/org/users/<id>/disable | enable."""

    @requires(MANAGE)
    async def post(self, user_id: str, action: str) -> None:
        number = self.path_id(user_id)
        status = "disabled" if action == "disable" else "active"
        try:
            await self.run(service.set_user_status, self.ctx, number, status)
        except ValidationError as error:
            user = await self.run(service.get_user_for_edit, self.ctx, number)
            options = await self.run(service.user_form_options, self.ctx)
            self.set_status(400)
            self.render_page("org/user_form.html", user=user, form=user, errors={},
                             message=error.message, saved="", page_title=user["name"],
                             **options)
            return
        self.redirect(f"/admin/org/users/{number}?saved=1")


# ---- import -----------------------------------------------------------------------------------
class ImportHandler(OrgPage):
    @requires(MANAGE)
    async def get(self) -> None:
        self.render_page("org/import.html", result=None, filename="", page_title="批量导入人员",
                         max_rows=importer.MAX_ROWS,
                         max_mb=importer.MAX_BYTES // 1024 // 1024)

    @requires(MANAGE)
    async def post(self) -> None:
        files = self.request.files.get("file") or []
        upload = files[0] if files else None
        filename = upload.filename if upload else ""
        dry_run = self.get_argument("dry_run", "") in {"1", "on", "true"}
        try:
            if upload is None:
                raise importer.ImportFileError("请选择要导入的文件")
            rows = await self.run_blocking_read(filename, upload.body)
            result = await self.run(importer.import_users, self.ctx, filename, rows, dry_run)
        except ValidationError as error:
            self.set_status(400)
            self.render_page("org/import.html", result=None, filename=filename,
                             errors=error.fields, message=error.message,
                             page_title="批量导入人员", max_rows=importer.MAX_ROWS,
                             max_mb=importer.MAX_BYTES // 1024 // 1024)
            return
        if not result.ok:
            self.set_status(400)
        self.render_page("org/import.html", result=result, filename=filename,
                         page_title="批量导入人员", max_rows=importer.MAX_ROWS,
                         max_mb=importer.MAX_BYTES // 1024 // 1024)

    async def run_blocking_read(self, filename: str, body: bytes) -> list:
        from app.core.db import run_blocking

        return await run_blocking(importer.read_rows, filename, body)


class ImportTemplateHandler(OrgPage):
    shows_menu = False

    @requires(MANAGE)
    async def get(self) -> None:
        from app.core.db import run_blocking

        content = await run_blocking(importer.template_xlsx)
        self.set_header("Content-Type", XLSX_TYPE)
        self.set_header("Content-Disposition",
                        "attachment; filename=\"user-import-template.xlsx\"; "
                        "filename*=UTF-8''%E4%BA%BA%E5%91%98%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF"
                        ".xlsx")
        self.finish(content)


# ---- the address book -------------------------------------------------------------------------
class AddressBookHandler(OrgPage):
    @requires(ADDRESSBOOK)
    async def get(self) -> None:
        args = _query_args(self, ADDRESSBOOK_QUERY)
        errors: dict[str, str] = {}
        try:
            result = await self.run(service.addressbook, self.ctx, args)
        except ValidationError as error:
            result = {"items": [], "total": 0, "page": 1, "pages": 1, "per_page": 30}
            errors = error.fields
        departments = await self.run(service.department_options, self.ctx)
        self.render_page("org/addressbook.html", result=result, args=args, errors=errors,
                         departments=departments, page_title="通讯录")


# ---- JSON API ---------------------------------------------------------------------------------
_DEPARTMENT_NODE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "short_name": {"type": "string"}, "doc_code": {"type": "string"},
        "parent_id": {"type": "integer", "nullable": True}, "active": {"type": "boolean"},
        "path": {"type": "string"}, "leader_id": {"type": "integer", "nullable": True},
        "leader_name": {"type": "string"},
        "deputy_ids": {"type": "array", "items": {"type": "integer"}},
        "user_count": {"type": "integer"},
        "children": {"type": "array", "items": {"type": "object"}},
    },
}
_USER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "username": {"type": "string"},
        "employee_no": {"type": "string"}, "name": {"type": "string"},
        "name_pinyin": {"type": "string"}, "name_initials": {"type": "string"},
        "department_id": {"type": "integer"}, "department": {"type": "string"},
        "secondary_department_ids": {"type": "array", "items": {"type": "integer"}},
        "position_id": {"type": "integer", "nullable": True}, "position": {"type": "string"},
        "phone": {"type": "string"}, "office_phone": {"type": "string"},
        "email": {"type": "string"}, "clearance": {"type": "integer"},
        "status": {"type": "string", "enum": list(STATUS_TITLES)},
    },
}
_ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "department_id": {"type": "integer"}, "department": {"type": "string"},
        "position": {"type": "string"}, "office_phone": {"type": "string"},
        "phone": {"type": "string"}, "email": {"type": "string"},
    },
}


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {
        "items": {"type": "array", "items": item}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "pages": {"type": "integer"}}}


TREE_QUERY = Schema(Boolean("include_disabled", "包括已停用的部门（仅管理员）"))


class DepartmentsApi(ApiHandler):
    openapi = {"get": {"summary": "部门树（含负责人、在职人数）",
                       "tags": ["组织机构"], "query": TREE_QUERY,
                       "response": {"type": "array", "items": _DEPARTMENT_NODE}}}

    async def get(self) -> None:
        params = TREE_QUERY.validate(_query_args(self, TREE_QUERY))
        tree = await self.run(service.department_tree, self.ctx, params["include_disabled"])
        self.write_json(tree)


class UsersApi(ApiHandler):
    openapi = {
        "get": {"summary": "人员列表（搜索、筛选、分页）", "tags": ["组织机构"],
                "query": USER_QUERY, "response": _page_of(_USER)},
        "post": {"summary": "新建人员", "tags": ["组织机构"], "body": USER_SCHEMA, "status": 201,
                 "response": _USER},
    }

    @requires(MANAGE)
    async def get(self) -> None:
        result = await self.run(service.list_users, self.ctx, _query_args(self, USER_QUERY))
        self.write_json(result)

    @requires(MANAGE)
    async def post(self) -> None:
        user = await self.run(service.create_user, self.ctx, self.json_body())
        self.write_json(user, status=201)


class UserApi(ApiHandler):
    openapi = {
        "get": {"summary": "人员详情", "tags": ["组织机构"], "response": _USER},
        "patch": {"summary": "修改人员（只改提交的字段）", "tags": ["组织机构"],
                  "body": USER_SCHEMA, "response": _USER},
    }

    def _number(self, user_id: str) -> int:
        number = int(user_id)
        if number > 2**62:
            raise NotFound("人员不存在")
        return number

    @requires(MANAGE)
    async def get(self, user_id: str) -> None:
        user = await self.run(service.get_user_for_edit, self.ctx, self._number(user_id))
        self.write_json(user)

    @requires(MANAGE)
    async def patch(self, user_id: str) -> None:
        user = await self.run(service.update_user, self.ctx, self._number(user_id),
                              self.json_body(), True)
        self.write_json(user)


class AddressBookApi(ApiHandler):
    openapi = {"get": {"summary": "通讯录搜索（姓名、拼音首字母、全拼、部门）",
                       "tags": ["组织机构"], "query": ADDRESSBOOK_QUERY,
                       "response": _page_of(_ENTRY)}}

    @requires(ADDRESSBOOK)
    async def get(self) -> None:
        result = await self.run(service.addressbook, self.ctx,
                                _query_args(self, ADDRESSBOOK_QUERY))
        self.write_json(result)
