"""Definitions: the condition language, the validator's messages, YAML round trip, versions."""

from __future__ import annotations

import pytest

from app.core.context import SYSTEM_CONTEXT
from app.core.errors import Conflict, ValidationError
from app.core.features import Scope
from app.workflow import definition as defn
from app.workflow import design, engine, expressions
from app.workflow.models import Definition
from tests.workflow import flows
from tests.workflow.conftest import ctx_of, install, start, the_task, tx

DESIGNER = {"workflow.design": Scope.ALL}


@pytest.mark.parametrize(("condition", "data", "expected"), [
    ("密级 in ['机密', '绝密']", {"密级": "机密"}, True),
    ("密级 not in ['机密', '绝密']", {"密级": "机密"}, False),
    ("amount >= 10000 and kind == '请示'", {"amount": "12000", "kind": "请示"}, True),
    ("amount >= 10000 and kind == '请示'", {"amount": 9000, "kind": "请示"}, False),
    ("not (a == 1 or b == 2)", {"a": 1}, False),
    ("normative == true", {"normative": "on"}, True),
    ("normative", {}, False),
    ("amount > 5", {}, False),
    ("kinds in ['函']", {"kinds": ["通知", "函"]}, True),
])
def test_conditions_are_evaluated_without_eval(condition, data, expected) -> None:
    assert expressions.check(condition, data) is expected


@pytest.mark.parametrize(("condition", "message"), [
    ("__import__('os').system('x')", "无法识别"),
    ("amount >", "不完整"),
    ("'a' == amount", "左边应为字段名"),
    ("kind in '函'", "列表"),
    ("(a == 1", "括号"),
    ("a == 1 b", "多出"),
])
def test_bad_conditions_get_chinese_messages(condition, message) -> None:
    with pytest.raises(expressions.ExpressionError, match=message):
        expressions.parse(condition)


def _problems(yaml_text: str) -> list[str]:
    with pytest.raises(defn.DefinitionError) as info:
        defn.from_yaml(yaml_text)
    return info.value.problems


def test_validator_names_every_structural_problem() -> None:
    problems = _problems("""
code: broken
name: 有问题的流程
nodes:
  - {key: start, type: start}
  - {key: start2, type: start}
  - {key: a, type: task, name: 甲, handlers: {kind: user, users: [1]}}
  - {key: island, type: task, name: 孤岛, handlers: {kind: role, role: x}}
  - {key: loop, type: task, name: 死循环, handlers: {kind: role, role: x}}
  - {key: end, type: end}
edges:
  - {from: start, to: a}
  - {from: start2, to: loop}
  - {from: a, to: end}
  - {from: loop, to: loop}
""")
    text = "\n".join(problems)
    assert "必须有且只有一个开始节点（现有2个）" in text
    assert "指向自身" in text


def test_unreachable_and_dead_end_nodes() -> None:
    problems = _problems("""
code: deadend
name: 到不了结束
nodes:
  - {key: start, type: start}
  - {key: gw, type: gateway, name: 分支}
  - {key: a, type: task, name: 甲, handlers: {kind: user, users: [1]}}
  - {key: b, type: task, name: 乙, handlers: {kind: user, users: [1]}}
  - {key: c, type: task, name: 丙, handlers: {kind: user, users: [1]}}
  - {key: end, type: end}
edges:
  - {from: start, to: gw}
  - {from: gw, to: a, condition: "x == 1"}
  - {from: gw, to: b, default: true}
  - {from: a, to: end}
  - {from: b, to: gw}
  - {from: c, to: end}
form:
  - {key: x, label: X, type: number}
""")
    assert any("“丙”（c）从开始节点无法到达" in p for p in problems)
    assert not any("无法到达结束节点" in p for p in problems)  # b loops back but gw can end


def test_gateway_and_split_join_rules() -> None:
    problems = _problems("""
code: gateways
name: 分支规则
nodes:
  - {key: start, type: start}
  - {key: gw, type: gateway, name: 条件}
  - {key: split, type: split, name: 并行}
  - {key: a, type: task, name: 甲, handlers: {kind: user, users: [1]}}
  - {key: b, type: task, name: 乙, handlers: {kind: user, users: [1]}}
  - {key: join, type: join, name: 汇聚}
  - {key: end, type: end}
edges:
  - {from: start, to: gw}
  - {from: gw, to: split, condition: "missing == 1"}
  - {from: gw, to: end}
  - {from: split, to: a}
  - {from: split, to: b}
  - {from: a, to: join}
  - {from: b, to: end}
  - {from: join, to: end}
""")
    text = "\n".join(problems)
    assert "既没有条件也不是默认连线" in text
    assert "未定义的表单字段“missing”" in text
    assert "没有汇聚到同一个并行汇聚节点" in text
    assert "并行汇聚至少要有两条进入的连线" in text


