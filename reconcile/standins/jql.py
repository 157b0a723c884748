"""The part of JQL a client searching for tickets uses, for the Jira stand-in's search resources: clauses on project,
key / issuekey / id, status, statusCategory, issuetype, labels, summary and text (`~`), with `=`, `!=`, `in`,
`not in`, `is [not] empty`; AND, OR (AND binds tighter), NOT and parentheses; `ORDER BY field [ASC|DESC], …`.

    query = parse('project = KLN AND status = "In Progress" ORDER BY created DESC')
    hits = query.run(issues, lookup)      # JqlError(message) for what Jira refuses with 400

Syntax and operators: https://support.atlassian.com/jira-service-management-cloud/docs/use-advanced-search-with-jira-query-language-jql/
and https://support.atlassian.com/jira-software-cloud/docs/jql-fields/ ; the error texts are those Jira answers in
`errorMessages` (⚠ as seen in public client code and forum posts: the reference pages do not list them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|!~|<=|>=|=|~|<|>)|(?P<punct>[(),])"""
    r"""|(?P<word>[^\s=!~<>(),"']+))"""
)
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}


class JqlError(ValueError):
    """A query Jira refuses (HTTP 400, the message in `errorMessages`)."""


@dataclass
class Tok:
    kind: str  # str | op | punct | word | end
    text: str
    quoted: bool = False

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and not self.quoted and self.text.lower() in words


def tokenize(jql: str) -> list[Tok]:
    out, pos = [], 0
    jql = jql.rstrip()
    while pos < len(jql):
        m = TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{jql[pos]}' is a reserved JQL character.")
        pos = m.end()
        if m.group("str"):
            text = re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])
            out.append(Tok("word", text, quoted=True))
        elif m.group("op"):
            out.append(Tok("op", m.group("op")))
        elif m.group("punct"):
            out.append(Tok("punct", m.group("punct")))
        else:
            out.append(Tok("word", m.group("word")))
    out.append(Tok("end", ""))
    return out


@dataclass
class Clause:
    field: str
    op: str  # = != in notin ~ !~ is isnot
    values: list  # str, or None for EMPTY


@dataclass
class Query:
    where: object = None  # ("and"|"or", a, b) | ("not", a) | Clause | None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)

    def clauses(self, node=None):
        node = self.where if node is None else node
        if isinstance(node, Clause):
            yield node
        elif isinstance(node, tuple):
            for child in node[1:]:
                yield from self.clauses(child)


class Parser:
    def __init__(self, jql: str):
        self.jql = jql
        self.toks = tokenize(jql)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, expecting: str):
        tok = self.peek()
        got = "the end of the query" if tok.kind == "end" else f"'{tok.text}'"
        raise JqlError(f"Error in the JQL Query: Expecting {expecting} but got {got}. The query was: {self.jql}")

    def parse(self) -> Query:
        q = Query()
        if not (self.peek().kind == "end" or self.peek().is_word("order")):
            q.where = self.or_expr()
        if self.peek().is_word("order"):
            self.take()
            if not self.peek().is_word("by"):
                self.fail("'by'")
            self.take()
            while True:
                tok = self.take()
                if tok.kind != "word" or (not tok.quoted and tok.text.lower() in KEYWORDS):
                    self.i -= 1
                    self.fail("a field name")
                desc = False
                if self.peek().is_word("asc", "desc"):
                    desc = self.take().text.lower() == "desc"
                q.order.append((tok.text.lower(), desc))
                if self.peek().kind == "punct" and self.peek().text == ",":
                    self.take()
                    continue
                break
        if self.peek().kind != "end":
            self.fail("'AND', 'OR' or 'ORDER BY'" if q.where is not None else "a field name")
        return q

    def or_expr(self):
        node = self.and_expr()
        while self.peek().is_word("or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.not_expr()
        while self.peek().is_word("and"):
            self.take()
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self):
        if self.peek().is_word("not"):
            self.take()
            return ("not", self.not_expr())
        if self.peek().kind == "punct" and self.peek().text == "(":
            self.take()
            node = self.or_expr()
            if not (self.peek().kind == "punct" and self.peek().text == ")"):
                self.fail("')'")
            self.take()
            return node
        return self.clause()

    def value(self):
        tok = self.peek()
        if tok.kind != "word" or (not tok.quoted and tok.text.lower() in KEYWORDS - {"empty", "null"}):
            self.fail("either a value, 'EMPTY' or 'null'")
        self.take()
        return None if tok.is_word("empty", "null") else tok.text

    def clause(self) -> Clause:
        tok = self.peek()
        if tok.kind != "word" or (not tok.quoted and tok.text.lower() in KEYWORDS):
            self.fail("a field name")
        name = self.take().text.lower()
        nxt = self.peek()
        if nxt.kind == "op":
            op = self.take().text
            if op in ("<", ">", "<=", ">="):
                raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
            return Clause(name, op, [self.value()])
        if nxt.is_word("in") or nxt.is_word("not"):
            negate = self.take().text.lower() == "not"
            if negate:
                if not self.peek().is_word("in"):
                    self.fail("'in'")
                self.take()
            if not (self.peek().kind == "punct" and self.peek().text == "("):
                self.fail("'('")
            self.take()
            values = [self.value()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.value())
            if not (self.peek().kind == "punct" and self.peek().text == ")"):
                self.fail("')'")
            self.take()
            return Clause(name, "notin" if negate else "in", values)
        if nxt.is_word("is"):
            self.take()
            negate = False
            if self.peek().is_word("not"):
                self.take()
                negate = True
            if not self.peek().is_word("empty", "null"):
                self.fail("'EMPTY' or 'null'")
            self.take()
            return Clause(name, "isnot" if negate else "is", [None])
        self.fail("operator")


