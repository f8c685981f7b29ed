"""The `$filter` language of Acumatica's contract-based REST API and of its OData services.

The simulator is the oracle the tap is tested against, so this parser is written from the
OData conventions Acumatica documents (see ../shared/docs/ACUMATICA_API.md), not from the
tap's literal builder: a tap that writes a literal the real server would reject must fail
here too.

Three dialects share one grammar:

* ``"rest"`` - contract-based REST (OData v3 conventions): ``datetimeoffset'…'`` and
  ``datetime'…'`` literals, ``guid'…'``, ``substringof``/``startswith``/``endswith`` and custom
  fields ``cf.String(f='View.Field')`` (field name ``"custom:View.Field"``).
* ``"odata3"`` - legacy OData v3 generic inquiries: same literals, no ``cf.*``.
* ``"odata4"`` - OData v4 generic inquiries: bare ``2022-07-13T00:00:00Z`` / ``2022-07-13``
  / guid literals, ``contains``/``startswith``/``endswith``; the v3 prefixed literals,
  ``substringof`` and the ``m``/``L`` number suffixes are syntax errors (as in OData v4).

Semantics mirror SQL Server, which is what Acumatica translates a filter into:

* string comparisons are case-insensitive and ignore trailing spaces (default collation,
  ANSI padding - matters for space-padded CHAR keys such as ``"AALEGO500 "``); the
  ``startswith``/``endswith``/``contains`` functions are case-insensitive but see the padding;
* a date-time literal without an offset (and a date-only literal, which means midnight) is
  read in the instance's time zone (``local_tz``) - a real Acumatica quirk that shifts
  windows when a client sends UTC wall-clock times without ``Z``;
* ``X eq null`` is true when X is None, ``X ne null`` when it is not; every other comparison
  involving None is false (SQL's unknown).

The filter is compiled into closures once, at parse time, because the server evaluates it
for every candidate row (up to a million per request).
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Bound", "Filter", "FilterSyntaxError", "parse_filter"]

DIALECTS = ("rest", "odata3", "odata4")


class FilterSyntaxError(ValueError):
    """A `$filter` the server cannot parse; the message becomes the body of a 400 answer."""


@dataclass(frozen=True)
class Bound:
    """One end of a range implied on a field (used by the server to seek a sorted index)."""

    value: Any
    inclusive: bool


Getter = Callable[[str], Any]
Predicate = Callable[[Getter], bool]

# --- tokens -----------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<typed>(?:datetimeoffset|datetime|guid|time)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}
        (?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}
        (?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?
        (?![\w:.+-]))
  | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?[mMdDfFlL]?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),=])
    """,
    re.VERBOSE,
)

_CMP_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_KEYWORDS = frozenset(["and", "or", "not", *_CMP_OPS])

_DT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)

