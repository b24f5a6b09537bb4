"""The default 发文 and 收文 flows end to end, at the service level: every step by the right
person, a 会签 of two departments with one return, numbering, sealing, distribution to the
recipient department's 收文, a 批示, 传阅 read receipts, and automatic archiving."""

from __future__ import annotations

import pytest

from app.core.errors import PermissionDenied
from app.documents import archive, flow, service
from app.documents.models import (
    ArchiveItem,
    Distribution,
    IncomingDocument,
    Opinion,
    OutgoingDocument,
)
from app.workflow import engine
from app.workflow import service as wf_service
from app.workflow.models import Instance, Task
from tests.documents.conftest import docx_bytes, draft_values, pdf_bytes
from tests.documents.flow_support import (
    FlowBureau,
    approve,
    badge_matches_list,
    current,
    open_task,
    tx,
)
from tests.support.accounts import ctx_for
from tests.support.audit import chain_audit_trail


def _draft(fb: FlowBureau, **changes) -> int:
    ctx = ctx_for(fb.drafter)
    changes.setdefault("countersign_dept_ids", [str(fb.command.id), str(fb.info.id)])
    values = draft_values(
        title="关于增配刑侦技术装备的请示", doc_type="请示", urgency="加急",
        main_to="市局指挥中心", main_to_copies="1", cc="", cc_copies="0",
        main_to_dept_ids=[str(fb.command.id)], **changes)
    created = tx(service.create_draft, ctx, values)
    tx(service.upload_file, ctx, created["id"], "body", "正文.docx",
       docx_bytes(["为提升侦查能力，拟增配技术装备。", "妥否，请批示。"]))
    tx(service.upload_file, ctx, created["id"], "attachment", "装备清单.pdf",
       pdf_bytes("装备清单"))
    return created["id"]


def _doc(doc_id: int) -> OutgoingDocument:
    return tx(lambda: OutgoingDocument.get_by_id(doc_id))


def _opinions(doc_id: int) -> list[tuple[str, str, str]]:
    return tx(lambda: [(o.kind, o.user_name, o.text) for o in Opinion.select().where(
        Opinion.document == doc_id).order_by(Opinion.id)])


