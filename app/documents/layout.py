"""The finished 发文 as a PDF laid out to GB/T 9704-2012, and the printable 发文会签单.

The page (GB/T 9704-2012, 5.2 and 7): A4; 版心 156 mm × 225 mm with its top 37 mm and its
left 28 mm from the paper's edges; body in 3号 (16 pt) 仿宋, 22 lines of 28 characters, drawn on
that grid (character pitch 156/28 mm, line pitch 225/22 mm). The parts in order:

- 版头: 份号 (line 1), 密级★期限, 紧急程度 (黑体, left); the red 发文机关标志 (小标宋), its top
  35 mm below the 版心's top; 发文字号 two lines below it (centred; for an 上行文 on the left,
  with 签发人 on the right, name in 楷体); a red separator 4 mm below the number.
- 主体: 标题 (2号小标宋) two lines below the separator; 主送机关 one line below; 正文
  paragraphs indented two characters (一、 headings in 黑体, （一） in 楷体); 附件说明; 署名
  centred over the 成文日期 (right, four characters in), the seal pressed over both; 附注.
- 版记 at the bottom of the last page: thick line, 抄送, thin line, 印发机关 and 印发日期,
  thick line (4号 14 pt).
- 页码 “— 1 —” in 4号, 7 mm below the 版心, right on odd pages and left on even pages.

Fonts: see app.documents.fonts (stand-ins for the licensed 仿宋/小标宋).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from app.documents.dates import chinese_date
from app.documents.fonts import FontSet, font_set

PAGE_W, PAGE_H = A4
LEFT = 28 * mm
BLOCK_W = 156 * mm
BLOCK_H = 225 * mm
TOP = PAGE_H - 37 * mm          # the 版心's top edge
BOTTOM = TOP - BLOCK_H          # the 版心's bottom edge
LINE = BLOCK_H / 22             # line pitch
PITCH = BLOCK_W / 28            # character pitch of 3号
BODY = 16                       # 3号
TITLE = 22                      # 2号
SMALL = 14                      # 4号 (版记, 页码)
RED = colors.Color(0.86, 0.06, 0.1)
SEAL_SIZE = 42 * mm
HEADER_TOP_GAP = 35 * mm
NO_LINE_START = set("，。、；：？！）》」』”’〕】,.;:?!)%")
LEVEL1 = re.compile(r"^[一二三四五六七八九十]+、")
LEVEL2 = re.compile(r"^（[一二三四五六七八九十]+）")


@dataclass
class Style:
    font: str
    size: float
    color: Any = colors.black
    bold: bool = False

    @property
    def char_space(self) -> float:
        # full-width characters advance by the grid pitch (3号 on 28 per line)
        return PITCH - self.size if self.size == BODY else 0.0


def text_width(text: str, style: Style) -> float:
    return stringWidth(text, style.font, style.size) + len(text) * style.char_space


def wrap(text: str, width: float, style: Style, first_indent: float = 0.0) -> list[str]:
    """Greedy line breaking; closing punctuation never starts a line (it hangs instead)."""
    lines: list[str] = []
    current = ""
    available = width - first_indent
    for char in text:
        candidate = current + char
        if current and text_width(candidate, style) > available + 0.01 \
                and char not in NO_LINE_START:
            lines.append(current)
            current = char
            available = width
        else:
            current = candidate
    if current or not lines:
        lines.append(current)
    return lines


class Writer:
    """Draws lines on the grid, page after page, numbering the pages."""

    def __init__(self, canvas: Canvas, fonts: FontSet) -> None:
        self.c = canvas
        self.fonts = fonts
        self.page = 1
        self.y = TOP  # the top of the next free line box

    # -- primitives --
    def draw(self, x: float, baseline: float, text: str, style: Style) -> None:
        obj = self.c.beginText(x, baseline)
        obj.setFont(style.font, style.size)
        obj.setCharSpace(style.char_space)
        obj.setFillColor(style.color)
        obj.setHorizScale(100)
        # Tc, Tz and Tr are graphics state in PDF: they outlive the text object, so each is
        # set every time (otherwise a bold red 标志 makes the next line bold and red-edged)
        self.c.setStrokeColor(style.color)
        self.c.setLineWidth(style.size * 0.03)
        obj.setTextRenderMode(2 if style.bold else 0)
        obj.textOut(text)
        self.c.drawText(obj)

    def baseline(self, box_top: float, size: float = BODY, pitch: float = LINE) -> float:
        return box_top - pitch + (pitch - size) / 2 + size * 0.12

    def rule(self, y: float, width_pt: float, color: Any = colors.black) -> None:
        self.c.setStrokeColor(color)
        self.c.setLineWidth(width_pt)
        self.c.line(LEFT, y, LEFT + BLOCK_W, y)

    # -- flow --
    def page_number(self) -> None:
        style = Style(self.fonts.body, SMALL)
        text = f"— {self.page} —"
        baseline = BOTTOM - 7 * mm - SMALL * 0.8
        odd = self.page % 2 == 1  # odd pages: right, one character in; even: left
        x = LEFT + BLOCK_W - SMALL - text_width(text, style) if odd else LEFT + SMALL
        self.draw(x, baseline, text, style)

    def new_page(self) -> None:
        self.page_number()
        self.c.showPage()
        self.page += 1
        self.y = TOP

    def ensure(self, height: float) -> None:
        if self.y - height < BOTTOM - 0.5:
            self.new_page()

    def skip(self, lines: int = 1) -> None:
        self.y -= LINE * lines
        if self.y < BOTTOM:
            self.new_page()

    def line(self, text: str, style: Style, indent: float = 0.0, align: str = "left",
             right_indent: float = 0.0, pitch: float = LINE) -> float:
        """One line of text in the next line box; returns its baseline."""
        self.ensure(pitch)
        baseline = self.baseline(self.y, style.size, pitch)
        width = text_width(text, style)
        if align == "center":
            x = LEFT + (BLOCK_W - width) / 2
        elif align == "right":
            x = LEFT + BLOCK_W - right_indent - width
        else:
            x = LEFT + indent
        self.draw(x, baseline, text, style)
        self.y -= pitch
        return baseline

    def paragraph(self, text: str, style: Style, indent_chars: int = 2,
                  hanging: float = 0.0, align: str = "left", pitch: float = LINE) -> None:
        first = indent_chars * PITCH
        for index, part in enumerate(wrap(text, BLOCK_W - hanging, style, first - hanging)):
            if align == "center":
                self.line(part, style, align="center", pitch=pitch)
            else:
                self.line(part, style, indent=first if index == 0 else hanging, pitch=pitch)


# ---- the parts ------------------------------------------------------------------------------
def _header(w: Writer, doc: dict[str, Any]) -> None:
    fonts = w.fonts
    hei = Style(fonts.hei, BODY, bold=fonts.embolden_hei)
    marks = [doc.get("copy_no") or "", doc.get("secrecy_mark") or "",
             doc["urgency"] if doc.get("urgency") and doc["urgency"] != "普通" else ""]
    for mark in [m for m in marks if m]:
        w.line(mark, hei)
    # the red 发文机关标志, its top 35 mm below the 版心's top
    header = doc.get("header_text") or f"{doc.get('issuing_authority') or ''}文件"
    size = 52.0
    style = Style(fonts.title, size, RED, bold=fonts.embolden_title)
    width = text_width(header, style)
    scale = min(1.0, BLOCK_W / width) if width else 1.0
    top = TOP - HEADER_TOP_GAP
    baseline = top - size * 0.86
    obj = w.c.beginText(LEFT + (BLOCK_W - width * scale) / 2, baseline)
    obj.setFont(style.font, size)
    obj.setHorizScale(scale * 100)
    obj.setFillColor(RED)
    w.c.setStrokeColor(RED)
    w.c.setLineWidth(size * 0.03)
    obj.setTextRenderMode(2 if style.bold else 0)
    obj.textOut(header)
    w.c.drawText(obj)
    w.y = baseline - size * 0.14 - 2 * LINE  # 发文字号: two blank lines below the 标志
    body = Style(fonts.body, BODY)
    number = doc.get("doc_number") or ""
    if doc.get("direction") == "up":
        number_baseline = w.baseline(w.y)
        w.draw(LEFT + PITCH, number_baseline, number, body)
        label = "签发人："
        name = doc.get("signer_name") or ""
        kai = Style(fonts.kai, BODY)
        name_x = LEFT + BLOCK_W - PITCH - text_width(name, kai)
        w.draw(name_x - text_width(label, body), number_baseline, label, body)
        w.draw(name_x, number_baseline, name, kai)
        w.y -= LINE
    else:
        number_baseline = w.line(number, body, align="center")
    red_line = number_baseline - BODY * 0.12 - 4 * mm
    w.rule(red_line, 1.2, RED)
    w.y = red_line - 2 * LINE  # 标题: two blank lines below the separator


def _title_and_recipient(w: Writer, doc: dict[str, Any]) -> None:
    title = Style(w.fonts.title, TITLE, bold=w.fonts.embolden_title)
    for part in wrap(doc["title"], BLOCK_W - 2 * PITCH, title):
        w.line(part, title, align="center", pitch=LINE * 1.15)
    if doc.get("main_to"):
        w.skip(1)
        w.paragraph(f"{doc['main_to']}：", Style(w.fonts.body, BODY), indent_chars=0)


def _body(w: Writer, paragraphs: Iterable[str]) -> None:
    fonts = w.fonts
    for text in paragraphs:
        text = text.strip()
        if not text:
            continue
        if LEVEL1.match(text):
            style = Style(fonts.hei, BODY, bold=fonts.embolden_hei)
        elif LEVEL2.match(text):
            style = Style(fonts.kai, BODY)
        else:
            style = Style(fonts.body, BODY)
        w.paragraph(text, style)


def _attachments(w: Writer, titles: list[str]) -> None:
    if not titles:
        return
    body = Style(w.fonts.body, BODY)
    w.skip(1)
    label = "附件："
    hanging = 2 * PITCH + text_width(label, body)
    for index, title in enumerate(titles):
        item = title if len(titles) == 1 else f"{index + 1}．{title}"
        lines = wrap(item, BLOCK_W - hanging, body)
        for n, part in enumerate(lines):
            prefix = label if index == 0 and n == 0 else ""
            x_text = hanging + (text_width("0．", body) if n and len(titles) > 1 else 0)
            if prefix:
                w.line(prefix + part, body, indent=2 * PITCH)
            else:
                w.line(part, body, indent=x_text)


def _signature(w: Writer, doc: dict[str, Any], seal_png: bytes | None) -> None:
    body = Style(w.fonts.body, BODY)
    date_text = chinese_date(doc["issued_on"]) if doc.get("issued_on") else ""
    authority = doc.get("issuing_authority") or ""
    w.ensure(4 * LINE)
    w.skip(2)
    right_indent = 4 * PITCH
    date_width = text_width(date_text, body)
    date_center = LEFT + BLOCK_W - right_indent - date_width / 2
    name_baseline = w.baseline(w.y)
    w.draw(date_center - text_width(authority, body) / 2, name_baseline, authority, body)
    w.y -= LINE
    date_baseline = w.line(date_text, body, align="right", right_indent=right_indent)
    if seal_png:
        centre_y = (name_baseline + date_baseline) / 2 + BODY * 0.3 + 3 * mm
        w.c.drawImage(ImageReader(io.BytesIO(seal_png)), date_center - SEAL_SIZE / 2,
                      centre_y - SEAL_SIZE / 2, SEAL_SIZE, SEAL_SIZE, mask="auto")
    if doc.get("note"):
        w.paragraph(f"（{doc['note']}）", body)


def _imprint(w: Writer, doc: dict[str, Any]) -> None:
    """版记 at the bottom of the last page (a new page when it does not fit)."""
    small = Style(w.fonts.body, SMALL)
    pitch = LINE
    cc_lines = []
    if doc.get("cc"):
        cc_lines = wrap(f"抄送：{doc['cc']}。", BLOCK_W - 2 * SMALL, small)
    needed = (len(cc_lines) + 1) * pitch
    if w.y - needed < BOTTOM:
        w.new_page()
    top = BOTTOM + needed
    w.rule(top, 1.0)
    y = top
    for part in cc_lines:
        w.draw(LEFT + SMALL, w.baseline(y, SMALL, pitch), part, small)
        y -= pitch
    if cc_lines:
        w.rule(y, 0.7)
    printed_by = doc.get("printed_by") or ""
    printed_on = doc.get("printed_on")
    date_text = f"{chinese_date(printed_on)}印发" if printed_on else ""
    baseline = w.baseline(y, SMALL, pitch)
    w.draw(LEFT + SMALL, baseline, printed_by, small)
    w.draw(LEFT + BLOCK_W - SMALL - text_width(date_text, small), baseline, date_text, small)
    w.rule(BOTTOM, 1.0)


def render_document(doc: dict[str, Any], paragraphs: list[str],
                    seal_png: bytes | None = None) -> bytes:
    """The 公文 as PDF bytes. `doc` is service.document_view(...); `paragraphs` the body."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(doc["title"])
    canvas.setAuthor(doc.get("issuing_authority") or "")
    canvas.setSubject(doc.get("doc_number") or "")
    canvas.setCreator("公安局办公平台")
    w = Writer(canvas, font_set())
    _header(w, doc)
    _title_and_recipient(w, doc)
    _body(w, paragraphs)
    _attachments(w, list(doc.get("attachment_titles") or []))
    _signature(w, doc, seal_png if doc.get("sealed_at") else None)
    _imprint(w, doc)
    w.page_number()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ---- 发文会签单 ------------------------------------------------------------------------------
