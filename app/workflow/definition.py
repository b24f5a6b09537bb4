"""Flow definitions: the graph format, its validator, and YAML import/export.

A definition is stored as one JSONB document (see the example in `EXAMPLE_YAML`):

    code, name, description
    form:  [{key, label, type, required, options}]        the flow's form fields
    nodes: [{key, type, name, ...type-specific settings}]
    edges: [{from, to, condition, default}]

Node types: start, end, task (people act), circulate (传阅: read receipts, the flow does not
wait), system (no human: a registered handler does the work, e.g. 编号), split / join (parallel
branches), gateway (exclusive: the first edge whose condition holds, else the default edge) and
subflow (runs another published flow and waits for it).

`normalise(raw)` turns untrusted input (a form, JSON or YAML) into a clean graph and a list of
problems, each a Chinese sentence naming the node or edge; `validate(graph)` adds the
structural checks (one start, reachability, every path ends, gateways, split/join pairing).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import yaml

from app.workflow import expressions

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FIELD_KEY = re.compile(r"^[^\W\d][\w]{0,39}$")
NODE_TYPES = {
    "start": "开始", "end": "结束", "task": "审批", "circulate": "传阅", "system": "系统处理",
    "split": "并行分支", "join": "并行汇聚", "gateway": "条件分支", "subflow": "子流程",
}
HANDLER_KINDS = {
    "user": "指定人员", "role": "角色", "position": "职务", "department": "部门人员",
    "initiator_leader": "发起人的部门领导", "previous_leader": "上一处理人的领导",
    "form_field": "表单字段中的人员",
}
FIELD_TARGETS = {"users": "字段中的人员", "department_leaders": "字段中各部门的领导"}
MODES = {"parallel": "并行会签", "sequential": "依次审批"}
COMPLETION = {"all": "全部同意", "any": "任一人同意", "ratio": "按比例"}
ON_REJECT = {"return": "退回拟稿人", "terminate": "终止流程"}
FIELD_TYPES = {
    "text": "单行文本", "textarea": "多行文本", "number": "数字", "date": "日期",
    "select": "单选", "multiselect": "多选", "boolean": "是/否",
    "user": "人员", "users": "多个人员", "department": "部门", "departments": "多个部门",
}
URGENCY_KEYS = ("特急", "加急", "普通")
DEFAULT_DEADLINE_HOURS = {"特急": 4, "加急": 24, "普通": 72}
MAX_NODES = 200
YAML_MAX_BYTES = 256 * 1024


class DefinitionError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


# ---- normalising untrusted input ----------------------------------------------------------------
def _text(value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    return str(value).strip()[:limit]


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "on", "yes", "是"}
    return bool(value)


def _int_list(value: Any) -> list[int] | None:
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else str(value).replace("，", ",").split(",")
    try:
        return [int(str(item).strip()) for item in items if str(item).strip()]
    except ValueError:
        return None


def _normalise_field(raw: Any, index: int, problems: list[str]) -> dict[str, Any] | None:
    where = f"表单第{index}个字段"
    if not isinstance(raw, dict):
        problems.append(f"{where}应为键值对（key、label、type…）")
        return None
    key = _text(raw.get("key"), 40)
    if not FIELD_KEY.match(key):
        problems.append(f"{where}的标识“{key}”无效：应以字母或汉字开头，只含字母、数字、汉字和下划线")
        return None
    field_type = _text(raw.get("type") or "text", 20)
    if field_type not in FIELD_TYPES:
        problems.append(f"字段“{key}”的类型“{field_type}”无效，可选：{'、'.join(FIELD_TYPES)}")
    options = raw.get("options") or []
    if isinstance(options, str):
        options = [o.strip() for o in re.split(r"[,，\n]", options) if o.strip()]
    if not isinstance(options, list):
        problems.append(f"字段“{key}”的选项应为列表")
        options = []
    options = [_text(o, 100) for o in options]
    if field_type in {"select", "multiselect"} and not options:
        problems.append(f"字段“{key}”是选择类型，至少需要一个选项")
    return {"key": key, "label": _text(raw.get("label"), 60) or key, "type": field_type,
            "required": _bool(raw.get("required")), "options": options}


def _normalise_handlers(raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{where}缺少处理人设置（handlers）")
        return {"kind": ""}
    kind = _text(raw.get("kind"), 30)
    if kind not in HANDLER_KINDS:
        problems.append(f"{where}的处理人类型“{kind}”无效，可选：{'、'.join(HANDLER_KINDS)}")
        return {"kind": kind}
    rule: dict[str, Any] = {"kind": kind}
    if kind == "user":
        users = _int_list(raw.get("users"))
        if not users:
            problems.append(f"{where}按指定人员办理，但没有给出人员编号")
        rule["users"] = users or []
    elif kind == "role":
        rule["role"] = _text(raw.get("role"), 40)
        if not rule["role"]:
            problems.append(f"{where}按角色办理，但没有给出角色代码")
    elif kind in {"position", "department"}:
        ids = _int_list(raw.get(kind))
        if not ids or len(ids) != 1:
            title = "职务" if kind == "position" else "部门"
            problems.append(f"{where}按{title}办理，但{title}编号无效")
        rule[kind] = ids[0] if ids else None
        if kind == "position":
            scope = _text(raw.get("scope") or "all", 30)
            if scope not in {"all", "initiator_department"}:
                problems.append(f"{where}的职务范围应为 all 或 initiator_department")
            rule["scope"] = scope
    elif kind == "form_field":
        rule["field"] = _text(raw.get("field"), 40)
        rule["target"] = _text(raw.get("target") or "users", 30)
        if not rule["field"]:
            problems.append(f"{where}按表单字段办理，但没有给出字段")
        if rule["target"] not in FIELD_TARGETS:
            problems.append(f"{where}的字段用途应为：{'、'.join(FIELD_TARGETS)}")
    return rule


def _normalise_deadlines(raw: Any, where: str, problems: list[str]) -> dict[str, float]:
    if raw in (None, "", {}):
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}的时限应按紧急程度给出小时数，如 {{特急: 4, 加急: 24, 普通: 72}}")
        return {}
    hours: dict[str, float] = {}
    for urgency, value in raw.items():
        if urgency not in URGENCY_KEYS:
            problems.append(f"{where}的时限中“{urgency}”不是紧急程度（特急、加急、普通）")
            continue
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{where}的{urgency}时限应为小时数")
            continue
        if not 0 < number <= 24 * 365:
            problems.append(f"{where}的{urgency}时限应在 0 到 8760 小时之间")
            continue
        hours[urgency] = number
    return hours


def _normalise_node(raw: Any, index: int, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append(f"第{index}个节点应为键值对（key、type、name…）")
        return None
    key = _text(raw.get("key"), 40)
    if not KEY.match(key):
        problems.append(f"第{index}个节点的标识“{key}”无效：应以小写字母开头，只含小写字母、数字和下划线")
        return None
    node_type = _text(raw.get("type"), 20)
    where = f"节点“{key}”"
    if node_type not in NODE_TYPES:
        problems.append(f"{where}的类型“{node_type}”无效，可选：{'、'.join(NODE_TYPES)}")
        return None
    node: dict[str, Any] = {"key": key, "type": node_type,
                            "name": _text(raw.get("name"), 60) or NODE_TYPES[node_type]}
    if node_type in {"task", "circulate"}:
        node["handlers"] = _normalise_handlers(raw.get("handlers"), where, problems)
        node["opinion_field"] = _text(raw.get("opinion_field"), 40)
        editable = raw.get("editable") or []
        if isinstance(editable, str):
            editable = [e.strip() for e in re.split(r"[,，\s]+", editable) if e.strip()]
        node["editable"] = [_text(e, 40) for e in editable] if isinstance(editable, list) else []
        node["deadline_hours"] = _normalise_deadlines(raw.get("deadline_hours"), where, problems)
    if node_type == "task":
        node["mode"] = _text(raw.get("mode") or "parallel", 20)
        node["completion"] = _text(raw.get("completion") or "all", 20)
        node["veto"] = _bool(raw.get("veto"))
        node["on_reject"] = _text(raw.get("on_reject") or "return", 20)
        node["escalate"] = _bool(raw.get("escalate"))
        if node["mode"] not in MODES:
            problems.append(f"{where}的多人办理方式应为：{'、'.join(MODES)}")
        if node["completion"] not in COMPLETION:
            problems.append(f"{where}的完成规则应为：{'、'.join(COMPLETION)}")
        if node["on_reject"] not in ON_REJECT:
            problems.append(f"{where}被否决后的处理应为：{'、'.join(ON_REJECT)}")
        if node["completion"] == "ratio":
            try:
                ratio = float(raw.get("ratio"))
            except (TypeError, ValueError):
                ratio = -1.0
            if not 0 < ratio <= 1:
                problems.append(f"{where}按比例完成，比例应在 0 到 1 之间（如 0.5）")
            node["ratio"] = ratio
    if node_type == "system":
        node["action"] = _text(raw.get("action"), 40)
        if not KEY.match(node["action"]):
            problems.append(f"{where}是系统节点，需要给出动作名（action，如 number）")
    if node_type == "subflow":
        node["flow"] = _text(raw.get("flow"), 40)
        if not KEY.match(node["flow"]):
            problems.append(f"{where}是子流程节点，需要给出子流程代码（flow）")
    return node


def _normalise_edge(raw: Any, index: int, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append(f"第{index}条连线应为键值对（from、to…）")
        return None
    edge = {"from": _text(raw.get("from"), 40), "to": _text(raw.get("to"), 40),
            "condition": _text(raw.get("condition"), expressions.MAX_LENGTH),
            "default": _bool(raw.get("default"))}
    if not edge["from"] or not edge["to"]:
        problems.append(f"第{index}条连线缺少起点或终点")
        return None
    if edge["condition"]:
        try:
            expressions.parse(edge["condition"])
        except expressions.ExpressionError as exc:
            problems.append(f"连线 {edge['from']} → {edge['to']} 的条件有误：{exc}")
    return edge


def normalise(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """A clean graph and the list of problems found while cleaning it."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return {"code": "", "name": "", "description": "", "form": [], "nodes": [],
                "edges": []}, ["流程定义应为键值对（code、name、nodes、edges…）"]
    code = _text(raw.get("code"), 40)
    if not re.match(r"^[a-z][a-z0-9_]{1,39}$", code):
        problems.append(f"流程代码“{code}”无效：应以小写字母开头，2至40位小写字母、数字或下划线")
    name = _text(raw.get("name"), 60)
    if not name:
        problems.append("请填写流程名称")
    sections: dict[str, list[Any]] = {}
    for section, title in (("form", "表单字段"), ("nodes", "节点"), ("edges", "连线")):
        value = raw.get(section) or []
        if not isinstance(value, list):
            problems.append(f"{title}（{section}）应为列表")
            value = []
        sections[section] = value
    if len(sections["nodes"]) > MAX_NODES:
        problems.append(f"节点过多（最多{MAX_NODES}个）")
        sections["nodes"] = sections["nodes"][:MAX_NODES]
    form = [f for i, r in enumerate(sections["form"], 1)
            if (f := _normalise_field(r, i, problems))]
    nodes = [n for i, r in enumerate(sections["nodes"], 1)
             if (n := _normalise_node(r, i, problems))]
    edges = [e for i, r in enumerate(sections["edges"], 1)
             if (e := _normalise_edge(r, i, problems))]
    graph = {"code": code, "name": name, "description": _text(raw.get("description"), 500),
             "form": form, "nodes": nodes, "edges": edges}
    return graph, problems


