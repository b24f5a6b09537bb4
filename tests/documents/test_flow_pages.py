"""The flow's pages: submitting from the draft page (validator messages next to fields), the
todo centre showing 公文, 签收 of a 收文, the archive browser and its package export."""

from __future__ import annotations

import re

from app.documents import flow
from app.documents.models import IncomingDocument
from tests.documents.conftest import draft_values
from tests.documents.flow_support import approve, tx
from tests.support.accounts import ctx_for, login


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="error" id="error-([a-z_]+)">([^<]*)</div>', html))


def _values(fb, **changes) -> dict:
    return draft_values(title="关于增配刑侦技术装备的请示", doc_type="请示", urgency="特急",
                        main_to="市局指挥中心", main_to_copies="1", cc="", cc_copies="0",
                        main_to_dept_ids=[str(fb.command.id)], **changes)


def test_submit_from_the_draft_page_and_act_in_the_todo_centre(client, fb):
    login(client, "drafter")
    created = client.post("/documents/new", data=_values(fb))
    url = created.headers["Location"].split("?")[0]
    doc_id = int(url.rsplit("/", 1)[1])
    page = client.get(url)
    assert 'id="submit-doc"' in page.text
    from app.documents.models import OutgoingDocument

    submitted = client.post(url + "/submit", data={"comment": "请审核。"})
    assert submitted.status_code == 302, submitted.text[:500]
    view = client.get(url)
    assert "流转中" in view.text and "部门审核" in view.text and 'id="submit-doc"' not in view.text

    login(client, "crimelead")
    assert client.get("/api/todo/count").json()["count"] == 1
    todo = client.get("/todo")
    serial = tx(lambda: OutgoingDocument.get_by_id(doc_id).serial_no)
    assert serial in todo.text and "特急" in todo.text
    task_url = re.search(r'href="(/workflow/tasks/\d+)"', todo.text).group(1)
    task = client.get(task_url)
    assert f'href="/documents/{doc_id}"' in task.text
    assert client.get(url).status_code == 200  # a participant may read the 公文
    done = client.post(task_url + "/approve", data={"comment": "同意上报。"})
    assert done.status_code == 302
    assert client.get("/api/todo/count").json()["count"] == 0
    assert "郑支队长" in client.get(url).text and "同意上报。" in client.get(url).text

    login(client, "outsider")
    assert client.get(url).status_code == 403


def test_submit_refused_with_messages_next_to_fields(client, fb):
    login(client, "drafter")
    created = client.post("/documents/new", data=_values(fb))
    url = created.headers["Location"].split("?")[0]
    doc_id = int(url.rsplit("/", 1)[1])
    from app.documents.models import OutgoingDocument

    # made invalid behind the form's back (e.g. an older draft): a 请示 to two organs
    tx(lambda: OutgoingDocument.update(main_to="市局指挥中心、市局办公室").where(
        OutgoingDocument.id == doc_id).execute())
    refused = client.post(url + "/submit", data={})
    assert refused.status_code == 400
    assert _errors(refused.text)["main_to"].startswith("请示应当一文一事")
    assert tx(lambda: OutgoingDocument.get_by_id(doc_id).status) == "draft"


def test_incoming_start_and_archive_browser(client, fb):
    ctx = ctx_for(fb.drafter)
    from app.documents import service

    doc_id = tx(service.create_draft, ctx, _values(fb, countersign_dept_ids=[]))["id"]
    iid = tx(flow.submit, ctx, doc_id, "")["instance_id"]
    for person in (fb.crime_leader, fb.office_leader, fb.chief, fb.seal_keeper):
        approve(iid, person)
    copy = tx(lambda: IncomingDocument.get(IncomingDocument.source_document == doc_id))

    login(client, "cmdclerk")
    page = client.get(f"/documents/incoming/{copy.id}")
    assert 'id="start-incoming"' in page.text and "签收并办理" in page.text
    started = client.post(f"/documents/incoming/{copy.id}/start", data={"comment": "已签收"})
    assert started.status_code == 302
    page = client.get(f"/documents/incoming/{copy.id}")
    assert "登记" in page.text and 'id="my-task"' in page.text
    rid = tx(lambda: IncomingDocument.get_by_id(copy.id).workflow_instance_id)
    approve(rid, fb.command_clerk)
    approve(rid, fb.command_clerk)
    approve(rid, fb.command_leader)
    approve(rid, fb.chief, "同意。")
    approve(rid, fb.command_leader)
    approve(rid, fb.command_clerk, "办结。")
    page = client.get(f"/documents/incoming/{copy.id}")
    assert 'id="archived"' in page.text

    browser = client.get("/documents/archive", params={"q": "技术装备"})
    assert browser.status_code == 200
    assert browser.text.count("<tr>") - 1 == 2  # the 发文 (visible as recipient) and the 收文
    only_incoming = client.get("/documents/archive", params={"doc_type": "请示",
                                                             "retention": "D30"})
    assert "X001-WS" in only_incoming.text
    assert client.get("/documents/archive", params={"retention": "X"}).status_code == 400
    package = re.search(r'href="(/documents/archive/\d+/package\.zip)"', browser.text).group(1)
    zipped = client.get(package)
    assert zipped.status_code == 200 and zipped.content[:2] == b"PK"

    login(client, "outsider")
    assert "没有符合条件的档案" in client.get("/documents/archive").text
    assert client.get(package).status_code == 403


def test_the_proposer_changes_the_circulation_list_on_the_task_page(client, fb):
    """Editable fields with Chinese keys (传阅人员) posted from the task page form."""
    ctx = ctx_for(fb.drafter)
    from app.documents import service
    from app.workflow.models import Instance

    doc_id = tx(service.create_draft, ctx, _values(fb, countersign_dept_ids=[]))["id"]
    iid = tx(flow.submit, ctx, doc_id, "")["instance_id"]
    for person in (fb.crime_leader, fb.office_leader, fb.chief, fb.seal_keeper):
        approve(iid, person)
    copy = tx(lambda: IncomingDocument.get(IncomingDocument.source_document == doc_id))
    rid = tx(flow.start_incoming, ctx_for(fb.command_clerk), copy.id)["instance_id"]
    approve(rid, fb.command_clerk)
    approve(rid, fb.command_clerk)
    login(client, "cmdlead")
    from tests.documents.flow_support import open_task

    task_url = f"/workflow/tasks/{open_task(rid, fb.command_leader)}"
    assert 'name="form.传阅人员"' in client.get(task_url).text
    done = client.post(task_url + "/approve", data={
        "form.传阅人员": str(fb.command_staff.id), "comment": "拟请局长批示。"})
    assert done.status_code == 302
    form = tx(lambda: Instance.get_by_id(rid).form)
    assert form["传阅人员"] == [fb.command_staff.id]
    assert form["拟办意见"][0]["comment"] == "拟请局长批示。"
