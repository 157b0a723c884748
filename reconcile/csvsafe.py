"""CSV cells a spreadsheet will not run: formula injection neutralised per OWASP.

A text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so Excel,
LibreOffice and Google Sheets show it as text instead of evaluating it (`=HYPERLINK(…)` from a Clay value or
an approver's name). Real numbers (`-3`, `+1.5`, `-2e3`) are left alone. Every CSV reconcile writes goes
through `cell` / `writer`.
"""

from __future__ import annotations

import csv
import re

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cell(value):
    """The value, with a leading `'` when a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def uncell(value):
    """The value `cell` was given (for reading our own CSV back, e.g. to verify the audit chain)."""
    if (
        isinstance(value, str)
        and value.startswith("'")
        and value[1:].startswith(TRIGGERS)
        and not NUMBER.fullmatch(value[1:])
    ):
        return value[1:]
    return value


class _SafeDictWriter(csv.DictWriter):
    def writerow(self, rowdict):
        return super().writerow({k: cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts):
        for r in rowdicts:
            self.writerow(r)


class LineWriter:
    """csv.writer rows ending in "\n" that still quote a field holding a carriage return. Python's csv quotes a field
    for the characters of its line terminator only, so with "\n" a lone "\r" went out bare and split the row for
    every reader (Python's csv, DuckDB, spreadsheets). A row with one is written with every field quoted; every other
    row is written as before."""

    def __init__(self, fh):
        self._plain = csv.writer(fh, lineterminator="\n")
        self._quoted = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, values):
        values = list(values)
        carriage = any(isinstance(v, str) and "\r" in v for v in values)
        return (self._quoted if carriage else self._plain).writerow(values)

    def writerows(self, rows):
        for values in rows:
            self.writerow(values)


def writer(buf, columns) -> csv.DictWriter:
    """A csv.DictWriter (header from `columns`, extra keys ignored) whose cells go through `cell` (rows written by
    LineWriter)."""
    w = _SafeDictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writer = LineWriter(buf)
    return w


def row(values) -> list:
    return [cell(v) for v in values]
