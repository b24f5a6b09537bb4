"""Uploaded files: checked by content, stored atomically outside the web root, read back.

A file is accepted when its CONTENT is what its name says: a PDF starts with `%PDF-`; a DOCX
is an OOXML zip holding `[Content_Types].xml` and `word/document.xml`; an OFD (GB/T 33190) is
a zip holding `OFD.xml`. The extension is only the user's claim, so a zip named `.pdf` is
refused. Stored names are random (never the user's), in a directory created 0750, written to a
temporary file, fsynced and renamed, so a reader never sees half a file.

A file written for a transaction that then rolls back stays on disk unreferenced; it is never
served (downloads go through the database) and is harmless.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import NotFound, ValidationError
from app.core.files import write_atomically
from app.documents.config import doc_settings

MAX_ZIP_MEMBERS = 5000
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # refuse zip bombs before reading them
MAX_TEXT_CHARS = 1_000_000
MAX_PDF_PAGES = 1000
_STORAGE_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|docx|ofd)$")
_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".ofd": "ofd"}
_KIND_TITLES = {"pdf": "PDF", "docx": "Word（DOCX）", "ofd": "OFD"}


@dataclass(frozen=True)
class CheckedUpload:
    original_name: str
    kind: str           # pdf | docx | ofd
    data: bytes
    sha256: str
    text: str           # extracted, for search and for the PDF layout


def clean_filename(name: str) -> str:
    """The user's file name without any path, control characters or excess length."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else base[:200]
    return base


def sniff(data: bytes) -> str | None:
    """The real kind of the content: pdf, docx, ofd, or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return "docx"
    if "OFD.xml" in names:
        return "ofd"
    return None


def check_upload(filename: str, data: bytes, field: str = "file") -> CheckedUpload:
    """Accept a .docx/.pdf/.ofd whose content matches its name, within the size limit."""
    name = clean_filename(filename)
    limit = doc_settings().max_upload_bytes
    if not data:
        raise ValidationError({field: "请选择要上传的文件（文件不能为空）"})
    if len(data) > limit:
        raise ValidationError({field: f"文件过大：不能超过 {limit // (1024 * 1024)} MB"})
    if not name:
        raise ValidationError({field: "文件名无效"})
    claimed = _EXTENSIONS.get(Path(name).suffix.lower())
    if claimed is None:
        raise ValidationError({field: "只能上传 Word（.docx）、PDF（.pdf）或 OFD（.ofd）文件"})
    actual = sniff(data)
    if actual != claimed:
        found = _KIND_TITLES.get(actual or "", "无法识别的格式")
        raise ValidationError({field: f"文件内容与扩展名不符：扩展名是 {_KIND_TITLES[claimed]}，"
                               f"内容却是 {found}"})
    text = extract_text(actual, data, field)
    return CheckedUpload(name, actual, data, hashlib.sha256(data).hexdigest(), text)


# ---- text extraction ------------------------------------------------------------------------
def extract_text(kind: str, data: bytes, field: str = "file") -> str:
    try:
        if kind == "pdf":
            text = _pdf_text(data)
        elif kind == "docx":
            text = "\n".join(docx_paragraphs(data))
        else:
            text = _ofd_text(data)
    except ValidationError:
        raise
    except Exception:  # a broken file of any kind is the user's problem, not a 500
        raise ValidationError({field: f"文件已损坏或无法读取（{_KIND_TITLES[kind]}）"}) from None
    return text[:MAX_TEXT_CHARS]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ValidationError({"file": "不接受加密的 PDF 文件"})
    parts = []
    for page in reader.pages[:MAX_PDF_PAGES]:
        parts.append(page.extract_text() or "")
    return "\n".join(parts).strip()


def _safe_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS or sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
        raise ValidationError({"file": "文件解压后过大，拒绝处理"})
    if any(i.flag_bits & 0x1 for i in infos):
        raise ValidationError({"file": "不接受加密的文件"})
    return archive


def docx_paragraphs(data: bytes) -> list[str]:
    """The body's paragraphs in order (tables' cells too), empty ones dropped."""
    import docx

    _safe_zip(data).close()
    document = docx.Document(io.BytesIO(data))
    paragraphs: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(node.text or "" for node in child.iter() if node.tag.endswith("}t"))
            if text.strip():
                paragraphs.append(text.strip())
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tr"):
                    cells = ["".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                             for cell in row if cell.tag.endswith("}tc")]
                    if any(c.strip() for c in cells):
                        paragraphs.append("\t".join(c.strip() for c in cells))
    return paragraphs


def _ofd_text(data: bytes) -> str:
    """The text layer of an OFD: every TextCode of every page's Content.xml, page by page."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False)
    lines: list[str] = []
    with _safe_zip(data) as archive:
        pages = [n for n in archive.namelist() if re.search(r"Pages/Page_\d+/Content\.xml$", n)]
        pages.sort(key=lambda n: [int(x) for x in re.findall(r"\d+", n)])
        for name in pages:
            root = etree.fromstring(archive.read(name), parser)
            for obj in root.iter():
                if isinstance(obj.tag, str) and obj.tag.endswith("TextObject"):
                    text = "".join(code.text or "" for code in obj.iter()
                                   if isinstance(code.tag, str) and code.tag.endswith("TextCode"))
                    if text.strip():
                        lines.append(text.strip())
    return "\n".join(lines)


# ---- the store ------------------------------------------------------------------------------
def storage_root() -> Path:
    root = doc_settings().storage_dir
    if not root.is_dir():
        root.mkdir(mode=0o750, parents=True, exist_ok=True)
        root.chmod(0o750)
    return root


def _path_of(storage_name: str) -> Path:
    if not _STORAGE_NAME.match(storage_name):
        raise NotFound("文件不存在")
    return storage_root() / storage_name[:2] / storage_name


def store(kind: str, data: bytes) -> str:
    """Write `data` under a new random name (atomically, fsynced); return the name."""
    name = f"{secrets.token_hex(16)}.{kind}"
    directory = storage_root() / name[:2]
    directory.mkdir(mode=0o750, exist_ok=True)
    write_atomically(directory / name, data)
    return name


def read(storage_name: str, sha256: str | None = None) -> bytes:
    """The stored bytes; with `sha256`, verified (a changed file is an error, not served)."""
    path = _path_of(storage_name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("文件不存在或已丢失，请联系管理员") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"stored file {storage_name} does not match its SHA-256")
    return data
