"""What is wrong with a snapshot file, said precisely: empty, not UTF-8, a ragged or unterminated CSV row,
a broken JSONL line — each named by file and row with the fix. Also the file's fingerprint and delimiter.

The precise scans here run only after DuckDB refused a file, so the happy path reads every file once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from pathlib import Path

import duckdb

from .errors import SnapshotError
from .salvage import MAX_JSON_OBJECT, parse_object

LENIENT_HINT = "Fix the value in the export, or rerun with --lenient to quarantine bad rows and plan from the rest."


def sha256_of(path: Path) -> str:
    """The file's fingerprint (hashlib releases the GIL, so this runs beside DuckDB's reading)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def inspect_head(path: Path, rel: str) -> str | None:
    """Reject empty and UTF-16 files before DuckDB sees them; return the CSV delimiter (sniffed from the header).

    Invalid UTF-8 further in is caught by DuckDB's reader, then named precisely by encoding_problem().
    """
    with path.open("rb") as fh:
        head = fh.read(65536)
    text = path.suffix.lower() in (".csv", ".jsonl")
    if not head or (text and not head.strip(b"\xef\xbb\xbf \r\n\t")):
        raise SnapshotError(f"Snapshot '{rel}' is empty. Export it again (a file with only a header row is fine "
                            "for a source with no rows).")
    if text and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _encoding_error(path, rel, head, 0)
    return _sniff_delimiter(head) if path.suffix.lower() == ".csv" else None


def encoding_problem(path: Path, rel: str) -> SnapshotError | None:
    """The first byte that is not UTF-8, named by offset and line (only on the error path)."""
    if path.suffix.lower() not in (".csv", ".jsonl"):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, head = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            head = head or chunk[:65536]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                return _encoding_error(path, rel, head, offset + e.start)
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return SnapshotError(f"Snapshot '{rel}': the file ends in the middle of a UTF-8 character (truncated?). "
                             "Export it again.")
    return None


def _encoding_error(path: Path, rel: str, head: bytes, pos: int) -> SnapshotError:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        what = "is UTF-16"
    else:
        what = f"is not UTF-8 (byte 0x{_byte_at(path, pos):02X} at offset {pos}, line {_line_at(path, pos)})"
    return SnapshotError(f"Snapshot '{rel}' {what}. Save or export it again as UTF-8 (Excel: 'CSV UTF-8').")


def _byte_at(path: Path, pos: int) -> int:
    with path.open("rb") as fh:
        fh.seek(pos)
        return fh.read(1)[0]


def _line_at(path: Path, pos: int) -> int:
    with path.open("rb") as fh:
        return fh.read(pos).count(b"\n") + 1


def _sniff_delimiter(head: bytes) -> str:
    line = head.decode("utf-8", "ignore").lstrip("\ufeff").split("\n", 1)[0]
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_problem(path: Path, rel: str, delim: str | None) -> SnapshotError | None:
    """Name the first CSV record whose shape is wrong (only on the error path, so a Python scan is fine)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delim or ",", strict=True)
        try:
            header = next(reader)
            for n, record in enumerate(reader, start=1):
                if record and len(record) != len(header):
                    return SnapshotError(
                        f"Snapshot '{rel}' row {n}: expected {len(header)} columns like the header, found "
                        f"{len(record)} (value '{delim.join(record)[:80] if delim else ''}'). Is the file truncated "
                        f"or a quote not closed? {LENIENT_HINT}")
        except csv.Error:
            return SnapshotError(f"Snapshot '{rel}' row {reader.line_num - 1 if reader.line_num > 1 else 1}: a quoted "
                                 f"value is not closed before the end of the file (is the file truncated?). "
                                 f"Export it again. {LENIENT_HINT}")
    return None


def json_error(path: Path, rel: str) -> SnapshotError:
    """Name the first line that is not a JSON object (only on the error path, so a Python scan is fine)."""
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if len(line.encode("utf-8")) > MAX_JSON_OBJECT:
                return SnapshotError(f"Snapshot '{rel}' row {n}: the JSON object is {len(line.encode()) >> 20} MB, "
                                     f"more than the {MAX_JSON_OBJECT >> 20} MB a JSON record may hold. Trim it in the "
                                     f"export. {LENIENT_HINT}")
            if parse_object(line) is None:
                return SnapshotError(f"Snapshot '{rel}' row {n}: value '{line.strip()[:80]}' is not a complete JSON "
                                     f"object (is the file truncated?). Each line must hold one JSON object. "
                                     f"Export the file again. {LENIENT_HINT}")
    return SnapshotError(f"Snapshot '{rel}' cannot be parsed as JSON Lines. Export the file again.")


def structure_error(rel: str, e: duckdb.Error) -> SnapshotError:
    msg = str(e)
    line = re.search(r"[Ll]ine:? (\d+)", msg)
    where = f" line {line.group(1)}" if line else ""
    first = msg.strip().splitlines()[0][:300]
    if "newline_delimited" in msg or "JSON" in msg:
        fix = "Each line must be one complete JSON object (is the file truncated?)."
    else:
        fix = "Check the quoting and the number of columns on that line (is the file truncated?)."
    return SnapshotError(f"Snapshot '{rel}'{where} cannot be parsed: {first}. {fix} {LENIENT_HINT}")
