"""The condition language of exclusive gateways: small, safe, no eval.

    密级 in ['机密', '绝密'] and not 自定规范性文件 == true
    amount >= 10000 or kind == '请示'

Grammar (a field name is always on the left of a comparison, a literal on the right):

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := FIELD ("==" | "!=" | "<" | "<=" | ">" | ">=") LITERAL
                | FIELD ["not"] "in" LIST
                | FIELD                        (the field is truthy)
    LITERAL    := number | 'text' | "text" | true | false | null
    LIST       := "[" [LITERAL ("," LITERAL)*] "]"

`parse` returns a tree of tuples (checked once, at validation); `evaluate` walks it against the
instance's form data. A missing field is null; an ordering comparison with null is false.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LENGTH = 500
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    | (?P<word>[^\W\d][\w.]*)
    )""", re.VERBOSE | re.UNICODE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class ExpressionError(ValueError):
    """A Chinese message naming what is wrong with a condition."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"条件过长（最多{MAX_LENGTH}个字符）")
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            near = text[position:position + 10]
            raise ExpressionError(f"条件第{position + 1}个字符附近无法识别：{near}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "number":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "string":
            tokens.append(("lit", value[1:-1]))
        elif kind == "word" and value in {"true", "false", "null"}:
            tokens.append(("lit", {"true": True, "false": False, "null": None}[value]))
        elif kind == "word" and value in _KEYWORDS:
            tokens.append(("kw", value))
        elif kind == "word":
            tokens.append(("field", value))
        else:
            tokens.append(("op", value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise ExpressionError("条件不完整")
        self.index += 1
        return token

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.index += 1
            return True
        return False

    def expr(self) -> tuple:
        node = self.and_expr()
        while self.accept("kw", "or"):
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> tuple:
        node = self.not_expr()
        while self.accept("kw", "and"):
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> tuple:
        if self.accept("kw", "not"):
            return ("not", self.not_expr())
        if self.accept("op", "("):
            node = self.expr()
            if not self.accept("op", ")"):
                raise ExpressionError("括号没有闭合")
            return node
        return self.comparison()

    def comparison(self) -> tuple:
        kind, value = self.take()
        if kind != "field":
            raise ExpressionError(f"比较的左边应为字段名，而不是“{value}”")
        field = value
        token = self.peek()
        if token and token[0] == "op" and token[1] in _COMPARE:
            self.index += 1
            lit_kind, literal = self.take()
            if lit_kind != "lit":
                raise ExpressionError(f"“{field} {token[1]}”的右边应为数字、文字或 true/false")
            return ("cmp", token[1], field, literal)
        negated = False
        if token == ("kw", "not"):
            self.index += 1
            negated = True
            if self.peek() != ("kw", "in"):
                raise ExpressionError(f"“{field} not”后面应为 in")
        if self.accept("kw", "in"):
            node = ("in", field, self.literal_list())
            return ("not", node) if negated else node
        return ("truthy", field)

    def literal_list(self) -> tuple:
        if not self.accept("op", "["):
            raise ExpressionError("in 的右边应为列表，例如 ['机密', '绝密']")
        items: list[Any] = []
        if self.accept("op", "]"):
            return tuple(items)
        while True:
            kind, value = self.take()
            if kind != "lit":
                raise ExpressionError("列表中只能是数字、文字或 true/false")
            items.append(value)
            if self.accept("op", "]"):
                return tuple(items)
            if not self.accept("op", ","):
                raise ExpressionError("列表的各项之间应以逗号分隔")


def parse(text: str) -> tuple:
    """The condition's tree, or ExpressionError with a Chinese message."""
    if not text or not text.strip():
        raise ExpressionError("条件为空")
    parser = _Parser(_tokens(text))
    tree = parser.expr()
    if parser.peek() is not None:
        raise ExpressionError(f"条件在“{parser.peek()[1]}”处多出了内容")
    return tree


def fields_used(tree: tuple) -> set[str]:
    kind = tree[0]
    if kind in {"and", "or"}:
        return fields_used(tree[1]) | fields_used(tree[2])
    if kind == "not":
        return fields_used(tree[1])
    if kind == "cmp":
        return {tree[2]}
    return {tree[1]}


def _coerce(value: Any, literal: Any) -> Any:
    """Form values arrive as text from HTML forms: compare '12' with 12 as numbers."""
    if isinstance(literal, bool) and isinstance(value, str):
        return {"true": True, "1": True, "on": True, "是": True,
                "false": False, "0": False, "": False, "否": False}.get(value.lower(), value)
    if isinstance(literal, int | float) and not isinstance(literal, bool) \
            and isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _compare(op: str, value: Any, literal: Any) -> bool:
    value = _coerce(value, literal)
    if op == "==":
        return value == literal
    if op == "!=":
        return value != literal
    if value is None or literal is None:
        return False
    try:
        return {"<": value < literal, "<=": value <= literal,
                ">": value > literal, ">=": value >= literal}[op]
    except TypeError:
        return False


def _contains(value: Any, items: tuple) -> bool:
    if isinstance(value, list):  # a multi-select field: any chosen value in the list
        return any(v in items for v in value)
    return any(_coerce(value, item) == item for item in items)


def evaluate(tree: tuple, data: dict[str, Any]) -> bool:
    kind = tree[0]
    if kind == "or":
        return evaluate(tree[1], data) or evaluate(tree[2], data)
    if kind == "and":
        return evaluate(tree[1], data) and evaluate(tree[2], data)
    if kind == "not":
        return not evaluate(tree[1], data)
    if kind == "cmp":
        return _compare(tree[1], data.get(tree[2]), tree[3])
    if kind == "in":
        return _contains(data.get(tree[1]), tree[2])
    value = _coerce(data.get(tree[1]), True)
    return bool(value)


def check(text: str, data: dict[str, Any]) -> bool:
    return evaluate(parse(text), data)
