"""--lenient recovery of structurally damaged files (ragged or unterminated CSV rows, broken JSONL lines).

Only used after DuckDB refused a file in lenient mode: a Python pass splits the file into well-formed records
(loaded with their original row numbers) and damaged ones (quarantined in `rejects`). Strict mode never
gets here — it stops with the error naming the row.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

EXPECTED = "a well-formed row (complete quoting, as many columns as the header)"

# Python's csv module refuses fields over 128 KB by default and reports them as an unclosed quote; a Salesforce
# Long Text Area holds 131,072 characters and Clay cells can be longer. DuckDB's reads allow records of MAX_RECORD.
MAX_RECORD = 256 << 20
MAX_JSON_OBJECT = 32 << 20  # DuckDB's JSON reader holds buffers of this size per thread: bounded for --memory-limit
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class DeepObject:
    """A valid JSON object nested too deeply for Python's json module (RecursionError): its top-level keys and
    values are read with DuckDB's JSON functions, which do not recurse."""

    def __init__(self, text: str):
        self.text = text

    def _one(self, sql: str, *params):
        return duckdb.execute(sql, [self.text, *params]).fetchone()[0]

    def __iter__(self):
        return iter(self._one("select json_keys(?)") or [])

    def get(self, key: str):
        return self._one("select json_extract_string(?, ?)", "$." + json.dumps(key))


def parse_object(line: str) -> dict | DeepObject | None:
    """One JSONL line as a JSON object, or None when it is not one (no RecursionError, however deep)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    except RecursionError:
        ok = duckdb.execute("select json_valid(?) and json_type(?) = 'OBJECT'", [line, line]).fetchone()[0]
        return DeepObject(line) if ok else None
    return value if isinstance(value, dict) else None


def read_csv_records(path: Path, delim: str) -> tuple[list[str], list[tuple[int, list[str]]], list[tuple]]:
    """(header, [(row, record)], [(row, value, message)]) — rows counted as data records from 1."""
    good, bad = [], []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delim, strict=True)
        header = next(reader, [])
        row = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error:
                bad.append((row + 1, None, "a quoted value is not closed before the end of the file (truncated?)"))
                break
            if not record:
                continue
            row += 1
            if len(record) != len(header):
                bad.append((row, delim.join(record), f"expected {len(header)} columns like the header, found "
                                                      f"{len(record)}"))
            else:
                good.append((row, record))
    return header, good, bad


def read_jsonl_records(path: Path) -> tuple[list[tuple[int, dict]], list[tuple]]:
    good, bad = [], []
    with path.open(encoding="utf-8-sig") as fh:
        for row, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            value = parse_object(line)
            if value is not None:
                good.append((row, value))
            else:
                bad.append((row, line.strip()[:200], "not a complete JSON object (truncated?)"))
    return good, bad


def json_text(value) -> str | None:
    """A JSON value as DuckDB's `->>` renders it: strings bare, everything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # parsed by json.loads: never too deep


def payload_text(value: dict | DeepObject) -> str:
    return value.text if isinstance(value, DeepObject) else json_text(value)


def insert_rows(con, table: str, rows: list[dict], columns: list[str], casts: dict[str, str] | None = None) -> None:
    """Insert Python rows (all text) into a raw table through one Arrow batch."""
    if not rows:
        return
    batch = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.int64() if c == "_row" else pa.string())
                                                          for c in columns]))
    con.register("salvaged_rows", batch)
    try:
        select = ", ".join(f'cast("{c}" as {casts[c]})' if casts and c in casts else f'"{c}"' for c in columns)
        con.execute(f"insert into {table} ({', '.join(chr(34) + c + chr(34) for c in columns)}) "
                    f"select {select} from salvaged_rows")
    finally:
        con.unregister("salvaged_rows")


def reject(con, rel: str, bad: list[tuple]) -> None:
    if bad:
        con.executemany("insert into rejects values (?, ?, '', ?, ?, ?)",
                        [[rel, row, value, EXPECTED, message] for row, value, message in bad])