def test_handler_rules_and_fields_are_checked() -> None:
    problems = _problems("""
code: handlers
name: 处理人
form:
  - {key: kind, label: 种类, type: select}
nodes:
  - {key: start, type: start}
  - {key: a, type: task, name: 甲, handlers: {kind: nobody}}
  - {key: b, type: task, name: 乙, handlers: {kind: user, users: []}}
  - {key: c, type: task, name: 丙, handlers: {kind: form_field, field: who}, opinion_field: nope}
  - {key: d, type: system, name: 编号}
  - {key: end, type: end}
edges: [{from: start, to: a}, {from: a, to: b}, {from: b, to: c}, {from: c, to: d},
        {from: d, to: end}]
""")
    text = "\n".join(problems)
    assert "处理人类型“nobody”无效" in text
    assert "没有给出人员编号" in text
    assert "至少需要一个选项" in text
    assert "系统节点，需要给出动作名" in text


def test_yaml_errors_are_located() -> None:
    problems = _problems("code: x\nnodes: [\n  - a")
    assert problems[0].startswith("YAML 格式错误第")
    assert _problems("- just\n- a list") == ["流程定义应为键值对（code、name、nodes、edges…）"]
    assert "!!python" not in str(_problems("code: !!python/object/apply:os.system ['id']\n"))


def test_yaml_round_trip(db) -> None:
    graph = defn.from_yaml(flows.BRANCHING.replace("LEGAL", "1").replace("LEFT", "1")
                           .replace("RIGHT", "1").replace("READER", "1"))
    again = defn.from_yaml(defn.to_yaml(graph))
    assert again == graph
    assert "法规部门审核" in defn.to_yaml(graph)


def test_designer_import_publish_and_versions(bureau) -> None:
    ctx = ctx_of(bureau.a, DESIGNER)
    draft = tx(design.import_yaml, ctx, flows.SIMPLE)
    assert draft["status"] == "draft" and draft["version"] == 1
    with pytest.raises(ValidationError, match="导入失败"):
        tx(design.import_yaml, ctx, "code: simple\nname: 坏\nnodes: []\n")
    published = tx(design.publish, ctx, draft["id"])
    assert published["status"] == "published"
    with pytest.raises(Conflict):
        tx(design.save_draft, ctx, draft["graph"], draft["id"])
    # the database itself refuses to change a published version
    with pytest.raises(Exception, match="immutable"):
        tx(lambda: Definition.update(name="改").where(Definition.id == draft["id"]).execute())
    second = tx(design.new_version, ctx, draft["id"])
    assert second["version"] == 2 and second["status"] == "draft"
    with pytest.raises(ValidationError):
        tx(design.publish, ctx, tx(design.save_draft, ctx, {**second["graph"], "edges": []},
                                   second["id"])["id"])


def test_running_instances_stay_on_their_version(bureau) -> None:
    install(flows.SIMPLE)
    first = start(bureau, "simple", form={"signers": [bureau.a.id]})
    chief = bureau.chief.id
    v2 = flows.SIMPLE.replace("name: 签发, handlers: {kind: form_field, field: signers}",
                              f"name: 局长签发, handlers: {{kind: user, users: [{chief}]}}")
    install(v2)
    second = start(bureau, "simple", form={"signers": [bureau.a.id]})
    for iid in (first, second):
        tx(engine.approve, bureau.ctx("leader"), the_task(iid, bureau.leader), "同意")
    assert the_task(first, bureau.a)  # version 1: the signer from the form
    assert the_task(second, bureau.chief)  # version 2: the chief
    assert tx(lambda: [Definition.get_by_id(engine.Instance.get_by_id(i).definition_id).version
                       for i in (first, second)]) == [1, 2]


def test_designer_needs_the_system_permission(bureau) -> None:
    from app.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        tx(design.list_flows, ctx_of(bureau.a))
    assert tx(design.list_flows, ctx_of(bureau.a, DESIGNER)) == []
    assert SYSTEM_CONTEXT.user_id is None
