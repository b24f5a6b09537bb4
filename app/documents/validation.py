"""The rules of 公文 that a machine can check (see shared/reference/gongwen.md), with a
Chinese message per field.

`problems(doc, stage)` looks at a document's values (a mapping with the 稿纸's field names)
and returns {field: message}. Stage "draft" checks what is wrong whatever happens next;
stage "issue" adds what must be present before a document leaves the office (签发人 on an
上行文, 份号 on a classified document, a well-formed 发文字号, 主送机关).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.core.errors import ValidationError
from app.documents.constants import (
    DIRECTIONS,
    DISCLOSURES,
    DOC_TYPES,
    FIXED_DIRECTION,
    SECRECY_MAX_YEARS,
    SECRECY_TITLES,
    SEND_METHODS,
    URGENCIES,
)

# 代字 + 〔four-digit year〕 + a number without leading zeros or 第 + 号
DOC_NUMBER = re.compile(
    r"^(?P<code>[^\s〔〕\[\]()（）]{1,20})〔(?P<year>\d{4})〕(?P<n>[1-9]\d{0,5})号$")
COPY_NO = re.compile(r"^\d{1,6}$")
# types that need no 主送机关: they address the public or record a meeting
NO_MAIN_RECIPIENT = {"公告", "通告", "公报", "纪要", "命令", "决议"}
_SEPARATORS = re.compile(r"[、，,；;]")


def doc_number_problem(number: str) -> str | None:
    """Why a 发文字号 is malformed, in words a clerk understands; None when it is fine."""
    if DOC_NUMBER.match(number):
        return None
    if re.search(r"[\[\]【】()（）]", number):
        return "发文字号的年份应使用六角括号“〔〕”，如 X公发〔2026〕7号"
    if "第" in number:
        return "发文字号的序号前不加“第”，如 X公发〔2026〕7号"
    year = re.search(r"〔(\d*)〕", number)
    if year and len(year.group(1)) != 4:
        return "发文字号的年份应标全称（四位数字），如〔2026〕"
    if re.search(r"〕0\d*号$", number):
        return "发文字号的序号不编虚位（不加前导零），如 7号 而非 007号"
    return "发文字号格式应为“机关代字〔年份〕序号号”，如 X公发〔2026〕7号"


def _secrecy_problems(doc: Mapping[str, Any], stage: str, errors: dict[str, str]) -> None:
    secrecy = doc.get("secrecy", 0)
    if secrecy not in SECRECY_TITLES:
        errors["secrecy"] = "密级只能是：非密、秘密、机密、绝密"
        return
    years = doc.get("secrecy_years")
    if secrecy == 0:
        if years:
            errors["secrecy_years"] = "非密公文不得标注保密期限"
    else:
        longest = SECRECY_MAX_YEARS[secrecy]
        if years is not None and not 1 <= int(years) <= longest:
            errors["secrecy_years"] = (f"{SECRECY_TITLES[secrecy]}公文的保密期限最长{longest}年"
                                       f"（不标注即为{longest}年）")
        if stage == "issue" and not str(doc.get("copy_no") or "").strip():
            errors["copy_no"] = "涉密公文必须标注份号"
        if doc.get("disclosure") == "public":
            errors["disclosure"] = "涉密公文不得公开，公文信息属性应为“不予公开”"
    copy_no = str(doc.get("copy_no") or "").strip()
    if copy_no and not COPY_NO.match(copy_no):
        errors["copy_no"] = "份号应为1至6位阿拉伯数字，如 000001"


def _recipient_problems(doc: Mapping[str, Any], stage: str, errors: dict[str, str]) -> None:
    main_to = str(doc.get("main_to") or "").strip()
    doc_type = doc.get("doc_type")
    if stage == "issue" and not main_to and doc_type not in NO_MAIN_RECIPIENT:
        errors["main_to"] = "请填写主送机关"
    if doc_type == "请示" and main_to and _SEPARATORS.search(main_to):
        errors["main_to"] = "请示应当一文一事，只主送一个上级机关（其他机关可抄送）"
    for key in ("main_to_copies", "cc_copies", "internal_cc_copies"):
        value = doc.get(key, 0)
        if not isinstance(value, int) or not 0 <= value <= 9999:
            errors[key] = "份数应为0至9999的整数"


def problems(doc: Mapping[str, Any], stage: str = "draft") -> dict[str, str]:
    errors: dict[str, str] = {}
    doc_type = doc.get("doc_type")
    if doc_type not in DOC_TYPES:
        errors["doc_type"] = "公文种类只能是规定的15种：" + "、".join(DOC_TYPES)
    direction = doc.get("direction")
    if direction not in DIRECTIONS:
        errors["direction"] = "行文方向只能是：上行文、下行文、平行文"
    elif doc_type in FIXED_DIRECTION and direction != FIXED_DIRECTION[doc_type]:
        errors["direction"] = f"{doc_type}是{DIRECTIONS[FIXED_DIRECTION[doc_type]]}"
    title = str(doc.get("title") or "").strip()
    if not title:
        errors["title"] = "请填写文件标题"
    elif len(title) > 200:
        errors["title"] = "文件标题不能超过200个字符"
    if doc.get("urgency", "普通") not in URGENCIES:
        errors["urgency"] = "紧急程度只能是：特急、加急，或不标注（普通）"
    _secrecy_problems(doc, stage, errors)
    _recipient_problems(doc, stage, errors)
    if doc.get("disclosure", "not_public") not in DISCLOSURES:
        errors["disclosure"] = "公文信息属性只能是：公开、不予公开"
    if doc.get("send_method", SEND_METHODS[0]) not in SEND_METHODS:
        errors["send_method"] = "发送方式只能是：" + "、".join(SEND_METHODS)
    for index, item in enumerate(doc.get("attachment_titles") or []):
        if not str(item).strip() or len(str(item)) > 200:
            errors["attachment_titles"] = f"第{index + 1}个附件标题为空或超过200个字符"
            break
    number = doc.get("doc_number")
    if number:
        problem = doc_number_problem(str(number))
        if problem:
            errors["doc_number"] = problem
    elif stage == "issue":
        errors["doc_number"] = "公文尚未编号（发文字号在编号环节生成）"
    if stage == "issue":
        if doc.get("direction") == "up" and not doc.get("signer_name"):
            errors["signer"] = "上行文（如请示、报告）必须标注签发人"
        if not doc.get("issued_on"):
            errors["issued_on"] = "公文尚未签发，没有成文日期"
    return errors


def check(doc: Mapping[str, Any], stage: str = "draft") -> None:
    """Raise ValidationError naming every problem."""
    found = problems(doc, stage)
    if found:
        raise ValidationError(found)
