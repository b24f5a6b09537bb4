"""Pinyin of names: what the address book's `zs` and `zhangsan` searches rely on."""

from app.org.names import name_pinyin, username_base


def test_full_pinyin_and_initials() -> None:
    assert name_pinyin("张三丰") == ("zhangsanfeng", "zsf")


def test_surnames_read_as_surnames() -> None:
    assert name_pinyin("单立新") == ("shanlixin", "slx")
    assert name_pinyin("曾庆春") == ("zengqingchun", "zqc")
    assert name_pinyin("解晓峰") == ("xiexiaofeng", "xxf")
    assert name_pinyin("区志远")[0] == "ouzhiyuan"


def test_compound_surnames() -> None:
    assert name_pinyin("欧阳修") == ("ouyangxiu", "oyx")
    assert name_pinyin("尉迟恭") == ("yuchigong", "ycg")
    assert name_pinyin("长孙无忌")[0] == "zhangsunwuji"


def test_given_name_keeps_ordinary_reading() -> None:
    # 曾 inside a given name is the ordinary ceng, not the surname zeng
    assert name_pinyin("王曾")[0] == "wangceng"


def test_non_chinese_parts_and_username() -> None:
    assert name_pinyin("阿卜杜·热合曼")[1] == "abdrhm"
    assert username_base("张伟") == "zhangwei"
    assert username_base("·") == "user"
