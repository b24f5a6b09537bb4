"""The benchmark's seeding at a tiny scale: the counts it promises, an audit chain the
verifier accepts, and seeded 公文 the real workflow engine and login can carry on with."""

from __future__ import annotations

import psycopg2

from app.audit.service import verify_chain
from app.core.context import Principal, RequestContext
from app.core.db import connect_params, run_in_transaction
from app.org.models import User
from app.workflow import engine
from app.workflow.models import Instance, Task
from bench.seed import BENCH_PASSWORD, FLOW_CODE, USERNAME_PREFIX
from tests.bench.conftest import TINY
from tests.support.audit import chain_audit_trail


def _scalar(url: str, sql: str):
    conn = psycopg2.connect(**connect_params(url))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_seed_writes_the_promised_counts(seeded):
    db, report = seeded
    assert _scalar(db.owner_url, "SELECT count(*) FROM app_user") == TINY.users
    assert report.users_added > 0
    assert _scalar(db.owner_url, "SELECT count(*) FROM wf_instance "
                                 f"WHERE flow_code = '{FLOW_CODE}'") == TINY.instances
    assert _scalar(db.owner_url, "SELECT count(*) FROM outgoing_document "
                                 "WHERE workflow_instance_id IS NOT NULL") == TINY.instances
    # every running instance waits on exactly one open task; every finished one has 4 steps
    assert _scalar(db.owner_url, """
        SELECT count(*) FROM wf_instance i WHERE i.status = 'running' AND
               (SELECT count(*) FROM wf_task t WHERE t.instance_id = i.id
                                                 AND t.status = 'open') <> 1""") == 0
    assert _scalar(db.owner_url, """
        SELECT count(*) FROM wf_instance i WHERE i.status = 'finished' AND
               (SELECT count(*) FROM wf_history h WHERE h.instance_id = i.id) <> 4""") == 0
    assert _scalar(db.owner_url, "SELECT count(*) FROM wf_instance WHERE status = 'running'") > 0
    assert _scalar(db.owner_url, "SELECT count(*) FROM audit_event") >= TINY.audit


def test_seeded_audit_chain_verifies_and_the_application_appends_to_it(seeded):
    result = run_in_transaction(verify_chain)
    assert result.ok, result.message
    assert result.checked >= TINY.audit
    task = run_in_transaction(lambda: Task.get((Task.status == "open")
                                               & (Task.node_key == "review")))
    reviewer = run_in_transaction(lambda: User.get_by_id(task.assignee_id))
    ctx = RequestContext(principal=Principal(
        user_id=reviewer.id, username=reviewer.username, name=reviewer.name,
        department_id=reviewer.department_id, session_id="bench", permissions={}),
        ip="127.0.0.1", request_id="bench-test")
    outcome = run_in_transaction(engine.approve, ctx, task.id, "同意")
    assert outcome["current_nodes"] == ["sign"]
    instance = run_in_transaction(lambda: Instance.get_by_id(task.instance_id))
    assert instance.status == "running"
    chain_audit_trail()
    after = run_in_transaction(verify_chain)
    assert after.ok, after.message
    assert after.checked > result.checked


def test_a_seeded_person_signs_in_without_a_captcha(seeded, client):
    db, _ = seeded
    username = _scalar(db.owner_url, f"SELECT min(username) FROM app_user "
                                     f"WHERE username LIKE '{USERNAME_PREFIX}%'")
    page = client.get("/login")
    assert 'name="captcha"' not in page.text
    response = client.post("/login", data={"username": username, "password": BENCH_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
