"""The pages: drafting with messages next to fields, uploads, downloads, 收文 registration."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

from tests.documents.conftest import docx_bytes, draft_values
from tests.support.accounts import login


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="error" id="error-([a-z_]+)">([^<]*)</div>', html))


def test_draft_upload_view_and_download(client, bureau):
    login(client, "drafter")
    page = client.get("/documents/new")
    assert page.status_code == 200 and "发文稿纸" in page.text
    bad = client.post("/documents/new", data=draft_values(doc_type="简报"))
    assert bad.status_code == 400 and "只能是" in _errors(bad.text)["doc_type"]
    bad = client.post("/documents/new", data=draft_values(secrecy_years="5", copy_no="x1"))
    errors = _errors(bad.text)
    assert errors["secrecy_years"] == "非密公文不得标注保密期限"
    assert "1至6位" in errors["copy_no"]
    created = client.post("/documents/new", data=draft_values())
    assert created.status_code == 302
    url = created.headers["Location"].split("?")[0]
    refused = client.post(url + "/files", data={"role": "body"},
                          files={"file": ("正文.pdf", docx_bytes(["x"]), "application/pdf")})
    assert refused.status_code == 400 and "内容与扩展名不符" in _errors(refused.text)["file"]
    uploaded = client.post(url + "/files", data={"role": "body"},
                           files={"file": ("春季 检查.docx", docx_bytes(["正文第一段"]),
                                           "application/octet-stream")})
    assert uploaded.status_code == 302
    view = client.get(url)
    assert view.status_code == 200 and "春季 检查.docx" in view.text and "流水号" in view.text
    file_url = re.search(r'href="(/documents/files/\d+\?version=1)"', view.text).group(1)
    download = client.get(file_url)
    assert download.status_code == 200
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "春季 检查.docx"
    pdf = client.get(url + "/document.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    sheet = client.get(url + "/countersign-sheet.pdf")
    assert sheet.status_code == 200 and sheet.headers["Content-Type"] == "application/pdf"


def test_outsider_gets_403_on_page_pdf_and_file(live_server, bureau):
    drafter = live_server.client()
    login(drafter, "drafter")
    url = drafter.post("/documents/new", data=draft_values()).headers["Location"].split("?")[0]
    outsider = live_server.client()
    login(outsider, "outsider")
    for path in (url, url + "/document.pdf", url + "/countersign-sheet.pdf", url + "/edit"):
        assert outsider.get(path).status_code == 403, path
    assert outsider.get("/documents/999999").status_code == 404


def test_incoming_registration(client, bureau):
    login(client, "clerk")
    assert client.get("/documents/incoming/new").status_code == 200
    bad = client.post("/documents/incoming/new", data={
        "source_unit": "", "title": "来文", "received_on": "2026-11-24", "due_on": "2026-11-01"})
    assert bad.status_code == 400 and _errors(bad.text)["source_unit"] == "请填写来文单位"
    today = dt.date.today()
    created = client.post("/documents/incoming/new", data={
        "source_unit": "省公安厅", "source_number": "冀公发〔2026〕3号",
        "title": "关于加强值班的通知",
        "received_on": today.isoformat(), "urgency": "特急", "copies": "2"},
        files={"file": ("扫描.docx", docx_bytes(["扫描件"]), "application/octet-stream")})
    assert created.status_code == 302
    page = client.get(created.headers["Location"].split("?")[0])
    assert f"X公收〔{today.year}〕1号" in page.text and "扫描.docx" in page.text
    listing = client.get("/documents/incoming")
    assert "关于加强值班的通知" in listing.text


def test_api_create_and_read(client, bureau):
    login(client, "drafter")
    created = client.post("/api/documents", json=draft_values(urgency="特急"))
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    doc = client.get(f"/api/documents/{doc_id}").json()
    assert doc["urgency"] == "特急" and "doc_number" in doc["problems"]
    bad = client.post("/api/documents", json=draft_values(doc_type="简报"))
    assert bad.status_code == 400 and "doc_type" in bad.json()["error"]["fields"]
