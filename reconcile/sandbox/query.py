"""Run a parsed SOQL query against the org for one user: FLS, GBU visibility, formulas, relationships."""

import re
from dataclasses import dataclass

from . import ids
from .schema import SCHEMA, find_object
from .security import UserSpec, can_read_field, can_read_object, sees_gbu
from .soql import Count, Path, Query, SoqlError, parse

_NO_COLUMN = (
    "No such column '{name}' on entity '{obj}'. If you are attempting to use a custom field, be sure "
    "to append the '__c' after the custom field name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)
_NO_RELATION = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)
_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)


@dataclass
class Column:
    """A resolved field path: relationship hops [(FieldDef, target object)] then the leaf field."""

    label: str  # canonical dotted name, e.g. "Profile.Name"
    hops: list
    leaf: object  # FieldDef
    leaf_object: str


@dataclass
class Result:
    sobject: str
    columns: list  # [Column]
    rows: list  # stored rows (dicts) in result order
    count_only: bool = False
    aggregate: bool = False
    total: int = 0


class Runner:
    """Evaluates queries for one user; caches parent lookups and formula context for one run."""

    def __init__(self, org, user: UserSpec, include_deleted: bool = False):
        self.org, self.user, self.include_deleted = org, user, include_deleted
        self._formulas = {}

    def run(self, text: str) -> Result:
        return self.execute(parse(text))

    def execute(self, q: Query) -> Result:
        obj = self.object_for(q, q.sobject, q.sobject_pos)
        counts = [f for f in q.fields if isinstance(f, Count)]
        columns = [self.column(q, obj.name, f) for f in q.fields if isinstance(f, Path)]
        _check_aggregate(q, counts, columns)
        test = self.predicate(q, obj.name, q.where) if q.where is not None else None
        rows = [r for r in self.visible_rows(obj.name) if test is None or test(r)]
        for path, desc, nulls_first in reversed(q.order):
            col = self.column(q, obj.name, path)
            rows.sort(
                key=lambda r, c=col, nf=nulls_first, d=desc: _sort_key(c.leaf, self.value(r, c), nf != d), reverse=desc
            )
        rows = rows[q.offset :][: q.limit] if q.limit is not None else rows[q.offset :]
        if counts and counts[0].field is None:
            # COUNT(): the size is the number of rows the query would return, so LIMIT caps it
            # (SOQL "COUNT() and COUNT(fieldName)": "You can use COUNT() with a LIMIT clause",
            # https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm)
            return Result(obj.name, [], [], count_only=True, total=len(rows))
        if counts:  # COUNT(field) counts the rows where the field is not null
            col = self.column(q, obj.name, counts[0].field)
            return Result(
                obj.name, [], [], aggregate=True, total=sum(1 for r in rows if self.value(r, col) is not None)
            )
        return Result(obj.name, columns, rows, total=len(rows))

    # ---- resolution -----------------------------------------------------------------------------------

    def object_for(self, q: Query, name: str, pos: int):
        obj = find_object(name)
        if obj is None or not can_read_object(self.user, obj.name):
            raise SoqlError("INVALID_TYPE", _NO_TYPE.format(name=name), q.text, pos)
        return obj

    def column(self, q: Query, sobject: str, path: Path) -> Column:
        hops, current, labels = [], SCHEMA[sobject], []
        for rel in path.parts[:-1]:
            fdef = current.relationship(rel)
            if (
                fdef is None
                or not can_read_field(self.user, current.name, fdef.name)
                or not can_read_object(self.user, fdef.reference_to)
            ):
                raise SoqlError("INVALID_FIELD", _NO_RELATION.format(name=rel), q.text, path.pos)
            hops.append((fdef, fdef.reference_to))
            labels.append(fdef.relationship)
            current = SCHEMA[fdef.reference_to]
        leaf = current.field(path.parts[-1])
        if leaf is None or not can_read_field(self.user, current.name, leaf.name):
            raise SoqlError(
                "INVALID_FIELD", _NO_COLUMN.format(name=".".join(path.parts), obj=sobject), q.text, path.pos
            )
        return Column(".".join(labels + [leaf.name]), hops, leaf, current.name)

    def visible_rows(self, sobject: str):
        for row in self.org.data[sobject].values():
            if row.get("IsDeleted") and not self.include_deleted:
                continue
            if sees_gbu(self.user, sobject, row):
                yield row

    # ---- values -----------------------------------------------------------------------------------------

    def parent(self, row: dict | None, hop) -> dict | None:
        """The parent row a reference field points at, if it exists and is visible to the user."""
        fdef, target = hop
        if row is None or not row.get(fdef.name):
            return None
        parent = self.org.data[target].get(row[fdef.name])
        if parent is None or (parent.get("IsDeleted") and not self.include_deleted):
            return None
        return parent if sees_gbu(self.user, target, parent) else None

    def value(self, row: dict, col: Column):
        for hop in col.hops:
            row = self.parent(row, hop)
        if row is None:
            return None
        if col.leaf.calculated or col.leaf.derived:
            return self.formulas(col.leaf_object, row)[col.leaf.name]
        return row.get(col.leaf.name)

    def formulas(self, sobject: str, row: dict) -> dict:
        key = id(row)
        if key not in self._formulas:
            self._formulas[key] = self.org.formulas(sobject, row)
        return self._formulas[key]

    # ---- WHERE --------------------------------------------------------------------------------------------

    def predicate(self, q: Query, sobject: str, node):
        kind = node[0]
        if kind in ("and", "or"):
            tests = [self.predicate(q, sobject, n) for n in node[1]]
            combine = all if kind == "and" else any
            return lambda r: combine(t(r) for t in tests)
        if kind == "not":
            inner = self.predicate(q, sobject, node[1])
            return lambda r: not inner(r)
        col = self.column(q, sobject, node[1])
        norm = _normaliser(col.leaf)
        if kind == "cmp":
            return self._compare(col, node[2], norm(node[3]))
        if kind == "like":
            regex = _like_regex(node[3])
            return lambda r: (self.value(r, col) is not None and bool(regex.match(str(self.value(r, col))))) != node[2]
        return self._membership(q, col, node[2], node[3], norm)

    def _compare(self, col: Column, op: str, want):
        norm = _normaliser(col.leaf)

        def test(row):
            have = norm(self.value(row, col))
            if op in ("=", "!="):
                return (have == want) == (op == "=")
            if have is None or want is None:
                return False
            try:
                return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[op]
            except TypeError:
                return False

        return test

    def _membership(self, q: Query, col: Column, negate: bool, values, norm):
        if isinstance(values, Query):
            sub = Runner(self.org, self.user, self.include_deleted)
            result = sub.execute(values)
            if len(result.columns) != 1:
                raise SoqlError(
                    "MALFORMED_QUERY", "semi-join sub-selects must select exactly one field", q.text, values.sobject_pos
                )
            wanted = {norm(sub.value(r, result.columns[0])) for r in result.rows}
        else:
            wanted = {norm(v) for v in values}
        return lambda r: (norm(self.value(r, col)) in wanted) != negate


