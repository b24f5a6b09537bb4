"""The fonts of the 公文 PDF.

GB/T 9704-2012 asks for 仿宋 (body), 小标宋 (title and 发文机关标志), 楷体 (签发人's name) and
黑体 (份号, 密级, 紧急程度). The licensed Founder fonts are not freely redistributable; the project
installs Debian's Arphic TrueType fonts (scripts/install-fonts.sh) and uses them in their place:

    role        standard    stand-in (Debian package)
    body        仿宋         AR PL UMing  (fonts-arphic-uming: 明体, the Song family 仿宋 imitates)
    title       小标宋       AR PL UMing, drawn emboldened (fill + stroke)
    kai         楷体         AR PL UKai   (fonts-arphic-ukai)
    hei         黑体         AR PL UMing, emboldened

Production installs the licensed fonts and sets `OA_DOC_FONT_DIR` to their directory, with the
files named fangsong.ttf, xiaobiaosong.ttf, kaiti.ttf and heiti.ttf (TrueType outlines: reportlab
embeds only those); any missing one falls back to the stand-in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from app.documents.config import doc_settings

ARPHIC_DIR = Path("/usr/share/fonts/truetype/arphic")
UMING = ARPHIC_DIR / "uming.ttc"
UKAI = ARPHIC_DIR / "ukai.ttc"
LICENSED_FILES = {"body": "fangsong.ttf", "title": "xiaobiaosong.ttf", "kai": "kaiti.ttf",
                  "hei": "heiti.ttf"}
STAND_INS = {"body": UMING, "title": UMING, "kai": UKAI, "hei": UMING}


@dataclass(frozen=True)
class FontSet:
    body: str
    title: str
    kai: str
    hei: str
    embolden_title: bool  # the stand-in has no bold weight: stroke it
    embolden_hei: bool


_lock = threading.Lock()
_cache: dict[str, FontSet] = {}


def _register(name: str, path: Path) -> str:
    if name not in pdfmetrics.getRegisteredFontNames():
        if path.suffix.lower() == ".ttc":
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
        else:
            pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


def font_set() -> FontSet:
    """Register (once per font directory) and name the fonts to draw with."""
    licensed_dir = doc_settings().font_dir
    with _lock:
        if licensed_dir in _cache:
            return _cache[licensed_dir]
        names: dict[str, str] = {}
        licensed: dict[str, bool] = {}
        for role, filename in LICENSED_FILES.items():
            candidate = Path(licensed_dir) / filename if licensed_dir else None
            if candidate is not None and candidate.is_file():
                names[role] = _register(f"OA-{role}-{abs(hash(licensed_dir))}", candidate)
                licensed[role] = True
            else:
                stand_in = STAND_INS[role]
                if not stand_in.is_file():
                    raise RuntimeError(f"缺少公文字体 {stand_in}：请以 root 运行 "
                                       "scripts/install-fonts.sh")
                names[role] = _register(f"OA-{stand_in.stem}", stand_in)
                licensed[role] = False
        fonts = FontSet(body=names["body"], title=names["title"], kai=names["kai"],
                        hei=names["hei"], embolden_title=not licensed["title"],
                        embolden_hei=not licensed["hei"])
        _cache[licensed_dir] = fonts
        return fonts