# ---- structural validation --------------------------------------------------------------------
class Graph:
    """Read-only helpers over a normalised graph."""

    def __init__(self, graph: dict[str, Any]) -> None:
        self.data = graph
        self.nodes: dict[str, dict[str, Any]] = {n["key"]: n for n in graph.get("nodes", [])}
        self.edges: list[dict[str, Any]] = list(graph.get("edges", []))
        self.outgoing: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.incoming: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for edge in self.edges:
            self.outgoing[edge["from"]].append(edge)
            self.incoming[edge["to"]].append(edge)
        self.fields: dict[str, dict[str, Any]] = {f["key"]: f for f in graph.get("form", [])}

    @property
    def start(self) -> dict[str, Any]:
        return next(n for n in self.nodes.values() if n["type"] == "start")

    def node(self, key: str) -> dict[str, Any]:
        return self.nodes[key]

    def successors(self, key: str) -> list[str]:
        return [e["to"] for e in self.outgoing.get(key, [])]

    def reachable_from(self, key: str) -> set[str]:
        seen: set[str] = set()
        stack = [key]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.successors(current))
        return seen

    def can_reach_end(self) -> set[str]:
        seen = {k for k, n in self.nodes.items() if n["type"] == "end"}
        stack = list(seen)
        while stack:
            current = stack.pop()
            for edge in self.incoming.get(current, []):
                if edge["from"] not in seen:
                    seen.add(edge["from"])
                    stack.append(edge["from"])
        return seen

    def matching_join(self, split: str, _depth: int = 0) -> str | None:
        """The join every branch of `split` meets first, or None when they do not agree."""
        if _depth > MAX_NODES:
            return None
        found: set[str | None] = set()
        for start in self.successors(split):
            found |= self._first_joins(start, set(), _depth)
        if len(found) != 1:
            return None
        return next(iter(found))

    def _first_joins(self, key: str, seen: set[str], depth: int) -> set[str | None]:
        if key in seen or key not in self.nodes:
            return set()
        seen = seen | {key}
        node_type = self.nodes[key]["type"]
        if node_type == "join":
            return {key}
        if node_type == "end":
            return {None}
        if node_type == "split":
            inner = self.matching_join(key, depth + 1)
            if inner is None:
                return {None}
            key = inner
        result: set[str | None] = set()
        for nxt in self.successors(key):
            result |= self._first_joins(nxt, seen, depth)
        return result


