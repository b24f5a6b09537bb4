"""流程与待办的页面与接口: thin handlers over app.workflow.engine / service / design."""

from __future__ import annotations

from typing import Any

from app.core import db
from app.core.errors import NotFound, ValidationError
from app.core.forms import Choice, Date, Integer, IntList, Schema, Text
from app.core.web import ApiHandler, BaseHandler, requires
from app.workflow import definition as defn
from app.workflow import design, diagram, engine, service
from app.workflow.models import INSTANCE_STATUS_TITLES, URGENCY_TITLES

DESIGN = design.DESIGN
_ID = r"(?P<{}>\d{{1,18}})"

LIST_QUERY = Schema(
    Text("q", "标题", required=False, max_length=100),
    Choice("urgency", "紧急程度", {"0": "普通", "1": "加急", "2": "特急"}, required=False),
    Text("flow", "流程", required=False, max_length=40),
    Choice("status", "状态", {**INSTANCE_STATUS_TITLES, "unread": "未阅", "read": "已阅"},
           required=False),
    Choice("overdue", "仅看超期", {"1": "是"}, required=False),
    Integer("page", "页码", required=False, minimum=1, maximum=10_000),
)
COMMENT = Text("comment", "意见", required=False, max_length=2000, multiline=True)
APPROVE_BODY = Schema(COMMENT)
REJECT_BODY = Schema(Text("comment", "意见", max_length=2000, multiline=True))
RETURN_BODY = Schema(Text("comment", "回退理由", max_length=2000, multiline=True),
                     Text("target", "回退到", required=False, max_length=40, default="previous"))
TRANSFER_BODY = Schema(Integer("to_user_id", "转办给", minimum=1), COMMENT)
ADDSIGN_BODY = Schema(IntList("user_ids", "加签人员", required=True, max_items=50),
                      Choice("position", "加签方式", {"before": "前加签", "after": "后加签"}),
                      COMMENT)
RECALL_BODY = Schema(Text("comment", "撤回说明", required=False, max_length=500))
URGE_BODY = Schema(Text("comment", "催办说明", required=False, max_length=500))
TERMINATE_BODY = Schema(Text("reason", "终止理由", max_length=500, multiline=True))
CIRCULATE_BODY = Schema(IntList("user_ids", "传阅人员", required=True, max_items=200), COMMENT)
PHRASE_BODY = Schema(Text("text", "常用意见", max_length=200))
DELEGATION_BODY = Schema(
    Integer("delegate_id", "被委托人", minimum=1),
    Date("start_date", "开始日期"), Date("end_date", "结束日期"),
    Text("flow_code", "流程", required=False, max_length=40),
    Text("reason", "事由", required=False, max_length=200),
)
TABS = {"todo": ("待办", "/todo", service.todo_list),
        "done": ("已办", "/todo/done", service.done_list),
        "mine": ("我发起的", "/todo/mine", service.mine_list),
        "circulate": ("传阅", "/todo/circulate", service.circulate_list)}
FLASH = {"approve": "已提交", "reject": "已提交不同意意见", "return": "已回退",
         "transfer": "已转办", "addsign": "已加签", "recall": "已撤回", "read": "已标记为已阅",
         "urge": "已催办", "terminate": "流程已终止", "circulate": "已传阅", "saved": "已保存",
         "published": "已发布", "imported": "已导入", "revoked": "已撤销", "added": "已添加",
         "deleted": "已删除"}

TASK_ITEM = {"type": "object", "properties": {
    "task_id": {"type": "integer"}, "instance_id": {"type": "integer"},
    "title": {"type": "string"}, "node_name": {"type": "string"},
    "urgency": {"type": "integer"}, "urgency_title": {"type": "string"},
    "due_at": {"type": "string", "nullable": True}, "overdue": {"type": "boolean"},
    "status": {"type": "string"}, "action": {"type": "string", "nullable": True}}}
