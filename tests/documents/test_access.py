"""Who sees a 公文: drafter, the department's leaders, documents admins; clearance first."""

from __future__ import annotations

import datetime as dt

import pytest

from app.audit.models import AuditEvent
from app.core.db import run_in_transaction
from app.core.errors import PermissionDenied
from app.documents import access, service
from app.documents.models import OutgoingDocument
from tests.documents.conftest import draft_values
from tests.documents.helpers import draft, issue
from tests.support.accounts import ctx_for
from tests.support.audit import chain_audit_trail


def _sees(user, doc_id) -> bool:
    try:
        run_in_transaction(service.get_document, ctx_for(user), doc_id)
        return True
    except PermissionDenied:
        return False


def test_visible_to_drafter_leaders_and_admins_only(bureau):
    doc_id = draft(bureau)
    assert _sees(bureau.drafter, doc_id)
    assert _sees(bureau.leader, doc_id)
    assert _sees(bureau.deputy, doc_id)
    assert _sees(bureau.clerk, doc_id)
    assert not _sees(bureau.colleague, doc_id)   # same department, not involved
    assert not _sees(bureau.outsider, doc_id)    # another department
    listed = run_in_transaction(service.list_documents, ctx_for(bureau.outsider))
    assert listed["items"] == []
    assert [d["id"] for d in run_in_transaction(service.list_documents,
                                                ctx_for(bureau.leader))["items"]] == [doc_id]


def test_clearance_must_cover_the_secrecy_even_for_the_drafter(bureau):
    def raise_clearance():
        from app.org.models import User
        User.update(clearance=2).where(User.id == bureau.drafter.id).execute()
    run_in_transaction(raise_clearance)
    doc_id = draft(bureau, secrecy="2", copy_no="000001")
    assert _sees(bureau.drafter, doc_id)
    assert not _sees(bureau.leader, doc_id)          # a leader without 机密 clearance
    assert not _sees(bureau.clerk, doc_id)           # an admin without clearance
    assert _sees(bureau.secret_clerk, doc_id)
    with pytest.raises(PermissionDenied, match="超出您的涉密等级"):
        run_in_transaction(service.get_document, ctx_for(bureau.leader), doc_id)
    # a flow participant (added by a rule) is still refused without clearance
    rules = list(access._rules)
    access.add_rule(lambda ctx, kind: (OutgoingDocument.id.is_null(False)
                                       if ctx.principal.user_id == bureau.outsider.id else None))
    try:
        assert not _sees(bureau.outsider, doc_id)
        plain = draft(bureau)
        assert _sees(bureau.outsider, plain)
    finally:
        access._rules[:] = rules


def test_every_read_is_audited(bureau):
    doc_id = draft(bureau)
    run_in_transaction(service.get_document, ctx_for(bureau.leader), doc_id)
    chain_audit_trail()
    events = run_in_transaction(lambda: list(AuditEvent.select().where(
        AuditEvent.action == "documents.outgoing.view").dicts()))
    assert [(e["actor_username"], e["object_id"]) for e in events] == [("leader", str(doc_id))]


def test_only_drafter_or_admin_edit_and_steps_need_the_flow_or_admin(bureau):
    doc_id = draft(bureau)
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.update_draft, ctx_for(bureau.leader), doc_id,
                           draft_values(title="改标题"))
    run_in_transaction(service.update_draft, ctx_for(bureau.drafter), doc_id,
                       draft_values(title="改标题"))
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.sign, ctx_for(bureau.leader), doc_id)
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.assign_number, ctx_for(bureau.drafter), doc_id)


def test_files_download_only_for_those_who_see_the_document(bureau):
    doc_id = draft(bureau)
    file_id = run_in_transaction(service.get_document, ctx_for(bureau.drafter),
                                 doc_id)["files"][0]["id"]
    assert run_in_transaction(service.download_file, ctx_for(bureau.leader), file_id)["data"]
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.download_file, ctx_for(bureau.outsider), file_id)


def test_incoming_visibility(bureau):
    created = run_in_transaction(service.register_incoming, ctx_for(bureau.clerk), {
        "source_unit": "省公安厅", "title": "来文", "received_on": dt.date.today().isoformat()})
    assert run_in_transaction(service.get_incoming, ctx_for(bureau.leader), created["id"])
    # staff of the department register its 收文 (documents.register_incoming, 本部门)
    assert run_in_transaction(service.get_incoming, ctx_for(bureau.colleague), created["id"])
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.get_incoming, ctx_for(bureau.outsider), created["id"])


def test_distribution_delivers_to_internal_recipients_inboxes(bureau):
    doc_id = draft(bureau, main_to_dept_ids=[bureau.legal.id])
    number = issue(bureau, doc_id)
    result = run_in_transaction(service.distribute, ctx_for(bureau.clerk), doc_id)
    [sent] = result["internal"]
    outsider = ctx_for(bureau.outsider)  # staff of 法制支队: its 收文 clerk
    inbox = run_in_transaction(service.list_incoming, outsider)["items"]
    assert [(i["source_number"], i["status"]) for i in inbox] == [(number, "pending")]
    receipt = run_in_transaction(service.receive, outsider, sent["incoming_id"])
    assert receipt.startswith("X公法收〔")
    view = run_in_transaction(service.get_document, ctx_for(bureau.drafter), doc_id)
    assert view["status"] == "distributed"
    first = view["distribution"][0]
    assert (first["kind"], first["name"]) == ("main", "法制支队")


def test_the_document_page_names_its_departments_people_and_opinions(bureau):
    """What document_view adds to the row: names in the order chosen (departments from the
    kept tree, people by one statement), the opinions, the distribution."""
    doc_id = draft(bureau, main_to_dept_ids=[bureau.legal.id, bureau.office.id],
                   cc_dept_ids=[bureau.office.id],
                   internal_cc_user_ids=[bureau.leader.id, bureau.colleague.id])
    view = run_in_transaction(service.get_document, ctx_for(bureau.drafter), doc_id)
    assert view["main_to_departments"] == [bureau.legal.name, bureau.office.name]
    assert view["cc_departments"] == [bureau.office.name]
    assert view["countersign_departments"] == []
    assert view["internal_cc_users"] == [bureau.leader.name, bureau.colleague.name]
    assert (view["opinions"], view["related"], view["distribution"]) == ([], [], [])
    issue(bureau, doc_id)
    run_in_transaction(service.distribute, ctx_for(bureau.clerk), doc_id)
    view = run_in_transaction(service.get_document, ctx_for(bureau.drafter), doc_id)
    assert [(o["kind"], o["user_name"], o["text"]) for o in view["opinions"]] == [
        ("sign", bureau.leader.name, "同意")]
    assert [(d["kind"], d["name"]) for d in view["distribution"]][:2] == [
        ("main", bureau.legal.name), ("main", bureau.office.name)]
