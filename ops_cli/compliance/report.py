"""The auditors' report: JSON and printable HTML (no external assets), PDF with reportlab's
built-in Chinese font; every file written atomically."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from app.core.files import write_atomically
from ops_cli.compliance.catalogue import Catalogue
from ops_cli.compliance.runner import (
    CONFIG_ONLY,
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    PENDING,
    STATUS_ZH,
    Finding,
)

ORDER = (PASS, CONFIG_ONLY, FAIL, ERROR, PENDING, NOT_APPLICABLE)


@dataclass
class Report:
    catalogue: Catalogue
    findings: list[Finding]
    inventory: str
    lab: bool
    timestamp: str
    versions: dict[str, str]
    clause: str | None
    seconds: float

    def counts(self) -> Counter[str]:
        return Counter(f.status for f in self.findings)

    def failed(self) -> list[Finding]:
        """What fails the run: failures and errors; pending controls too outside the lab."""
        bad = {FAIL, ERROR} | (set() if self.lab else {PENDING})
        return [f for f in self.findings if f.status in bad]

    def score(self) -> float:
        counts = self.counts()
        applicable = sum(v for k, v in counts.items() if k != NOT_APPLICABLE)
        good = counts[PASS] + counts[CONFIG_ONLY]
        return round(100.0 * good / applicable, 1) if applicable else 0.0

    def by_target(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for finding in self.findings:
            table.setdefault(finding.target, Counter())[finding.status] += 1
        return table

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard": self.catalogue.standard, "level": 3, "inventory": self.inventory,
            "lab": self.lab, "timestamp": self.timestamp, "versions": self.versions,
            "clause_filter": self.clause, "seconds": round(self.seconds, 1),
            "summary": {"counts": dict(self.counts()), "score": self.score(),
                        "failed": [f"{f.control}@{f.host}" for f in self.failed()],
                        "pending": [f"{f.control}@{f.host}" for f in self.findings
                                    if f.status == PENDING]},
            "clauses": {k: {"title": c.title, "test_item": c.test_item}
                        for k, c in self.catalogue.clauses.items()},
            "findings": [f.as_dict() for f in self.findings],
        }


def to_json(report: Report) -> bytes:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=1, default=str).encode()


TEMPLATE = Path(__file__).parent / "templates" / "report.html"


def to_html(report: Report) -> bytes:
    env = Environment(autoescape=select_autoescape(default=True))
    groups: dict[str, list[Finding]] = {}
    for finding in sorted(report.findings, key=lambda f: (f.control, f.host)):
        groups.setdefault(finding.clause, []).append(finding)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    html = template.render(r=report, groups=groups, order=ORDER, zh=STATUS_ZH)
    return html.encode()


# AR PL UMing (TrueType, embedded into the PDF) is installed by scripts/install-fonts.sh; without
# it the PDF names Adobe's STSong-Light, which the reader's CJK pack must then supply.
PDF_FONTS = (Path("/usr/share/fonts/truetype/arphic/uming.ttc"),)


def _pdf_font(pdfmetrics: Any, cid_font: Any) -> str:
    from reportlab.pdfbase.ttfonts import TTFont

    for path in PDF_FONTS:
        if path.is_file():
            pdfmetrics.registerFont(TTFont("OaSong", str(path), subfontIndex=0))
            return "OaSong"
    pdfmetrics.registerFont(cid_font("STSong-Light"))
    return "STSong-Light"


def to_pdf(report: Report) -> bytes:
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font(pdfmetrics, UnicodeCIDFont)
    body = ParagraphStyle("zh", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    head = ParagraphStyle("h", parent=body, fontSize=14, leading=18)
    story: list[Any] = [Paragraph("网络安全等级保护第三级（GB/T 22239-2019）符合性核查报告", head),
                        Paragraph(f"核查时间 {report.timestamp}；主机清单 {report.inventory}；"
                                  f"得分 {report.score()}；不符合 {len(report.failed())} 项", body),
                        Spacer(1, 8)]
    rows = [[Paragraph(t, body) for t in ("控制项", "条款", "主机", "结果", "说明")]]
    for f in sorted(report.findings, key=lambda f: (f.clause, f.control, f.host)):
        rows.append([Paragraph(str(x), body) for x in
                     (f.control, f.clause, f.host, STATUS_ZH[f.status], f"{f.title}：{f.detail}")])
    table = Table(rows, colWidths=[78, 52, 40, 48, 317], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=30, rightMargin=30).build(story)
    return buffer.getvalue()


WRITERS = {"json": to_json, "html": to_html, "pdf": to_pdf}


def write(report: Report, formats: list[str], out_dir: Path, stem: str) -> list[Path]:
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        write_atomically(path, WRITERS[fmt](report))
        written.append(path)
    return written