LIST_RESPONSE = {"type": "object", "properties": {
    "items": {"type": "array", "items": TASK_ITEM}, "total": {"type": "integer"},
    "page": {"type": "integer"}, "pages": {"type": "integer"}}}
OUTCOME = {"type": "object", "properties": {
    "instance_id": {"type": "integer"}, "status": {"type": "string"},
    "current_nodes": {"type": "array", "items": {"type": "string"}}}}


def _number(value: str) -> int:
    number = int(value)
    if number > 2**62:
        raise NotFound()
    return number


class WorkflowPage(BaseHandler):
    def flash(self) -> str:
        return FLASH.get(self.get_argument("done", ""), "")

    def query_args(self) -> dict[str, Any]:
        return {name: self.get_argument(name, "") for name in LIST_QUERY.fields}


# ---- the todo centre ----------------------------------------------------------------------------
class TodoPage(WorkflowPage):
    async def get(self) -> None:
        tab = self.options.get("tab", "todo")
        title, _, loader = TABS[tab]
        args = self.query_args()
        LIST_QUERY.validate({k: v for k, v in args.items() if v})

        def load(ctx: Any) -> dict[str, Any]:
            data = loader(ctx, args)  # the 待办 tab brings the badge's count along
            count = data["count"] if tab == "todo" else service.todo_count(ctx)
            return {"data": data, "count": count, "flows": service.published_flows()}

        values = await self.run(load, self.ctx)
        self.render("workflow/todo.html", tab=tab, tabs=TABS, page_title=title,
                    urgency_titles=URGENCY_TITLES, status_titles=INSTANCE_STATUS_TITLES,
                    args=args, flash=self.flash(), **values)


class TaskPage(WorkflowPage):
    async def get(self, task_id: str) -> None:
        def load(ctx: Any, tid: int) -> dict[str, Any]:
            return {"view": service.task_view(ctx, tid)}

        values = await self.run(load, self.ctx, _number(task_id))
        self.render("workflow/task.html", page_title=values["view"]["title"],
                    flash=self.flash(), error="", errors={}, **values)


TASK_OPERATIONS = {
    "approve": (APPROVE_BODY, lambda ctx, tid, d, form: engine.approve(
        ctx, tid, d.get("comment") or "", form)),
    "reject": (REJECT_BODY, lambda ctx, tid, d, form: engine.reject(ctx, tid, d["comment"])),
    "return": (RETURN_BODY, lambda ctx, tid, d, form: engine.return_task(
        ctx, tid, d.get("target") or "previous", d["comment"])),
    "transfer": (TRANSFER_BODY, lambda ctx, tid, d, form: engine.transfer(
        ctx, tid, d["to_user_id"], d.get("comment") or "")),
    "addsign": (ADDSIGN_BODY, lambda ctx, tid, d, form: engine.add_signers(
        ctx, tid, d["user_ids"], d["position"], d.get("comment") or "")),
    "recall": (RECALL_BODY, lambda ctx, tid, d, form: engine.recall(
        ctx, tid, d.get("comment") or "")),
    "read": (Schema(), lambda ctx, tid, d, form: engine.mark_read(ctx, tid)),
}


def _form_updates(raw: dict[str, Any]) -> dict[str, Any] | None:
    """Form fields posted as form.<key> on the task page."""
    updates = {k.removeprefix("form."): v for k, v in raw.items()
               if k.startswith("form.")}
    return updates or None


class TaskActionPage(WorkflowPage):
    async def post(self, task_id: str, operation: str) -> None:
        schema, call = TASK_OPERATIONS[operation]
        tid = _number(task_id)
        raw = self.form_data()
        try:
            data = schema.validate(raw)
            await self.run(call, self.ctx, tid, data, _form_updates(raw))
        except ValidationError as exc:
            def load(ctx: Any) -> dict[str, Any]:
                return {"view": service.task_view(ctx, tid)}

            values = await self.run(load, self.ctx)
            self.set_status(400)
            self.render("workflow/task.html", page_title=values["view"]["title"], flash="",
                        error=exc.message, errors=exc.fields, **values)
            return
        target = f"/workflow/tasks/{tid}?done={operation}" if operation in {"recall", "read"} \
            else f"/todo?done={operation}"
        self.redirect(target)


