"""XLSForm expressions (XPath 1.0 subset + ODK functions) compiled to Polars expressions.

`relevant` and `constraint` are checked on every submission at once: an expression becomes
one vectorised Polars expression, never Python `eval` and never a loop over rows. The
grammar is XPath 1.0's (or < and < = != < <= > >= < + - < * div mod < unary -), with
`.`, `${name}`, string and number literals, and the functions forms use in practice. A
syntax error or a reference to an unknown question is an `ExprError` (the form is wrong);
a construct outside this subset (paths, predicates, unknown functions) is `ExprUnsupported`
so the caller can skip that one rule and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import polars as pl

from fieldkit.errors import InputError


class ExprError(InputError):
    """The expression is not valid XLSForm syntax, or names a question that does not exist."""


class ExprUnsupported(Exception):
    """Valid XPath that this evaluator does not cover, or a reference to a question not in the data."""


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<ref>\$\{[^}]*\})
  | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\||\(|\)|,|\[|\]|/|\.\.|\.)
  | (?P<name>[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)
""", re.X)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(src: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise ExprError(f"unexpected {src[pos]!r} at position {pos + 1} in {src!r}",
                            "fix the expression in the form")
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            if kind == "name" and text in ("and", "or", "div", "mod"):
                kind = "op"
            out.append(Tok(kind, text, pos))
        pos = m.end()
    return out


# ---- the parser: a small Pratt parser producing tuples ---------------------------------------

BINARY = {"or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
          "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6, "|": 8}


class _Parser:
    def __init__(self, src: str):
        self.src = src
        self.toks = tokenize(src)
        self.i = 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"expression ends too early: {self.src!r}", "fix the expression in the form")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise ExprError(f"expected {text!r} at position {tok.pos + 1} in {self.src!r}, got {tok.text!r}",
                            "fix the expression in the form")

    def parse(self) -> tuple:
        if not self.toks:
            raise ExprError("empty expression", "fix the expression in the form")
        node = self.expr(0)
        if self.peek() is not None:
            tok = self.peek()
            raise ExprError(f"unexpected {tok.text!r} at position {tok.pos + 1} in {self.src!r}",
                            "fix the expression in the form")
        return node

    def expr(self, min_prec: int) -> tuple:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok.kind != "op" or tok.text not in BINARY:
                return left
            prec = BINARY[tok.text]
            if prec <= min_prec:
                return left
            self.take()
            if tok.text == "|":
                raise ExprUnsupported("node-set union '|'")
            right = self.expr(prec)
            left = ("bin", tok.text, left, right)

    def unary(self) -> tuple:
        tok = self.peek()
        if tok is not None and tok.text == "-":
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> tuple:
        tok = self.take()
        if tok.kind == "num":
            return ("num", float(tok.text))
        if tok.kind == "str":
            return ("str", tok.text[1:-1])
        if tok.kind == "ref":
            name = tok.text[2:-1].strip()
            if not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
                raise ExprError(f"bad reference {tok.text!r} in {self.src!r}", "fix the expression in the form")
            return self.no_path(("ref", name))
        if tok.text == "(":
            node = self.expr(0)
            self.expect(")")
            return node
        if tok.text == ".":
            return self.no_path(("self",))
        if tok.text in ("..", "/") or tok.text == "[":
            raise ExprUnsupported(f"XPath paths ({tok.text!r})")
        if tok.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                self.take()
                args: list[tuple] = []
                if self.peek() is not None and self.peek().text != ")":
                    args.append(self.expr(0))
                    while self.peek() is not None and self.peek().text == ",":
                        self.take()
                        args.append(self.expr(0))
                self.expect(")")
                return ("call", tok.text, args)
            raise ExprUnsupported(f"XPath path {tok.text!r}")
        raise ExprError(f"unexpected {tok.text!r} at position {tok.pos + 1} in {self.src!r}",
                        "fix the expression in the form")

    def no_path(self, node: tuple) -> tuple:
        nxt = self.peek()
        if nxt is not None and nxt.text in ("/", "["):
            raise ExprUnsupported("XPath paths after a reference")
        return node


def parse(src: str) -> tuple:
    """The syntax tree of an expression (raises ExprError / ExprUnsupported)."""
    return _Parser(src).parse()


def references(node: tuple) -> set[str]:
    """The ${names} an expression uses."""
    if node[0] == "ref":
        return {node[1]}
    out: set[str] = set()
    for part in node[1:]:
        if isinstance(part, tuple):
            out |= references(part)
        elif isinstance(part, list):
            for a in part:
                out |= references(a)
    return out


# ---- compiling to Polars ------------------------------------------------------------------------

@dataclass
class Val:
    """A compiled value: the expression and its XPath type ('node', 'str', 'num', 'bool')."""

    expr: pl.Expr
    kind: str
    dtype: pl.DataType | None = None
    options: dict[str, str] | None = None  # select_multiple: choice -> option column
    literal: object = None


@dataclass
class Column:
    """What a name resolves to in the data: a column, its dtype, select_multiple option columns."""

    name: str
    dtype: pl.DataType
    options: dict[str, str] | None = None


Resolver = Callable[[str], Column]
NAN = float("nan")


def _text(v: Val) -> pl.Expr:
    if v.kind == "str":
        return v.expr
    if v.kind == "bool":
        return pl.when(v.expr).then(pl.lit("true")).otherwise(pl.lit("false"))
    if v.kind == "num":
        return v.expr.cast(pl.String)
    if v.dtype is not None and v.dtype.is_float():
        # integers stored as floats print as `3`, as ODK would store them
        e = v.expr
        return (pl.when(e == e.round(0)).then(e.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(e.cast(pl.String))).fill_null("")
    return v.expr.cast(pl.String).str.strip_chars().fill_null("")


def _num(v: Val) -> pl.Expr:
    if v.kind == "num":
        return v.expr
    if v.kind == "bool":
        return v.expr.cast(pl.Float64)
    if v.kind == "str" and v.literal is not None:
        try:
            return pl.lit(float(str(v.literal).strip()))
        except ValueError:
            return pl.lit(NAN)
    if v.dtype is not None and v.dtype.is_temporal():
        # dates compare as days since 1970, as ODK's decimal-date does
        return (v.expr.cast(pl.Datetime("ms")).cast(pl.Int64) / 86_400_000).fill_null(NAN)
    if v.dtype is not None and (v.dtype.is_numeric() or v.dtype == pl.Boolean):
        return v.expr.cast(pl.Float64).fill_null(NAN)
    return v.expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).fill_null(NAN)


def _bool(v: Val) -> pl.Expr:
    if v.kind == "bool":
        return v.expr
    if v.kind == "num":
        return (v.expr != 0) & v.expr.is_not_nan()
    return _text(v).str.len_chars() > 0


def _lit(value) -> Val:
    if isinstance(value, bool):
        return Val(pl.lit(value), "bool")
    if isinstance(value, (int, float)):
        return Val(pl.lit(float(value)), "num", literal=value)
    return Val(pl.lit(str(value)), "str", literal=value)


def _is_num_node(v: Val) -> bool:
    return v.kind == "node" and v.dtype is not None and v.dtype.is_numeric()


class Compiler:
    """Compile expressions against one dataset's columns (resolver) and a current column (`.`)."""

    def __init__(self, resolve: Resolver):
        self.resolve = resolve

    def compile(self, src: str, current: Column | None = None) -> pl.Expr:
        """A Boolean Polars expression for `src` (XPath boolean() of the result)."""
        return _bool(self.value(parse(src), current))

    def value(self, node: tuple, cur: Column | None) -> Val:
        kind = node[0]
        if kind == "num":
            return _lit(node[1])
        if kind == "str":
            return _lit(node[1])
        if kind == "self":
            if cur is None:
                raise ExprUnsupported("'.' outside a question")
            return Val(pl.col(cur.name), "node", cur.dtype, cur.options)
        if kind == "ref":
            col = self.resolve(node[1])
            return Val(pl.col(col.name), "node", col.dtype, col.options)
        if kind == "neg":
            return Val(-_num(self.value(node[1], cur)), "num")
        if kind == "bin":
            return self.binary(node[1], self.value(node[2], cur), self.value(node[3], cur))
        if kind == "call":
            return self.call(node[1], [self.value(a, cur) for a in node[2]], node[2])
        raise ExprUnsupported(f"node {kind}")

    def binary(self, op: str, a: Val, b: Val) -> Val:
        if op == "and":
            return Val(_bool(a) & _bool(b), "bool")
        if op == "or":
            return Val(_bool(a) | _bool(b), "bool")
        if op in ("+", "-", "*", "div", "mod"):
            x, y = _num(a), _num(b)
            expr = {"+": x + y, "-": x - y, "*": x * y, "div": x / y,
                    "mod": x - y * (x / y).cast(pl.Int64, strict=False).cast(pl.Float64)}[op]
            return Val(expr.fill_null(NAN), "num")
        # comparisons: XPath 1.0 conversion rules
        if op in ("=", "!="):
            if "bool" in (a.kind, b.kind):
                x, y = _bool(a), _bool(b)
            elif "num" in (a.kind, b.kind) or (_is_num_node(a) and _is_num_node(b)):
                x, y = _num(a), _num(b)
                eq = ((x == y) & x.is_not_nan() & y.is_not_nan()).fill_null(False)
                return Val(eq if op == "=" else ~eq, "bool")
            else:
                x, y = _text(a), _text(b)
            return Val((x == y if op == "=" else x != y).fill_null(op == "!="), "bool")
        x, y = _num(a), _num(b)
        cmp = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return Val(cmp.fill_null(False) & x.is_not_nan() & y.is_not_nan(), "bool")

    def call(self, name: str, args: list[Val], raw: list[tuple]) -> Val:
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise ExprUnsupported(f"function {name}()")
        lo, hi, impl = fn
        if not lo <= len(args) <= (hi if hi is not None else len(args)):
            raise ExprError(f"{name}() takes {lo}{'' if hi == lo else '+' if hi is None else f'-{hi}'} "
                            f"arguments, not {len(args)}", "fix the expression in the form")
        return impl(args)


def _selected(args: list[Val]) -> Val:
    field, choice = args
    if choice.kind == "str" and choice.literal is not None:
        want = str(choice.literal).strip()
        if field.options and want in field.options:
            opt = pl.col(field.options[want])
            return Val(opt.cast(pl.String).str.strip_chars().is_in(["1", "1.0", "true", "True"])
                       .fill_null(False), "bool")
        pattern = r"(?:^|\s)" + re.escape(want) + r"(?:\s|$)"
        return Val(_text(field).str.contains(pattern), "bool")
    return Val(_text(field).str.split(" ").list.contains(_text(choice)).fill_null(False), "bool")


def _count_selected(args: list[Val]) -> Val:
    return Val(_text(args[0]).str.count_matches(r"\S+").cast(pl.Float64), "num")


def _regex(args: list[Val]) -> Val:
    pat = args[1]
    if pat.kind != "str" or pat.literal is None:
        raise ExprUnsupported("regex() with a computed pattern")
    try:
        pl.Series([""]).str.contains(str(pat.literal))
    except pl.exceptions.PolarsError as e:
        raise ExprError(f"regex pattern {pat.literal!r} is not valid: {str(e).splitlines()[0][:120]}",
                        "fix the regular expression in the form") from e
    return Val(_text(args[0]).str.contains(str(pat.literal)), "bool")


def _if(args: list[Val]) -> Val:
    c, a, b = args
    if a.kind == "num" or b.kind == "num":
        return Val(pl.when(_bool(c)).then(_num(a)).otherwise(_num(b)), "num")
    return Val(pl.when(_bool(c)).then(_text(a)).otherwise(_text(b)), "str")


def _coalesce(args: list[Val]) -> Val:
    a, b = _text(args[0]), _text(args[1])
    return Val(pl.when(a.str.len_chars() > 0).then(a).otherwise(b), "str")


def _round(args: list[Val]) -> Val:
    x = _num(args[0])
    digits = args[1].literal if len(args) > 1 else 0
    if not isinstance(digits, (int, float)):
        raise ExprUnsupported("round() with computed digits")
    return Val(x.round(int(digits)), "num")


def _substr(args: list[Val]) -> Val:
    s = _text(args[0])
    start = _num(args[1]).cast(pl.Int64, strict=False)
    if len(args) == 3:
        length = _num(args[2]).cast(pl.Int64, strict=False) - start
        return Val(s.str.slice(start, length), "str")
    return Val(s.str.slice(start), "str")


def _now(_args: list[Val]) -> Val:
    import time

    return Val(pl.lit(time.time() / 86400.0), "num")


FUNCTIONS: dict[str, tuple[int, int | None, Callable[[list[Val]], Val]]] = {
    "selected": (2, 2, _selected),
    "count-selected": (1, 1, _count_selected),
    "not": (1, 1, lambda a: Val(~_bool(a[0]), "bool")),
    "true": (0, 0, lambda a: _lit(True)),
    "false": (0, 0, lambda a: _lit(False)),
    "boolean": (1, 1, lambda a: Val(_bool(a[0]), "bool")),
    "number": (1, 1, lambda a: Val(_num(a[0]), "num")),
    "string": (1, 1, lambda a: Val(_text(a[0]), "str")),
    "int": (1, 1, lambda a: Val(_num(a[0]).cast(pl.Int64, strict=False).cast(pl.Float64)
                                .fill_null(NAN), "num")),
    "string-length": (1, 1, lambda a: Val(_text(a[0]).str.len_chars().cast(pl.Float64), "num")),
    "regex": (2, 2, _regex),
    "contains": (2, 2, lambda a: Val(_text(a[0]).str.contains(_text(a[1]), literal=True), "bool")),
    "starts-with": (2, 2, lambda a: Val(_text(a[0]).str.starts_with(_text(a[1])), "bool")),
    "ends-with": (2, 2, lambda a: Val(_text(a[0]).str.ends_with(_text(a[1])), "bool")),
    "concat": (1, None, lambda a: Val(pl.concat_str([_text(v) for v in a]), "str")),
    "if": (3, 3, _if),
    "coalesce": (2, 2, _coalesce),
    "round": (1, 2, _round),
    "floor": (1, 1, lambda a: Val(_num(a[0]).floor(), "num")),
    "ceiling": (1, 1, lambda a: Val(_num(a[0]).ceil(), "num")),
    "abs": (1, 1, lambda a: Val(_num(a[0]).abs(), "num")),
    "pow": (2, 2, lambda a: Val(_num(a[0]).pow(_num(a[1])), "num")),
    "min": (1, None, lambda a: Val(pl.min_horizontal([_num(v) for v in a]), "num")),
    "max": (1, None, lambda a: Val(pl.max_horizontal([_num(v) for v in a]), "num")),
    "substr": (2, 3, _substr),
    "today": (0, 0, _now),
    "now": (0, 0, _now),
}
