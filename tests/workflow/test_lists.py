"""The lists' page and total come from one query (a window count); the page past the end still
knows the total, and the flow graphs of a page of instances are loaded together and cached."""

from __future__ import annotations

from app.core.sql import records, with_total
from app.workflow import engine, service
from tests.support.statements import counted_statements
from tests.workflow import flows
from tests.workflow.conftest import install, start, the_task, tx


def test_pages_and_totals(bureau) -> None:
    install(flows.SIMPLE)
    for n in range(service.PAGE_SIZE + 5):
        start(bureau, "simple", title=f"请示{n:02d}", urgency=2 if n < 3 else 0,
              form={"signers": [bureau.a.id]})
    leader = bureau.ctx("leader")
    pages = [tx(service.todo_list, leader, {"page": p}) for p in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [service.PAGE_SIZE, 5, 0]
    assert [p["total"] for p in pages] == [service.PAGE_SIZE + 5] * 3
    assert [p["pages"] for p in pages] == [2, 2, 2]
    assert pages[0]["count"] == service.PAGE_SIZE + 5  # the badge, unfiltered
    urgent = tx(service.todo_list, leader, {"urgency": "2"})
    assert (urgent["total"], len(urgent["items"])) == (3, 3)
    assert urgent["count"] == service.PAGE_SIZE + 5  # the badge ignores the filter
    nothing = tx(service.todo_list, bureau.ctx("outsider"), {})
    assert (nothing["total"], nothing["items"], nothing["pages"]) == (0, [], 1)
    mine = tx(service.mine_list, bureau.ctx("drafter"), {})
    assert mine["total"] == service.PAGE_SIZE + 5
    assert {i["flow_name"] for i in mine["items"]} == {"简单审批"}


def test_compiled_todo_page_and_badge_equal_the_built_queries(bureau) -> None:
    """The unfiltered first 待办 page and the badge run SQL made once (app.core.sql): the same rows,
    order, instance columns and counts as the peewee queries built afresh."""
    install(flows.SIMPLE)
    for n in range(service.PAGE_SIZE + 3):
        start(bureau, "simple", title=f"请示{n:02d}", urgency=n % 3,
              form={"signers": [bureau.a.id]})
    leader = bureau.ctx("leader")

    def built(page: int, size: int = service.PAGE_SIZE) -> list[tuple]:
        query = with_total(service.todo_query(leader.user_id))
        rows = query.order_by(*service._TODO_ORDER).paginate(page, size)
        return [(t.id, t.title, t.urgency, t.total_rows) for t in records(service.ListedTask, rows)]

    # the rows as the driver gives them are what peewee's fields would make of them
    page = with_total(service.todo_query(leader.user_id)).order_by(*service._TODO_ORDER)
    assert tx(lambda: [tuple(t) for t in records(service.ListedTask, page)]) == tx(
        lambda: list(page.tuples()))
    # the list's first page and the portal widget's few rows
    for size, first in service._TODO_FIRST.items():
        compiled = tx(lambda first=first: first.records(service.ListedTask, user=leader.user_id))
        assert [(t.id, t.title, t.urgency, t.total_rows) for t in compiled] == tx(built, 1, size)
        assert len(compiled) == size
    widget = tx(service.widget_todo, leader)
    assert widget["count"] == service.PAGE_SIZE + 3
    assert [i["title"] for i in widget["items"]] == [r[1] for r in tx(built, 1)][
        :service.WIDGET_ROWS]
    for who in ("leader", "outsider", "drafter"):
        ctx = bureau.ctx(who)
        assert tx(service.todo_count, ctx) == tx(lambda c=ctx: service.todo_query(
            c.user_id).count())
    listed = tx(service.todo_list, leader, {})
    assert [i["title"] for i in listed["items"]] == [r[1] for r in tx(built, 1)]


def test_graph_cache_never_serves_another_version(db, bureau) -> None:
    first = install(flows.SIMPLE)
    cached = tx(engine.graph_of, first)
    assert cached.data["name"] == "简单审批" and tx(engine.graph_of, first) is cached
    second = install(flows.SIMPLE.replace("name: 简单审批", "name: 简单审批（修订）"))
    graphs = tx(engine.graphs_of, [first, second])
    assert graphs[first] is cached and graphs[second].data["name"] == "简单审批（修订）"
    # a database where the same id now holds another published version (emptied between
    # tests, a restored copy): the cache key (code, version, published_at) no longer matches.
    # Emptied tables lose their generation stamps too (triggers off), so the heads are read
    # again; a restored copy brings the stamp its own content was written under.
    conn = db.superuser()
    try:
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # past the immutability guard
            cur.execute("UPDATE wf_definition SET graph = (SELECT graph FROM wf_definition "
                        "WHERE id = %s), published_at = now() WHERE id = %s", (second, first))
            cur.execute("DELETE FROM cache_generation WHERE topic = 'workflow'")
    finally:
        conn.close()
    assert tx(engine.graph_of, first).data["name"] == "简单审批（修订）"


def test_flow_heads_are_kept_until_a_flow_is_designed_or_published(db, bureau) -> None:
    first = install(flows.SIMPLE)
    kept = tx(engine.heads)
    assert tx(engine.heads) is kept and kept[first].status == "published"
    assert {"code": kept[first].code, "name": "简单审批"} in tx(service.published_flows)
    second = install(flows.SIMPLE.replace("name: 简单审批", "name: 简单审批（修订）"))
    fresh = tx(engine.heads)
    assert fresh is not kept and fresh[second].version == kept[first].version + 1
    assert "简单审批（修订）" in {f["name"] for f in tx(service.published_flows)}


def test_list_rows_carry_the_names_they_show(bureau) -> None:
    """The initiator's and the delegator's names come with the rows: no statement of its own
    reads users' names for a list page (the unfiltered page, a filtered page, 已办)."""
    install(flows.SIMPLE)
    iid = start(bureau, "simple", title="请示用车", form={"signers": [bureau.a.id]})
    leader = bureau.ctx("leader")
    with counted_statements() as statements:
        pages = [tx(service.todo_list, leader, {}), tx(service.todo_list, leader, {"q": "用车"})]
    assert [[i["initiator"] for i in p["items"]] for p in pages] == [["拟稿人"], ["拟稿人"]]
    assert [[i["delegated_from"] for i in p["items"]] for p in pages] == [[""], [""]]
    tx(engine.approve, leader, the_task(iid, bureau.leader), "同意")
    with counted_statements() as more:
        done = tx(service.done_list, leader, {})
    assert [(i["title"], i["initiator"]) for i in done["items"]] == [("请示用车", "拟稿人")]
    reading_names = [s for s in statements + more
                     if "app_user" in str(s) and "wf_task" not in str(s)]
    assert reading_names == []
