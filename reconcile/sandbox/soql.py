"""A small SOQL parser: the subset the reconcile tools send.

    SELECT f1, Rel.f2, COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], …]
           [LIMIT n] [OFFSET n]
    cond: f op literal (=, !=, <>, <, <=, >, >=) | f [NOT] IN (literal, … | SELECT one_field FROM …)
          | f [NOT] LIKE 'pat%' | NOT cond | cond AND cond | cond OR cond | ( cond )
    literals: 'str' (\\' escapes), numbers, true/false/null, 2025-03-28 and 2025-03-28T09:41:02Z datetimes.

Errors are `SoqlError`s carrying Salesforce's errorCode and message layout (row/column caret).
"""

import datetime as dt
import re
from dataclasses import dataclass, field

_TOKEN_RE = re.compile(
    r"""
  (?P<ws>\s+)
| (?P<str>'(?:[^'\\]|\\.)*')
| (?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?(?![\w.]))
| (?P<num>-?\d+(?:\.\d+)?(?![\w]))
| (?P<op>!=|<>|<=|>=|=|<|>)
| (?P<punct>[(),])
| (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "offset",
    "true",
    "false",
    "null",
    "count",
}


class SoqlError(Exception):
    def __init__(self, code: str, detail: str, query: str = "", pos: int = 0):
        self.code = code
        col = pos + 1
        self.message = f"\n{query}\n{' ' * pos}^\nERROR at Row:1:Column:{col}\n{detail}" if query else detail
        super().__init__(self.message)


@dataclass
class Tok:
    kind: str
    text: str
    pos: int
    value: object = None


@dataclass
class Path:
    parts: list
    pos: int


@dataclass
class Count:
    field: Path | None
    pos: int


@dataclass
class Query:
    sobject: str
    sobject_pos: int
    fields: list
    where: object = None
    order: list = field(default_factory=list)  # [(Path, descending, nulls_first)]
    limit: int | None = None
    offset: int = 0
    text: str = ""
    order_pos: int = 0  # where ORDER BY / LIMIT start, for error carets
    limit_pos: int = 0


def tokenize(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos:].split()[0]}'", text, pos)
        kind = match.lastgroup
        if kind != "ws":
            tokens.append(_token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Tok("end", "", len(text)))
    return tokens


def _token(kind: str, raw: str, pos: int) -> Tok:
    if kind == "str":
        value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
        return Tok("lit", raw, pos, value)
    if kind == "num":
        return Tok("lit", raw, pos, float(raw) if "." in raw else int(raw))
    if kind == "dt":
        return Tok("lit", raw, pos, sf_datetime(raw))
    if kind == "ident" and raw.lower() in ("true", "false", "null"):
        return Tok("lit", raw, pos, {"true": True, "false": False, "null": None}[raw.lower()])
    if kind == "ident" and raw.lower() in KEYWORDS:
        return Tok("kw", raw.lower(), pos)
    return Tok(kind, raw, pos)


def sf_datetime(text: str) -> str:
    """A SOQL date/datetime literal in the wire format used for stored values (UTC, +0000)."""
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def parse(text: str) -> Query:
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # -- helpers
    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, kw: str) -> bool:
        tok = self.peek()
        if (tok.kind == "kw" and tok.text == kw) or (tok.kind == "punct" and tok.text == kw):
            self.i += 1
            return True
        return False

    def expect(self, kw: str) -> None:
        if not self.accept(kw):
            self.fail(f"expecting '{kw.upper()}'" if kw.isalpha() else f"expecting '{kw}'")

    def fail(self, detail: str | None = None):
        tok = self.peek()
        shown = tok.text or "<EOF>"
        raise SoqlError(
            "MALFORMED_QUERY",
            detail and f"unexpected token: '{shown}' ({detail})" or f"unexpected token: '{shown}'",
            self.text,
            tok.pos,
        )

    # -- grammar
    def query(self, nested: bool = False) -> Query:
        self.expect("select")
        fields = [self.select_item()]
        while self.accept(","):
            fields.append(self.select_item())
        self.expect("from")
        obj = self.take()
        if obj.kind != "ident":
            self.i -= 1
            self.fail()
        q = Query(obj.text, obj.pos, fields, text=self.text)
        if self.accept("where"):
            q.where = self.cond()
        q.order_pos = self.peek().pos
        if self.accept("order"):
            self.expect("by")
            q.order = [self.order_item()]
            while self.accept(","):
                q.order.append(self.order_item())
        q.limit_pos = self.peek().pos
        if self.accept("limit"):
            q.limit = self.integer()
        if self.accept("offset"):
            q.offset = self.integer()
        if not nested and self.peek().kind != "end":
            self.fail()
        return q

    def select_item(self):
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "count":
            self.take()
            self.expect("(")
            inner = None if self.peek().text == ")" else self.path()
            self.expect(")")
            return Count(inner, tok.pos)
        return self.path()

    def path(self) -> Path:
        tok = self.take()
        if tok.kind != "ident":
            self.i -= 1
            self.fail()
        return Path(tok.text.split("."), tok.pos)

    def integer(self) -> int:
        tok = self.take()
        if tok.kind != "lit" or not isinstance(tok.value, int) or tok.value < 0:
            self.i -= 1
            self.fail("expecting a non-negative integer")
        return tok.value

    def order_item(self):
        path = self.path()
        desc = self.accept("desc") or (self.accept("asc") and False)
        nulls_first = not desc
        if self.accept("nulls"):
            if self.accept("first"):
                nulls_first = True
            else:
                self.expect("last")
                nulls_first = False
        return path, desc, nulls_first

    def cond(self):
        parts = [self.conj()]
        while self.accept("or"):
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conj(self):
        parts = [self.neg()]
        while self.accept("and"):
            parts.append(self.neg())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def neg(self):
        if self.accept("not"):
            return ("not", self.neg())
        if self.accept("("):
            inner = self.cond()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self):
        path = self.path()
        negate = self.accept("not")
        if self.accept("in"):
            return ("in", path, negate, self.in_list())
        if self.accept("like"):
            tok = self.literal()
            return ("like", path, negate, tok.value)
        if negate:
            self.fail("expecting 'IN' or 'LIKE' after 'NOT'")
        op = self.take()
        if op.kind != "op":
            self.i -= 1
            self.fail()
        return ("cmp", path, "!=" if op.text == "<>" else op.text, self.literal().value)

    def in_list(self):
        self.expect("(")
        if self.peek().kind == "kw" and self.peek().text == "select":
            sub = self.query(nested=True)
            self.expect(")")
            return sub
        values = [self.literal().value]
        while self.accept(","):
            values.append(self.literal().value)
        self.expect(")")
        return values

    def literal(self) -> Tok:
        tok = self.take()
        if tok.kind != "lit":
            self.i -= 1
            self.fail("expecting a literal value")
        return tok
