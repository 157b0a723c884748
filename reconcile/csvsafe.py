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


def writer(buf, columns) -> csv.DictWriter:
    """A csv.DictWriter (header from `columns`, extra keys ignored) whose cells go through `cell`."""
    return _SafeDictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")


def row(values) -> list:
    return [cell(v) for v in values]