class InstancePage(WorkflowPage):
    async def get(self, instance_id: str) -> None:
        def load(ctx: Any, iid: int) -> dict[str, Any]:
            return {"view": service.instance_view(ctx, iid)}

        values = await self.run(load, self.ctx, _number(instance_id))
        self.render("workflow/instance.html", page_title=values["view"]["title"],
                    flash=self.flash(), error="", **values)


INSTANCE_OPERATIONS = {
    "urge": (URGE_BODY, lambda ctx, iid, d: engine.urge(ctx, iid, d.get("comment") or "")),
    "terminate": (TERMINATE_BODY, lambda ctx, iid, d: engine.terminate(ctx, iid, d["reason"])),
    "circulate": (CIRCULATE_BODY, lambda ctx, iid, d: engine.circulate(
        ctx, iid, d["user_ids"], d.get("comment") or "")),
}


class InstanceActionPage(WorkflowPage):
    async def post(self, instance_id: str, operation: str) -> None:
        schema, call = INSTANCE_OPERATIONS[operation]
        iid = _number(instance_id)
        try:
            data = self.parse(schema)
            await self.run(call, self.ctx, iid, data)
        except ValidationError as exc:
            def load(ctx: Any) -> dict[str, Any]:
                return {"view": service.instance_view(ctx, iid)}

            values = await self.run(load, self.ctx)
            self.set_status(400)
            self.render("workflow/instance.html", page_title=values["view"]["title"],
                        flash="", error=exc.message, **values)
            return
        self.redirect(f"/workflow/instances/{iid}?done={operation}")


class InstanceDiagram(WorkflowPage):
    shows_menu = False

    async def get(self, instance_id: str) -> None:
        def load(ctx: Any, iid: int) -> str:
            inst = engine.visible_instance(ctx, iid)
            from app.audit.service import record

            record(ctx, "workflow.instance.diagram", object_type="wf_instance", object_id=iid)
            return diagram.render(engine.graph_of(inst.definition_id),
                                  service.node_states(inst), inst.title)

        svg = await self.run(load, self.ctx, _number(instance_id))
        self.set_header("Content-Type", "image/svg+xml; charset=UTF-8")
        self.finish(svg)


class PhrasesPage(WorkflowPage):
    async def get(self) -> None:
        phrases = await self.run(service.list_phrases, self.ctx)
        self.render("workflow/phrases.html", page_title="常用意见", phrases=phrases,
                    flash=self.flash(), errors={})

    async def post(self) -> None:
        try:
            data = self.parse(PHRASE_BODY)
            await self.run(service.add_phrase, self.ctx, data["text"])
        except ValidationError as exc:
            phrases = await self.run(service.list_phrases, self.ctx)
            self.set_status(400)
            self.render("workflow/phrases.html", page_title="常用意见", phrases=phrases,
                        flash="", errors=exc.fields or {"text": exc.message})
            return
        self.redirect("/workflow/phrases?done=added")


class PhraseDeletePage(WorkflowPage):
    async def post(self, phrase_id: str) -> None:
        await self.run(service.delete_phrase, self.ctx, _number(phrase_id))
        self.redirect("/workflow/phrases?done=deleted")


class DelegationsPage(WorkflowPage):
    async def _show(self, errors: dict[str, str], form: dict[str, Any], status: int = 200) -> None:
        def load(ctx: Any) -> dict[str, Any]:
            # the person picked before the form came back with an error stays picked
            return {"rows": service.list_delegations(ctx), "flows": service.published_flows(),
                    "chosen": service.people(ctx, [form.get("delegate_id", "")])}

        values = await self.run(load, self.ctx)
        self.set_status(status)
        self.render("workflow/delegations.html", page_title="委托代办", errors=errors,
                    form=form, flash=self.flash(), **values)

    async def get(self) -> None:
        await self._show({}, {})

    async def post(self) -> None:
        form = self.form_data()
        try:
            data = DELEGATION_BODY.validate(form)
            await self.run(service.create_delegation, self.ctx, data)
        except ValidationError as exc:
            await self._show(exc.fields or {"delegate_id": exc.message}, form, 400)
            return
        self.redirect("/workflow/delegations?done=saved")