def test_outgoing_and_incoming_flows_end_to_end(fb):
    doc_id = _draft(fb, is_normative="1", internal_cc="王局长", internal_cc_copies="1",
                    internal_cc_user_ids=[str(fb.chief.id)])
    started = tx(flow.submit, ctx_for(fb.drafter), doc_id, "请审核。")
    iid = started["instance_id"]
    assert _doc(doc_id).status == "in_flow"
    assert current(iid) == ["dept_review"]
    assert badge_matches_list(fb.crime_leader) == 1
    # the todo centre shows the 公文's reference (流水号 before numbering)
    item = tx(wf_service.todo_list, ctx_for(fb.crime_leader), {})["items"][0]
    assert item["business"]["kind"] == "发文"
    assert item["business"]["reference"] == _doc(doc_id).serial_no
    assert item["urgency_title"] == "加急"

    approve(iid, fb.crime_leader, "同意上报。")
    assert current(iid) == ["legal_review"]  # 自定规范性文件: 法规部门审核
    approve(iid, fb.legal_leader, "符合规定。")
    assert current(iid) == ["office_review"]
    approve(iid, fb.office_leader, "核稿无误。")
    assert current(iid) == ["countersign"]
    assert badge_matches_list(fb.command_leader) == 1
    assert badge_matches_list(fb.info_leader) == 1

    # 会签: the first signs, the second returns it; the remaining task is cancelled
    approve(iid, fb.command_leader, "同意。")
    tx(engine.return_task, ctx_for(fb.info_leader), open_task(iid, fb.info_leader),
       "previous", "请补充装备预算。")
    assert current(iid) == ["office_review"]
    assert badge_matches_list(fb.info_leader) == 0
    approve(iid, fb.office_leader, "已补充预算。")
    assert current(iid) == ["countersign"]
    approve(iid, fb.command_leader, "同意。")
    assert current(iid) == ["countersign"]  # all must sign
    approve(iid, fb.info_leader, "同意。")
    assert current(iid) == ["sign"]

    approve(iid, fb.chief, "同意，请办公室编号印发。")
    doc = _doc(doc_id)
    assert doc.signer_name == "王局长" and doc.issued_on is not None
    assert doc.doc_number == f"X公刑发〔{doc.issued_on.year}〕1号"  # 编号 ran as a system node
    sealing = tx(wf_service.todo_list, ctx_for(fb.seal_keeper), {})["items"][0]["business"]
    assert sealing["reference"] == doc.doc_number  # the 文号 from its numbering on
    assert doc.status == "numbered"
    assert current(iid) == ["seal"]
    assert badge_matches_list(fb.seal_keeper) == 1

    approve(iid, fb.seal_keeper, "已用印。")
    doc = _doc(doc_id)
    assert doc.seal_supervisor_name == "周监印"
    assert doc.status == "archived"  # 分发, then the end: archived automatically
    copy = tx(lambda: IncomingDocument.get(IncomingDocument.source_document == doc_id))
    assert copy.department_id == fb.command.id and copy.status == "pending"
    assert copy.source_number == doc.doc_number
    internal = tx(lambda: [(d.user_id, d.recipient_name, d.copies) for d in Distribution.select()
                           .where((Distribution.document == doc_id)
                                  & (Distribution.recipient_kind == "internal"))])
    assert internal == [(fb.chief.id, "王局长", 1)]

    kinds = [k for k, _, _ in _opinions(doc_id)]
    assert kinds == ["drafting", "dept_review", "legal_review", "office_review", "countersign",
                     "countersign", "office_review", "countersign", "countersign", "sign"]
    assert ("countersign", "罗主任", "退回：请补充装备预算。") in _opinions(doc_id)
    countersign_depts = tx(lambda: sorted(o.department_id for o in Opinion.select().where(
        (Opinion.document == doc_id) & (Opinion.kind == "countersign"))))
    assert countersign_depts == sorted([fb.command.id, fb.command.id, fb.info.id, fb.info.id])

    item = tx(lambda: ArchiveItem.get(ArchiveItem.document == doc_id))
    steps = [(h["环节"], h["人员"], h["操作"]) for h in item.metadata["流程记录"]]
    assert ("会签", "罗主任", "回退") in steps and ("签发", "王局长", "同意") in steps
    assert item.retention == "Y"  # a 规范性文件 is kept permanently
    assert badge_matches_list(fb.seal_keeper) == 0

    # 收文: the recipient department signs for it, and the flow runs to its archive
    clerk = ctx_for(fb.command_clerk)
    received = tx(flow.start_incoming, clerk, copy.id, "已签收。")
    rid = received["instance_id"]
    assert received["receipt_no"].startswith("X公指收〔")
    listed = tx(wf_service.todo_list, clerk, {})["items"]
    assert [i["business"] for i in listed if i["instance_id"] == rid] == [
        {"kind": "收文", "reference": received["receipt_no"],
         "url": f"/documents/incoming/{copy.id}"}]
    approve(rid, fb.command_clerk, "已登记。")
    approve(rid, fb.command_clerk, "请主任拟办。")
    assert current(rid) == ["propose"]
    approve(rid, fb.command_leader, "拟请王局长批示。")
    assert current(rid) == ["instruct"]
    approve(rid, fb.chief, "同意增配，请警务保障处落实。")
    assert current(rid) == ["handle"]
    approve(rid, fb.command_leader, "已落实。")
    assert current(rid) == ["finish"]
    readers = tx(lambda: {t.assignee_id: t.id for t in Task.select().where(
        (Task.instance_id == rid) & (Task.kind == "circulate"))})
    assert set(readers) == {fb.command_leader.id, fb.command_deputy.id, fb.command_staff.id}
    tx(engine.mark_read, ctx_for(fb.command_staff), readers[fb.command_staff.id])
    approve(rid, fb.command_clerk, "办结。")
    incoming = tx(lambda: IncomingDocument.get_by_id(copy.id))
    assert incoming.status == "archived"
    filed = tx(lambda: ArchiveItem.get(ArchiveItem.incoming == copy.id))
    history = [(h["环节"], h["人员"], h["操作"], h["意见"]) for h in filed.metadata["流程记录"]]
    assert ("批办", "王局长", "同意", "同意增配，请警务保障处落实。") in history
    assert ("传阅", "宋民警", "已阅", "") in history
    # read receipts stay readable after the flow ended
    tx(engine.mark_read, ctx_for(fb.command_deputy), readers[fb.command_deputy.id])
    view = tx(wf_service.instance_view, clerk, rid)
    read = {r["reader"]: r["read"] for r in view["receipts"]}
    assert read == {"宋民警": True, "高副主任": True, "何主任": False}

    # the archive browser finds both, the package exports
    found = tx(archive.browse, ctx_for(fb.command_clerk), {"q": "技术装备"})
    assert {i["kind"] for i in found["items"]} == {"发文", "收文"}
    body_text = tx(archive.browse, ctx_for(fb.command_clerk), {"q": "提升侦查能力"})
    assert [i["kind"] for i in body_text["items"]] == ["发文"]  # the body's extracted text
    year = doc.issued_on.year
    assert tx(archive.browse, ctx_for(fb.command_clerk),
              {"year": str(year), "retention": "Y", "doc_type": "请示"})["total"] == 2
    by_org = tx(archive.browse, ctx_for(fb.command_clerk), {"org": item.org_code})
    assert [i["kind"] for i in by_org["items"]] == ["发文"]
    assert tx(archive.browse, ctx_for(fb.command_clerk), {"year": str(year - 1)})["total"] == 0
    assert tx(archive.browse, ctx_for(fb.outsider), {})["total"] == 0
    name, data = tx(archive.export_item, ctx_for(fb.command_clerk), filed.id)
    assert name.endswith(".zip") and data[:2] == b"PK"


