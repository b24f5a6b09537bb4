"""Two people acting on the same task at the same moment: exactly one succeeds."""

from __future__ import annotations

import threading

from app.core.errors import Conflict
from app.workflow import engine
from app.workflow.models import Task
from tests.workflow import flows
from tests.workflow.conftest import install, instance, start, the_task, tx


def _race(*calls) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # collected and asserted below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_approve_and_transfer_of_one_task_at_once(bureau) -> None:
    install(flows.SIMPLE)
    for _ in range(3):
        iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
        task = the_task(iid, bureau.leader)
        ctx = bureau.ctx("leader")
        results = _race(lambda t=task, c=ctx: tx(engine.approve, c, t, "同意"),
                        lambda t=task, c=ctx: tx(engine.transfer, c, t, bureau.b.id, "转"))
        wins = [r for r in results if isinstance(r, dict)]
        losses = [r for r in results if isinstance(r, Conflict)]
        assert len(wins) == 1 and len(losses) == 1, results
        closed = tx(Task.get_by_id, task)
        assert closed.status in {"done", "transferred"}
        open_now = tx(lambda i=iid: Task.select().where((Task.instance_id == i)
                                                        & (Task.status == "open")).count())
        assert open_now == 1


def test_two_cosigners_finishing_together_advance_the_node_once(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}"))
    iid = start(bureau, "cosign")
    tx(engine.approve, bureau.ctx("leader"), the_task(iid, bureau.leader), "同意")
    ta, tb = the_task(iid, bureau.a), the_task(iid, bureau.b)
    results = _race(lambda: tx(engine.approve, bureau.ctx("a"), ta, "同意"),
                    lambda: tx(engine.approve, bureau.ctx("b"), tb, "同意"))
    assert all(isinstance(r, dict) for r in results), results
    assert instance(iid).status == "finished"
    assert len(instance(iid).form["opinions"]) == 2