class DelegationRevokePage(WorkflowPage):
    async def post(self, delegation_id: str) -> None:
        await self.run(service.revoke_delegation, self.ctx, _number(delegation_id))
        self.redirect("/workflow/delegations?done=revoked")


# ---- the designer -----------------------------------------------------------------------------
def _handler_value(rule: dict[str, Any]) -> str:
    kind = rule.get("kind")
    if kind == "user":
        return ",".join(str(u) for u in rule.get("users", []))
    if kind == "role":
        return rule.get("role", "")
    if kind == "position":
        value = str(rule.get("position") or "")
        return value + (":initiator_department" if rule.get("scope") == "initiator_department"
                        else "")
    if kind == "department":
        return str(rule.get("department") or "")
    if kind == "form_field":
        target = rule.get("target", "users")
        return rule.get("field", "") + (":department_leaders" if target != "users" else "")
    return ""


def _handlers_from(kind: str, value: str) -> dict[str, Any]:
    value = value.strip()
    if kind == "user":
        return {"kind": kind, "users": value}
    if kind == "role":
        return {"kind": kind, "role": value}
    if kind == "position":
        pid, _, scope = value.partition(":")
        return {"kind": kind, "position": pid, "scope": scope or "all"}
    if kind == "department":
        return {"kind": kind, "department": value}
    if kind == "form_field":
        field, _, target = value.partition(":")
        return {"kind": kind, "field": field, "target": target or "users"}
    return {"kind": kind}


def _column(raw: dict[str, Any], name: str, count: int) -> list[str]:
    values = raw.get(name, [])
    values = values if isinstance(values, list) else [values]
    return [str(v) for v in values] + [""] * (count - len(values))


def graph_from_form(raw: dict[str, Any]) -> dict[str, Any]:
    """The designer's tables (one input array per column) back into a graph document."""
    keys = _column(raw, "n_key", 0)
    n = {c: _column(raw, f"n_{c}", len(keys)) for c in (
        "type", "name", "hkind", "hvalue", "mode", "completion", "ratio", "veto", "on_reject",
        "opinion", "editable", "d_teji", "d_jiaji", "d_putong", "action", "flow", "escalate")}
    nodes = []
    for i, key in enumerate(keys):
        if not key.strip():
            continue
        node: dict[str, Any] = {"key": key.strip(), "type": n["type"][i], "name": n["name"][i]}
        if n["type"][i] in {"task", "circulate"}:
            node.update(handlers=_handlers_from(n["hkind"][i], n["hvalue"][i]),
                        opinion_field=n["opinion"][i], editable=n["editable"][i],
                        deadline_hours={"特急": n["d_teji"][i], "加急": n["d_jiaji"][i],
                                        "普通": n["d_putong"][i]})
        if n["type"][i] == "task":
            node.update(mode=n["mode"][i], completion=n["completion"][i], veto=n["veto"][i],
                        on_reject=n["on_reject"][i], escalate=n["escalate"][i])
            if n["completion"][i] == "ratio":
                node["ratio"] = n["ratio"][i]
        if n["type"][i] == "system":
            node["action"] = n["action"][i]
        if n["type"][i] == "subflow":
            node["flow"] = n["flow"][i]
        nodes.append(node)
    froms = _column(raw, "e_from", 0)
    e = {c: _column(raw, f"e_{c}", len(froms)) for c in ("to", "condition", "default")}
    edges = [{"from": f.strip(), "to": e["to"][i].strip(), "condition": e["condition"][i],
              "default": e["default"][i]} for i, f in enumerate(froms)
             if f.strip() or e["to"][i].strip()]
    fkeys = _column(raw, "f_key", 0)
    f = {c: _column(raw, f"f_{c}", len(fkeys)) for c in ("label", "type", "required", "options")}
    fields = [{"key": k.strip(), "label": f["label"][i], "type": f["type"][i],
               "required": f["required"][i], "options": f["options"][i]}
              for i, k in enumerate(fkeys) if k.strip()]
    return {"code": raw.get("code", ""), "name": raw.get("name", ""),
            "description": raw.get("description", ""), "form": fields, "nodes": nodes,
            "edges": edges}


