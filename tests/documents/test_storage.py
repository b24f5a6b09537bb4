"""Uploads: checked by content, size-limited, stored atomically outside the web root."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest

from app.core.db import run_in_transaction
from app.core.errors import ValidationError
from app.documents import service, storage
from app.documents.models import FileVersion
from tests.documents.conftest import docx_bytes, draft_values, ofd_bytes, pdf_bytes
from tests.support.accounts import ctx_for


def test_docx_pdf_and_ofd_are_accepted_with_their_text(bureau):
    docx = storage.check_upload("正文.docx", docx_bytes(["第一段", "第二段"]))
    assert docx.kind == "docx" and docx.text == "第一段\n第二段"
    pdf = storage.check_upload("scan.PDF", pdf_bytes("来文扫描件"))
    assert pdf.kind == "pdf" and "来文扫描件" in pdf.text
    ofd = storage.check_upload("a.ofd", ofd_bytes(["版式文件", "第二行"]))
    assert ofd.kind == "ofd" and ofd.text == "版式文件\n第二行"


def test_a_pdf_that_is_really_a_zip_is_refused(bureau):
    with pytest.raises(ValidationError) as caught:
        storage.check_upload("看似PDF.pdf", docx_bytes(["x"]))
    assert "内容与扩展名不符" in caught.value.fields["file"]
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("a.txt", "x")
    with pytest.raises(ValidationError) as caught:
        storage.check_upload("a.docx", plain_zip.getvalue())
    assert "无法识别" in caught.value.fields["file"]


def test_other_types_and_empty_files_are_refused(bureau):
    for name, data, text in (("a.exe", b"MZ...", "只能上传"), ("a.pdf", b"", "不能为空"),
                             ("a.docx", b"%PDF-1.4 fake", "内容与扩展名不符"),
                             ("a.pdf", b"%PDF-1.4 broken", "已损坏")):
        with pytest.raises(ValidationError) as caught:
            storage.check_upload(name, data)
        assert text in caught.value.fields["file"], name


def test_size_limit_from_settings(bureau, settings_override):
    from app.core.config import settings

    settings_override(extra={**settings().extra, "doc_max_upload_mb": "1"})
    big = pdf_bytes() + b"%" + b"0" * (1024 * 1024)
    with pytest.raises(ValidationError) as caught:
        storage.check_upload("big.pdf", big)
    assert "不能超过 1 MB" in caught.value.fields["file"]


def test_stored_atomically_with_random_names_and_private_modes(bureau, tmp_path):
    name = storage.store("pdf", b"%PDF-1.4 data")
    root = tmp_path / "files"
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o750
    path = root / name[:2] / name
    assert path.read_bytes() == b"%PDF-1.4 data"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert not list(root.rglob("*.tmp"))
    assert storage.read(name) == b"%PDF-1.4 data"
    with pytest.raises(Exception, match="文件不存在"):
        storage.read("../../etc/passwd")


def test_versions_are_kept_with_who_when_and_checksum(bureau):
    ctx = ctx_for(bureau.drafter)
    doc_id = run_in_transaction(service.create_draft, ctx, draft_values())["id"]
    first = run_in_transaction(service.upload_file, ctx, doc_id, "body", "正文.docx",
                               docx_bytes(["初稿"]))
    second = run_in_transaction(service.upload_file, ctx, doc_id, "body", "正文v2.docx",
                                docx_bytes(["修改稿"]))
    assert first["file_id"] == second["file_id"] and second["version"] == 2
    versions = run_in_transaction(lambda: list(
        FileVersion.select().order_by(FileVersion.version).dicts()))
    assert [v["original_name"] for v in versions] == ["正文.docx", "正文v2.docx"]
    assert all(v["uploaded_by_name"] == "张拟稿" and len(v["sha256"]) == 64 for v in versions)
    assert versions[1]["text"] == "修改稿"
    assert versions[0]["storage_name"] != versions[1]["storage_name"]
    old = run_in_transaction(service.download_file, ctx, first["file_id"], 1)
    assert old["name"] == "正文.docx" and b"word/document.xml" in old["data"]
    assert run_in_transaction(service.body_paragraphs, doc_id) == ["修改稿"]
