"""公文 pages and API: thin handlers over app.documents.service."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from app.core.errors import NotFound, ValidationError
from app.core.web import ApiHandler, BaseHandler, requires
from app.documents import archive, flow, service
from app.documents.access import DRAFT, REGISTER_INCOMING
from app.documents.constants import (
    DIRECTIONS,
    DISCLOSURES,
    DOC_TYPE_TITLES,
    RETENTIONS,
    SECRECY_TITLES,
    SEND_METHODS,
    URGENCIES,
)
from app.documents.dates import local_today
from app.documents.forms import DRAFT_SCHEMA, INCOMING_SCHEMA, LIST_QUERY, UPLOAD_SCHEMA

FLASH = {"created": "稿纸已保存", "saved": "已保存", "uploaded": "文件已上传",
         "registered": "收文已登记", "submitted": "稿纸已提交，进入发文流程",
         "started": "已签收，进入收文办理流程"}
CHOICES = {"doc_types": DOC_TYPE_TITLES, "directions": DIRECTIONS, "secrecies": SECRECY_TITLES,
           "urgencies": URGENCIES, "disclosures": DISCLOSURES, "send_methods": SEND_METHODS}


def path_id(value: str) -> int:
    number = int(value)
    if number > 2**62:
        raise NotFound()
    return number


def content_disposition(name: str, inline: bool = False) -> str:
    """RFC 6266 with an RFC 5987 UTF-8 name, and an ASCII fallback for old clients."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class DocumentsPage(BaseHandler):
    def flash(self) -> str:
        return FLASH.get(self.get_argument("done", ""), "")

    def render_page(self, template: str, **values: Any) -> None:
        values.setdefault("errors", {})
        values.setdefault("message", "")
        values.setdefault("flash", self.flash())
        self.render(template, **CHOICES, **values)

    def send_file(self, result: dict[str, Any], inline: bool = False) -> None:
        self.set_header("Content-Type", result["media_type"])
        self.set_header("Content-Disposition", content_disposition(result["name"], inline))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(result["data"])

    def list_args(self) -> dict[str, Any]:
        return LIST_QUERY.validate({k: self.get_argument(k, "") for k in LIST_QUERY.fields})


# ---- 发文 ------------------------------------------------------------------------------------
class DocumentListHandler(DocumentsPage):
    async def get(self) -> None:
        args = self.list_args()
        result = await self.run(service.list_documents, self.ctx, args["q"], args["page"])
        self.render_page("documents/list.html", result=result, q=args["q"],
                         page_title="发文")


class DraftFormHandler(DocumentsPage):
    """/documents/new (a new 稿纸) and /documents/<id>/edit."""

    async def _show(self, doc_id: int | None, form: dict[str, Any], errors: dict[str, str],
                    message: str = "") -> None:
        options = await self.run(service.draft_form_options, self.ctx)
        self.render_page("documents/draft_form.html", doc_id=doc_id, form=form, errors=errors,
                         message=message, page_title="编辑稿纸" if doc_id else "拟稿",
                         **options)

    @requires(DRAFT)
    async def get(self, doc_id: str | None = None) -> None:
        if doc_id is None:
            await self._show(None, {"doc_type": "通知", "urgency": "普通", "secrecy": "0",
                                    "disclosure": "not_public"}, {})
            return
        doc = await self.run(service.get_document, self.ctx, path_id(doc_id))
        await self._show(doc["id"], service.form_values(doc), {})

    @requires(DRAFT)
    async def post(self, doc_id: str | None = None) -> None:
        data = self.form_data()
        for key in ("main_to_dept_ids", "cc_dept_ids", "countersign_dept_ids"):
            data.setdefault(key, [])
        try:
            if doc_id is None:
                created = await self.run(service.create_draft, self.ctx, data)
                self.redirect(f"/documents/{created['id']}?done=created")
                return
            number = path_id(doc_id)
            await self.run(service.update_draft, self.ctx, number, data)
            self.redirect(f"/documents/{number}?done=saved")
        except ValidationError as error:
            self.set_status(400)
            await self._show(path_id(doc_id) if doc_id else None, _echo(data), error.fields,
                             error.message)


def _echo(data: dict[str, Any]) -> dict[str, Any]:
    echo = dict(data)
    for key in ("main_to_dept_ids", "cc_dept_ids", "countersign_dept_ids"):
        value = echo.get(key) or []
        echo[key] = [int(v) for v in (value if isinstance(value, list) else [value])
                     if str(v).isdigit()]
    return echo


class DocumentHandler(DocumentsPage):
    async def get(self, doc_id: str) -> None:
        number = path_id(doc_id)

        values = await self.run(_document_page, self.ctx, number)
        self.render_page("documents/document.html", page_title=values["doc"]["title"],
                         upload_errors={}, **values)


