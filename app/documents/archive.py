"""Archiving (DA/T 22-2015): the 档号, the archived files, and the archival package.

档号 = 全宗号—门类代码·年度—保管期限—机构(问题)代码—件号, e.g. X001-WS·2026-Y-BGS-0001:
全宗号 from the settings (OA_FONDS_CODE), 门类代码 WS (文书), 年度 the year of the 成文日期,
保管期限 Y (永久) / D30 (30年) / D10 (10年), 机构代码 the drafting department's Latin code (set in
doc_archive_org_code, else the pinyin initials of its short name: 办公室 → BGS), 件号 four
digits, gapless per (全宗, 年度, 期限, 机构) through the same counters as the 发文字号.

The archived PDF and every file's current version are copied into the store under new names
with their SHA-256, so later edits elsewhere never change what was archived.
`export_package` gives the item as a zip: metadata.json, metadata.xml, the files, and
manifest-sha256.txt listing every other member's SHA-256 (sha256sum format).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from app.audit.service import record
from app.core.context import RequestContext
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.documents import access, numbering, storage
from app.documents.config import doc_settings
from app.documents.constants import ARCHIVE_CATEGORY, RETENTIONS
from app.documents.dates import local_today, now
from app.documents.models import (
    ArchiveFile,
    ArchiveItem,
    ArchiveOrgCode,
    DocFile,
    FileVersion,
    IncomingDocument,
    OutgoingDocument,
)
from app.org.models import Department
from app.org.names import name_pinyin

MANIFEST = "manifest-sha256.txt"
ARCHIVABLE = {"sealed", "distributed"}


def org_code(dept: Department) -> str:
    row = ArchiveOrgCode.get_or_none(ArchiveOrgCode.department == dept.id)
    if row:
        return row.code
    _, initials = name_pinyin(dept.short_name or dept.name)
    code = "".join(ch for ch in initials.upper() if ch.isalnum())[:10]
    return code or f"D{dept.id}"


def default_retention(doc: OutgoingDocument) -> str:
    """永久 for 重大决定事项, 规范性文件 and 政策法规; 30年 for the weightier types; else 10年."""
    if doc.is_major_decision or doc.is_normative or doc.is_policy:
        return "Y"
    if doc.doc_type in {"决议", "决定", "命令", "公报", "请示", "报告", "批复", "纪要"}:
        return "D30"
    return "D10"


def archive_number(fonds: str, year: int, retention: str, org: str, item: int) -> str:
    return f"{fonds}-{ARCHIVE_CATEGORY}·{year}-{retention}-{org}-{item:04d}"


def _copy_into_archive(archive_id: int, role: str, name: str, data: bytes,
                       kind: str) -> dict[str, Any]:
    stored = storage.store(kind, data)
    digest = hashlib.sha256(data).hexdigest()
    ArchiveFile.create(archive=archive_id, role=role, name=name, storage_name=stored,
                       size=len(data), sha256=digest)
    return {"role": role, "name": name, "size": len(data), "sha256": digest}


def _safe_name(text: str) -> str:
    return "".join("_" if ch in '\\/:*?"<>|\x00' else ch for ch in text)[:120]


@dataclass(frozen=True)
class _Slot:
    """Where an archived item goes: its fonds, year, retention, organisation and item number."""

    fonds: str
    year: int
    retention: str
    org: str
    item: int

    @property
    def number(self) -> str:
        return archive_number(self.fonds, self.year, self.retention, self.org, self.item)

    def head(self) -> dict[str, Any]:
        """The metadata every archived item starts with (档号 and its parts)."""
        return {
            "档号": self.number, "全宗号": self.fonds, "门类代码": ARCHIVE_CATEGORY,
            "年度": self.year, "保管期限": RETENTIONS[self.retention],
            "保管期限代码": self.retention, "机构代码": self.org, "件号": self.item,
        }


def _check_may_archive(ctx: RequestContext, secrecy: str, department_id: int,
                       by_flow: bool) -> None:
    access.check_clearance(ctx, secrecy)
    if not by_flow and not access.scope_covers(ctx, access.ADMIN, department_id):
        raise PermissionDenied(access.ADMIN, "只有公文管理员可以归档")


def _take_slot(retention: str, dept: Department, year: int) -> _Slot:
    if retention not in RETENTIONS:
        raise ValidationError({"retention": "保管期限只能是：永久、30年、10年"})
    fonds = doc_settings().fonds_code
    org = org_code(dept)
    item = numbering.take_number("archive", f"{fonds}|{retention}|{org}", year)
    return _Slot(fonds, year, retention, org, item)


def _create_item(ctx: RequestContext, slot: _Slot, dept: Department, title: str, secrecy: str,
                 metadata: dict[str, Any], **source: int) -> ArchiveItem:
    return ArchiveItem.create(
        **source, archive_no=slot.number, fonds_code=slot.fonds,
        category_code=ARCHIVE_CATEGORY, year=slot.year, retention=slot.retention,
        org_code=slot.org, item_no=slot.item, title=title, secrecy=secrecy,
        department=dept.id, metadata=metadata,
        archived_by=ctx.principal.user_id if ctx.principal else None, archived_at=now())


def _copy_files(archive_id: int, files: Any, name_of: Any, role_of: Any) -> list[dict[str, Any]]:
    """Copy each file's current version into the archive, named and roled by the callers."""
    copied = []
    for f in files:
        version = FileVersion.get(FileVersion.file == f.id,
                                  FileVersion.version == f.current_version)
        data = storage.read(version.storage_name, version.sha256)
        copied.append(_copy_into_archive(archive_id, role_of(f),
                                         f"{name_of(f)}-{_safe_name(version.original_name)}",
                                         data, version.kind))
    return copied


