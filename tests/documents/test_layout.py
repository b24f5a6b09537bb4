"""The GB/T 9704-2012 PDF: the elements in the standard's order, on the A4 grid."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from app.core.db import run_in_transaction
from app.documents import service
from app.documents.dates import chinese_date, local_today
from tests.documents.helpers import draft, issue
from tests.support.accounts import ctx_for

YEAR = dt.date.today().year


def _text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _in_order(text: str, parts: list[str]) -> None:
    position = -1
    for part in parts:
        found = text.find(part, position + 1)
        assert found > position, f"{part!r} missing or out of order"
        position = found


def test_chinese_date_uses_arabic_numerals_without_padding():
    assert chinese_date(dt.date(2026, 1, 5)) == "2026年1月5日"
    assert chinese_date(dt.date(2026, 11, 24)) == "2026年11月24日"


def _clear(*users, level: int = 2) -> None:
    from app.org.models import User
    run_in_transaction(lambda: User.update(clearance=level).where(
        User.id.in_([u.id for u in users])).execute())


def test_pdf_elements_in_order(bureau):
    _clear(bureau.drafter, bureau.leader, bureau.clerk)
    doc_id = draft(bureau, secrecy="2", secrecy_years="10", copy_no="000008")
    number = issue(bureau, doc_id)
    pdf = run_in_transaction(service.document_pdf, ctx_for(bureau.drafter), doc_id)
    reader, text = _text(pdf["data"])
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
    today = chinese_date(local_today())
    _in_order(text.replace(" ", ""), [
        "000008", "机密★10年", "加急",                 # 份号, 密级★期限, 紧急程度
        "X市公安局文件",                               # 发文机关标志
        number,                                        # 发文字号
        "关于开展春季安全检查的通知",                  # 标题
        "各分局、各支队：",                            # 主送机关
        "根据省厅统一部署", "一、检查范围", "（一）重点部位",  # 正文
        "附件：1．检查表", "2．联系人名单",            # 附件说明
        "X市公安局", today,                            # 署名, 成文日期
        "（此件公开发布）",                            # 附注
        "抄送：市政府办公室。",                        # 版记
        f"{today}印发",
    ])
    assert "—1—" in text.replace(" ", "")
    assert pdf["name"] == f"{number}.pdf"


def test_upward_document_shows_the_signer_beside_the_number(bureau):
    doc_id = draft(bureau, doc_type="请示", title="关于增拨办案经费的请示", main_to="市政府")
    number = issue(bureau, doc_id)
    pdf = run_in_transaction(service.document_pdf, ctx_for(bureau.leader), doc_id)
    _, text = _text(pdf["data"])
    flat = text.replace(" ", "")
    _in_order(flat, ["X市公安局文件", number, "签发人：王主任", "关于增拨办案经费的请示",
                     "市政府："])


def test_long_body_flows_onto_numbered_pages(bureau):
    doc_id = draft(bureau)
    paragraphs = [f"第{i}段：" + "这是用于检验分页的正文内容。" * 6 for i in range(1, 40)]
    from app.documents.layout import render_document

    def view():
        from app.documents.models import OutgoingDocument
        return service.document_view(OutgoingDocument.get_by_id(doc_id))
    pdf = render_document(run_in_transaction(view), paragraphs)
    reader, text = _text(pdf)
    assert len(reader.pages) >= 3
    flat = text.replace(" ", "")
    for n in range(1, len(reader.pages) + 1):
        assert f"—{n}—" in flat
    assert "第39段" in flat


def test_countersign_sheet(bureau):
    doc_id = draft(bureau, countersign_dept_ids=[bureau.legal.id])
    outsider = ctx_for(bureau.outsider)
    run_in_transaction(service.add_opinion, outsider, doc_id, "countersign", "无意见",
                       department_id=bureau.legal.id, by_flow=True)
    run_in_transaction(service.add_opinion, ctx_for(bureau.leader), doc_id, "dept_review",
                       "同意，请办公室核稿", by_flow=True)
    sheet = run_in_transaction(service.countersign_sheet_pdf, ctx_for(bureau.drafter), doc_id)
    _, text = _text(sheet["data"])
    flat = text.replace(" ", "").replace("\n", "")
    _in_order(flat, ["发文会签单", "发文文号", "（未编号）", "缓急程度", "加急", "文件标题",
                     "拟稿部门", "办公室", "联系人", "张拟稿", "联系电话", "0312-5551234",
                     "拟稿部门意见", "王主任部门审核：同意，请办公室核稿", "会签部门意见",
                     "法制支队", "钱局外会签：无意见", "公文信息属性", "不予公开", "正文.docx"])


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils 未安装")
def test_first_page_renders_with_red_header_and_margins(bureau, tmp_path):
    """Render page 1 and look at its pixels: red 标志 and red line inside the 版心."""
    from PIL import Image

    doc_id = draft(bureau)
    issue(bureau, doc_id)
    pdf = run_in_transaction(service.document_pdf, ctx_for(bureau.drafter), doc_id)
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf["data"])
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(source),
                    str(tmp_path / "page")], check=True)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    width, height = image.size
    per_mm = width / 210
    reds = [(x, y) for y in range(height) for x in range(width)
            if (lambda p: p[0] > 180 and p[1] < 90 and p[2] < 90)(image.getpixel((x, y)))]
    assert reds, "no red on page 1"
    ys = sorted(y for _, y in reds)
    xs = sorted(x for x, _ in reds)
    top_mm = ys[0] / per_mm
    # the 标志's top 35 mm below the 版心 top (37 mm): about 72 mm from the paper's top
    assert 68 < top_mm < 78, top_mm
    # the red separator spans the 版心: from 28 mm to 184 mm
    assert abs(xs[0] / per_mm - 28) < 2 and abs(xs[-1] / per_mm - 184) < 2
    # nothing drawn in the top margin except nothing: the block starts at 37 mm
    dark_top = [y for y in range(0, int(36 * per_mm)) for x in range(width)
                if sum(image.getpixel((x, y))) < 300]
    assert not dark_top