def _document_page(ctx: Any, number: int) -> dict[str, Any]:
    doc = service.get_document(ctx, number)
    return {"doc": doc, "problems": service.validation.problems(doc, "issue"),
            "archived": archive.archive_info(ctx, number),
            "flow": flow.flow_status(ctx, doc["workflow_instance_id"]),
            "can_submit": doc["status"] == "draft" and doc["drafter_id"] == ctx.user_id}


class SubmitHandler(DraftFormHandler):
    """POST /documents/<id>/submit: the validator, then the 发文 flow; problems are shown on
    the draft form next to their fields."""

    @requires(DRAFT)
    async def post(self, doc_id: str) -> None:
        number = path_id(doc_id)
        comment = str(self.form_data().get("comment") or "")[:2000]
        try:
            await self.run(flow.submit, self.ctx, number, comment)
        except ValidationError as error:
            doc = await self.run(service.get_document, self.ctx, number)
            self.set_status(400)
            await self._show(number, service.form_values(doc), error.fields,
                             error.message or "稿纸尚有问题，请修改后再提交")
            return
        self.redirect(f"/documents/{number}?done=submitted")


class DocumentUploadHandler(DocumentsPage):
    @requires(DRAFT)
    async def post(self, doc_id: str) -> None:
        number = path_id(doc_id)
        files = self.request.files.get("file") or []
        upload = files[0] if files else None
        try:
            data = UPLOAD_SCHEMA.validate(self.form_data())
            if upload is None:
                raise ValidationError({"file": "请选择要上传的文件"})
            await self.run(service.upload_file, self.ctx, number, data["role"],
                           upload.filename, upload.body, data["title"], data["file_id"])
        except ValidationError as error:
            values = await self.run(_document_page, self.ctx, number)
            self.set_status(400)
            self.render_page("documents/document.html", page_title=values["doc"]["title"],
                             upload_errors=error.fields, message=error.message, **values)
            return
        self.redirect(f"/documents/{number}?done=uploaded")


class FileDownloadHandler(DocumentsPage):
    shows_menu = False

    async def get(self, file_id: str) -> None:
        version = self.get_argument("version", "")
        wanted = int(version) if version.isdigit() and len(version) < 9 else None
        result = await self.run(service.download_file, self.ctx, path_id(file_id), wanted)
        self.send_file(result)


class DocumentPdfHandler(DocumentsPage):
    shows_menu = False

    async def get(self, doc_id: str) -> None:
        result = await self.run(service.document_pdf, self.ctx, path_id(doc_id))
        self.send_file(result, inline=self.get_argument("download", "") != "1")


class CountersignSheetHandler(DocumentsPage):
    shows_menu = False

    async def get(self, doc_id: str) -> None:
        result = await self.run(service.countersign_sheet_pdf, self.ctx, path_id(doc_id))
        self.send_file(result, inline=True)


class ArchivePackageHandler(DocumentsPage):
    shows_menu = False

    async def get(self, doc_id: str) -> None:
        number = path_id(doc_id)
        data = await self.run(archive.export_package, self.ctx, number)
        self.send_file({"name": f"archive-{number}.zip", "media_type": "application/zip",
                        "data": data})


# ---- 收文 ------------------------------------------------------------------------------------
class IncomingListHandler(DocumentsPage):
    async def get(self) -> None:
        args = self.list_args()
        result = await self.run(service.list_incoming, self.ctx, args["q"], args["page"])
        self.render_page("documents/incoming_list.html", result=result, q=args["q"],
                         page_title="收文")


class IncomingFormHandler(DocumentsPage):
    @requires(REGISTER_INCOMING)
    async def get(self) -> None:
        self.render_page("documents/incoming_form.html", page_title="收文登记",
                         form={"received_on": local_today().isoformat(), "copies": "1",
                               "secrecy": "0", "urgency": "普通"})

    @requires(REGISTER_INCOMING)
    async def post(self) -> None:
        data = self.form_data()
        files = self.request.files.get("file") or []
        upload = files[0] if files else None

        def register(ctx: Any) -> dict[str, Any]:
            created = service.register_incoming(ctx, data)
            if upload is not None and upload.body:
                service.upload_incoming_scan(ctx, created["id"], upload.filename, upload.body)
            return created

        try:
            created = await self.run(register, self.ctx)
        except ValidationError as error:
            self.set_status(400)
            self.render_page("documents/incoming_form.html", page_title="收文登记", form=data,
                             errors=error.fields, message=error.message)
            return
        self.redirect(f"/documents/incoming/{created['id']}?done=registered")


def _incoming_page(ctx: Any, number: int) -> dict[str, Any]:
    incoming = service.get_incoming(ctx, number)
    return {"incoming": incoming,
            "flow": flow.flow_status(ctx, incoming["workflow_instance_id"]),
            "archived": archive.archive_info(ctx, incoming_id=number)}


class IncomingHandler(DocumentsPage):
    async def get(self, incoming_id: str) -> None:
        values = await self.run(_incoming_page, self.ctx, path_id(incoming_id))
        self.render_page("documents/incoming.html", page_title=values["incoming"]["title"],
                         upload_errors={}, **values)