def test_without_legal_review_or_countersign_the_flow_skips_them(fb):
    doc_id = _draft(fb, countersign_dept_ids=[])
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]
    approve(iid, fb.crime_leader)
    assert current(iid) == ["office_review"]
    approve(iid, fb.office_leader)
    assert current(iid) == ["sign"]


def test_submit_runs_the_validator_and_only_the_drafter_submits(fb):
    doc_id = _draft(fb)
    with pytest.raises(PermissionDenied):
        tx(flow.submit, ctx_for(fb.crime_leader), doc_id, "")
    tx(flow.submit, ctx_for(fb.drafter), doc_id, "")
    from app.core.errors import Conflict

    with pytest.raises(Conflict):
        tx(flow.submit, ctx_for(fb.drafter), doc_id, "")


def test_a_returned_draft_is_resubmitted_by_the_drafter(fb):
    doc_id = _draft(fb, countersign_dept_ids=[])
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]
    tx(engine.return_task, ctx_for(fb.crime_leader), open_task(iid, fb.crime_leader),
       "drafter", "标题不准确。")
    assert current(iid) == ["draft"]
    tx(engine.approve, ctx_for(fb.drafter), open_task(iid, fb.drafter), "已修改标题。")
    assert current(iid) == ["dept_review"]
    drafting = [t for k, _, t in _opinions(doc_id) if k == "drafting"]
    assert drafting == ["提交", "已修改标题。"]


def test_access_follows_the_flow(fb):
    doc_id = _draft(fb, countersign_dept_ids=[])
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]
    # not yet a participant: the office leader, the outsider
    for user in (fb.office_leader, fb.outsider, fb.command_staff):
        with pytest.raises(PermissionDenied):
            tx(service.get_document, ctx_for(user), doc_id)
    approve(iid, fb.crime_leader)
    # the office leader now has a task: may read it, and it is in the list
    assert tx(service.get_document, ctx_for(fb.office_leader), doc_id)["id"] == doc_id
    listed = tx(service.list_documents, ctx_for(fb.office_leader))
    assert [d["id"] for d in listed["items"]] == [doc_id]
    with pytest.raises(PermissionDenied):
        tx(service.get_document, ctx_for(fb.outsider), doc_id)
    assert tx(service.list_documents, ctx_for(fb.outsider))["items"] == []
    approve(iid, fb.office_leader)
    approve(iid, fb.chief)
    approve(iid, fb.seal_keeper)
    # distributed: the recipient department's staff may read the 发文 through its 收文 copy
    assert tx(service.get_document, ctx_for(fb.command_staff), doc_id)["id"] == doc_id
    with pytest.raises(PermissionDenied):
        tx(service.get_document, ctx_for(fb.outsider), doc_id)
    # every read is audited
    from app.audit.models import AuditEvent

    chain_audit_trail()
    reads = tx(lambda: AuditEvent.select().where(
        (AuditEvent.action == "documents.outgoing.view")
        & (AuditEvent.object_id == str(doc_id))).count())
    assert reads >= 2