def _archived_pdf(archive_id: int, slot: _Slot, doc: OutgoingDocument) -> dict[str, Any]:
    from app.documents.service import render_pdf

    return _copy_into_archive(archive_id, "output", f"{_safe_name(slot.number)}.pdf",
                              render_pdf(doc), "pdf")


def archive(ctx: RequestContext, doc_id: int, retention: str | None = None,
            history: list[dict[str, Any]] | None = None, *, by_flow: bool = False
            ) -> dict[str, Any]:
    """Archive a finished 发文: its 档号, metadata, PDF and files (with checksums).
    `history` is the flow's record of who did what, when (given by the workflow)."""
    from app.documents.service import document_view

    doc = OutgoingDocument.select().where(OutgoingDocument.id == doc_id).for_update().first()
    if doc is None:
        raise NotFound("公文不存在")
    _check_may_archive(ctx, doc.secrecy, doc.drafting_department_id, by_flow)
    if ArchiveItem.get_or_none(ArchiveItem.document == doc.id):
        raise Conflict("该公文已归档")
    if doc.status not in ARCHIVABLE:
        raise Conflict("只有已用印或已分发的公文可以归档")
    dept = Department.get_by_id(doc.drafting_department_id)
    slot = _take_slot(retention or default_retention(doc), dept,
                      (doc.issued_on or local_today()).year)
    metadata = {**slot.head(), **_metadata(document_view(doc), history or [])}
    row = _create_item(ctx, slot, dept, doc.title, doc.secrecy, metadata, document=doc.id)
    doc_files = DocFile.select().where(DocFile.document == doc.id).order_by(
        DocFile.role.desc(), DocFile.sort_order)
    files = [_archived_pdf(row.id, slot, doc), *_copy_files(
        row.id, doc_files, lambda f: "正文" if f.role == "body" else f"附件{f.sort_order}",
        lambda f: f.role)]
    OutgoingDocument.update(status="archived", updated_at=now()).where(
        OutgoingDocument.id == doc.id).execute()
    record(ctx, "documents.outgoing.archive", object_type="outgoing_document", object_id=doc.id,
           details={"archive_no": slot.number, "retention": slot.retention})
    return {"archive_no": slot.number, "retention": slot.retention, "files": files}