def _opinion_lines(opinions: list[dict[str, Any]]) -> str:
    from app.core.web import fmt_datetime

    lines = []
    for op in opinions:
        where = f"{op['department_name']}  " if op.get("department_name") else ""
        text = f"：{op['text']}" if op.get("text") else ""
        lines.append(f"{where}{fmt_datetime(op['at'])}【{op['user_name']}"
                     f" {op['kind_title']}{text}】")
    return "<br/>".join(_escape(line) for line in lines) or "（无）"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_countersign_sheet(doc: dict[str, Any], contact_name: str,
                             body_file_name: str) -> bytes:
    """发文会签单 (requirements 4.3): number, urgency, secrecy, title, drafting department,
    contact and phone, the drafting department's and the 会签 departments' opinions (who,
    when, what), 公文信息属性, and the title, 主送 and body file it covers."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    fonts = font_set()
    cell = ParagraphStyle("cell", fontName=fonts.body, fontSize=11, leading=16,
                          wordWrap="CJK")
    heading = ParagraphStyle("heading", fontName=fonts.title, fontSize=20, leading=30,
                             alignment=1, spaceAfter=12)
    drafting = [o for o in doc["opinions"] if o["kind"] in ("drafting", "dept_review")]
    countersign = [o for o in doc["opinions"] if o["kind"] == "countersign"]
    summary = (f"标题：{_escape(doc['title'])}<br/>主送单位：{_escape(doc.get('main_to') or '')}"
               f"<br/>{_escape(body_file_name or '（尚无正文文件）')}")
    rows = [
        ("发文文号", _escape(doc.get("doc_number") or "（未编号）")),
        ("缓急程度", "无" if doc["urgency"] == "普通" else doc["urgency"]),
        ("密级", _escape(doc["secrecy_mark"] or "无")),
        ("文件标题", _escape(doc["title"])),
        ("拟稿部门", _escape(doc["department_name"])),
        ("联系人", _escape(contact_name)),
        ("联系电话", _escape(doc.get("contact_phone") or "")),
        ("拟稿部门意见", _opinion_lines(drafting)),
        ("会签部门意见", _opinion_lines(countersign)),
        ("公文信息属性", _escape(doc["disclosure_title"])),
        ("正文", summary),
    ]
    data = [[Paragraph(label, cell), Paragraph(value, cell)] for label, value in rows]
    table = Table(data, colWidths=[32 * mm, BLOCK_W - 32 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.95, 0.95, 0.95)),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    buffer = io.BytesIO()
    template = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=LEFT,
                                 rightMargin=PAGE_W - LEFT - BLOCK_W, topMargin=37 * mm,
                                 bottomMargin=BOTTOM, title=f"发文会签单：{doc['title']}",
                                 creator="公安局办公平台")
    template.build([Paragraph("发文会签单", heading), table])
    return buffer.getvalue()
