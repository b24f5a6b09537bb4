"""BaseModel.save and create: the INSERT or UPDATE text is made once per model and set of
columns and run prepared, and writes exactly what peewee's own save writes."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from app.core.db import database, run_in_transaction
from app.workflow.models import Definition, Instance, NodeRun
from tests.support.accounts import make_user

MOMENT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def _instance(initiator_id: int) -> Instance:
    flow = Definition.create(code="leave", name="请假", version=1, graph={"nodes": []},
                             created_at=MOMENT, updated_at=MOMENT)
    return Instance.create(definition=flow, flow_code="leave", title="请假",
                           initiator_id=initiator_id, started_at=MOMENT, updated_at=MOMENT)


def _stored(run_id: int) -> tuple:
    return database.execute_sql(
        "SELECT instance_id, node_key, node_type, status, prev_node, source_task_id, handlers,"
        " arrivals, entered_at, left_at FROM wf_node_run WHERE id = %s", (run_id,)).fetchone()


def _prepared_writes() -> list[str]:
    return [r[0] for r in database.execute_sql(
        "SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'PREPARE%%wf_node_run%%'"
    ).fetchall()]


def _write_both_ways(initiator: int) -> tuple[tuple, tuple, list[str]]:
    """The same rows written by BaseModel.save and by peewee's own Model.save, then changed."""
    values = {"instance_id": _instance(initiator).id, "node_key": "审核", "node_type": "task",
              "handlers": [3, 4], "arrivals": {"甲": 1}, "entered_at": MOMENT}
    ours = NodeRun.create(**values)
    theirs = NodeRun(**values)
    pw.Model.save(theirs, force_insert=True)
    for row, save in ((ours, NodeRun.save), (theirs, pw.Model.save)):
        row.status, row.left_at, row.handlers = "done", MOMENT, []
        assert save(row) == 1
        assert not row.dirty_fields
    again = NodeRun.create(**values)  # the same statement, run with new values
    assert again.id not in (None, ours.id)
    return _stored(ours.id), _stored(theirs.id), _prepared_writes()


def test_created_and_updated_rows_are_those_peewee_writes(db) -> None:
    initiator = make_user("zhangsan").id
    ours, theirs, prepared = run_in_transaction(_write_both_ways, initiator)
    assert ours == theirs
    assert ours[3:8] == ("done", None, None, [], {"甲": 1})
    assert len([p for p in prepared if " INSERT " in p]) == 1
    assert len([p for p in prepared if " UPDATE " in p]) == 1


def test_an_update_of_a_row_that_is_not_there_writes_nothing(db) -> None:
    def missing() -> int:
        return NodeRun(id=10**12, instance_id=1, node_key="a", node_type="task",
                       entered_at=MOMENT).save()

    assert run_in_transaction(missing) == 0


def test_what_the_compiled_write_does_not_cover_goes_to_peewee(db) -> None:
    initiator = make_user("zhangsan").id

    def expression_and_subset() -> tuple[int, str, str]:
        flow = _instance(initiator).definition
        flow.version = Definition.version + 1  # an SQL expression, not a value
        flow.save()
        flow.name, flow.status = "请假审批", "published"
        flow.save(only=[Definition.name])
        stored = Definition.get_by_id(flow.id)
        return stored.version, stored.name, stored.status

    assert run_in_transaction(expression_and_subset) == (2, "请假审批", "draft")
