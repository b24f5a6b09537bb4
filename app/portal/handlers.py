"""工作门户 pages and API: the desktop, its customisation, the layout as JSON."""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import ValidationError
from app.core.features import Widget
from app.core.forms import Field, FieldError, Schema
from app.core.web import ApiHandler, BaseHandler
from app.portal import service

_ORDER_FIELD = re.compile(r"^order_(?P<key>[a-z][a-z0-9_]{0,39})$")


class KeyList(Field):
    """A JSON array of widget keys (order matters)."""

    def parse(self, raw: Any) -> Any:
        if raw is None:
            raise FieldError(f"请提供{self.label}")
        if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
            raise FieldError(f"{self.label}应为由组件标识组成的数组")
        return raw

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}, "maxItems": service.MAX_WIDGETS}


LAYOUT_BODY = Schema(KeyList("widgets", "组件列表",
                             help="要显示的组件标识，按显示顺序排列；未列出的组件隐藏"))

LAYOUT_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "widgets": {"type": "array", "items": {"type": "string"}},
        "customised": {"type": "boolean"},
        "available": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "title": {"type": "string"},
                    "shown": {"type": "boolean"},
                    "position": {"type": "integer"},
                },
            },
        },
    },
}


class PortalMixin:
    application: Any

    @property
    def widgets(self) -> list[Widget]:
        return list(self.application.settings.get("widgets", []))


class DesktopHandler(PortalMixin, BaseHandler):
    """/ : the personal work desktop."""

    async def get(self) -> None:
        loaded = await self.run(service.load_desktop, self.ctx, self.widgets)
        sections = [
            {"widget": item.widget, "failed": item.failed,
             "html": "" if item.failed else self.render_string(item.widget.template,
                                                               **item.values)}
            for item in loaded
        ]
        self.render("portal/index.html", sections=sections, page_title="工作台")


class CustomizeHandler(PortalMixin, BaseHandler):
    """/portal/customize: choose and order the widgets of one's desktop."""

    async def get(self) -> None:
        choices = await self.run(service.layout_choices, self.ctx, self.widgets)
        self.render_form(choices, saved=self.get_argument("saved", "") == "1")

    async def post(self) -> None:
        if self.get_body_argument("reset", ""):
            await self.run(service.reset_layout, self.ctx, self.widgets)
            self.redirect("/portal/customize?saved=1")
            return
        form = self.form_data()
        try:
            keys = self.ordered_keys(form)
            await self.run(service.save_layout, self.ctx, self.widgets, keys)
        except ValidationError as error:
            choices = await self.run(service.layout_choices, self.ctx, self.widgets)
            self.set_status(400)
            self.render_form(self.resubmitted(choices, form), errors=error.fields,
                             message=error.message)
            return
        self.redirect("/portal/customize?saved=1")

    @staticmethod
    def checked(form: dict[str, Any]) -> list[str]:
        raw = form.get("widgets", [])
        return [raw] if isinstance(raw, str) else list(raw)

    def ordered_keys(self, form: dict[str, Any]) -> list[str]:
        """The checked widgets, sorted by their order numbers (ties keep the page's order)."""
        errors: dict[str, str] = {}
        orders: dict[str, int] = {}
        for name, value in form.items():
            match = _ORDER_FIELD.match(name)
            if not match or not isinstance(value, str) or value.strip() == "":
                continue
            try:
                orders[match["key"]] = int(value)
            except ValueError:
                errors[name] = "顺序必须是整数"
                continue
            if not 1 <= orders[match["key"]] <= 999:
                errors[name] = "顺序应在 1 到 999 之间"
        if errors:
            raise ValidationError(errors)
        checked = self.checked(form)
        positions = {key: index for index, key in enumerate(checked)}
        return sorted(checked, key=lambda k: (orders.get(k, 1000), positions[k]))

    def resubmitted(self, choices: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
        """Show the user what they submitted, not what is stored, next to the errors."""
        checked = set(self.checked(form))
        for choice in choices["available"]:
            choice["shown"] = choice["key"] in checked
            choice["position"] = form.get(f"order_{choice['key']}", choice["position"])

        def submitted_order(choice: dict[str, Any]) -> tuple[int, int]:
            position = str(choice["position"])
            return (int(position) if position.isdigit() else 1000, 0 if choice["shown"] else 1)

        choices["available"].sort(key=submitted_order)
        return choices

    def render_form(self, choices: dict[str, Any], *, saved: bool = False,
                    errors: dict[str, str] | None = None, message: str = "") -> None:
        self.render("portal/customize.html", choices=choices, saved=saved,
                    errors=errors or {}, message=message, page_title="自定义工作台")


class LayoutApiHandler(PortalMixin, ApiHandler):
    """/api/portal/layout: the user's desktop layout as JSON."""

    openapi: dict[str, dict[str, Any]] = {
        "get": {
            "summary": "当前用户工作台的组件及顺序（未自定义时为其角色的默认布局）",
            "tags": ["工作门户"],
            "response": LAYOUT_RESPONSE,
        },
        "put": {
            "summary": "保存当前用户工作台要显示的组件及顺序（列表顺序即显示顺序）",
            "tags": ["工作门户"],
            "body": LAYOUT_BODY,
            "response": LAYOUT_RESPONSE,
        },
    }

    async def get(self) -> None:
        self.write_json(await self.run(service.layout_choices, self.ctx, self.widgets))

    async def put(self) -> None:
        data = self.parse(LAYOUT_BODY)
        self.write_json(await self.run(service.update_layout, self.ctx, self.widgets,
                                       data["widgets"]))

