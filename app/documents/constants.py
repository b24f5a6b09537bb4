"""The fixed vocabularies of 公文 (《党政机关公文处理工作条例》, GB/T 9704-2012, DA/T 22-2015)."""

from __future__ import annotations

# 文种: exactly the 15 of the 条例, Article 8. 命令 is printed 命令(令).
DOC_TYPES: tuple[str, ...] = ("决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知",
                              "通报", "报告", "请示", "批复", "议案", "函", "纪要")
DOC_TYPE_TITLES = {t: ("命令（令）" if t == "命令" else t) for t in DOC_TYPES}

# 行文方向. 请示 and 报告 always go up; 批复 always answers down.
DIRECTIONS = {"up": "上行文", "down": "下行文", "parallel": "平行文"}
FIXED_DIRECTION = {"请示": "up", "报告": "up", "批复": "down"}

# 密级 (the same scale as app_user.clearance) and the longest 保密期限 in years.
SECRECY_TITLES = {0: "非密", 1: "秘密", 2: "机密", 3: "绝密"}
SECRECY_MAX_YEARS = {1: 10, 2: 20, 3: 30}

# 紧急程度. 普通 is stored but not printed.
URGENCIES = ("普通", "加急", "特急")

DISCLOSURES = {"public": "公开", "not_public": "不予公开"}
SEND_METHODS = ("电子公文交换", "机要交换", "机要通信", "邮寄", "传真", "其他")

OUTGOING_STATUS = {
    "draft": "草稿", "in_flow": "流转中", "signed": "已签发", "numbered": "已编号",
    "sealed": "已用印", "distributed": "已分发", "archived": "已归档", "cancelled": "已作废",
}
INCOMING_STATUS = {
    "pending": "待签收", "registered": "已登记", "in_flow": "办理中", "done": "已办结",
    "archived": "已归档",
}

OPINION_KINDS = {
    "drafting": "拟稿部门意见", "dept_review": "部门审核", "legal_review": "法规部门审核",
    "office_review": "办公室核稿", "countersign": "会签", "sign": "签发",
}

# 保管期限 (DA/T 22-2015): code in the 档号 and title.
RETENTIONS = {"Y": "永久", "D30": "30年", "D10": "10年"}
ARCHIVE_CATEGORY = "WS"  # 门类代码: 文书

FILE_ROLES = {"body": "正文", "attachment": "附件", "scan": "原件扫描"}
FILE_KINDS = {"pdf": "PDF", "docx": "Word（DOCX）", "ofd": "OFD"}
FILE_MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ofd": "application/ofd",
}

DEFAULT_OUTGOING_PATTERN = "{代字}发〔{year}〕{n}号"
DEFAULT_INCOMING_PATTERN = "{代字}收〔{year}〕{n}号"
