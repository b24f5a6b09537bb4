"""Pinyin of personal names, for the address book search (`zs` finds 张三) and usernames.

pypinyin reads a character by its most common sound, which is wrong for several surnames
(单 is shan, not dan; 曾 zeng, not ceng; 解 xie, not jie). A name's first character is a
surname, so it is read with the surname table below; compound surnames come first.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

COMPOUND_SURNAMES = {
    "欧阳": ["ou", "yang"], "司马": ["si", "ma"], "诸葛": ["zhu", "ge"], "上官": ["shang", "guan"],
    "东方": ["dong", "fang"], "皇甫": ["huang", "fu"], "尉迟": ["yu", "chi"],
    "长孙": ["zhang", "sun"], "令狐": ["ling", "hu"], "万俟": ["mo", "qi"],
    "澹台": ["tan", "tai"], "公孙": ["gong", "sun"], "慕容": ["mu", "rong"],
    "宇文": ["yu", "wen"], "夏侯": ["xia", "hou"], "端木": ["duan", "mu"],
    "单于": ["chan", "yu"], "呼延": ["hu", "yan"], "西门": ["xi", "men"],
}

# Single-character surnames whose surname reading differs from pypinyin's default reading.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
    "查": "zha", "覃": "qin", "翟": "zhai", "乐": "yue", "盖": "ge", "缪": "miao",
    "都": "du", "折": "she", "召": "shao", "秘": "bi", "员": "yun", "繁": "po",
    "种": "chong", "能": "nai", "宓": "mi", "洗": "xian", "句": "gou", "柏": "bai",
    "薄": "bo", "贲": "ben", "费": "fei", "牟": "mou", "谌": "chen", "啜": "chuai",
    "祭": "zhai", "隗": "wei", "眭": "sui", "亓": "qi", "蕃": "pi", "阚": "kan",
    "沈": "shen", "长": "chang", "重": "chong", "藏": "zang",
}

_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _syllables(name: str) -> list[str]:
    name = name.strip()
    for surname, reading in COMPOUND_SURNAMES.items():
        if name.startswith(surname):
            return reading + _plain(name[len(surname):])
    if name[:1] in SURNAME_READINGS:
        return [SURNAME_READINGS[name[0]], *_plain(name[1:])]
    return _plain(name)


def _plain(text: str) -> list[str]:
    if not text:
        return []
    words: list[str] = []
    for part in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: [chars]):
        words.extend(_ASCII_WORD.findall(part.lower()))
    return words


def name_pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials), lower-case ASCII: 张三丰 -> ("zhangsanfeng", "zsf")."""
    syllables = _syllables(name)
    return "".join(syllables), "".join(s[0] for s in syllables if s)


def username_base(name: str) -> str:
    """A username stem from a name (zhangwei); the caller adds a digit for duplicates."""
    full, _ = name_pinyin(name)
    stem = re.sub(r"[^a-z0-9]", "", full)[:28]
    return stem if len(stem) >= 2 else f"user{stem}"