def _editor_values(graph: dict[str, Any]) -> dict[str, Any]:
    nodes = [{**n, "hvalue": _handler_value(n.get("handlers", {})),
              "editable_text": ",".join(n.get("editable", []))} for n in graph.get("nodes", [])]
    fields = [{**f, "options_text": ",".join(f.get("options", []))}
              for f in graph.get("form", [])]
    return {"graph": graph, "nodes": nodes, "fields": fields, "edges": graph.get("edges", []),
            "node_types": defn.NODE_TYPES, "handler_kinds": defn.HANDLER_KINDS,
            "modes": defn.MODES, "completions": defn.COMPLETION, "on_rejects": defn.ON_REJECT,
            "field_types": defn.FIELD_TYPES}


class DesignListPage(WorkflowPage):
    @requires(DESIGN)
    async def get(self) -> None:
        flows = await self.run(design.list_flows, self.ctx)
        self.render("workflow/design_list.html", page_title="流程设计", flows=flows,
                    flash=self.flash(), error="")


class DesignImportPage(WorkflowPage):
    @requires(DESIGN)
    async def post(self) -> None:
        files = self.request.files.get("file") or []
        text: bytes | str = files[0]["body"] if files else self.get_argument("yaml", "")
        try:
            row = await self.run(design.import_yaml, self.ctx, text)
        except ValidationError as exc:
            flows = await self.run(design.list_flows, self.ctx)
            self.set_status(400)
            self.render("workflow/design_list.html", page_title="流程设计", flows=flows,
                        flash="", error=exc.message)
            return
        self.redirect(f"/workflow/design/{row['id']}?done=imported")