def test_clearance_is_still_required_of_participants(fb):
    from app.org.models import User

    tx(lambda: User.update(clearance=1).where(User.id.in_(
        [fb.drafter.id, fb.crime_leader.id])).execute())
    doc_id = _draft(fb, countersign_dept_ids=[], secrecy="1", copy_no="000001")
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]
    approve(iid, fb.crime_leader)
    # the office leader holds the task but has no clearance for 秘密
    with pytest.raises(PermissionDenied):
        tx(service.get_document, ctx_for(fb.office_leader), doc_id)
    with pytest.raises(PermissionDenied):
        approve(iid, fb.office_leader)
    assert current(iid) == ["office_review"]  # nothing half done


def test_recall_takes_the_opinion_back_and_terminate_cancels(fb):
    from app.core.features import Scope
    from app.documents.models import Opinion

    doc_id = _draft(fb, countersign_dept_ids=[])
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]
    task_id = open_task(iid, fb.crime_leader)
    approve(iid, fb.crime_leader, "同意上报。")
    assert ("dept_review", "郑支队长", "同意上报。") in _opinions(doc_id)
    tx(engine.recall, ctx_for(fb.crime_leader), task_id)
    assert [k for k, _, _ in _opinions(doc_id)] == ["drafting"]
    assert current(iid) == ["dept_review"]
    assert tx(lambda: Opinion.select().where(Opinion.task_id == task_id).count()) == 0

    monitor = ctx_for(fb.chief)
    monitor.principal.permissions[engine.MONITOR] = Scope.ALL
    tx(engine.terminate, monitor, iid, "不再上报。")
    assert _doc(doc_id).status == "cancelled"


def test_an_instance_shows_its_documents_number_whoever_writes_either(fb):
    """The reference is kept by the database (documents migration 0003): a number written by
    any statement reaches the lists, and an instance saved from a stale copy keeps it."""
    doc_id = _draft(fb, countersign_dept_ids=[])
    iid = tx(flow.submit, ctx_for(fb.drafter), doc_id, "")["instance_id"]

    def listed() -> str:
        return tx(wf_service.mine_list, ctx_for(fb.drafter), {})["items"][0]["business"][
            "reference"]

    assert listed() == _doc(doc_id).serial_no
    stale = tx(lambda: Instance.get_by_id(iid))
    tx(lambda: OutgoingDocument.update(doc_number="X公刑发〔2026〕9号", number_seq=9)
       .where(OutgoingDocument.id == doc_id).execute())
    assert listed() == "X公刑发〔2026〕9号"
    stale.title = "关于增配刑侦技术装备的请示（修改）"
    tx(stale.save)
    assert listed() == "X公刑发〔2026〕9号"
    view = tx(wf_service.instance_view, ctx_for(fb.drafter), iid)
    assert view["business"] == {"kind": "发文", "reference": "X公刑发〔2026〕9号",
                                "url": f"/documents/{doc_id}"}


def test_portal_widgets_show_the_documents(fb):
    doc_id = _draft(fb, countersign_dept_ids=[])
    tx(flow.submit, ctx_for(fb.drafter), doc_id, "")
    serial = _doc(doc_id).serial_no
    todo = tx(wf_service.widget_todo, ctx_for(fb.crime_leader))
    assert todo["count"] == 1 and todo["items"][0]["business"]["reference"] == serial
    mine = tx(wf_service.widget_my_approvals, ctx_for(fb.drafter))
    assert mine["items"][0]["business"] == {"kind": "发文", "reference": serial,
                                            "url": f"/documents/{doc_id}"}