def _normaliser(fdef):
    if fdef.type in ("id", "reference"):
        return lambda v: ids.to18(v) if isinstance(v, str) else v
    if fdef.type in ("string", "email", "textarea", "picklist", "phone", "multipicklist"):
        return lambda v: v.lower() if isinstance(v, str) else v
    return lambda v: v


def _like_regex(pattern: str):
    out = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{out}$", re.IGNORECASE | re.DOTALL)


def _check_aggregate(q: Query, counts: list, columns: list) -> None:
    """The aggregate rules of SOQL without GROUP BY (which this org does not implement):
    COUNT() is the only item and takes no ORDER BY; an aggregate function takes no LIMIT and no plain fields
    ("COUNT() and COUNT(fieldName)", sforce_api_calls_soql_select_count.htm; "LIMIT": "You can't use a LIMIT
    clause in a query that uses an aggregate function, but does not use a GROUP BY clause",
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_limit.htm)."""
    if not counts:
        return
    if counts[0].field is None:
        if len(q.fields) > 1:
            raise SoqlError(
                "MALFORMED_QUERY", "COUNT() must be the only element in the SELECT list", q.text, counts[0].pos
            )
        if q.order:
            raise SoqlError("MALFORMED_QUERY", "COUNT() and ORDER BY may not be used together", q.text, q.order_pos)
        return
    if columns:
        raise SoqlError(
            "MALFORMED_QUERY", f"Field must be grouped or aggregated: {columns[0].label}", q.text, q.fields[0].pos
        )
    if q.order:
        raise SoqlError(
            "MALFORMED_QUERY",
            f"Ordered field must be grouped or aggregated: {'.'.join(q.order[0][0].parts)}",
            q.text,
            q.order_pos,
        )
    if q.limit is not None:
        raise SoqlError("MALFORMED_QUERY", "An aggregate query without GROUP BY cannot use LIMIT", q.text, q.limit_pos)


def _sort_key(fdef, value, nulls_low: bool):
    """ORDER BY collation (SOQL "ORDER BY",
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_orderby.htm):
    picklists sort by the order their values are defined in (the order describe lists them), values not in
    the list after those; text in English locales by the UTF-8 values of the upper-cased characters."""
    if value is None:
        return (0 if nulls_low else 2, 0, "")
    if fdef.type == "picklist" and isinstance(value, str):
        try:
            return (1, fdef.picklist.index(value), "")
        except ValueError:
            return (1, len(fdef.picklist), value.upper())
    return (1, 0, value.upper() if isinstance(value, str) else value)
