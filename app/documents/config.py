"""公文 settings. They are ordinary `OA_*` settings the core keeps in `Settings.extra`
(environment `OA_DOC_STORAGE_DIR=/srv/oa/files`, or `doc_storage_dir = ...` in oa.conf)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.config import settings

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DocumentSettings:
    storage_dir: Path          # uploaded and generated files, outside any web root
    max_upload_bytes: int      # per uploaded file
    fonds_code: str            # 全宗号 of the bureau, first part of every 档号
    font_dir: str              # licensed 仿宋/小标宋/楷体/黑体 fonts, when installed
    seal_image: str            # the PNG of the seal (transparent background); empty: demo


def _int(raw: str, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def doc_settings() -> DocumentSettings:
    extra = settings().extra
    return DocumentSettings(
        storage_dir=Path(extra.get("doc_storage_dir", "var/files")),
        max_upload_bytes=_int(extra.get("doc_max_upload_mb", "15"), 15) * 1024 * 1024,
        fonds_code=extra.get("fonds_code", "X001"),
        font_dir=extra.get("doc_font_dir", ""),
        seal_image=extra.get("doc_seal_image", ""),
    )