def _metadata(view: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    def text(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "题名": view["title"], "文号": view["doc_number"] or "",
        "责任者": view["issuing_authority"],
        "文种": view["doc_type"], "密级": view["secrecy_title"],
        "保密期限": view["secrecy_mark"], "紧急程度": view["urgency"],
        "成文日期": text(view["issued_on"]), "签发人": view["signer_name"],
        "主送": view["main_to"], "抄送": view["cc"], "主题词": view["keywords"],
        "公文信息属性": view["disclosure_title"], "拟稿部门": view["department_name"],
        "拟稿人": view["drafter_name"], "流水号": view["serial_no"],
        "意见": [{"类别": o["kind_title"], "部门": o["department_name"], "人员": o["user_name"],
                "时间": text(o["at"]), "内容": o["text"]} for o in view["opinions"]],
        "流程记录": history,
    }


def archive_incoming(ctx: RequestContext, incoming_id: int, retention: str | None = None,
                     history: list[dict[str, Any]] | None = None, *, by_flow: bool = False
                     ) -> dict[str, Any]:
    """Archive a finished 收文 in its department's fonds: 档号, metadata (with the flow's
    history: 拟办, 批示, 传阅 receipts...), the scanned original and, for a copy received by
    internal exchange, the issued document's PDF."""
    from app.documents.service import incoming_view

    incoming = (IncomingDocument.select().where(IncomingDocument.id == incoming_id)
                .for_update().first())
    if incoming is None:
        raise NotFound("收文不存在")
    _check_may_archive(ctx, incoming.secrecy, incoming.department_id, by_flow)
    if ArchiveItem.get_or_none(ArchiveItem.incoming == incoming.id):
        raise Conflict("该收文已归档")
    if incoming.status not in {"registered", "in_flow", "done"}:
        raise Conflict("只有已登记的收文可以归档")
    source = (OutgoingDocument.get_by_id(incoming.source_document_id)
              if incoming.source_document_id else None)
    dept = Department.get_by_id(incoming.department_id)
    slot = _take_slot(retention or (default_retention(source) if source else "D10"), dept,
                      (incoming.received_on or local_today()).year)
    view = incoming_view(incoming)
    metadata = {
        **slot.head(),
        "题名": incoming.title, "收文号": incoming.receipt_no or "",
        "来文单位": incoming.source_unit, "来文字号": incoming.source_number,
        "文种": source.doc_type if source else "", "密级": view["secrecy_title"],
        "紧急程度": incoming.urgency, "份数": incoming.copies,
        "收文日期": incoming.received_on.isoformat(),
        "办理时限": incoming.due_on.isoformat() if incoming.due_on else "",
        "收文部门": view["department_name"], "流程记录": history or [],
    }
    row = _create_item(ctx, slot, dept, incoming.title, incoming.secrecy, metadata,
                       incoming=incoming.id)
    scans = DocFile.select().where(DocFile.incoming == incoming.id).order_by(DocFile.sort_order)
    files = [_archived_pdf(row.id, slot, source)] if source is not None else []
    files += _copy_files(row.id, scans, lambda f: f"原件{f.sort_order + 1}", lambda f: "scan")
    IncomingDocument.update(status="archived").where(
        IncomingDocument.id == incoming.id).execute()
    record(ctx, "documents.incoming.archive", object_type="incoming_document",
           object_id=incoming.id, details={"archive_no": slot.number, "retention": slot.retention})
    return {"archive_no": slot.number, "retention": slot.retention, "files": files}


def _item_or_404(ctx: RequestContext, doc_id: int) -> ArchiveItem:
    item = ArchiveItem.get_or_none(ArchiveItem.document == doc_id)
    if item is None:
        raise NotFound("该公文尚未归档")
    access.check_clearance(ctx, item.secrecy)
    doc = OutgoingDocument.get_by_id(doc_id)
    if not access.can_view_outgoing(ctx, doc):
        raise PermissionDenied(message="您无权查阅该档案")
    return item


def _xml(metadata: dict[str, Any]) -> bytes:
    root = ET.Element("档案")

    def add(parent: ET.Element, key: str, value: Any) -> None:
        if isinstance(value, list):
            holder = ET.SubElement(parent, key)
            for entry in value:
                add(holder, "条目", entry)
        elif isinstance(value, dict):
            holder = ET.SubElement(parent, key)
            for k, v in value.items():
                add(holder, k, v)
        else:
            ET.SubElement(parent, key).text = "" if value is None else str(value)

    for key, value in metadata.items():
        add(root, key, value)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def export_package(ctx: RequestContext, doc_id: int) -> bytes:
    """The archival package of an archived 发文 as zip bytes (verified checksums)."""
    item = _item_or_404(ctx, doc_id)
    data = _package(item)
    record(ctx, "documents.archive.export", object_type="outgoing_document", object_id=doc_id,
           details={"archive_no": item.archive_no})
    return data


def visible_item(ctx: RequestContext, item_id: int) -> ArchiveItem:
    """An archive item (发文 or 收文) the actor may see: clearance, then the document's rules."""
    item = ArchiveItem.get_or_none(ArchiveItem.id == item_id)
    if item is None:
        raise NotFound("档案不存在")
    access.check_clearance(ctx, item.secrecy)
    if not _may_see(ctx, item):
        raise PermissionDenied(message="您无权查阅该档案")
    return item


def _may_see(ctx: RequestContext, item: ArchiveItem) -> bool:
    if ctx.principal is None or ctx.principal.clearance < item.secrecy:
        return False
    if item.document_id:
        return access.can_view_outgoing(ctx, OutgoingDocument.get_by_id(item.document_id))
    return access.can_view_incoming(ctx, IncomingDocument.get_by_id(item.incoming_id))


def export_item(ctx: RequestContext, item_id: int) -> tuple[str, bytes]:
    """The package of any archive item: (file name, zip bytes)."""
    item = visible_item(ctx, item_id)
    data = _package(item)
    record(ctx, "documents.archive.export", object_type="doc_archive", object_id=item.id,
           details={"archive_no": item.archive_no})
    return f"{_safe_name(item.archive_no)}.zip", data


def _package(item: ArchiveItem) -> bytes:
    stored = list(ArchiveFile.select().where(ArchiveFile.archive == item.id)
                  .order_by(ArchiveFile.id))
    # the archive row is insert-only; its file list lives in doc_archive_file
    metadata = {**item.metadata, "文件": [
        {"类别": f.role, "名称": f"files/{f.name}", "大小": f.size, "SHA256": f.sha256}
        for f in stored]}
    members: dict[str, bytes] = {
        "metadata.json": json.dumps(metadata, ensure_ascii=False, indent=2).encode(),
        "metadata.xml": _xml(metadata),
    }
    for f in stored:
        members[f"files/{f.name}"] = storage.read(f.storage_name, f.sha256)
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                       for name, data in members.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
        package.writestr(MANIFEST, manifest)
    return buffer.getvalue()


PAGE_SIZE = 20


def _visible_items(ctx: RequestContext) -> Any:
    """Archive items whose 发文 or 收文 the actor may see (the same SQL rules as the lists)."""
    outgoing, incoming = access.outgoing_condition(ctx), access.incoming_condition(ctx)
    if outgoing is None and incoming is None:
        return None
    documents = OutgoingDocument.select(OutgoingDocument.id)
    copies = IncomingDocument.select(IncomingDocument.id)
    if outgoing is not None:
        documents = documents.where(outgoing)
    if incoming is not None:
        copies = copies.where(incoming)
    return ArchiveItem.document.in_(documents) | ArchiveItem.incoming.in_(copies)


def browse(ctx: RequestContext, filters: dict[str, Any]) -> dict[str, Any]:
    """The archive browser: items the actor may see, filtered by 年度, 保管期限, 机构代码,
    文种 and text (题名, 档号, 文号/收文号, or the archived files' extracted text)."""
    if ctx.principal is None:
        raise PermissionDenied()
    query = ArchiveItem.select().where(ArchiveItem.secrecy <= ctx.principal.clearance)
    if filters.get("year"):
        query = query.where(ArchiveItem.year == int(filters["year"]))
    if filters.get("retention"):
        query = query.where(ArchiveItem.retention == filters["retention"])
    if filters.get("org"):
        query = query.where(ArchiveItem.org_code == filters["org"])
    if filters.get("doc_type"):
        query = query.where(ArchiveItem.metadata["文种"] == filters["doc_type"])
    text = (filters.get("q") or "").strip()
    if text:
        like = f"%{text}%"
        def with_text(owner: Any) -> Any:
            """Owners of a file whose extracted text contains the words (full text)."""
            return (DocFile.select(owner).join(FileVersion, on=(FileVersion.file == DocFile.id))
                    .where(FileVersion.text.ilike(like) & owner.is_null(False)))

        query = query.where(ArchiveItem.title.ilike(like) | ArchiveItem.archive_no.ilike(like)
                            | ArchiveItem.metadata["文号"].ilike(like)
                            | ArchiveItem.metadata["收文号"].ilike(like)
                            | ArchiveItem.document.in_(with_text(DocFile.document))
                            | ArchiveItem.incoming.in_(with_text(DocFile.incoming)))
    visible = _visible_items(ctx)
    if visible is not None:
        query = query.where(visible)
    page = max(1, int(filters.get("page") or 1))
    total = query.count()
    shown = query.order_by(ArchiveItem.year.desc(), ArchiveItem.archived_at.desc(),
                           ArchiveItem.id.desc()).paginate(page, PAGE_SIZE)
    items = [{"id": i.id, "archive_no": i.archive_no, "title": i.title, "year": i.year,
              "retention": RETENTIONS[i.retention], "org_code": i.org_code,
              "kind": "发文" if i.document_id else "收文",
              "doc_type": i.metadata.get("文种", ""),
              "reference": i.metadata.get("文号") or i.metadata.get("收文号") or "",
              "url": (f"/documents/{i.document_id}" if i.document_id
                      else f"/documents/incoming/{i.incoming_id}"),
              "archived_at": i.archived_at} for i in shown]
    years = sorted({y for (y,) in ArchiveItem.select(ArchiveItem.year).distinct().tuples()},
                   reverse=True)
    orgs = sorted({o for (o,) in ArchiveItem.select(ArchiveItem.org_code).distinct().tuples()})
    record(ctx, "documents.archive.list", object_type="doc_archive",
           details={"filters": {k: v for k, v in filters.items() if v}, "count": len(items)})
    return {"items": items, "total": total, "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)), "years": years, "orgs": orgs}


def archive_info(ctx: RequestContext, doc_id: int | None = None,
                 incoming_id: int | None = None) -> dict[str, Any] | None:
    """The 档号 and files of an archived document, or None (for the document page)."""
    item = ArchiveItem.get_or_none(ArchiveItem.document == doc_id if doc_id is not None
                                   else ArchiveItem.incoming == incoming_id)
    if item is None:
        return None
    return {"id": item.id, "archive_no": item.archive_no,
            "retention": RETENTIONS[item.retention], "archived_at": item.archived_at,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size}
                      for f in ArchiveFile.select().where(ArchiveFile.archive == item.id)]}