class IncomingStartHandler(DocumentsPage):
    """POST /documents/incoming/<id>/start: 签收 and start the 收文 flow."""

    async def post(self, incoming_id: str) -> None:
        number = path_id(incoming_id)
        await self.run(flow.start_incoming, self.ctx, number,
                       str(self.form_data().get("comment") or "")[:2000])
        self.redirect(f"/documents/incoming/{number}?done=started")


ARCHIVE_FILTERS = ("year", "retention", "org", "doc_type", "q", "page")


class ArchiveBrowserHandler(DocumentsPage):
    async def get(self) -> None:
        raw = {k: self.get_argument(k, "").strip()[:100] for k in ARCHIVE_FILTERS}
        errors: dict[str, str] = {}
        for key in ("year", "page"):
            if raw[key] and not (raw[key].isdigit() and len(raw[key]) <= 5):
                errors[key] = "应为数字"
        if raw["retention"] and raw["retention"] not in RETENTIONS:
            raise ValidationError({"retention": "保管期限只能是：永久、30年、10年"})
        if raw["doc_type"] and raw["doc_type"] not in DOC_TYPE_TITLES:
            raise ValidationError({"doc_type": "文种不在15种法定文种之列"})
        if errors:
            raise ValidationError(errors)
        result = await self.run(archive.browse, self.ctx, raw)
        self.render_page("documents/archive_list.html", page_title="档案", result=result,
                         args=raw, retentions=RETENTIONS)


class ArchiveItemPackageHandler(DocumentsPage):
    shows_menu = False

    async def get(self, item_id: str) -> None:
        name, data = await self.run(archive.export_item, self.ctx, path_id(item_id))
        self.send_file({"name": name, "media_type": "application/zip", "data": data})


class IncomingUploadHandler(DocumentsPage):
    async def post(self, incoming_id: str) -> None:
        number = path_id(incoming_id)
        files = self.request.files.get("file") or []
        upload = files[0] if files else None
        try:
            if upload is None:
                raise ValidationError({"file": "请选择要上传的文件"})
            await self.run(service.upload_incoming_scan, self.ctx, number, upload.filename,
                           upload.body)
        except ValidationError as error:
            values = await self.run(_incoming_page, self.ctx, number)
            self.set_status(400)
            self.render_page("documents/incoming.html", page_title=values["incoming"]["title"],
                             upload_errors=error.fields, message=error.message, **values)
            return
        self.redirect(f"/documents/incoming/{number}?done=uploaded")


# ---- API ------------------------------------------------------------------------------------
_DOCUMENT_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"},
    "doc_number": {"type": "string", "nullable": True}, "serial_no": {"type": "string"},
    "status": {"type": "string"}, "problems": {"type": "object"}}}


class DocumentsApi(ApiHandler):
    openapi = {
        "get": {"summary": "我可查阅的发文列表", "tags": ["公文"], "query": LIST_QUERY,
                "response": {"type": "object", "properties": {
                    "items": {"type": "array", "items": _DOCUMENT_SCHEMA},
                    "total": {"type": "integer"}}}},
        "post": {"summary": "新建发文稿纸", "tags": ["公文"], "body": DRAFT_SCHEMA,
                 "response": {"type": "object", "properties": {
                     "id": {"type": "integer"}, "serial_no": {"type": "string"}}}},
    }

    async def get(self) -> None:
        args = LIST_QUERY.validate({k: self.get_argument(k, "") for k in LIST_QUERY.fields})
        result = await self.run(service.list_documents, self.ctx, args["q"], args["page"])
        self.write_json(result)

    @requires(DRAFT)
    async def post(self) -> None:
        created = await self.run(service.create_draft, self.ctx, self.json_body())
        self.write_json(created, status=201)


class DocumentApi(ApiHandler):
    openapi = {
        "get": {"summary": "一件发文的稿纸（含意见、文件、发文前仍需解决的问题）", "tags": ["公文"],
                "response": _DOCUMENT_SCHEMA},
    }

    async def get(self, doc_id: str) -> None:
        number = path_id(doc_id)

        def load(ctx: Any) -> dict[str, Any]:
            doc = service.get_document(ctx, number)
            doc["problems"] = service.validation.problems(doc, "issue")
            return doc

        self.write_json(await self.run(load, self.ctx))


class IncomingApi(ApiHandler):
    openapi = {
        "post": {"summary": "收文登记（收文号自动生成）", "tags": ["公文"],
                 "body": INCOMING_SCHEMA,
                 "response": {"type": "object", "properties": {
                     "id": {"type": "integer"}, "receipt_no": {"type": "string"}}}},
    }

    @requires(REGISTER_INCOMING)
    async def post(self) -> None:
        created = await self.run(service.register_incoming, self.ctx, self.json_body())
        self.write_json(created, status=201)
