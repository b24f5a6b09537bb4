"""Input schemas of 公文 forms and APIs."""

from __future__ import annotations

from app.core.forms import Boolean, Choice, Date, Integer, IntList, Phone, Schema, Text
from app.documents.constants import (
    DIRECTIONS,
    DISCLOSURES,
    DOC_TYPE_TITLES,
    RETENTIONS,
    SECRECY_TITLES,
    SEND_METHODS,
    URGENCIES,
)

SECRECY_CHOICES = {str(k): v for k, v in SECRECY_TITLES.items()}


def _copies(name: str, label: str) -> Integer:
    return Integer(name, label, required=False, default=0, minimum=0, maximum=9999)


DRAFT_SCHEMA = Schema(
    Text("title", "文件标题", max_length=200),
    Choice("doc_type", "公文种类", DOC_TYPE_TITLES),
    Choice("direction", "行文方向", DIRECTIONS, required=False),
    Choice("secrecy", "密级", SECRECY_CHOICES, required=False, default="0"),
    Integer("secrecy_years", "保密期限（年）", required=False, minimum=1, maximum=30,
            help="不填即为该密级的最长期限：绝密30年、机密20年、秘密10年"),
    Text("copy_no", "份号", required=False, default="", max_length=6),
    Choice("urgency", "紧急程度", {u: u for u in URGENCIES}, required=False, default="普通"),
    Text("attachment_titles", "附件标题", required=False, default="", max_length=4000,
         multiline=True, help="每行一个附件"),
    Text("main_to", "主送单位", required=False, default="", max_length=300),
    _copies("main_to_copies", "主送份数"),
    IntList("main_to_dept_ids", "主送的内部单位"),
    Text("cc", "抄送单位", required=False, default="", max_length=300),
    _copies("cc_copies", "抄送份数"),
    IntList("cc_dept_ids", "抄送的内部单位"),
    Text("internal_cc", "内部抄送", required=False, default="", max_length=300),
    _copies("internal_cc_copies", "内部抄送份数"),
    IntList("internal_cc_user_ids", "内部抄送人员"),
    Text("keywords", "主题词", required=False, default="", max_length=200),
    Choice("disclosure", "公文信息属性", DISCLOSURES, required=False, default="not_public"),
    Boolean("is_normative", "自定规范性文件"),
    Boolean("is_policy", "政策法规类文件"),
    Boolean("is_major_decision", "重大决定事项"),
    IntList("countersign_dept_ids", "会签部门"),
    Phone("contact_phone", "联系电话", required=False, default=""),
    Text("typist", "打字", required=False, default="", max_length=40),
    Text("proofreader", "校对", required=False, default="", max_length=40),
    Text("seal_text", "落款用印", required=False, default="", max_length=60),
    Choice("send_method", "发送方式", {m: m for m in SEND_METHODS}, required=False,
           default=SEND_METHODS[0]),
    Text("joint_issuers", "联合发文单位", required=False, default="", max_length=1000,
         multiline=True, help="每行一个单位"),
    Text("note", "附注", required=False, default="", max_length=500, multiline=True),
    Text("issuing_authority", "发文机关署名", required=False, default="", max_length=60),
    Text("header_text", "发文机关标志", required=False, default="", max_length=60,
         help="不填即为“发文机关署名＋文件”"),
    Text("printed_by", "印发机关", required=False, default="", max_length=60),
    Text("related_receipts", "相关收文号", required=False, default="", max_length=1000,
         multiline=True, help="每行一个收文号"),
    Integer("lock_version", "版本", required=False, minimum=1),
)

INCOMING_SCHEMA = Schema(
    Text("source_unit", "来文单位", max_length=100),
    Text("source_number", "来文字号", required=False, default="", max_length=60),
    Text("title", "文件标题", max_length=200),
    Choice("secrecy", "密级", SECRECY_CHOICES, required=False, default="0"),
    Choice("urgency", "缓急程度", {u: u for u in URGENCIES}, required=False, default="普通"),
    Integer("copies", "份数", required=False, default=1, minimum=1, maximum=9999),
    Date("received_on", "收文日期"),
    Date("due_on", "办理时限", required=False),
)

UPLOAD_SCHEMA = Schema(
    Choice("role", "文件类别", {"body": "正文", "attachment": "附件"}),
    Text("title", "附件标题", required=False, default="", max_length=200),
    Integer("file_id", "文件", required=False, minimum=1),
)

ARCHIVE_SCHEMA = Schema(
    Choice("retention", "保管期限", RETENTIONS, required=False),
)

LIST_QUERY = Schema(
    Text("q", "关键词", required=False, default="", max_length=60),
    Integer("page", "页码", required=False, default=1, minimum=1, maximum=10_000),
)