def validate(graph: dict[str, Any]) -> list[str]:
    """Every structural problem of a normalised graph, as Chinese sentences."""
    problems: list[str] = []
    g = Graph(graph)
    keys = [n["key"] for n in graph.get("nodes", [])]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"节点标识“{key}”重复")
    starts = [k for k, n in g.nodes.items() if n["type"] == "start"]
    if len(starts) != 1:
        problems.append(f"流程必须有且只有一个开始节点（现有{len(starts)}个）")
    if not any(n["type"] == "end" for n in g.nodes.values()):
        problems.append("流程至少需要一个结束节点")
    _check_edges(g, problems)
    _check_fields(g, problems)
    for key, node in g.nodes.items():
        _check_node(g, key, node, problems)
    dangling = any(e["from"] not in g.nodes or e["to"] not in g.nodes for e in g.edges)
    if len(starts) == 1 and not dangling:
        reachable = g.reachable_from(starts[0])
        for key in g.nodes:
            if key not in reachable:
                problems.append(f"节点“{g.nodes[key]['name']}”（{key}）从开始节点无法到达")
        ends = g.can_reach_end()
        for key in g.nodes:
            if key in reachable and key not in ends:
                problems.append(f"从节点“{g.nodes[key]['name']}”（{key}）出发无法到达结束节点")
        _check_splits(g, problems)
    return problems


