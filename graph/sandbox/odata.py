"""OData query options for the sandbox: the ``$filter`` subset Graph mail supports, ``$orderby``.

``$filter`` grammar: comparisons (``eq ne gt ge lt le``) of a property path with a
literal, ``contains``/``startswith`` functions, ``and``/``or``/``not`` and
parentheses. String literals use ``''`` for a quote, exactly as Graph; anything
else is a 400 ``BadRequest``. String equality is case-insensitive, as in Exchange.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<dt>\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d))
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"contains", "startswith"}


class FilterError(ValueError):
    """The ``$filter`` could not be parsed."""


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> list[_Tok]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Invalid filter clause: syntax error at position {pos}.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def _literal(tok: _Tok) -> Any:
    if tok.kind == "str":
        return tok.text[1:-1].replace("''", "'")
    if tok.kind == "dt":
        return dt.datetime.fromisoformat(tok.text.replace("Z", "+00:00"))
    if tok.kind == "num":
        return float(tok.text)
    if tok.kind == "name" and tok.text in {"true", "false", "null"}:
        return {"true": True, "false": False, "null": None}[tok.text]
    raise FilterError(f"Invalid filter clause: '{tok.text}' is not a literal.")


def resolve(item: dict[str, Any], path: str) -> Any:
    """The value at a ``a/b/c`` property path of a JSON object (None if absent)."""
    value: Any = item
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value.lower()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _norm(left), _norm(right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None or type(a) is not type(b):
        return False
    result: bool = {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    return result


class _Parser:
    def __init__(self, text: str, known: set[str]) -> None:
        self.toks = _tokens(text)
        self.pos = 0
        self.known = known
        self.properties: list[str] = []  # in order of appearance (InefficientFilter rule)

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise FilterError(f"Invalid filter clause: expected {text or 'more input'}.")
        self.pos += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise FilterError(f"Invalid filter clause: unexpected '{self.peek().text}'.")  # type: ignore[union-attr]
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while (t := self.peek()) and t.text == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda m: any(p(m) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.unary()]
        while (t := self.peek()) and t.text == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda m: all(p(m) for p in parts))

    def unary(self) -> Predicate:
        if (t := self.peek()) and t.text == "not":
            self.take()
            inner = self.unary()
            return lambda m: not inner(m)
        return self.primary()

    def prop(self) -> str:
        tok = self.take()
        if tok.kind != "name" or tok.text in _OPS | {"and", "or", "not", "true", "false", "null"}:
            raise FilterError(f"Invalid filter clause: '{tok.text}' is not a property.")
        if tok.text.split("/")[0] not in self.known:
            raise FilterError(f"Could not find a property named '{tok.text}'.")
        self.properties.append(tok.text)
        return tok.text

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise FilterError("Invalid filter clause: empty expression.")
        if tok.text == "(":
            self.take("(")
            inner = self.or_()
            self.take(")")
            return inner
        if tok.kind == "name" and tok.text in _FUNCS:
            func = self.take().text
            self.take("(")
            path = self.prop()
            self.take(",")
            needle = _literal(self.take())
            self.take(")")
            if not isinstance(needle, str):
                raise FilterError(f"Invalid filter clause: {func} needs a string.")
            low = needle.lower()
            if func == "contains":
                return lambda m: low in str(resolve(m, path) or "").lower()
            return lambda m: str(resolve(m, path) or "").lower().startswith(low)
        path = self.prop()
        op = self.take().text
        if op not in _OPS:
            raise FilterError(f"Invalid filter clause: unknown operator '{op}'.")
        value = _literal(self.take())
        return lambda m: _compare(op, resolve(m, path), value)


def parse_filter(text: str, known: set[str]) -> tuple[Predicate, list[str]]:
    """A predicate for ``$filter`` and the property paths it uses, in order."""
    parser = _Parser(text, known)
    return parser.parse(), parser.properties


def parse_orderby(text: str, known: set[str]) -> list[tuple[str, bool]]:
    """``$orderby`` as (property path, descending) pairs."""
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in {"asc", "desc"}):
            raise FilterError(f"Invalid $orderby: '{part.strip()}'.")
        if words[0].split("/")[0] not in known:
            raise FilterError(f"Could not find a property named '{words[0]}'.")
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return out


def inefficient(order: list[tuple[str, bool]], filter_props: list[str]) -> bool:
    """Graph's rule: with both options, ordered properties must lead ``$filter``, in order."""
    if not order or not filter_props:
        return False
    wanted = [p for p, _ in order]
    return filter_props[: len(wanted)] != wanted


def sort_key(path: str) -> Callable[[dict[str, Any]], Any]:
    """A sort key for a property path (None sorts first)."""

    def key(item: dict[str, Any]) -> Any:
        value = _norm(resolve(item, path))
        return (value is not None, value if value is not None else 0)

    return key
