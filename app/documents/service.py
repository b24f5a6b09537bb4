"""公文 domain logic: the 发文稿纸, its files, the steps the flow's nodes call (opinions, 签发,
编号, 用印, 分发), and 收文 registration. Blocking functions taking `ctx` first, run inside
one unit of work; every read and change is audited in the same transaction.

The workflow engine calls the step functions from its task handlers with
`by_flow=True` once it has checked that the actor holds the task; without it, a step is an
office override and needs `documents.admin` over the document's department.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.audit.service import record
from app.core.context import Principal, RequestContext
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.features import Scope
from app.core.forms import Schema
from app.core.sql import Compiled, row_by_key
from app.documents import access, numbering, storage, validation
from app.documents.constants import (
    DEFAULT_INCOMING_PATTERN,
    DIRECTIONS,
    DISCLOSURES,
    DOC_TYPE_TITLES,
    FILE_MEDIA_TYPES,
    FILE_ROLES,
    FIXED_DIRECTION,
    INCOMING_STATUS,
    OPINION_KINDS,
    OUTGOING_STATUS,
    SECRECY_MAX_YEARS,
    SECRECY_TITLES,
)
from app.documents.dates import chinese_date, local_date, local_today, now
from app.documents.forms import DRAFT_SCHEMA, INCOMING_SCHEMA
from app.documents.models import (
    Distribution,
    DocFile,
    FileVersion,
    IncomingDocument,
    IncomingLink,
    NumberRule,
    Opinion,
    OutgoingDocument,
)
from app.org.models import Department, User, user_names
from app.org.service import department, department_names, department_top

PAGE_SIZE = 20
EDITABLE_STATUSES = {"draft", "in_flow"}
_LINES = re.compile(r"[\r\n]+")


# ---- loading --------------------------------------------------------------------------------
def _outgoing_or_404(doc_id: int, for_update: bool = False) -> OutgoingDocument:
    doc = row_by_key(OutgoingDocument, doc_id, for_update)
    if doc is None:
        raise NotFound("公文不存在")
    return doc


def _incoming_or_404(incoming_id: int, for_update: bool = False) -> IncomingDocument:
    found = row_by_key(IncomingDocument, incoming_id, for_update)
    if found is None:
        raise NotFound("收文不存在")
    return found


def visible_outgoing(ctx: RequestContext, doc_id: int, for_update: bool = False
                     ) -> OutgoingDocument:
    doc = _outgoing_or_404(doc_id, for_update)
    access.require_outgoing(ctx, doc)
    return doc


def visible_incoming(ctx: RequestContext, incoming_id: int, for_update: bool = False
                     ) -> IncomingDocument:
    incoming = _incoming_or_404(incoming_id, for_update)
    access.require_incoming(ctx, incoming)
    return incoming


def actor(ctx: RequestContext) -> Principal:
    """Who acts, as the request resolved them (name and department current at its start)."""
    if ctx.principal is None:
        raise PermissionDenied()
    return ctx.principal


def _require_step(ctx: RequestContext, doc: OutgoingDocument, by_flow: bool) -> None:
    """A flow step: the engine vouches for its task holder; otherwise the office admin."""
    access.check_clearance(ctx, doc.secrecy)
    if not by_flow and not access.scope_covers(ctx, access.ADMIN, doc.drafting_department_id):
        raise PermissionDenied(access.ADMIN, "只有流程中的经办人或公文管理员可以执行此操作")


# ---- the draft ------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    return [line.strip() for line in _LINES.split(text or "") if line.strip()]


def _department_ids_exist(ids: list[int], field: str, errors: dict[str, str]) -> None:
    if ids and Department.select().where(Department.id.in_(ids),
                                         Department.active == True).count() != len(ids):  # noqa: E712
        errors[field] = "所选单位中有不存在或已停用的部门"


def _clean_draft(raw: Mapping[str, Any], schema: Schema = DRAFT_SCHEMA) -> dict[str, Any]:
    data = schema.validate(raw)
    data["secrecy"] = int(data.get("secrecy") or 0)
    data["attachment_titles"] = _lines(data.pop("attachment_titles", ""))
    data["joint_issuers"] = _lines(data.pop("joint_issuers", ""))
    data["keywords"] = " ".join(data.get("keywords", "").split())
    if not data.get("direction"):
        data["direction"] = FIXED_DIRECTION.get(data["doc_type"], "down")
    if data["secrecy"] == 0 and data.get("secrecy_years") is None:
        data["secrecy_years"] = None
    errors = validation.problems(data, "draft")
    _department_ids_exist(data["main_to_dept_ids"], "main_to_dept_ids", errors)
    _department_ids_exist(data["cc_dept_ids"], "cc_dept_ids", errors)
    _department_ids_exist(data["countersign_dept_ids"], "countersign_dept_ids", errors)
    users = data["internal_cc_user_ids"]
    if users and User.select().where(User.id.in_(users)).count() != len(users):
        errors["internal_cc_user_ids"] = "所选人员中有不存在的账号"
    data["related_ids"] = _resolve_receipts(data.pop("related_receipts", ""), errors)
    if errors:
        raise ValidationError(errors)
    return data


def _resolve_receipts(text: str, errors: dict[str, str]) -> list[int]:
    numbers = _lines(text)
    if not numbers:
        return []
    found = dict(IncomingDocument.select(IncomingDocument.receipt_no, IncomingDocument.id)
                 .where(IncomingDocument.receipt_no.in_(numbers)).tuples())
    missing = [n for n in numbers if n not in found]
    if missing:
        errors["related_receipts"] = "找不到收文号：" + "、".join(missing[:5])
    return [found[n] for n in numbers if n in found]


def _default_authority(dept: Department) -> str:
    """The 发文机关 of a department: the top of its tree (the bureau)."""
    return department_top(dept.id).name


def _serial_no(dept: Department, year: int) -> str:
    n = numbering.take_number("serial", str(dept.id), year)
    return f"{dept.short_name or dept.name}{year}{n:04d}号"


def _save_links(doc_id: int, incoming_ids: list[int]) -> None:
    IncomingLink.delete().where(IncomingLink.document == doc_id).execute()
    for incoming_id in dict.fromkeys(incoming_ids):
        IncomingLink.create(document=doc_id, incoming=incoming_id)


_DRAFT_COLUMNS = [name for name in DRAFT_SCHEMA.fields
                  if name not in {"related_receipts", "lock_version"}]


def create_draft(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A new 发文稿纸 by the actor, in the actor's department, with its 流水号."""
    ctx.require(access.DRAFT)
    data = _clean_draft(raw)
    user = actor(ctx)
    access.check_clearance(ctx, data["secrecy"])
    dept = department(user.department_id)
    stamp = now()
    values = {k: data[k] for k in _DRAFT_COLUMNS}
    values["issuing_authority"] = values["issuing_authority"] or _default_authority(dept)
    if not values["printed_by"]:
        values["printed_by"] = numbering.numbering_department_or_none(dept.id) or dept.name
    doc = OutgoingDocument.create(
        **values, serial_no=_serial_no(dept, local_today().year), drafting_department=dept.id,
        drafter=user.user_id, created_at=stamp, updated_at=stamp)
    _save_links(doc.id, data["related_ids"])
    record(ctx, "documents.outgoing.create", object_type="outgoing_document", object_id=doc.id,
           details={"title": doc.title, "serial_no": doc.serial_no})
    return {"id": doc.id, "serial_no": doc.serial_no}