class DesignEditPage(WorkflowPage):
    async def _show(self, definition: dict[str, Any] | None, graph: dict[str, Any],
                    problems: list[str], error: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.render("workflow/design_edit.html", page_title="流程设计", definition=definition,
                    problems=problems, error=error, flash=self.flash(),
                    **_editor_values(graph))

    @requires(DESIGN)
    async def get(self, definition_id: str | None = None) -> None:
        if definition_id is None:
            graph = {**defn.from_yaml(defn.EXAMPLE_YAML), "code": "", "name": ""}
            await self._show(None, graph, [])
            return
        found = await self.run(design.get_definition, self.ctx, _number(definition_id))
        await self._show(found, found["graph"], found["problems"])

    @requires(DESIGN)
    async def post(self, definition_id: str | None = None) -> None:
        raw = graph_from_form(self.form_data())
        did = _number(definition_id) if definition_id else None
        try:
            saved = await self.run(design.save_draft, self.ctx, raw, did)
        except ValidationError as exc:
            found = await self.run(design.get_definition, self.ctx, did) if did else None
            await self._show(found, raw, [], exc.message, 400)
            return
        self.redirect(f"/workflow/design/{saved['id']}?done=saved")


class DesignActionPage(WorkflowPage):
    @requires(DESIGN)
    async def post(self, definition_id: str, operation: str) -> None:
        did = _number(definition_id)
        call = design.publish if operation == "publish" else design.new_version
        try:
            row = await self.run(call, self.ctx, did)
        except ValidationError as exc:
            found = await self.run(design.get_definition, self.ctx, did)
            self.set_status(400)
            self.render("workflow/design_edit.html", page_title="流程设计", definition=found,
                        problems=found["problems"], error=exc.message, flash="",
                        **_editor_values(found["graph"]))
            return
        done = "published" if operation == "publish" else "saved"
        self.redirect(f"/workflow/design/{row['id']}?done={done}")


class DesignExportPage(WorkflowPage):
    shows_menu = False

    @requires(DESIGN)
    async def get(self, definition_id: str) -> None:
        name, text = await self.run(design.export_yaml, self.ctx, _number(definition_id))
        self.set_header("Content-Type", "application/x-yaml; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(text)


class DesignDiagram(WorkflowPage):
    shows_menu = False

    @requires(DESIGN)
    async def get(self, definition_id: str) -> None:
        def load(ctx: Any, did: int) -> str:
            found = design.get_definition(ctx, did)
            return diagram.render(defn.Graph(found["graph"]), {}, found["name"])

        svg = await self.run(load, self.ctx, _number(definition_id))
        self.set_header("Content-Type", "image/svg+xml; charset=UTF-8")
        self.finish(svg)


# ---- JSON API ---------------------------------------------------------------------------------
def _list_api(tab: str, summary: str) -> type:
    _, _, loader = TABS[tab]

    class ListApi(ApiHandler):
        openapi = {"get": {"summary": summary, "tags": ["待办"], "query": LIST_QUERY,
                           "response": LIST_RESPONSE}}

        async def get(self) -> None:
            args = {name: self.get_argument(name, "") for name in LIST_QUERY.fields}
            LIST_QUERY.validate({k: v for k, v in args.items() if v})
            self.write_json(await self.run(loader, self.ctx, args))

    ListApi.__name__ = f"{tab.title()}ListApi"
    return ListApi


class TodoCountApi(ApiHandler):
    openapi = {"get": {"summary": "待办数量（导航角标，与待办列表同一查询）", "tags": ["待办"],
                       "response": {"type": "object",
                                    "properties": {"count": {"type": "integer"}}}}}

    async def get(self) -> None:
        # one read statement, asked after every page view: no BEGIN/COMMIT around it
        self.write_json({"count": await db.run_statements(service.todo_count, self.ctx)})


class TaskApi(ApiHandler):
    openapi = {"get": {"summary": "待办详情：流程实例、历史和可执行的操作", "tags": ["待办"]}}

    async def get(self, task_id: str) -> None:
        self.write_json(await self.run(service.task_view, self.ctx, _number(task_id)))


def _task_action_api(operation: str, summary: str) -> type:
    schema, call = TASK_OPERATIONS[operation]

    class TaskActionApi(ApiHandler):
        openapi = {"post": {"summary": summary, "tags": ["待办"], "body": schema,
                            "response": OUTCOME}}

        async def post(self, task_id: str) -> None:
            body = self.json_body()
            data = schema.validate(body)
            form = body.get("form") if isinstance(body, dict) else None
            if form is not None and not isinstance(form, dict):
                raise ValidationError({"form": "表单内容应为键值对"})
            self.write_json(await self.run(call, self.ctx, _number(task_id), data, form))

    TaskActionApi.__name__ = f"Task{operation.title()}Api"
    return TaskActionApi


class InstanceApi(ApiHandler):
    openapi = {"get": {"summary": "流程实例：表单、各环节、历史、传阅回执", "tags": ["待办"]}}

    async def get(self, instance_id: str) -> None:
        self.write_json(await self.run(service.instance_view, self.ctx, _number(instance_id)))


def _instance_action_api(operation: str, summary: str) -> type:
    schema, call = INSTANCE_OPERATIONS[operation]

    class InstanceActionApi(ApiHandler):
        openapi = {"post": {"summary": summary, "tags": ["待办"], "body": schema,
                            "response": OUTCOME}}

        async def post(self, instance_id: str) -> None:
            data = schema.validate(self.json_body())
            self.write_json(await self.run(call, self.ctx, _number(instance_id), data))

    InstanceActionApi.__name__ = f"Instance{operation.title()}Api"
    return InstanceActionApi


class PhrasesApi(ApiHandler):
    openapi = {
        "get": {"summary": "我的常用意见", "tags": ["待办"],
                "response": {"type": "array", "items": {"type": "object"}}},
        "post": {"summary": "添加一条常用意见", "tags": ["待办"], "body": PHRASE_BODY},
    }

    async def get(self) -> None:
        self.write_json(await self.run(service.list_phrases, self.ctx))

    async def post(self) -> None:
        data = PHRASE_BODY.validate(self.json_body())
        self.write_json(await self.run(service.add_phrase, self.ctx, data["text"]), status=201)


TASK_API_SUMMARIES = {
    "approve": "同意（拟稿人重新提交），可附表单修改", "reject": "不同意（会签否决）",
    "return": "回退：上一环节、任一已办环节或拟稿人", "transfer": "转办给他人",
    "addsign": "加签（前加签或后加签）", "recall": "撤回自己已办理的事项（下一环节未办理时）",
    "read": "传阅件标记为已阅",
}
INSTANCE_API_SUMMARIES = {"urge": "催办当前各处理人", "terminate": "终止流程（流程监控权限）",
                          "circulate": "传阅给指定人员"}

ROUTES: list[tuple[str, type] | tuple[str, type, dict[str, Any]]] = [
    (r"/todo", TodoPage, {"tab": "todo"}),
    (r"/todo/done", TodoPage, {"tab": "done"}),
    (r"/todo/mine", TodoPage, {"tab": "mine"}),
    (r"/todo/circulate", TodoPage, {"tab": "circulate"}),
    (r"/workflow/tasks/" + _ID.format("task_id"), TaskPage),
    (r"/workflow/tasks/" + _ID.format("task_id")
     + r"/(?P<operation>approve|reject|return|transfer|addsign|recall|read)", TaskActionPage),
    (r"/workflow/instances/" + _ID.format("instance_id"), InstancePage),
    (r"/workflow/instances/" + _ID.format("instance_id") + r"/diagram\.svg", InstanceDiagram),
    (r"/workflow/instances/" + _ID.format("instance_id")
     + r"/(?P<operation>urge|terminate|circulate)", InstanceActionPage),
    (r"/workflow/phrases", PhrasesPage),
    (r"/workflow/phrases/" + _ID.format("phrase_id") + r"/delete", PhraseDeletePage),
    (r"/workflow/delegations", DelegationsPage),
    (r"/workflow/delegations/" + _ID.format("delegation_id") + r"/revoke",
     DelegationRevokePage),
    (r"/workflow/design", DesignListPage),
    (r"/workflow/design/new", DesignEditPage),
    (r"/workflow/design/import", DesignImportPage),
    (r"/workflow/design/" + _ID.format("definition_id"), DesignEditPage),
    (r"/workflow/design/" + _ID.format("definition_id") + r"/(?P<operation>publish|new-version)",
     DesignActionPage),
    (r"/workflow/design/" + _ID.format("definition_id") + r"/export\.yaml", DesignExportPage),
    (r"/workflow/design/" + _ID.format("definition_id") + r"/diagram\.svg", DesignDiagram),
    (r"/api/todo", _list_api("todo", "我的待办（紧急程度优先）")),
    (r"/api/todo/done", _list_api("done", "我的已办")),
    (r"/api/todo/mine", _list_api("mine", "我发起的流程")),
    (r"/api/todo/circulate", _list_api("circulate", "传阅给我的")),
    (r"/api/todo/count", TodoCountApi),
    (r"/api/workflow/tasks/" + _ID.format("task_id"), TaskApi),
    *[(r"/api/workflow/tasks/" + _ID.format("task_id") + f"/{op}", _task_action_api(op, s))
      for op, s in TASK_API_SUMMARIES.items()],
    (r"/api/workflow/instances/" + _ID.format("instance_id"), InstanceApi),
    *[(r"/api/workflow/instances/" + _ID.format("instance_id") + f"/{op}",
       _instance_action_api(op, s)) for op, s in INSTANCE_API_SUMMARIES.items()],
    (r"/api/workflow/phrases", PhrasesApi),
]