def _check_edges(g: Graph, problems: list[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for edge in g.edges:
        label = f"连线 {edge['from']} → {edge['to']}"
        for end in ("from", "to"):
            if edge[end] not in g.nodes:
                problems.append(f"{label} 引用了不存在的节点“{edge[end]}”")
        if (edge["from"], edge["to"]) in seen:
            problems.append(f"{label} 重复")
        seen.add((edge["from"], edge["to"]))
        if edge["from"] == edge["to"]:
            problems.append(f"{label} 指向自身")
        source = g.nodes.get(edge["from"])
        if source and source["type"] != "gateway" and (edge["condition"] or edge["default"]):
            problems.append(f"{label}：只有条件分支节点的连线可以设置条件或默认")


def _check_fields(g: Graph, problems: list[str]) -> None:
    keys = [f["key"] for f in g.data.get("form", [])]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"表单字段“{key}”重复")
    for edge in g.edges:
        if not edge["condition"]:
            continue
        try:
            used = expressions.fields_used(expressions.parse(edge["condition"]))
        except expressions.ExpressionError:
            continue  # already reported while normalising
        for name in sorted(used - set(g.fields)):
            problems.append(f"连线 {edge['from']} → {edge['to']} "
                            f"的条件使用了未定义的表单字段“{name}”")


def _check_node(g: Graph, key: str, node: dict[str, Any], problems: list[str]) -> None:
    out, inc = len(g.outgoing.get(key, [])), len(g.incoming.get(key, []))
    name = f"节点“{node['name']}”（{key}）"
    kind = node["type"]
    if kind == "start" and (inc or out != 1):
        problems.append(f"{name}：开始节点不能有进入的连线，且只能有一条出去的连线")
    elif kind == "end" and out:
        problems.append(f"{name}：结束节点不能有出去的连线")
    elif kind in {"task", "circulate", "system", "subflow", "join"} and out != 1:
        problems.append(f"{name}：应有且只有一条出去的连线（分支请用条件分支或并行分支节点）")
    elif kind == "split" and out < 2:
        problems.append(f"{name}：并行分支至少要有两条出去的连线")
    elif kind == "gateway":
        _check_gateway(g, key, name, problems)
    if kind == "join" and inc < 2:
        problems.append(f"{name}：并行汇聚至少要有两条进入的连线")
    if kind in {"task", "circulate"}:
        rule = node.get("handlers", {})
        if rule.get("kind") == "form_field" and rule.get("field") not in g.fields:
            problems.append(f"{name}的处理人取自表单字段“{rule.get('field')}”，但表单中没有该字段")
        opinion = node.get("opinion_field")
        if opinion and opinion not in g.fields:
            problems.append(f"{name}的意见写入字段“{opinion}”，但表单中没有该字段")
        for field in node.get("editable", []):
            if field not in g.fields:
                problems.append(f"{name}可修改的字段“{field}”在表单中不存在")
    if kind == "task" and node.get("mode") == "sequential" and node.get("completion") != "all":
        problems.append(f"{name}：依次审批只能使用“全部同意”完成规则")


def _check_gateway(g: Graph, key: str, name: str, problems: list[str]) -> None:
    edges = g.outgoing.get(key, [])
    if len(edges) < 2:
        problems.append(f"{name}：条件分支至少要有两条出去的连线")
    defaults = [e for e in edges if e["default"]]
    if len(defaults) > 1:
        problems.append(f"{name}：条件分支只能有一条默认连线")
    for edge in edges:
        if not edge["default"] and not edge["condition"]:
            problems.append(f"{name}：连线 {edge['from']} → {edge['to']} 既没有条件也不是默认连线")
        if edge["default"] and edge["condition"]:
            problems.append(f"{name}：默认连线 {edge['from']} → {edge['to']} 不应再设置条件")


def _check_splits(g: Graph, problems: list[str]) -> None:
    matched: dict[str, str] = {}
    for key, node in g.nodes.items():
        if node["type"] != "split":
            continue
        join = g.matching_join(key)
        if join is None:
            problems.append(f"并行分支“{node['name']}”（{key}）的各条分支没有汇聚到同一个并行汇聚节点")
            continue
        if len(g.incoming.get(join, [])) != len(g.outgoing.get(key, [])):
            problems.append(f"并行分支“{node['name']}”（{key}）有{len(g.outgoing[key])}条分支，"
                            f"但汇聚节点“{join}”有{len(g.incoming[join])}条进入的连线")
        if join in matched:
            problems.append(f"汇聚节点“{join}”同时对应多个并行分支（{matched[join]}、{key}）")
        matched[join] = key
    for key, node in g.nodes.items():
        if node["type"] == "join" and key not in matched:
            problems.append(f"汇聚节点“{node['name']}”（{key}）没有对应的并行分支")


def check(raw: Any) -> dict[str, Any]:
    """The normalised graph, or DefinitionError listing every problem."""
    graph, problems = normalise(raw)
    if not problems:
        problems = validate(graph)
    if problems:
        raise DefinitionError(problems)
    return graph


# ---- YAML -----------------------------------------------------------------------------------
def to_yaml(graph: dict[str, Any]) -> str:
    return yaml.safe_dump(graph, allow_unicode=True, sort_keys=False, default_flow_style=False)


def from_yaml(text: str | bytes) -> dict[str, Any]:
    """Parse and check a YAML definition; DefinitionError with every problem found."""
    if isinstance(text, bytes):
        if len(text) > YAML_MAX_BYTES:
            raise DefinitionError([f"文件过大（最多{YAML_MAX_BYTES // 1024} KB）"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DefinitionError(["文件不是 UTF-8 编码的文本"]) from None
    if len(text) > YAML_MAX_BYTES:
        raise DefinitionError([f"文件过大（最多{YAML_MAX_BYTES // 1024} KB）"])
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else ""
        raise DefinitionError([f"YAML 格式错误{where}：{getattr(exc, 'problem', '') or exc}"]) \
            from None
    return check(raw)


EXAMPLE_YAML = """\
code: leave
name: 请假审批
form:
  - {key: days, label: 天数, type: number, required: true}
  - {key: leader_opinion, label: 领导意见, type: textarea}
nodes:
  - {key: start, type: start, name: 申请}
  - key: leader
    type: task
    name: 部门领导审批
    handlers: {kind: initiator_leader}
    opinion_field: leader_opinion
    deadline_hours: {特急: 4, 加急: 24, 普通: 72}
  - {key: long, type: gateway, name: 是否超过三天}
  - key: chief
    type: task
    name: 局领导审批
    handlers: {kind: role, role: chief}
  - {key: end, type: end, name: 结束}
edges:
  - {from: start, to: leader}
  - {from: leader, to: long}
  - {from: long, to: chief, condition: "days > 3"}
  - {from: long, to: end, default: true}
  - {from: chief, to: end}
"""
