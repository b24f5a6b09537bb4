"""Fixtures of the 公文 tests: a small bureau, its people, contexts, sample files."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import pytest

from app.core.db import run_in_transaction
from app.org.models import Department, DepartmentDeputy, User
from tests.support.accounts import make_department as _department
from tests.support.accounts import make_role, make_user


@dataclass
class Bureau:
    bureau: Department
    office: Department
    legal: Department
    drafter: User
    colleague: User
    leader: User
    deputy: User
    outsider: User
    clerk: User      # documents.admin over everything (the 办公室 文书)
    secret_clerk: User


@pytest.fixture
def bureau(db, tmp_path, settings_override) -> Bureau:
    settings_override(extra={"doc_storage_dir": str(tmp_path / "files"), "fonds_code": "X001"})
    root = _department("X市公安局", doc_code="X公")
    office = _department("办公室", root, short_name="办公室")
    legal = _department("法制支队", root, doc_code="X公法", short_name="法制支队")
    drafter = make_user("drafter", name="张拟稿", department=office, roles=("staff",))
    make_role("doc_admin", {"documents.admin": "all", "documents.draft": "all",
                            "documents.register_incoming": "all"})
    people = {
        "colleague": make_user("colleague", name="李同事", department=office, roles=("staff",)),
        "leader": make_user("leader", name="王主任", department=office, roles=("staff",)),
        "deputy": make_user("deputy", name="赵副主任", department=office, roles=("staff",)),
        "outsider": make_user("outsider", name="钱局外", department=legal, roles=("staff",)),
        "clerk": make_user("clerk", name="孙文书", department=office,
                           roles=("staff", "doc_admin"), clearance=0),
        "secret_clerk": make_user("sclerk", name="周机要", department=office,
                                  roles=("staff", "doc_admin"), clearance=3),
    }

    def leaders() -> None:
        Department.update(leader_id=people["leader"].id).where(
            Department.id == office.id).execute()
        DepartmentDeputy.create(department=office.id, user=people["deputy"].id)
    run_in_transaction(leaders)
    return Bureau(root, office, legal, drafter, **people)


def draft_values(**changes) -> dict:
    values = {"title": "关于开展春季安全检查的通知", "doc_type": "通知", "urgency": "加急",
              "main_to": "各分局、各支队", "main_to_copies": "12", "cc": "市政府办公室",
              "cc_copies": "2", "keywords": "安全 检查", "attachment_titles": "检查表\n联系人名单",
              "contact_phone": "0312-5551234", "note": "此件公开发布"}
    values.update(changes)
    return values


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes(text: str = "测试正文") -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    from app.documents.fonts import font_set

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.setFont(font_set().body, 14)
    canvas.drawString(72, 720, text)
    canvas.save()
    return buffer.getvalue()


def ofd_bytes(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    objects = "".join(
        f'<ofd:TextObject ID="{i + 10}" Boundary="0 0 100 10" Font="1" Size="5">'
        f'<ofd:TextCode X="0" Y="5">{line}</ofd:TextCode></ofd:TextObject>'
        for i, line in enumerate(lines))
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} '
                         'Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml'
                         '</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
        archive.writestr("Doc_0/Document.xml", f'<ofd:Document {ns}/>')
        archive.writestr("Doc_0/Pages/Page_0/Content.xml",
                         f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content>'
                         f'<ofd:Layer ID="1">{objects}</ofd:Layer></ofd:Content></ofd:Page>')
    return buffer.getvalue()


@pytest.fixture
def fb(db, tmp_path, settings_override):
    """The bureau of the flow tests (tests/documents/flow_support.py), flows installed."""
    from tests.documents.flow_support import make_flow_bureau

    settings_override(extra={"doc_storage_dir": str(tmp_path / "files"), "fonds_code": "X001"})
    return make_flow_bureau()