# String functions: name -> (dialects that know it, implementation on casefolded strings).
_STRING_FUNCS: dict[str, tuple[tuple[str, ...], Callable[[str, str], bool]]] = {
    # OData v3: substringof(needle, haystack) - note the argument order.
    "substringof": (("rest", "odata3"), lambda needle, hay: needle in hay),
    "contains": (("odata4",), lambda hay, needle: needle in hay),
    "startswith": (DIALECTS, lambda s, prefix: s.startswith(prefix)),
    "endswith": (DIALECTS, lambda s, suffix: s.endswith(suffix)),
}
_CUSTOM_TYPES = frozenset(
    ["String", "Decimal", "DateTime", "Boolean", "Int", "Long", "Short", "Byte", "Double", "Guid"]
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            snippet = text[pos : pos + 20]
            if text[pos] == "'" or "'" in text[max(0, pos - 16) : pos]:
                raise FilterSyntaxError(
                    f"Unterminated string literal at position {pos} in $filter: {snippet!r}"
                )
            raise FilterSyntaxError(
                f"Syntax error at position {pos} in $filter: unexpected {snippet!r}"
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# --- literal values ---------------------------------------------------------------------------


def _unquote(body: str) -> str:
    return body[1:-1].replace("''", "'")


def _parse_datetime(text: str, local_tz: tzinfo, what: str) -> tuple[datetime, bool, bool]:
    """Parse an ISO-8601 date-time; returns (aware value, had_offset, date_only).

    No offset means the instance's time zone (Acumatica's behaviour), a bare date means local
    midnight. .NET allows 7 fractional digits (ticks); Python keeps 6, the 7th is truncated.
    """
    m = _DT_RE.match(text.strip())
    if m is None:
        raise FilterSyntaxError(f"Invalid {what} literal '{text}': expected ISO 8601.")
    year, month, day, hh, mm, ss, frac, off = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: tzinfo = local_tz
    if off:
        if off == "Z":
            tz = timezone.utc
        else:
            sign = -1 if off[0] == "-" else 1
            digits = off[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hh or 0),
            int(mm or 0),
            int(ss or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise FilterSyntaxError(f"Invalid {what} literal '{text}': {exc}.") from None
    return value, bool(off), hh is None


def _parse_guid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise FilterSyntaxError(f"Invalid guid literal '{text}'.") from None


@dataclass(frozen=True)
class _Lit:
    kind: str  # string int decimal double bool null datetime datetimeoffset date guid
    value: Any


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Func:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class _Cmp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _Bool:
    op: str  # "and" | "or"
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Not:
    operand: Any


_PREDICATE_NODES = (_Func, _Cmp, _Bool, _Not)


# --- comparison semantics ---------------------------------------------------------------------


def _normalizer(local_tz: tzinfo) -> Callable[[Any], tuple[str, Any] | None]:
    """Map a value to (family, sort key): only values of one family are comparable."""

    def norm(value: Any) -> tuple[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return ("s", value.rstrip(" ").casefold())
        if isinstance(value, bool):
            return ("b", value)
        if isinstance(value, (int, Decimal, float)):
            return ("n", value)
        if isinstance(value, datetime):
            return ("d", value if value.tzinfo is not None else value.replace(tzinfo=local_tz))
        if isinstance(value, date):
            return ("d", datetime(value.year, value.month, value.day, tzinfo=local_tz))
        if isinstance(value, uuid.UUID):
            return ("s", str(value))
        return ("?", value)

    return norm


class Filter:
    """A parsed, compiled `$filter`: evaluate rows with `matches`, seek indexes with `bounds`."""

    __slots__ = ("_bounds", "_pred", "fields", "literal_kinds", "range_field", "text")

    def __init__(
        self,
        text: str,
        pred: Predicate,
        fields: frozenset[str],
        bounds: Mapping[str, tuple[Bound | None, Bound | None]],
        literal_kinds: Mapping[str, frozenset[str]],
        range_field: str | None = None,
    ) -> None:
        self.text = text
        self._pred = pred
        self.fields = fields
        self._bounds = dict(bounds)
        #: field -> kinds of literal it is compared with ("string" for string functions);
        #: lets a typed service (OData) reject incompatible comparisons with a 400.
        self.literal_kinds = dict(literal_kinds)
        #: The one field when the whole filter is an AND of comparisons of that field with
        #: non-null literals: then ``bounds(range_field)`` says everything the filter says,
        #: and an index seek needs no per-row check away from the bounds.
        self.range_field = range_field

    def matches(self, get: Getter) -> bool:
        return self._pred(get)

    def bounds(self, field: str) -> tuple[Bound | None, Bound | None]:
        return self._bounds.get(field, (None, None))

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


class _Parser:
    def __init__(self, text: str, dialect: str, local_tz: tzinfo) -> None:
        self.text = text
        self.dialect = dialect
        self.local_tz = local_tz
        self.tokens = _tokenize(text)
        self.i = 0

    # token helpers
    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "ident" and tok.text in words

    def expect_punct(self, ch: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.text != ch:
            raise self.error(tok, f"expected '{ch}'")

    def error(self, tok: _Tok, message: str) -> FilterSyntaxError:
        found = "end of input" if tok.kind == "end" else f"'{tok.text}'"
        return FilterSyntaxError(
            f"Syntax error at position {tok.pos} in $filter '{self.text}': {message}, "
            f"found {found}."
        )

    # grammar: or < and < comparison < not (unary) < primary, as in the OData ABNF
    def parse(self) -> Any:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok, "expected 'and', 'or' or the end of the expression")
        return node

    def parse_or(self) -> Any:
        items = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else _Bool("or", tuple(items))

    def parse_and(self) -> Any:
        items = [self.parse_cmp()]
        while self.is_word("and"):
            self.take()
            items.append(self.parse_cmp())
        return items[0] if len(items) == 1 else _Bool("and", tuple(items))

    def parse_cmp(self) -> Any:
        left = self.parse_unary()
        while self.peek().kind == "ident" and self.peek().text in _CMP_OPS:
            op = self.take().text
            right = self.parse_unary()
            left = _Cmp(op, left, right)
        return left

    def parse_unary(self) -> Any:
        if self.is_word("not"):
            self.take()
            return _Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Any:
        tok = self.take()
        kind, text = tok.kind, tok.text
        if kind == "punct" and text == "(":
            node = self.parse_or()
            self.expect_punct(")")
            return node
        if kind == "string":
            return _Lit("string", _unquote(text))
        if kind == "typed":
            return self.typed_literal(tok)
        if kind == "number":
            return self.number_literal(tok)
        if kind in ("datetime", "guid"):
            if self.dialect != "odata4":
                hint = "datetimeoffset'…'" if self.dialect == "rest" else "datetime'…'"
                if kind == "guid":
                    hint = "guid'…'"
                raise self.error(tok, f"bare literals are OData v4 syntax; write {hint}")
            if kind == "guid":
                return _Lit("guid", _parse_guid(text))
            value, had_offset, date_only = _parse_datetime(text, self.local_tz, "date/time")
            lit_kind = "date" if date_only else ("datetimeoffset" if had_offset else "datetime")
            return _Lit(lit_kind, value)
        if kind == "ident":
            if text in ("true", "false"):
                return _Lit("bool", text == "true")
            if text == "null":
                return _Lit("null", None)
            if text in _KEYWORDS:
                raise self.error(tok, "expected a field, a literal or '('")
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.text == "(":
                return self.function(tok)
            return _Field(text)
        raise self.error(tok, "expected a field, a literal or '('")

    def typed_literal(self, tok: _Tok) -> _Lit:
        prefix, _, rest = tok.text.partition("'")
        body = _unquote("'" + rest)
        if self.dialect == "odata4":
            raise self.error(
                tok, f"{prefix}'…' literals are OData v3 syntax; OData v4 uses bare literals"
            )
        if prefix == "guid":
            return _Lit("guid", _parse_guid(body))
        if prefix == "time":
            raise self.error(tok, "time literals are not supported")
        value, _, _ = _parse_datetime(body, self.local_tz, prefix)
        return _Lit(prefix, value)

    def number_literal(self, tok: _Tok) -> _Lit:
        text = tok.text
        suffix = text[-1].lower() if text[-1].isalpha() else ""
        if suffix and self.dialect == "odata4":
            raise self.error(tok, "number suffixes (m, L, d, f) are OData v3 syntax")
        body = text[:-1] if suffix else text
        try:
            if suffix in ("d", "f") or "e" in body.lower():
                return _Lit("double", float(body))
            if suffix == "m" or "." in body:
                return _Lit("decimal", Decimal(body))
            return _Lit("int", int(body))
        except (ValueError, InvalidOperation):
            raise self.error(tok, "invalid number") from None

    def function(self, name_tok: _Tok) -> Any:
        name = name_tok.text
        self.expect_punct("(")
        if name.startswith("cf.") and name.count(".") == 1:
            if self.dialect != "rest":
                raise self.error(name_tok, "custom fields (cf.*) exist only in the REST API")
            ctype = name[3:]
            if ctype not in _CUSTOM_TYPES:
                raise self.error(name_tok, f"unknown custom field type '{ctype}'")
            arg = self.take()
            if arg.kind != "ident" or arg.text != "f":
                raise self.error(arg, f"expected f='View.Field' in {name}(…)")
            self.expect_punct("=")
            ref = self.take()
            if ref.kind != "string" or _unquote(ref.text).count(".") != 1:
                raise self.error(ref, "expected a 'View.Field' string")
            self.expect_punct(")")
            return _Field("custom:" + _unquote(ref.text))
        spec = _STRING_FUNCS.get(name)
        if spec is None or self.dialect not in spec[0]:
            raise self.error(name_tok, f"unknown function '{name}'")
        args = [self.parse_or()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            args.append(self.parse_or())
        self.expect_punct(")")
        if len(args) != 2:
            raise self.error(name_tok, f"function '{name}' takes 2 arguments, got {len(args)}")
        for arg in args:
            if isinstance(arg, _Lit) and arg.kind != "string":
                raise self.error(name_tok, f"function '{name}' takes string arguments")
            if isinstance(arg, _PREDICATE_NODES):
                raise self.error(name_tok, f"function '{name}' takes string arguments")
        return _Func(name, tuple(args))


# --- compilation ------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, local_tz: tzinfo) -> None:
        self.norm = _normalizer(local_tz)

    def value(self, node: Any) -> Callable[[Getter], Any]:
        """Closure producing the node's value (predicates produce bool)."""
        if isinstance(node, _Lit):
            const = node.value
            return lambda get: const
        if isinstance(node, _Field):
            name = node.name
            return lambda get: get(name)
        return self.predicate(node)

    def predicate(self, node: Any) -> Predicate:
        if isinstance(node, _Bool):
            parts = tuple(self.predicate(item) for item in node.items)
            if node.op == "and":
                return lambda get: all(p(get) for p in parts)
            return lambda get: any(p(get) for p in parts)
        if isinstance(node, _Not):
            inner = self.predicate(node.operand)
            return lambda get: not inner(get)
        if isinstance(node, _Cmp):
            return self.comparison(node)
        if isinstance(node, _Func):
            return self.function(node)
        if isinstance(node, _Field):  # a Boolean field used as a condition
            name = node.name
            return lambda get: get(name) is True
        if isinstance(node, _Lit) and node.kind == "bool":
            const = bool(node.value)
            return lambda get: const
        raise FilterSyntaxError(f"The expression {_describe(node)} is not a boolean condition.")

    def comparison(self, node: _Cmp) -> Predicate:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, _Lit) and not isinstance(right, _Lit):
            op, left, right = _FLIPPED[op], right, left
        opf = _CMP_OPS[op]
        norm = self.norm
        if isinstance(right, _Lit) and right.kind == "null":
            value_of = self.value(left)
            if op == "eq":
                return lambda get: value_of(get) is None
            if op == "ne":
                return lambda get: value_of(get) is not None
            return lambda get: False
        if isinstance(left, _Field) and isinstance(right, _Lit):
            key = norm(right.value)
            assert key is not None
            family, lit = key
            name = left.name

            def field_vs_literal(get: Getter) -> bool:
                v = get(name)
                if v is None:
                    return False
                k = norm(v)
                return k is not None and k[0] == family and opf(k[1], lit)

            return field_vs_literal
        lhs, rhs = self.value(left), self.value(right)

        def general(get: Getter) -> bool:
            a, b = lhs(get), rhs(get)
            if a is None or b is None:
                return (
                    (a is None and b is None)
                    if op == "eq"
                    else (op == "ne" and (a is None) != (b is None))
                )
            ka, kb = norm(a), norm(b)
            return ka is not None and kb is not None and ka[0] == kb[0] and opf(ka[1], kb[1])

        return general

    def function(self, node: _Func) -> Predicate:
        impl = _STRING_FUNCS[node.name][1]
        a, b = (self.value(arg) for arg in node.args)

        def call(get: Getter) -> bool:
            x, y = a(get), b(get)
            if not isinstance(x, str) or not isinstance(y, str):
                return False
            return impl(x.casefold(), y.casefold())

        return call


def _describe(node: Any) -> str:
    if isinstance(node, _Lit):
        return f"literal {node.value!r}"
    if isinstance(node, _Field):
        return f"field '{node.name}'"
    return type(node).__name__


# --- static analysis: fields, bounds, literal kinds -------------------------------------------


def _walk(node: Any, fields: set[str], kinds: dict[str, set[str]]) -> None:
    if isinstance(node, _Field):
        fields.add(node.name)
    elif isinstance(node, _Bool):
        for item in node.items:
            _walk(item, fields, kinds)
    elif isinstance(node, _Not):
        _walk(node.operand, fields, kinds)
    elif isinstance(node, _Cmp):
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(side, _Field) and isinstance(other, _Lit):
                kinds.setdefault(side.name, set()).add(other.kind)
            _walk(side, fields, kinds)
    elif isinstance(node, _Func):
        for arg in node.args:
            if isinstance(arg, _Field):
                kinds.setdefault(arg.name, set()).add("string")
            _walk(arg, fields, kinds)


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, _Bool) and node.op == "and":
        out: list[Any] = []
        for item in node.items:
            out.extend(_conjuncts(item))
        return out
    if isinstance(node, (_Bool, _Not)):  # OR / NOT at the top level: no usable range
        return []
    return [node]


def _tighter(a: Bound | None, b: Bound, *, lower: bool) -> Bound:
    if a is None:
        return b
    try:
        if a.value == b.value:
            return a if not a.inclusive else b
        bigger = b.value > a.value
    except TypeError:  # incomparable literal kinds: keep the first
        return a
    return (b if bigger else a) if lower else (a if bigger else b)


def _bounds(root: Any) -> dict[str, tuple[Bound | None, Bound | None]]:
    out: dict[str, tuple[Bound | None, Bound | None]] = {}
    for node in _conjuncts(root):
        if not isinstance(node, _Cmp):
            continue
        op, left, right = node.op, node.left, node.right
        if isinstance(left, _Lit) and isinstance(right, _Field):
            op, left, right = _FLIPPED[op], right, left
        if not (isinstance(left, _Field) and isinstance(right, _Lit)) or right.kind == "null":
            continue
        lo, hi = out.get(left.name, (None, None))
        value = right.value
        if op in ("eq", "gt", "ge"):
            lo = _tighter(lo, Bound(value, op != "gt"), lower=True)
        if op in ("eq", "lt", "le"):
            hi = _tighter(hi, Bound(value, op != "lt"), lower=False)
        if (lo, hi) != (None, None):
            out[left.name] = (lo, hi)
    return out


def _range_field(root: Any) -> str | None:
    names = set()
    for node in _conjuncts(root) or [root]:
        if not (isinstance(node, _Cmp) and node.op in _FLIPPED and node.op != "ne"):
            return None
        left, right = node.left, node.right
        if isinstance(left, _Lit):
            left, right = right, left
        if not (isinstance(left, _Field) and isinstance(right, _Lit)) or right.kind == "null":
            return None
        names.add(left.name)
    return names.pop() if len(names) == 1 else None


def parse_filter(text: str, *, dialect: str, local_tz: tzinfo = timezone.utc) -> Filter:
    """Parse and compile `text`; raises FilterSyntaxError with a message fit for a 400 body."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown $filter dialect {dialect!r}; expected one of {DIALECTS}")
    if not text or not text.strip():
        raise FilterSyntaxError("The $filter expression is empty.")
    root = _Parser(text, dialect, local_tz).parse()
    pred = _Compiler(local_tz).predicate(root)
    fields: set[str] = set()
    kinds: dict[str, set[str]] = {}
    _walk(root, fields, kinds)
    return Filter(
        text,
        pred,
        frozenset(fields),
        _bounds(root),
        {k: frozenset(v) for k, v in kinds.items()},
        _range_field(root),
    )
