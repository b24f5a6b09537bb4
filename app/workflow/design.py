"""The flow designer's service: drafts, validation, publishing, YAML import and export.

A flow code has numbered versions. At most one is a draft (editable); publishing it makes it
immutable (a trigger refuses any later change) and the version new instances start on.
Running instances keep the version they started on.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from app.audit.service import record
from app.core.context import RequestContext
from app.core.errors import Conflict, NotFound, ValidationError
from app.workflow import definition as defn
from app.workflow.engine import now
from app.workflow.models import Definition, Instance

DESIGN = "workflow.design"


def _row(definition: Definition) -> dict[str, Any]:
    return {"id": definition.id, "code": definition.code, "name": definition.name,
            "version": definition.version, "status": definition.status,
            "graph": definition.graph, "created_at": definition.created_at,
            "updated_at": definition.updated_at, "published_at": definition.published_at}


def list_flows(ctx: RequestContext) -> list[dict[str, Any]]:
    """Every flow code with its versions, newest first."""
    ctx.require(DESIGN)
    counts = dict(Instance.select(Instance.definition, pw.fn.COUNT(Instance.id))
                  .group_by(Instance.definition).tuples())
    flows: dict[str, dict[str, Any]] = {}
    for row in Definition.select().order_by(Definition.code, Definition.version.desc()):
        flow = flows.setdefault(row.code, {"code": row.code, "name": row.name, "versions": []})
        flow["versions"].append({**_row(row), "instances": counts.get(row.id, 0)})
    record(ctx, "workflow.definition.list", object_type="wf_definition")
    return list(flows.values())


def get_definition(ctx: RequestContext, definition_id: int) -> dict[str, Any]:
    ctx.require(DESIGN)
    found = Definition.get_or_none(Definition.id == definition_id)
    if found is None:
        raise NotFound("流程定义不存在")
    result = _row(found)
    result["problems"] = defn.validate(found.graph)
    result["yaml"] = defn.to_yaml(found.graph)
    record(ctx, "workflow.definition.read", object_type="wf_definition", object_id=found.id)
    return result


def _next_version(code: str) -> int:
    latest = Definition.select(pw.fn.MAX(Definition.version)).where(
        Definition.code == code).scalar()
    return (latest or 0) + 1


def _save(ctx: RequestContext, graph: dict[str, Any], action: str) -> Definition:
    """Store `graph` as the draft of its code: update the draft, or open a new version."""
    code = graph["code"]
    Definition._meta.database.execute_sql("SELECT pg_advisory_xact_lock(7201130, hashtext(%s))",
                                          (code,))
    draft = Definition.get_or_none((Definition.code == code) & (Definition.status == "draft"))
    stamp = now()
    if draft is None:
        draft = Definition.create(code=code, name=graph["name"], version=_next_version(code),
                                  status="draft", graph=graph, created_by=ctx.user_id,
                                  created_at=stamp, updated_at=stamp)
    else:
        draft.name, draft.graph, draft.updated_at = graph["name"], graph, stamp
        draft.save()
    record(ctx, action, object_type="wf_definition", object_id=draft.id,
           details={"code": code, "version": draft.version})
    return draft


def save_draft(ctx: RequestContext, raw: dict[str, Any],
               definition_id: int | None = None) -> dict[str, Any]:
    """Save a draft (structural problems are allowed in a draft; field problems are not)."""
    ctx.require(DESIGN)
    graph, problems = defn.normalise(raw)
    if problems:
        raise ValidationError({"graph": "；".join(problems)}, message=problems[0])
    if definition_id is not None:
        existing = Definition.get_or_none(Definition.id == definition_id)
        if existing is None:
            raise NotFound("流程定义不存在")
        if existing.status != "draft":
            raise Conflict("已发布的版本不能修改，请先创建新版本草稿")
        if existing.code != graph["code"]:
            raise ValidationError({"code": "流程代码不能修改"})
    draft = _save(ctx, graph, "workflow.definition.save")
    return {**_row(draft), "problems": defn.validate(graph)}


def new_version(ctx: RequestContext, definition_id: int) -> dict[str, Any]:
    """A draft copied from a version (the existing draft if there is one)."""
    ctx.require(DESIGN)
    source = Definition.get_or_none(Definition.id == definition_id)
    if source is None:
        raise NotFound("流程定义不存在")
    existing = Definition.get_or_none((Definition.code == source.code)
                                      & (Definition.status == "draft"))
    if existing is not None:
        return _row(existing)
    return _row(_save(ctx, dict(source.graph), "workflow.definition.new_version"))


def publish(ctx: RequestContext, definition_id: int) -> dict[str, Any]:
    ctx.require(DESIGN)
    draft = (Definition.select().where(Definition.id == definition_id).for_update().first())
    if draft is None:
        raise NotFound("流程定义不存在")
    if draft.status != "draft":
        raise Conflict("该版本已经发布")
    problems = defn.validate(draft.graph)
    if problems:
        raise ValidationError({"graph": "；".join(problems)},
                              message="流程定义未通过校验，不能发布：" + problems[0])
    draft.status, draft.published_at, draft.published_by = "published", now(), ctx.user_id
    draft.save()
    record(ctx, "workflow.definition.publish", object_type="wf_definition", object_id=draft.id,
           details={"code": draft.code, "version": draft.version})
    return _row(draft)


def export_yaml(ctx: RequestContext, definition_id: int) -> tuple[str, str]:
    ctx.require(DESIGN)
    found = Definition.get_or_none(Definition.id == definition_id)
    if found is None:
        raise NotFound("流程定义不存在")
    record(ctx, "workflow.definition.export", object_type="wf_definition", object_id=found.id)
    return f"{found.code}-v{found.version}.yaml", defn.to_yaml(found.graph)


def import_yaml(ctx: RequestContext, text: str | bytes) -> dict[str, Any]:
    """A checked YAML definition becomes the draft of its code; every problem is listed."""
    ctx.require(DESIGN)
    try:
        graph = defn.from_yaml(text)
    except defn.DefinitionError as exc:
        raise ValidationError({"file": "；".join(exc.problems)},
                              message="导入失败：" + "；".join(exc.problems)) from None
    return _row(_save(ctx, graph, "workflow.definition.import"))


def install(graph_yaml: str, ctx: RequestContext) -> Definition:
    """Ship a flow (a feature's default definition): publish it unless an identical published
    version exists. Blocking, in a transaction; for demo data and feature set-up."""
    graph = defn.from_yaml(graph_yaml)
    latest = (Definition.select().where((Definition.code == graph["code"])
                                        & (Definition.status == "published"))
              .order_by(Definition.version.desc()).first())
    if latest is not None and latest.graph == graph:
        return latest
    draft = _save(ctx, graph, "workflow.definition.install")
    draft.status, draft.published_at = "published", now()
    draft.save()
    return draft
