"""The 公文 rules, case by case, with the message a clerk sees next to the field."""

from __future__ import annotations

import datetime as dt

import pytest

from app.documents.constants import DOC_TYPES
from app.documents.validation import doc_number_problem, problems

BASE = {"title": "关于开展春季安全检查的通知", "doc_type": "通知", "direction": "down",
        "secrecy": 0, "secrecy_years": None, "copy_no": "", "urgency": "普通",
        "main_to": "各分局", "main_to_copies": 1, "cc_copies": 0, "internal_cc_copies": 0,
        "disclosure": "not_public", "attachment_titles": [], "doc_number": None}
ISSUED = {**BASE, "doc_number": "X公发〔2026〕7号", "issued_on": dt.date(2026, 11, 24),
          "signer_name": "王主任"}


def check(stage="draft", **changes):
    return problems({**(ISSUED if stage == "issue" else BASE), **changes}, stage)


def test_exactly_the_fifteen_types():
    assert len(DOC_TYPES) == 15
    for doc_type in DOC_TYPES:
        direction = {"请示": "up", "报告": "up"}.get(doc_type, "down")
        main_to = "市政府" if doc_type == "请示" else "各分局"
        assert "doc_type" not in check(doc_type=doc_type, direction=direction, main_to=main_to)
    assert "15种" in check(doc_type="简报")["doc_type"]
    assert "doc_type" in check(doc_type="命令(令)")


def test_a_classified_document_needs_a_copy_number_when_issued():
    assert check("issue", secrecy=2, copy_no="")["copy_no"] == "涉密公文必须标注份号"
    assert "copy_no" not in check("issue", secrecy=2, copy_no="000012")
    assert "copy_no" not in check("draft", secrecy=2, copy_no="")
    assert "1至6位" in check(copy_no="12a")["copy_no"]


def test_secrecy_term_within_the_maximum_of_its_level():
    assert "secrecy_years" not in check(secrecy=3, secrecy_years=30)
    assert "最长30年" in check(secrecy=3, secrecy_years=31)["secrecy_years"]
    assert "最长20年" in check(secrecy=2, secrecy_years=25)["secrecy_years"]
    assert "最长10年" in check(secrecy=1, secrecy_years=11)["secrecy_years"]
    assert "secrecy_years" not in check(secrecy=1, secrecy_years=None)  # none: the maximum


def test_non_classified_must_not_carry_a_term():
    assert check(secrecy=0, secrecy_years=5)["secrecy_years"] == "非密公文不得标注保密期限"


def test_classified_cannot_be_public():
    assert "不予公开" in check(secrecy=1, disclosure="public")["disclosure"]


def test_urgency_values():
    for value in ("普通", "加急", "特急"):
        assert "urgency" not in check(urgency=value)
    assert "特急、加急" in check(urgency="急")["urgency"]


def test_upward_documents_must_show_the_signer_when_issued():
    upward = {"doc_type": "请示", "direction": "up", "main_to": "市政府"}
    assert "签发人" in check("issue", signer_name="", **upward)["signer"]
    assert "signer" not in check("issue", **upward)
    assert "signer" not in check("issue", signer_name="")  # a 下行文 needs none printed
    assert "signer" not in check("draft", signer_name="", **upward)


def test_request_and_report_go_up_and_a_request_has_one_main_recipient():
    assert check(doc_type="请示", direction="down")["direction"] == "请示是上行文"
    assert check(doc_type="报告", direction="parallel")["direction"] == "报告是上行文"
    assert "一个上级机关" in check(doc_type="请示", direction="up",
                               main_to="市政府、省公安厅")["main_to"]


@pytest.mark.parametrize("number, expected", [
    ("X公发〔2026〕7号", None),
    ("X公办发〔2026〕123号", None),
    ("X公发[2026]7号", "六角括号"),
    ("X公发（2026）7号", "六角括号"),
    ("X公发〔2026〕第7号", "不加“第”"),
    ("X公发〔26〕7号", "四位数字"),
    ("X公发〔2026〕007号", "不编虚位"),
    ("X公发2026-7", "格式应为"),
])
def test_doc_number_format(number, expected):
    problem = doc_number_problem(number)
    if expected is None:
        assert problem is None
    else:
        assert expected in problem
        assert expected in check(doc_number=number)["doc_number"]


def test_issue_stage_needs_number_date_and_main_recipient():
    found = check("issue", doc_number=None, issued_on=None, main_to="")
    assert "尚未编号" in found["doc_number"]
    assert "成文日期" in found["issued_on"]
    assert found["main_to"] == "请填写主送机关"
    assert "main_to" not in check("issue", doc_type="公告", main_to="")


def test_a_clean_document_has_no_problems():
    assert check() == {}
    assert check("issue") == {}
