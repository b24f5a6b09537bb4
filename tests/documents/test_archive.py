"""Archiving: the 档号, gapless 件号, and an export package whose checksums hold."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from xml.etree import ElementTree as ET

import pytest

from app.core.db import run_in_transaction
from app.core.errors import Conflict, PermissionDenied
from app.documents import archive, service
from tests.documents.helpers import draft, issue
from tests.support.accounts import ctx_for

YEAR = dt.date.today().year


def test_archive_number_and_gapless_item_numbers(bureau):
    clerk = ctx_for(bureau.clerk)
    first, second, permanent = draft(bureau), draft(bureau), draft(bureau, is_normative="1")
    for doc_id in (first, second, permanent):
        issue(bureau, doc_id)
    with pytest.raises(PermissionDenied):
        run_in_transaction(archive.archive, ctx_for(bureau.drafter), first)
    a = run_in_transaction(archive.archive, clerk, first)
    b = run_in_transaction(archive.archive, clerk, second)
    c = run_in_transaction(archive.archive, clerk, permanent)
    assert a["archive_no"] == f"X001-WS·{YEAR}-D10-BGS-0001"   # 通知: 10年; 办公室 → BGS
    assert b["archive_no"] == f"X001-WS·{YEAR}-D10-BGS-0002"
    assert c["archive_no"] == f"X001-WS·{YEAR}-Y-BGS-0001"     # 规范性文件: 永久
    with pytest.raises(Conflict):
        run_in_transaction(archive.archive, clerk, first)


def test_unfinished_documents_are_not_archived(bureau):
    with pytest.raises(Conflict, match="已用印"):
        run_in_transaction(archive.archive, ctx_for(bureau.clerk), draft(bureau))


def test_export_package_with_metadata_and_checksums(bureau):
    doc_id = draft(bureau)
    number = issue(bureau, doc_id)
    clerk = ctx_for(bureau.clerk)
    run_in_transaction(archive.archive, clerk, doc_id, "D30",
                       [{"节点": "签发", "人员": "王主任"}])
    data = run_in_transaction(archive.export_package, ctx_for(bureau.drafter), doc_id)
    package = zipfile.ZipFile(io.BytesIO(data))
    names = package.namelist()
    assert {"metadata.json", "metadata.xml", "manifest-sha256.txt"} <= set(names)
    files = [n for n in names if n.startswith("files/")]
    assert any(n.endswith(".pdf") for n in files) and any("正文.docx" in n for n in files)
    manifest = dict(reversed(line.split("  ", 1))
                    for line in package.read("manifest-sha256.txt").decode().splitlines())
    assert set(manifest) == set(names) - {"manifest-sha256.txt"}
    for name, digest in manifest.items():
        assert hashlib.sha256(package.read(name)).hexdigest() == digest, name
    metadata = json.loads(package.read("metadata.json"))
    assert metadata["档号"] == f"X001-WS·{YEAR}-D30-BGS-0001"
    assert metadata["文号"] == number and metadata["保管期限"] == "30年"
    assert metadata["流程记录"] == [{"节点": "签发", "人员": "王主任"}]
    assert ET.fromstring(package.read("metadata.xml")).findtext("档号") == metadata["档号"]
    with pytest.raises(PermissionDenied):
        run_in_transaction(archive.export_package, ctx_for(bureau.outsider), doc_id)
    assert run_in_transaction(service.get_document, clerk, doc_id)["status"] == "archived"