def _require_editable(ctx: RequestContext, doc: OutgoingDocument) -> None:
    principal = ctx.principal
    if doc.status not in EDITABLE_STATUSES:
        raise Conflict(f"公文{OUTGOING_STATUS[doc.status]}，不能再修改稿纸")
    is_drafter = principal is not None and doc.drafter_id == principal.user_id
    if not is_drafter and not access.scope_covers(ctx, access.ADMIN,
                                                  doc.drafting_department_id):
        raise PermissionDenied(message="只有拟稿人或公文管理员可以修改稿纸")


def update_draft(ctx: RequestContext, doc_id: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    doc = visible_outgoing(ctx, doc_id, for_update=True)
    _require_editable(ctx, doc)
    data = _clean_draft(raw)
    access.check_clearance(ctx, data["secrecy"])
    expected = data.get("lock_version")
    if expected is not None and expected != doc.lock_version:
        raise Conflict("稿纸已被他人修改，请刷新后重试")
    changes = {k: data[k] for k in _DRAFT_COLUMNS}
    changes["issuing_authority"] = changes["issuing_authority"] or doc.issuing_authority
    changes["printed_by"] = changes["printed_by"] or doc.printed_by
    OutgoingDocument.update(**changes, lock_version=doc.lock_version + 1, updated_at=now()
                            ).where(OutgoingDocument.id == doc.id).execute()
    _save_links(doc.id, data["related_ids"])
    record(ctx, "documents.outgoing.update", object_type="outgoing_document", object_id=doc.id,
           details={"fields": sorted(k for k in changes if getattr(doc, k) != changes[k])})
    return {"id": doc.id}


def attach_workflow(ctx: RequestContext, doc: OutgoingDocument, instance_id: int) -> None:
    """Join a started flow instance to the document (the flow's 拟稿 submit), which the caller
    has read visible and locked (visible_outgoing(..., for_update=True)) in this transaction."""
    if doc.workflow_instance_id is not None:
        raise Conflict("该公文已在流转中")
    OutgoingDocument.update(workflow_instance_id=instance_id, status="in_flow",
                            updated_at=now()).where(OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.outgoing.submit", object_type="outgoing_document", object_id=doc.id,
           details={"workflow_instance_id": instance_id})


# ---- the view -------------------------------------------------------------------------------
def _user_names(ids: list[int]) -> list[str]:
    names = user_names(ids)
    return [names[i] for i in ids if i in names]


def secrecy_mark(doc: OutgoingDocument | Mapping[str, Any]) -> str:
    """密级和保密期限 as printed: 机密★20年 (the longest term when none is given)."""
    secrecy = doc["secrecy"] if isinstance(doc, Mapping) else doc.secrecy
    years = doc["secrecy_years"] if isinstance(doc, Mapping) else doc.secrecy_years
    if not secrecy:
        return ""
    return f"{SECRECY_TITLES[secrecy]}★{years or SECRECY_MAX_YEARS[secrecy]}年"


def _opinion_dict(op: Opinion) -> dict[str, Any]:
    return {"kind": op.kind, "kind_title": OPINION_KINDS[op.kind], "user_name": op.user_name,
            "department_name": op.department_name, "department_id": op.department_id,
            "text": op.text, "at": op.created_at}


def _files(doc_id: int | None = None, incoming_id: int | None = None) -> list[dict[str, Any]]:
    query = DocFile.select().order_by(DocFile.role.desc(), DocFile.sort_order, DocFile.id)
    query = query.where(DocFile.document == doc_id if doc_id else DocFile.incoming == incoming_id)
    files = list(query)
    versions: dict[int, list[FileVersion]] = {}
    if files:
        for v in (FileVersion.select().where(FileVersion.file.in_([f.id for f in files]))
                  .order_by(FileVersion.version.desc())):
            versions.setdefault(v.file_id, []).append(v)
    result = []
    for f in files:
        history = versions.get(f.id, [])
        result.append({
            "id": f.id, "role": f.role, "role_title": FILE_ROLES[f.role], "title": f.title,
            "current_version": f.current_version,
            "versions": [{"version": v.version, "name": v.original_name, "kind": v.kind,
                          "size": v.size, "sha256": v.sha256, "by": v.uploaded_by_name,
                          "at": v.uploaded_at} for v in history],
        })
    return result


# What a 稿纸's page reads besides the row, by the 稿纸's id: made once (app.core.sql), as the
# page is opened at every step of its flow.
_OPINIONS = Compiled(lambda doc: Opinion.select().where(Opinion.document == doc)
                     .order_by(Opinion.created_at, Opinion.id), doc=int)
_RELATED_INCOMING = Compiled(lambda doc: IncomingDocument.select().join(IncomingLink)
                             .where(IncomingLink.document == doc).order_by(IncomingDocument.id),
                             doc=int)
_DISTRIBUTION = Compiled(lambda doc: Distribution.select().where(Distribution.document == doc)
                         .order_by(Distribution.id), doc=int)


def document_view(doc: OutgoingDocument) -> dict[str, Any]:
    """Every field of the 稿纸, with the names and opinions the templates and PDFs print."""
    values = {name: getattr(doc, name) for name in doc._meta.fields}
    values.update(
        id=doc.id, signer_id=doc.signer_id, drafter_id=doc.drafter_id,
        drafting_department_id=doc.drafting_department_id,
        status_title=OUTGOING_STATUS[doc.status], doc_type_title=DOC_TYPE_TITLES[doc.doc_type],
        direction_title=DIRECTIONS[doc.direction], secrecy_title=SECRECY_TITLES[doc.secrecy],
        secrecy_mark=secrecy_mark(doc), disclosure_title=DISCLOSURES[doc.disclosure],
        drafter_name=User.get_by_id(doc.drafter_id).name,
        department_name=department(doc.drafting_department_id).name,
        main_to_departments=department_names(list(doc.main_to_dept_ids)),
        cc_departments=department_names(list(doc.cc_dept_ids)),
        countersign_departments=department_names(list(doc.countersign_dept_ids)),
        internal_cc_users=_user_names(list(doc.internal_cc_user_ids)),
        keyword_count=len(doc.keywords.split()),
        issued_on_text=chinese_date(doc.issued_on) if doc.issued_on else "",
        printed_on_text=chinese_date(doc.printed_on) if doc.printed_on else "",
        opinions=[_opinion_dict(op) for op in _OPINIONS.rows(doc=doc.id)],
        files=_files(doc_id=doc.id),
        related=[{"id": i.id, "receipt_no": i.receipt_no, "title": i.title}
                 for i in _RELATED_INCOMING.rows(doc=doc.id)],
        distribution=[{"kind": d.recipient_kind, "name": d.recipient_name, "copies": d.copies,
                       "incoming_id": d.incoming_id, "at": d.sent_at}
                      for d in _DISTRIBUTION.rows(doc=doc.id)],
    )
    values["related_receipts"] = "\n".join(r["receipt_no"] or "" for r in values["related"])
    return values


def get_document(ctx: RequestContext, doc_id: int) -> dict[str, Any]:
    doc = visible_outgoing(ctx, doc_id)
    record(ctx, "documents.outgoing.view", object_type="outgoing_document", object_id=doc.id)
    return document_view(doc)


def form_values(doc: dict[str, Any]) -> dict[str, Any]:
    """A document's values as the draft form shows them (lists as lines)."""
    form = dict(doc)
    form["attachment_titles"] = "\n".join(doc["attachment_titles"])
    form["joint_issuers"] = "\n".join(doc["joint_issuers"])
    form["secrecy"] = str(doc["secrecy"])
    return form


def list_documents(ctx: RequestContext, q: str = "", page: int = 1) -> dict[str, Any]:
    """The 发文 the actor may see (see access.outgoing_condition), newest first."""
    if ctx.principal is None:
        raise PermissionDenied()
    query = access.visible_query(ctx, OutgoingDocument)
    if q:
        like = f"%{q}%"
        query = query.where(OutgoingDocument.title.ilike(like)
                            | OutgoingDocument.doc_number.ilike(like)
                            | OutgoingDocument.serial_no.ilike(like)
                            | OutgoingDocument.keywords.ilike(like))
    total = query.count()
    rows = query.order_by(OutgoingDocument.updated_at.desc(), OutgoingDocument.id.desc()
                          ).paginate(page, PAGE_SIZE)
    items = [{"id": d.id, "title": d.title, "doc_number": d.doc_number, "serial_no": d.serial_no,
              "doc_type": d.doc_type, "status": d.status,
              "status_title": OUTGOING_STATUS[d.status], "urgency": d.urgency,
              "secrecy_title": SECRECY_TITLES[d.secrecy], "updated_at": d.updated_at}
             for d in rows]
    record(ctx, "documents.outgoing.list", object_type="outgoing_document",
           details={"q": q, "page": page, "count": len(items)})
    return {"items": items, "total": total, "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)}


def issue_problems(ctx: RequestContext, doc_id: int) -> dict[str, str]:
    """What still keeps the document from being issued (stage "issue" of the validator)."""
    doc = visible_outgoing(ctx, doc_id)
    return validation.problems(document_view(doc), "issue")


# ---- files ----------------------------------------------------------------------------------
def _save_version(ctx: RequestContext, file: DocFile, version: int,
                  upload: storage.CheckedUpload) -> FileVersion:
    name = storage.store(upload.kind, upload.data)
    return FileVersion.create(
        file=file.id, version=version, original_name=upload.original_name, storage_name=name,
        kind=upload.kind, size=len(upload.data), sha256=upload.sha256, text=upload.text,
        uploaded_by=ctx.principal.user_id, uploaded_by_name=ctx.principal.name,
        uploaded_at=now())


def _add_file(ctx: RequestContext, owner: dict[str, int], role: str, title: str,
              file_id: int | None, upload: storage.CheckedUpload) -> dict[str, Any]:
    if file_id is not None:
        file = (DocFile.select().where(DocFile.id == file_id, *[
            getattr(DocFile, key) == value for key, value in owner.items()]).for_update().first())
        if file is None:
            raise NotFound("文件不存在")
        version = file.current_version + 1
        DocFile.update(current_version=version, title=title or file.title).where(
            DocFile.id == file.id).execute()
    else:
        existing_body = (role == "body" and "document" in owner
                         and DocFile.get_or_none(DocFile.document == owner["document"],
                                                 DocFile.role == "body"))
        if existing_body:
            return _add_file(ctx, owner, role, title, existing_body.id, upload)
        order = DocFile.select().where(*[getattr(DocFile, k) == v
                                         for k, v in owner.items()]).count()
        file = DocFile.create(**owner, role=role, title=title or upload.original_name,
                              sort_order=order, current_version=1, created_at=now())
        version = 1
    saved = _save_version(ctx, file, version, upload)
    return {"file_id": file.id, "version": version, "sha256": saved.sha256,
            "name": saved.original_name}


def upload_file(ctx: RequestContext, doc_id: int, role: str, filename: str, data: bytes,
                title: str = "", file_id: int | None = None) -> dict[str, Any]:
    """Add the body (正文) or an attachment, or a new version of one (file_id)."""
    if role not in ("body", "attachment"):
        raise ValidationError({"role": "文件类别只能是正文或附件"})
    doc = visible_outgoing(ctx, doc_id, for_update=True)
    _require_editable(ctx, doc)
    upload = storage.check_upload(filename, data)
    result = _add_file(ctx, {"document": doc.id}, role, title, file_id, upload)
    OutgoingDocument.update(updated_at=now()).where(OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.file.upload", object_type="outgoing_document", object_id=doc.id,
           details={**result, "role": role, "size": len(data)})
    return result


def upload_incoming_scan(ctx: RequestContext, incoming_id: int, filename: str, data: bytes,
                         file_id: int | None = None) -> dict[str, Any]:
    incoming = visible_incoming(ctx, incoming_id, for_update=True)
    upload = storage.check_upload(filename, data)
    result = _add_file(ctx, {"incoming": incoming.id}, "scan", "", file_id, upload)
    record(ctx, "documents.file.upload", object_type="incoming_document", object_id=incoming.id,
           details={**result, "role": "scan", "size": len(data)})
    return result


def body_paragraphs(doc_id: int) -> list[str]:
    """The current body's paragraphs (DOCX paragraphs, or the text of a PDF/OFD by line)."""
    body = DocFile.get_or_none(DocFile.document == doc_id, DocFile.role == "body")
    if body is None:
        return []
    version = FileVersion.get(FileVersion.file == body.id,
                              FileVersion.version == body.current_version)
    if version.kind == "docx":
        return storage.docx_paragraphs(storage.read(version.storage_name, version.sha256))
    return [line.strip() for line in version.text.splitlines() if line.strip()]


def download_file(ctx: RequestContext, file_id: int, version: int | None = None
                  ) -> dict[str, Any]:
    """A file's bytes, after the same access check as its document; audited."""
    file = DocFile.get_or_none(DocFile.id == file_id)
    if file is None:
        raise NotFound("文件不存在")
    if file.document_id:
        visible_outgoing(ctx, file.document_id)
        owner = ("outgoing_document", file.document_id)
    else:
        visible_incoming(ctx, file.incoming_id)
        owner = ("incoming_document", file.incoming_id)
    wanted = version or file.current_version
    row = FileVersion.get_or_none(FileVersion.file == file.id, FileVersion.version == wanted)
    if row is None:
        raise NotFound("该版本不存在")
    data = storage.read(row.storage_name, row.sha256)
    record(ctx, "documents.file.download", object_type=owner[0], object_id=owner[1],
           details={"file_id": file.id, "version": wanted, "sha256": row.sha256})
    return {"name": row.original_name, "media_type": FILE_MEDIA_TYPES[row.kind], "data": data}


# ---- the steps the flow's nodes call ----------------------------------------------------------
def add_opinion(ctx: RequestContext, doc_id: int, kind: str, text: str = "", *,
                department_id: int | None = None, task_id: int | None = None,
                by_flow: bool = False) -> dict[str, Any]:
    """A node writes its opinion into its field of the 稿纸 (who, when, from where, what)."""
    if kind not in OPINION_KINDS:
        raise ValidationError({"kind": "未知的意见类别"})
    if len(text or "") > 2000:
        raise ValidationError({"text": "意见不能超过2000个字符"})
    doc = _outgoing_or_404(doc_id, for_update=True)
    _require_step(ctx, doc, by_flow)
    user = actor(ctx)
    dept_id = department_id or user.department_id
    if kind == "countersign" and dept_id not in doc.countersign_dept_ids:
        raise ValidationError({"department_id": "该部门不在会签部门之列"})
    dept = department(dept_id)
    op = Opinion.create(document=doc.id, kind=kind, department=dept.id, user=user.user_id,
                        user_name=user.name, department_name=dept.name, text=text or "",
                        task_id=task_id, created_at=now())
    record(ctx, "documents.outgoing.opinion", object_type="outgoing_document", object_id=doc.id,
           details={"kind": kind, "department_id": dept.id, "task_id": task_id})
    return _opinion_dict(op)


def sign(ctx: RequestContext, doc_id: int, opinion: str = "同意", *, task_id: int | None = None,
         by_flow: bool = False) -> dict[str, Any]:
    """签发: the actor becomes the 签发人; the 成文日期 is today (for a joint issue, the last
    signer's date: signing again moves it)."""
    doc = _outgoing_or_404(doc_id, for_update=True)
    _require_step(ctx, doc, by_flow)
    if doc.status not in ("draft", "in_flow", "signed"):
        raise Conflict(f"公文{OUTGOING_STATUS[doc.status]}，不能再签发")
    user = actor(ctx)
    stamp = now()
    issued_on = local_date(stamp)
    OutgoingDocument.update(signer=user.user_id, signer_name=user.name, signed_at=stamp,
                            issued_on=issued_on, status="signed", updated_at=stamp,
                            lock_version=doc.lock_version + 1
                            ).where(OutgoingDocument.id == doc.id).execute()
    dept = department(user.department_id)
    Opinion.create(document=doc.id, kind="sign", department=dept.id, user=user.user_id,
                   user_name=user.name, department_name=dept.name, text=opinion or "",
                   task_id=task_id, created_at=stamp)
    record(ctx, "documents.outgoing.sign", object_type="outgoing_document", object_id=doc.id,
           details={"issued_on": issued_on.isoformat()})
    return {"signer_name": user.name, "issued_on": issued_on}


def assign_number(ctx: RequestContext, doc_id: int, *, by_flow: bool = False) -> str:
    """编号: the next 发文字号 of the drafting department's 机关代字 and the current year,
    gapless (see numbering). Only once per document; only after 签发."""
    doc = _outgoing_or_404(doc_id, for_update=True)
    _require_step(ctx, doc, by_flow)
    if doc.doc_number:
        raise Conflict(f"该公文已编号：{doc.doc_number}")
    if doc.signed_at is None:
        raise Conflict("公文尚未签发，不能编号")
    dept = numbering.numbering_department(doc.drafting_department_id)
    code = dept.doc_code.strip()
    year = local_today().year
    n = numbering.take_number("outgoing", code, year)
    number = numbering.render(numbering.outgoing_pattern(dept.id), code, year, n)
    problem = validation.doc_number_problem(number)
    if problem:
        raise ValidationError({"pattern": problem}, message=f"编号格式配置有误：{number}")
    OutgoingDocument.update(doc_number=number, number_code=code, number_year=year,
                            number_seq=n, numbered_at=now(), status="numbered",
                            updated_at=now(), lock_version=doc.lock_version + 1
                            ).where(OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.outgoing.number", object_type="outgoing_document", object_id=doc.id,
           details={"doc_number": number})
    return number


def seal(ctx: RequestContext, doc_id: int, *, seal_text: str | None = None,
         by_flow: bool = False) -> dict[str, Any]:
    """用印: the actor is the 监印; the 印发日期 is today. The document must be issuable."""
    doc = _outgoing_or_404(doc_id, for_update=True)
    _require_step(ctx, doc, by_flow)
    if doc.status != "numbered":
        raise Conflict("公文须先签发、编号，才能用印")
    validation.check(document_view(doc), "issue")
    user = actor(ctx)
    stamp = now()
    OutgoingDocument.update(
        seal_supervisor=user.user_id, seal_supervisor_name=user.name, sealed_at=stamp,
        seal_text=seal_text if seal_text is not None else (doc.seal_text
                                                           or doc.issuing_authority),
        printed_on=local_date(stamp), status="sealed", updated_at=stamp,
        lock_version=doc.lock_version + 1).where(OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.outgoing.seal", object_type="outgoing_document", object_id=doc.id)
    return {"seal_supervisor_name": user.name, "printed_on": local_date(stamp)}


def _receive_copy(ctx: RequestContext, doc: OutgoingDocument, dept_id: int,
                  copies: int) -> IncomingDocument:
    """The copy a recipient department finds in its 收文 (待签收 until it signs for it)."""
    return IncomingDocument.create(
        status="pending", source_unit=doc.issuing_authority or doc.printed_by,
        source_number=doc.doc_number or "", title=doc.title, secrecy=doc.secrecy,
        urgency=doc.urgency, copies=max(1, copies), received_on=local_today(),
        department=dept_id, source_document=doc.id, created_at=now())


def distribute(ctx: RequestContext, doc_id: int, *, by_flow: bool = False) -> dict[str, Any]:
    """分发: record every copy sent; internal 主送/抄送 departments get a 收文 (待签收),
    internal 抄送 people are recorded (their reading comes with the flow's 传阅)."""
    doc = _outgoing_or_404(doc_id, for_update=True)
    _require_step(ctx, doc, by_flow)
    if doc.status != "sealed":
        raise Conflict("公文须先用印，才能分发")
    stamp = now()
    sent: list[dict[str, Any]] = []
    internal_depts = list(dict.fromkeys([*doc.main_to_dept_ids, *doc.cc_dept_ids]))
    for dept_id in internal_depts:
        kind = "main" if dept_id in doc.main_to_dept_ids else "cc"
        copies = (doc.main_to_copies if kind == "main" else doc.cc_copies) or 1
        incoming = _receive_copy(ctx, doc, dept_id, copies)
        dept = department(dept_id)
        Distribution.create(document=doc.id, recipient_kind=kind, recipient_name=dept.name,
                            department=dept_id, copies=copies, incoming=incoming.id,
                            sent_by=ctx.principal.user_id, sent_at=stamp)
        sent.append({"department_id": dept_id, "incoming_id": incoming.id})
    for kind, text, copies in (("main", doc.main_to, doc.main_to_copies),
                               ("cc", doc.cc, doc.cc_copies)):
        if text and not (doc.main_to_dept_ids if kind == "main" else doc.cc_dept_ids):
            Distribution.create(document=doc.id, recipient_kind=kind, recipient_name=text,
                                copies=copies, sent_by=ctx.principal.user_id, sent_at=stamp)
    for user in User.select().where(User.id.in_(list(doc.internal_cc_user_ids) or [0])):
        Distribution.create(document=doc.id, recipient_kind="internal", recipient_name=user.name,
                            user=user.id, copies=doc.internal_cc_copies or 1,
                            sent_by=ctx.principal.user_id, sent_at=stamp)
    OutgoingDocument.update(status="distributed", distributed_at=stamp, updated_at=stamp,
                            lock_version=doc.lock_version + 1
                            ).where(OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.outgoing.distribute", object_type="outgoing_document",
           object_id=doc.id, details={"internal": sent})
    return {"internal": sent}


def set_number_pattern(ctx: RequestContext, dept_id: int, pattern: str) -> None:
    """Configure a numbering department's 发文字号 pattern (公文管理员 over all)."""
    ctx.require(access.ADMIN, Scope.ALL)
    dept = department(dept_id)
    numbering.check_pattern(pattern)
    NumberRule.insert(department=dept.id, pattern=pattern, updated_at=now()).on_conflict(
        conflict_target=[NumberRule.department],
        update={NumberRule.pattern: pattern, NumberRule.updated_at: now()}).execute()
    record(ctx, "documents.number_rule.update", object_type="department", object_id=dept.id,
           details={"pattern": pattern})


# ---- 收文 -------------------------------------------------------------------------------------
def _take_receipt_no(dept_id: int) -> tuple[str, str, int, int]:
    dept = numbering.numbering_department(dept_id)
    code = dept.doc_code.strip()
    year = local_today().year
    n = numbering.take_number("incoming", code, year)
    return numbering.render(DEFAULT_INCOMING_PATTERN, code, year, n), code, year, n


def register_incoming(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """登记 a 收文 for the actor's department; the 收文号 is the next of the year."""
    ctx.require(access.REGISTER_INCOMING)
    data = INCOMING_SCHEMA.validate(raw)
    data["secrecy"] = int(data.get("secrecy") or 0)
    access.check_clearance(ctx, data["secrecy"])
    if data.get("due_on") and data["due_on"] < data["received_on"]:
        raise ValidationError({"due_on": "办理时限不能早于收文日期"})
    user = actor(ctx)
    try:
        receipt_no, code, year, n = _take_receipt_no(user.department_id)
    except ValidationError:
        raise ValidationError({"source_unit": "本部门及上级部门均未设置机关代字，无法生成收文号"}
                              ) from None
    stamp = now()
    incoming = IncomingDocument.create(
        **data, status="registered", receipt_no=receipt_no, receipt_code=code,
        receipt_year=year, receipt_seq=n, department=user.department_id,
        registered_by=user.user_id, registered_at=stamp, created_at=stamp)
    record(ctx, "documents.incoming.register", object_type="incoming_document",
           object_id=incoming.id, details={"receipt_no": receipt_no})
    return {"id": incoming.id, "receipt_no": receipt_no}


def receive(ctx: RequestContext, incoming_id: int) -> str:
    """签收 a copy delivered by internal exchange: it gets its 收文号 now."""
    incoming = visible_incoming(ctx, incoming_id, for_update=True)
    if incoming.status != "pending":
        raise Conflict("该收文已签收")
    receipt_no, code, year, n = _take_receipt_no(incoming.department_id)
    IncomingDocument.update(status="registered", receipt_no=receipt_no, receipt_code=code,
                            receipt_year=year, receipt_seq=n, registered_by=ctx.principal.user_id,
                            registered_at=now()).where(
        IncomingDocument.id == incoming.id).execute()
    record(ctx, "documents.incoming.receive", object_type="incoming_document",
           object_id=incoming.id, details={"receipt_no": receipt_no})
    return receipt_no


def incoming_view(incoming: IncomingDocument) -> dict[str, Any]:
    values = {name: getattr(incoming, name) for name in incoming._meta.fields}
    values.update(
        id=incoming.id, department_id=incoming.department_id,
        status_title=INCOMING_STATUS[incoming.status],
        secrecy_title=SECRECY_TITLES[incoming.secrecy],
        department_name=Department.get_by_id(incoming.department_id).name,
        registered_by_name=(User.get_by_id(incoming.registered_by_id).name
                            if incoming.registered_by_id else ""),
        files=_files(incoming_id=incoming.id),
        source_document_id=incoming.source_document_id,
        related=[{"id": d.id, "doc_number": d.doc_number, "serial_no": d.serial_no,
                  "title": d.title}
                 for d in OutgoingDocument.select().join(IncomingLink).where(
                     IncomingLink.incoming == incoming.id).order_by(OutgoingDocument.id)],
        overdue=bool(incoming.due_on and incoming.status in ("registered", "in_flow")
                     and incoming.due_on < local_today()),
    )
    return values


def get_incoming(ctx: RequestContext, incoming_id: int) -> dict[str, Any]:
    incoming = visible_incoming(ctx, incoming_id)
    record(ctx, "documents.incoming.view", object_type="incoming_document",
           object_id=incoming.id)
    return incoming_view(incoming)


def list_incoming(ctx: RequestContext, q: str = "", page: int = 1) -> dict[str, Any]:
    """收文 of the departments the actor registers for, leads or administers."""
    if ctx.principal is None:
        raise PermissionDenied()
    query = access.visible_query(ctx, IncomingDocument)
    if q:
        like = f"%{q}%"
        query = query.where(IncomingDocument.title.ilike(like)
                            | IncomingDocument.receipt_no.ilike(like)
                            | IncomingDocument.source_unit.ilike(like)
                            | IncomingDocument.source_number.ilike(like))
    total = query.count()
    rows = query.order_by(IncomingDocument.received_on.desc(), IncomingDocument.id.desc()
                          ).paginate(page, PAGE_SIZE)
    items = [incoming_view(i) for i in rows]
    record(ctx, "documents.incoming.list", object_type="incoming_document",
           details={"q": q, "page": page, "count": len(items)})
    return {"items": items, "total": total, "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)}


def draft_form_options(ctx: RequestContext) -> dict[str, Any]:
    """The departments offered as 主送/抄送/会签 choices."""
    ctx.require(access.DRAFT)
    from app.org.service import DepartmentIndex

    return {"departments": DepartmentIndex.load().options(active_only=True)}


# ---- output ---------------------------------------------------------------------------------
def _body_file_name(doc_id: int) -> str:
    body = DocFile.get_or_none(DocFile.document == doc_id, DocFile.role == "body")
    if body is None:
        return ""
    version = FileVersion.get(FileVersion.file == body.id,
                              FileVersion.version == body.current_version)
    return version.original_name


def render_pdf(doc: OutgoingDocument) -> bytes:
    """The GB/T 9704 PDF of a document (no access check: callers have made it)."""
    from app.documents.layout import render_document
    from app.documents.seal import seal_png

    return render_document(document_view(doc), body_paragraphs(doc.id), seal_png())


def document_pdf(ctx: RequestContext, doc_id: int) -> dict[str, Any]:
    doc = visible_outgoing(ctx, doc_id)
    data = render_pdf(doc)
    record(ctx, "documents.outgoing.pdf", object_type="outgoing_document", object_id=doc.id)
    name = f"{doc.doc_number or doc.serial_no}.pdf"
    return {"name": name, "media_type": "application/pdf", "data": data}


def countersign_sheet_pdf(ctx: RequestContext, doc_id: int) -> dict[str, Any]:
    from app.documents.layout import render_countersign_sheet

    doc = visible_outgoing(ctx, doc_id)
    view = document_view(doc)
    data = render_countersign_sheet(view, view["drafter_name"], _body_file_name(doc.id))
    record(ctx, "documents.outgoing.countersign_sheet", object_type="outgoing_document",
           object_id=doc.id)
    return {"name": f"发文会签单-{doc.serial_no}.pdf", "media_type": "application/pdf",
            "data": data}
