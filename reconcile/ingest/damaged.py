"""Damaged snapshot files, said precisely and split: what is wrong with a file (empty, not UTF-8, a ragged or
unterminated CSV row, a broken JSONL line — named by file and row with the fix) and, for --lenient, which of its
records are well formed. Also each file's fingerprint and CSV delimiter.

One CSV scan and one JSONL scan return (good, bad) records: strict mode turns the first bad one into the error,
lenient mode loads the good ones (with their original row numbers) and quarantines the bad ones in `rejects`.
The scans run only after DuckDB refused a file, so the happy path reads every file once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import SnapshotError

LENIENT_HINT = "Fix the value in the export, or rerun with --lenient to quarantine bad rows and plan from the rest."
EXPECTED = "a well-formed row (complete quoting, as many columns as the header)"
EXPECTED_JSON = "one JSON object on the line"
NOT_OBJECT_VALUE = "a JSON value, but not an object"
UNCLOSED = "a quoted value is not closed before the end of the file (truncated?)"
UNCLOSED_MIDWAY = "a quoted value is not closed where it should be (a quote missing, or not doubled inside a value?)"
NOT_AN_OBJECT = "not a complete JSON object (truncated?)"

# Python's csv module refuses fields over 128 KB by default and reports them as an unclosed quote; a Salesforce
# Long Text Area holds 131,072 characters and Clay cells can be longer. DuckDB's reads allow records of MAX_RECORD.
MAX_RECORD = 256 << 20
# The CSV read's buffer (and so its first max_line_size, which DuckDB wants ≤ the buffer): a buffer is the unit DuckDB's
# threads share out, so 256 MB buffers read every file under 256 MB on one thread (Lead.csv at 1M leads: 1.32 s with
# them, 0.68 s with 32 MB). A file with a longer record is read again with MAX_RECORD (snapshots.read_alone).
READ_BUFFER = 32 << 20
# A smaller file gets buffers of 1/READ_SPLIT of its size (not under MIN_READ_BUFFER): one 32 MB buffer per 30 MB
# Smartlead export read each file on one thread (20 files at 1M leads: 2.4-2.6 s; with 4-8 MB buffers 1.6-1.7 s).
READ_SPLIT = 8
MIN_READ_BUFFER = 2 << 20


def read_buffer(file_size: int) -> int:
    """The first read's buffer (and max_line_size) for a CSV file of `file_size` bytes (see READ_BUFFER)."""
    return min(READ_BUFFER, max(MIN_READ_BUFFER, -(-file_size // READ_SPLIT)))


MAX_JSON_OBJECT = 32 << 20  # DuckDB's JSON reader holds buffers of this size per thread: bounded for --memory-limit
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def shown(value: str, width: int = 80) -> str:
    """A value as an error line quotes it: whole, or its first `width` characters and how many more there are (a
    value cut without saying so would misstate what the file holds); line breaks written \\n, so the error stays one
    line."""
    cut = value if len(value) <= width else f"{value[:width]}… ({len(value) - width:,} more characters)"
    return cut.replace("\r", "\\r").replace("\n", "\\n")


# ---------------------------------------------------------------------------------------------- the whole file


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
        if path.suffix.lower() == ".jsonl":  # no header row: a JSONL file of no records is an empty file
            fix = "Export it again, or leave the file out when the source has no records (a JSON Lines file has no header row)."
        else:
            fix = "Export it again (a file with only a header row is fine for a source with no rows)."
        raise SnapshotError(f"Snapshot '{rel}' is empty. {fix}")
    if text and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _encoding_error(path, rel, head, 0)
    if problem := packed_problem(head, path, rel):
        raise problem
    return _sniff_delimiter(head) if path.suffix.lower() == ".csv" else None


# files that are something else under a data file's name: (how it begins, what it is, the fix); the text-like magics
# are matched with the bytes after them, so no CSV header that happens to begin "BZh" or "PAR1" is taken for one
_UNPACK = "and put the {suffix} file it holds in the snapshot, or export it again uncompressed"
PACKED = (
    (rb"\x1f\x8b", "a gzip-compressed file", "Decompress it (gunzip) " + _UNPACK),
    (rb"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one too)", "Unzip it " + _UNPACK),
    (rb"BZh[1-9]1AY&SY", "a bzip2-compressed file", "Decompress it (bunzip2) " + _UNPACK),
    (rb"\xfd7zXZ\x00", "an xz-compressed file", "Decompress it (unxz) " + _UNPACK),
    (rb"\x28\xb5\x2f\xfd", "a zstd-compressed file", "Decompress it (unzstd) " + _UNPACK),
    (rb"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Extract it " + _UNPACK),
    (rb"\xd0\xcf\x11\xe0", "an old Excel .xls workbook", "Save it from Excel as 'CSV UTF-8'"),
    (rb"PAR1\x15", "a Parquet file", "Rename it to .parquet"),
)
KINDS = {".csv": "CSV text", ".jsonl": "JSON Lines text", ".parquet": "Parquet"}


def packed_problem(head: bytes, path: Path, rel: str) -> SnapshotError | None:
    """A compressed file or an archive under a .csv / .jsonl / .parquet name (a download saved as it came, a zipped
    export renamed) is said as such, not read as text (its bytes are no header) or as a damaged Parquet file."""
    suffix = path.suffix.lower()
    for magic, what, fix in PACKED:
        if re.match(magic, head) and not (suffix == ".parquet" and magic.startswith(b"PAR1")):
            return SnapshotError(f"Snapshot '{rel}' is {what}, not {KINDS[suffix]}. {fix.format(suffix=suffix)}.")
    return None


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
        return SnapshotError(
            f"Snapshot '{rel}': the file ends in the middle of a UTF-8 character (truncated?). Export it again."
        )
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


# ---------------------------------------------------------------------------------------------- the scans


class _HeldLines:
    """A file's lines as csv.reader takes them, holding those of the record being read: what an unclosed quote
    swallowed (from the record's first line to the end of the file) is then still at hand to quarantine and name."""

    def __init__(self, fh):
        self.fh, self.held = fh, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.fh)
        self.held.append(line)
        return line


def _open_quote(text: str, delim: str) -> tuple[int, int]:
    """(field, position): where in a record's text the quote opens that breaks it (field 0-based) — by RFC 4180, a
    quote opens a value only at a field's start, a doubled "" inside it is a quote, and a closing quote must be
    followed by the delimiter or the line's end: the value still open at the end of the text, or the one whose
    closing quote is followed by other text."""
    field, quoted, opened, i, at_start = 0, False, (0, 0), 0, True
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"':
                if text[i + 1 : i + 2] == '"':
                    i += 1  # a doubled quote: part of the value
                elif text[i + 1 : i + 2] not in ("", delim, "\n", "\r"):
                    return opened  # text after the closing quote: this value is the broken one
                else:
                    quoted = False
        elif ch == '"' and at_start:
            quoted, opened = True, (field, i)
        elif ch == delim:
            field, at_start = field + 1, True
            i += 1
            continue
        elif ch in "\r\n":
            at_start = True
            i += 1
            continue
        at_start = False
        i += 1
    return opened


def _quote_opens_in(field: int, header: list[str]) -> str:
    if not header:
        return "the header"
    return f"column '{header[field]}'" if field < len(header) else f"field {field + 1} (the header has {len(header)})"


def _broken_quote(text: str, delim: str, header: list[str], at_end: bool) -> tuple[str, str]:
    """(value, message) of a record Python's csv reader could not split because of a quote: the record's whole
    text as its lines stand in the file (kept: nothing is lost), where the quote opens and how many lines it took
    in — to the end of the file (an unclosed quote: `at_end`), or to the line where its closing quote is followed by
    other text (the scan goes on after that line)."""
    lines = text.count("\n") + (not text.endswith("\n"))
    where = _quote_opens_in(_open_quote(text, delim)[0], header)
    span = f"{lines:,} line{'s' if lines != 1 else ''}"
    if at_end:
        message = f"{UNCLOSED}: the quote opened in {where} takes in every line to the end of the file ({span})"
    else:
        message = f"{UNCLOSED_MIDWAY}: the quote opened in {where} takes in {span}, then text follows its closing quote"
    return text.rstrip("\r\n"), message


def scan_csv(
    path: Path, delim: str, first_only: bool = False
) -> tuple[list[str], list[tuple[int, list[str]]], list[tuple[int, str, str]]]:
    """(header, [(row, record)], [(row, value, message)]): the well-formed records and the damaged ones, rows
    counted as data records from 1 (blank lines skipped). A record broken by a quote (_broken_quote) is the lines the
    reader took in for it — to the end of the file for an unclosed quote — and the scan goes on after them.
    first_only: stop at the first damaged record, keeping no good ones (strict mode wants only the error)."""
    good, bad = [], []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = _HeldLines(fh)
        reader = csv.reader(lines, delimiter=delim, strict=True)
        try:
            header = next(reader, [])
        except csv.Error:
            return [], [], [(1, *_broken_quote("".join(lines.held), delim, [], at_end=True))]
        row = 0
        while not (first_only and bad):
            lines.held = []
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as e:  # the reader goes on at the next line: the broken record is the lines it held
                row += 1
                at_end = "end of data" in str(e)  # "unexpected end of data": the quote is still open at the end
                bad.append((row, *_broken_quote("".join(lines.held), delim, header, at_end)))
                continue
            if not record:
                continue
            row += 1
            if len(record) != len(header):
                found = f"expected {len(header)} columns like the header, found {len(record)}"
                bad.append((row, "".join(lines.held).rstrip("\r\n"), found))  # its text as the file has it
            elif not first_only:
                good.append((row, record))
    return header, good, bad


def scan_jsonl(path: Path, first_only: bool = False) -> tuple[list[tuple[int, dict]], list[tuple[int, str, str]]]:
    """([(row, object)], [(row, value, message)]): rows are line numbers. first_only (strict mode): stop at the first
    bad line, and a line over MAX_JSON_OBJECT is bad too (DuckDB refuses it; lenient mode loads it from here)."""
    good, bad = [], []
    with path.open(encoding="utf-8-sig") as fh:
        for row, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            size = len(line.encode("utf-8")) if first_only else 0
            if size > MAX_JSON_OBJECT:
                bad.append(
                    (
                        row,
                        shown(line.strip(), 200),
                        f"the JSON object is {size >> 20} MB, more than the "
                        f"{MAX_JSON_OBJECT >> 20} MB a JSON record may hold",
                    )
                )
            elif (value := parse_object(line)) is None:  # the line kept whole in rejects: nothing is lost
                bad.append((row, line.strip(), NOT_OBJECT_VALUE if _is_json(line) else NOT_AN_OBJECT))
            elif not first_only:
                good.append((row, value))
            if first_only and bad:
                break
    return good, bad


class DeepObject:
    """A valid JSON object nested too deeply for Python's json module (RecursionError): its top-level keys and
    values are read with DuckDB's JSON functions, which do not recurse."""

    def __init__(self, text: str):
        self.text = text

    def _one(self, sql: str, *params):
        return _ask(sql, [self.text, *params])

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
        ok = _ask("select json_valid(?) and json_type(?) = 'OBJECT'", [line, line])
        return DeepObject(line) if ok else None
    return value if isinstance(value, dict) else None


def _is_json(line: str) -> bool:
    """Whether a line that is not a JSON object is JSON at all (an array, a string…): asked of bad lines only."""
    return bool(_ask("select json_valid(?)", [line]))


def _ask(sql: str, params: list):
    """One value from DuckDB on a connection of its own (asked of bad or deeply nested lines only): never DuckDB's
    module-wide default connection, whose unfinished result would break the next `duckdb.sql` of whoever imports
    reconcile (a notebook, a test)."""
    with duckdb.connect() as con:
        return con.execute(sql, params).fetchall()[0][0]


# ---------------------------------------------------------------------------------------------- strict: the error


def csv_problem(path: Path, rel: str, delim: str | None) -> SnapshotError | None:
    """The first damaged CSV record as the error that names it (None when every record is well formed)."""
    header, _, bad = scan_csv(path, delim or ",", first_only=True)
    if not bad:
        return None
    row, value, message = bad[0]
    if message.startswith((UNCLOSED, UNCLOSED_MIDWAY)):
        field, at = _open_quote(value, delim or ",")
        what = (
            "opens a quote that is not closed before the end of the file (is the file truncated, or a quote missing?)"
            if message.startswith(UNCLOSED)
            else f"opens a quote whose closing quote is followed by other text {value.count(chr(10))} line(s) further "
            "on (a quote missing, or a quote inside the value not doubled?)"
        )
        return SnapshotError(
            f"Snapshot '{rel}' row {row}: {_quote_opens_in(field, header)} value '{shown(value[at:])}' {what}. Close "
            f"the quote or export the file again. {LENIENT_HINT}"
        )
    return SnapshotError(
        f"Snapshot '{rel}' row {row}: {message} (value '{shown(value) if delim else ''}'). Is the file "
        f"truncated or a quote not closed? {LENIENT_HINT}"
    )


def json_error(path: Path, rel: str) -> SnapshotError:
    """The first line that is not a JSON object as the error that names it."""
    _, bad = scan_jsonl(path, first_only=True)
    if not bad:
        return SnapshotError(f"Snapshot '{rel}' cannot be parsed as JSON Lines. Export the file again.")
    row, value, message = bad[0]
    if message == NOT_AN_OBJECT:
        return SnapshotError(
            f"Snapshot '{rel}' row {row}: value '{shown(value)}' is not a complete JSON object (is the "
            f"file truncated?). Each line must hold one JSON object. Export the file again. "
            f"{LENIENT_HINT}"
        )
    if message == NOT_OBJECT_VALUE:
        return SnapshotError(
            f"Snapshot '{rel}' row {row}: value '{shown(value)}' is {NOT_OBJECT_VALUE}. Each line must hold one JSON "
            f"object. {LENIENT_HINT}"
        )
    return SnapshotError(f"Snapshot '{rel}' row {row}: {message}. Trim it in the export. {LENIENT_HINT}")


def structure_error(rel: str, e: duckdb.Error) -> SnapshotError:
    msg = str(e)
    line = re.search(r"[Ll]ine:? (\d+)", msg)
    where = f" line {line.group(1)}" if line else ""
    first = msg.strip().splitlines()[0][:300]
    if rel.lower().endswith(".parquet"):  # a Parquet file is read whole or not at all: --lenient cannot help
        return SnapshotError(
            f"Snapshot '{rel}' cannot be read as Parquet: {first}. Is the file truncated or not Parquet? Export it "
            "again (--lenient cannot keep part of a Parquet file)."
        )
    if "newline_delimited" in msg or "JSON" in msg:
        fix = "Each line must be one complete JSON object (is the file truncated?)."
    else:
        fix = "Check the quoting and the number of columns on that line (is the file truncated?)."
    return SnapshotError(f"Snapshot '{rel}'{where} cannot be parsed: {first}. {fix} {LENIENT_HINT}")


# ---------------------------------------------------------------------------------------------- lenient: the load


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
    batch = pa.Table.from_pylist(
        rows, schema=pa.schema([(c, pa.int64() if c == "_row" else pa.string()) for c in columns])
    )
    con.register("salvaged_rows", batch)
    try:
        select = ", ".join(f'cast("{c}" as {casts[c]})' if casts and c in casts else f'"{c}"' for c in columns)
        con.execute(
            f"insert into {table} ({', '.join(chr(34) + c + chr(34) for c in columns)}) "
            f"select {select} from salvaged_rows"
        )
    finally:
        con.unregister("salvaged_rows")


def reject(con, rel: str, bad: list[tuple]) -> None:
    is_json = rel.lower().endswith(".jsonl")
    if bad:
        con.executemany(
            "insert into rejects values (?, ?, '', ?, ?, ?)",
            [[rel, row, value, EXPECTED_JSON if is_json else EXPECTED, message] for row, value, message in bad],
        )
