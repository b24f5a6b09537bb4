"""公文: the 发文稿纸, 收文 registration, numbering, the GB/T 9704 PDF and archiving.

The 发文 and 收文 flows run on the workflow engine (see app.documents.flow): the default
definitions in flows/*.yaml are published at start-up while their codes have no version yet,
so administrators edit them in the designer like any other flow.
"""

from pathlib import Path
from typing import Any

from app.core.features import Duty, Feature, NavItem, Permission
from app.documents import handlers
from app.documents.access import ADMIN, DRAFT, REGISTER_INCOMING

_ID = r"(?P<{}>\d{{1,18}})"
_DOC = _ID.format("doc_id")
_INCOMING = _ID.format("incoming_id")


def _on_start(application: Any) -> None:
    """Join the engine and publish the default flows once (a no-op when they exist)."""
    from app.core.db import database, run_in_transaction
    from app.documents import flow

    flow.register()
    if database.obj is not None:
        run_in_transaction(flow.install_flows)


def _demo() -> None:
    from app.documents import demo, flow

    flow.register()
    flow.install_flows()
    demo.load()


feature = Feature(
    name="documents",
    title="公文",
    package_dir=Path(__file__).resolve().parent,
    depends=("org", "audit", "auth", "workflow"),
    routes=[
        (r"/documents", handlers.DocumentListHandler),
        (r"/documents/new", handlers.DraftFormHandler),
        (r"/documents/" + _DOC, handlers.DocumentHandler),
        (r"/documents/" + _DOC + r"/edit", handlers.DraftFormHandler),
        (r"/documents/" + _DOC + r"/submit", handlers.SubmitHandler),
        (r"/documents/archive", handlers.ArchiveBrowserHandler),
        (r"/documents/archive/" + _ID.format("item_id") + r"/package\.zip",
         handlers.ArchiveItemPackageHandler),
        (r"/documents/" + _DOC + r"/files", handlers.DocumentUploadHandler),
        (r"/documents/" + _DOC + r"/document\.pdf", handlers.DocumentPdfHandler),
        (r"/documents/" + _DOC + r"/countersign-sheet\.pdf", handlers.CountersignSheetHandler),
        (r"/documents/" + _DOC + r"/archive-package\.zip", handlers.ArchivePackageHandler),
        (r"/documents/files/" + _ID.format("file_id"), handlers.FileDownloadHandler),
        (r"/documents/incoming", handlers.IncomingListHandler),
        (r"/documents/incoming/new", handlers.IncomingFormHandler),
        (r"/documents/incoming/" + _INCOMING, handlers.IncomingHandler),
        (r"/documents/incoming/" + _INCOMING + r"/files", handlers.IncomingUploadHandler),
        (r"/documents/incoming/" + _INCOMING + r"/start", handlers.IncomingStartHandler),
        (r"/api/documents", handlers.DocumentsApi),
        (r"/api/documents/" + _DOC, handlers.DocumentApi),
        (r"/api/documents/incoming", handlers.IncomingApi),
    ],
    permissions=[
        Permission(DRAFT, "拟写发文稿纸（拟稿）", Duty.BUSINESS),
        Permission(REGISTER_INCOMING, "登记收文并查阅本部门收文", Duty.BUSINESS),
        Permission(ADMIN, "公文管理（查阅范围内全部公文，办理编号、用印、分发、归档）",
                   Duty.BUSINESS, staff_default=False),
    ],
    nav=[
        NavItem("公文", "/documents", order=20),
        NavItem("档案", "/documents/archive", order=25),
    ],
    demo=_demo,
    on_start=_on_start,
)
