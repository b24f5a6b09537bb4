"""The todo centre through the real login: pages, API, badge, visibility."""

from __future__ import annotations

from app.workflow import engine
from app.workflow.models import Instance
from tests.support.accounts import login
from tests.workflow import flows
from tests.workflow.conftest import install, start, the_task, tx


def test_todo_pages_task_page_and_api(client, bureau, live_server) -> None:
    install(flows.SIMPLE)
    urgent = start(bureau, "simple", urgency=2, title="特急请示", form={"signers": [bureau.a.id]})
    start(bureau, "simple", title="普通请示", form={"signers": [bureau.a.id]})
    login(client, "leader")
    page = client.get("/todo")
    assert page.status_code == 200
    assert page.text.index("特急请示") < page.text.index("普通请示")
    assert 'id="todo-count">2<' in page.text
    assert 'data-badge-counted>待办<span class="badge danger nav-badge">2</span>' in page.text
    count = client.get("/api/todo/count").json()["count"]
    listed = client.get("/api/todo").json()
    assert count == len(listed["items"]) == 2
    task = the_task(urgent, bureau.leader)
    task_page = client.get(f"/workflow/tasks/{task}")
    assert task_page.status_code == 200 and "同意" in task_page.text
    svg = client.get(f"/workflow/instances/{urgent}/diagram.svg")
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and "部门审核" in svg.text
    done = client.post(f"/workflow/tasks/{task}/approve", data={"comment": "同意上报"})
    assert done.status_code == 302 and done.headers["Location"] == "/todo?done=approve"
    assert client.get("/api/todo/count").json()["count"] == 1
    done_page = client.get("/todo/done").text
    assert "特急请示" in done_page
    assert 'data-badge-counted>待办<span class="badge danger nav-badge">1</span>' in done_page
    again = client.post(f"/api/workflow/tasks/{task}/approve", json={"comment": "再次"})
    assert again.status_code == 409
    for path in ("/todo/mine", "/todo/circulate", "/workflow/delegations", "/workflow/phrases"):
        assert client.get(path).status_code == 200, path

    outsider = live_server.client()
    login(outsider, "outsider")
    assert outsider.get(f"/workflow/instances/{urgent}").status_code == 403
    assert outsider.get(f"/api/workflow/instances/{urgent}").status_code == 403
    assert outsider.get("/workflow/instances/999999").status_code == 404
    assert outsider.post(f"/api/workflow/tasks/{the_task(urgent, bureau.a)}/approve",
                         json={}).status_code == 403
    assert outsider.get("/workflow/design").status_code == 403
    urgent_instance = tx(Instance.get_by_id, urgent)
    assert tx(engine.is_participant, bureau.outsider.id, urgent_instance) is False


def test_mine_and_portal_widgets(client, bureau) -> None:
    install(flows.SIMPLE)
    start(bureau, "simple", title="我的请示", form={"signers": [bureau.a.id]})
    login(client, "drafter")
    assert "我的请示" in client.get("/todo/mine").text
    desktop = client.get("/")
    assert desktop.status_code == 200
    assert 'data-widget="my_approvals"' in desktop.text and "我的请示" in desktop.text
