"""Flow definitions used by the workflow tests (YAML, as administrators import them)."""

SIMPLE = """
code: simple
name: 简单审批
form:
  - {key: opinion, label: 审核意见, type: textarea}
  - {key: amount, label: 金额, type: number}
  - {key: signers, label: 签发人, type: users}
nodes:
  - {key: start, type: start, name: 拟稿}
  - key: review
    type: task
    name: 部门审核
    handlers: {kind: initiator_leader}
    opinion_field: opinion
    deadline_hours: {特急: 2, 加急: 8, 普通: 48}
  - {key: sign, type: task, name: 签发, handlers: {kind: form_field, field: signers}}
  - {key: end, type: end, name: 结束}
edges:
  - {from: start, to: review}
  - {from: review, to: sign}
  - {from: sign, to: end}
"""


def cosign(users: str, completion: str = "all", veto: bool = False, ratio: float = 0,
           mode: str = "parallel", on_reject: str = "return") -> str:
    return f"""
code: cosign
name: 会签
form:
  - {{key: opinions, label: 会签意见, type: textarea}}
nodes:
  - {{key: start, type: start, name: 拟稿}}
  - {{key: check, type: task, name: 核稿, handlers: {{kind: initiator_leader}}}}
  - key: sign
    type: task
    name: 会签
    handlers: {{kind: user, users: [{users}]}}
    mode: {mode}
    completion: {completion}
    ratio: {ratio or 1}
    veto: {str(veto).lower()}
    on_reject: {on_reject}
    opinion_field: opinions
  - {{key: end, type: end, name: 结束}}
edges:
  - {{from: start, to: check}}
  - {{from: check, to: sign}}
  - {{from: sign, to: end}}
"""


BRANCHING = """
code: branching
name: 条件与并行
form:
  - {key: 密级, label: 密级, type: select, options: [非密, 秘密, 机密, 绝密]}
  - {key: normative, label: 自定规范性文件, type: boolean}
nodes:
  - {key: start, type: start, name: 拟稿}
  - {key: gw, type: gateway, name: 是否需法制审核}
  - {key: legal, type: task, name: 法规部门审核, handlers: {kind: department, department: LEGAL}}
  - {key: split, type: split, name: 并行}
  - {key: left, type: task, name: 办公室核稿, handlers: {kind: user, users: [LEFT]}}
  - {key: right, type: task, name: 保密审查, handlers: {kind: user, users: [RIGHT]}}
  - {key: join, type: join, name: 汇聚}
  - {key: number, type: system, name: 编号, action: number}
  - {key: read, type: circulate, name: 传阅, handlers: {kind: user, users: [READER]}}
  - {key: end, type: end, name: 结束}
edges:
  - {from: start, to: gw}
  - {from: gw, to: legal, condition: "normative == true or 密级 in ['机密', '绝密']"}
  - {from: gw, to: split, default: true}
  - {from: legal, to: split}
  - {from: split, to: left}
  - {from: split, to: right}
  - {from: left, to: join}
  - {from: right, to: join}
  - {from: join, to: number}
  - {from: number, to: read}
  - {from: read, to: end}
"""

PARENT = """
code: parent
name: 主流程
nodes:
  - {key: start, type: start, name: 拟稿}
  - {key: child, type: subflow, name: 子流程, flow: childflow}
  - {key: after, type: task, name: 后续, handlers: {kind: initiator_leader}}
  - {key: end, type: end}
edges:
  - {from: start, to: child}
  - {from: child, to: after}
  - {from: after, to: end}
"""

CHILD = """
code: childflow
name: 子流程
form:
  - {key: result, label: 结果, type: text}
nodes:
  - {key: start, type: start, name: 开始}
  - key: work
    type: task
    name: 子流程办理
    handlers: {kind: user, users: [WORKER]}
    editable: [result]
  - {key: end, type: end}
edges:
  - {from: start, to: work}
  - {from: work, to: end}
"""