def parse(jql: str) -> Query:
    return Parser(jql or "").parse()


# ---- evaluating ----------------------------------------------------------------------------------------------

FIELD_ALIASES = {"issuekey": "key", "type": "issuetype", "category": "statuscategory"}
SEARCHABLE = {"project", "key", "id", "status", "statuscategory", "issuetype", "labels", "summary", "text"}
SORTABLE = {"created", "updated", "key", "issuekey", "id", "status", "summary", "project", "issuetype", "type"}


def run(query: Query, issues: list[dict], check: Callable[[Clause], None]) -> list[dict]:
    """The issues the query matches, in its order (created, then id, ascending when it names none; ⚠ Jira's own
    default order is not documented). `check(clause)` raises JqlError for a value Jira refuses (an unknown
    project, status, issue key)."""
    for clause in query.clauses():
        clause.field = FIELD_ALIASES.get(clause.field, clause.field)
        if clause.field not in SEARCHABLE:
            raise JqlError(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
        if clause.op in ("~", "!~") and clause.field not in ("summary", "text"):
            raise JqlError(f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        if clause.field in ("summary", "text") and clause.op not in ("~", "!~", "is", "isnot"):
            raise JqlError(f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        check(clause)
    for name, _ in query.order:
        if name not in SORTABLE:
            raise JqlError(f"Not able to sort using field '{name}'.")
    hits = [i for i in issues if query.where is None or _matches(query.where, i)]
    hits.sort(key=lambda i: (i["fields"]["created"], int(i["id"])))
    for name, desc in reversed(query.order):  # stable sorts, the last key first
        hits.sort(key=lambda i, n=FIELD_ALIASES.get(name, name): _sort_key(n, i), reverse=desc)
    return hits


def _values(name: str, issue: dict) -> list[str]:
    f = issue["fields"]
    if name == "project":
        return [f["project"]["key"].lower(), f["project"]["id"], f["project"]["name"].lower()]
    if name in ("key", "id"):
        return [issue["key"].lower(), issue["id"]]
    if name == "status":
        return [f["status"]["name"].lower(), f["status"]["id"]]
    if name == "statuscategory":
        cat = f["status"]["statusCategory"]
        return [cat["name"].lower(), cat["key"].lower(), str(cat["id"])]
    if name == "issuetype":
        return [f["issuetype"]["name"].lower(), f["issuetype"]["id"]]
    if name == "labels":
        return list(f.get("labels") or [])
    if name == "summary":
        return [f.get("summary") or ""]
    return [f.get("summary") or "", f.get("description") if isinstance(f.get("description"), str) else ""]


def _matches(node, issue: dict) -> bool:
    if isinstance(node, tuple):
        if node[0] == "not":
            return not _matches(node[1], issue)
        a, b = _matches(node[1], issue), _matches(node[2], issue)
        return (a and b) if node[0] == "and" else (a or b)
    c: Clause = node
    have = _values(c.field, issue)
    if c.op in ("is", "isnot"):
        empty = not any(have)
        return empty if c.op == "is" else not empty
    if c.op in ("~", "!~"):
        words = str(c.values[0] or "").lower().replace("*", "").split()
        found = all(any(w in h.lower() for h in have) for w in words)
        return found if c.op == "~" else not found
    wanted = [v if c.field == "labels" or v is None else v.lower() for v in c.values]
    hit = any((v is None and not have) or (v is not None and v in have) for v in wanted)
    return hit if c.op in ("=", "in") else not hit


def _sort_key(name: str, issue: dict):
    f = issue["fields"]
    if name in ("key", "id"):
        project, _, n = issue["key"].rpartition("-")
        return (project, int(n))
    if name in ("created", "updated"):
        return (f[name], int(issue["id"]))
    if name == "status":
        return f["status"]["name"]
    if name == "project":
        return f["project"]["key"]
    if name == "issuetype":
        return f["issuetype"]["name"]
    return f.get("summary") or ""
