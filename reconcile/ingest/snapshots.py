"""Snapshot files → raw DuckDB tables (text as read, canonical column names, file + row of every value).

Reads CSV (UTF-8 with or without BOM, comma/semicolon/tab/pipe), Parquet and JSONL; matches headers
case-insensitively; fingerprints every file; checks every typed value (checks live in sql/macros);
in strict mode the first problem stops everything, in lenient mode bad rows go to `rejects`.
Each typed column is parsed once, in the read, into a column beside its text (contract.PARSERS): the checks
compare the two and the staging models select the parsed value. Raw tables are temporary (per connection):
the DuckDB file keeps the typed staging tables, which carry the file and row of every value, so the file holds
each snapshot once, not twice.
"""

from __future__ import annotations

import csv
import io
import json
import mmap
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from . import damaged
from ..clock import iso, parse_utc
from .contract import CLAY_IDENTITY, KEY_PREFIXES, PARSERS, SYSTEMS, TYPES, Column, Source, sources
from ..errors import ReconcileError, SnapshotError, read_toml, toml_value
from ..files import release_cached_pages
from ..ids import correct_ids, id18
from .damaged import LENIENT_HINT


@dataclass
class LoadedFile:
    path: str  # relative to the snapshot directory, with forward slashes
    source: str
    system: str
    sha256: str
    records: int = 0  # data records in the file (read well-formed + quarantined as damaged)
    taken_at: str | None = None
    staged: int = 0  # records planned from
    rejected: int = 0  # records quarantined in `rejects` (lenient); records = staged + rejected, always
    not_used: dict[str, int] = field(default_factory=dict)  # staged records no rule reads, by kind (count_not_used)
    columns: frozenset[str] | None = None  # the contract columns the file has (None: JSON kept whole, webhook events)


@dataclass
class Snapshot:
    root: Path
    files: list[LoadedFile] = field(default_factory=list)
    taken_at: dict[str, str] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was not read)
    inputs: dict = field(default_factory=dict)  # coverage.assess: sources, files, ignored, warnings

    @property
    def fingerprints(self) -> dict[str, str]:
        return {f.path: f.sha256 for f in sorted(self.files, key=lambda f: f.path)}


def qi(name: str) -> str:
    """Quote an identifier (file headers are data: never trust them unquoted)."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------- discovery


@dataclass
class Discovery:
    found: dict[str, list[Path]]  # source name → its files
    ignored: list[tuple[str, str]]  # (relative path, why it was not read)


def discover(root: Path, srcs: list[Source], outputs: tuple[Path, ...] = ()) -> Discovery:
    """Map each source to its files; every file that is not data (other formats, hidden files, files outside the
    source folders or in their subfolders) is listed as ignored, with the reason — except the plan's own outputs
    when they are written into the snapshot folder (`outputs`: a path whose name begins like an output's, beside it,
    or inside such a folder: the plan, its data folder and exports, the DuckDB file and its .wal/.building/.tmp), so
    the same inputs give the same plan however often it is rebuilt there.

    Names are matched case-insensitively, natural export names included (contract.Source.pattern:
    `sfdc/Lead.csv`, `sfdc/leads_2026-11-27.csv`, `pardot/prospects export.csv`); a file claimed by a more
    specific source is not a generic Clay table. A data file in a source folder that matches no source, and two
    files for a single-file source, are errors naming the files."""
    if not root.is_dir():
        what = "is a file, not a directory" if root.exists() else "does not exist"
        raise SnapshotError(
            f"Snapshot directory '{root}' {what}. Pass the folder that holds sfdc/, clay/, "
            "smartlead/ and pardot/ (see README: Snapshot contract)."
        )
    found: dict[str, list[Path]] = {s.name: [] for s in srcs}
    ignored: list[tuple[str, str]] = []
    ordered = sorted(srcs, key=lambda s: s.name == "clay__rows")  # Clay tables take any clay/ file: match them last
    mine = _outputs_of(outputs)
    for p in sorted(p for p in root.rglob("*") if not p.is_dir()):
        if mine and _is_output(p, mine):
            continue
        rel = p.relative_to(root).as_posix()
        why = _not_a_source_file(rel, p)
        if not p.is_file():  # a link to nothing (an export on a share that is not mounted), a pipe, a socket
            what = _not_regular(p)
            if why is not None and why != "":
                ignored.append((rel, f"{why}; {what}"))
                continue
            raise SnapshotError(
                f"Snapshot '{rel}' is {what}, so it cannot be read. Put the file itself there (or mount the share the "
                "link points into), or remove it."
            )
        if why is None:  # a data file in a source folder: it feeds a source, or the snapshot is not what it seems
            stem_path = rel.lower().rsplit(".", 1)[0]
            source = next((s for s in ordered if s.system == rel.split("/")[0].lower() and s.matches(stem_path)), None)
            if source is None:
                raise SnapshotError(
                    f"Snapshot '{rel}' matches no source: {_no_source_named(rel)}. Rename it (see "
                    "README: File names) or move it out of the snapshot folder."
                )
            if p.suffix.lower() not in source.formats:
                raise SnapshotError(
                    f"Snapshot '{rel}' is {p.suffix.lower()}, but {source.globs[0]} must be "
                    f"{' or '.join(source.formats)}. Export it in that format."
                )
            found[source.name].append(p)
        elif why:
            ignored.append((rel, why))
    for s in srcs:
        if s.required and not found[s.name]:
            raise SnapshotError(
                f"Snapshot '{root}' has no {s.globs[0].replace('*', '{csv,parquet,jsonl}')} file. "
                f"Export it (SPEC §2 / README: Snapshot contract) and rerun."
            )
        if not s.multi_file and len(found[s.name]) > 1:
            names = ", ".join(p.relative_to(root).as_posix() for p in found[s.name])
            raise SnapshotError(
                f"Snapshot '{root}' has {len(found[s.name])} files for {s.globs[0]} ({names}). Keep one of them."
            )
    _one_export_per_campaign(root, found.get("smartlead__leads", []))
    return Discovery(found, ignored)


def _one_export_per_campaign(root: Path, files: list[Path]) -> None:
    """Smartlead's leads export is one file per campaign: two for one campaign (an export kept beside the day's
    re-export) would give its leads twice, and which category wins would depend on file names, not on time."""
    by_campaign: dict[str, list[str]] = {}
    for p in files:
        by_campaign.setdefault(_campaign_from_name(p), []).append(p.relative_to(root).as_posix())
    for campaign, names in sorted(by_campaign.items()):
        if len(names) > 1:
            raise SnapshotError(
                f"Snapshot '{root}' has {len(names)} leads exports of Smartlead campaign {campaign} "
                f"({', '.join(names)}). Keep the latest one."
            )


def _outputs_of(outputs: tuple[Path, ...]) -> list[tuple[Path, str]]:
    return [(o.resolve().parent, o.name) for o in outputs]


def _is_output(path: Path, mine: list[tuple[Path, str]]) -> bool:
    """`path` is an output of the plan being built (see discover), or lies in a folder that is one."""
    p = path.resolve()
    for folder, name in mine:
        for part in (p, *p.parents):
            if part.parent == folder and part.name.startswith(name):
                return True
            if part == folder:
                break
    return False


def _not_regular(path: Path) -> str:
    """What a snapshot entry that is neither a folder nor a file is (discover)."""
    if path.is_symlink():
        return f"a link to '{os.readlink(path)}', which does not exist"
    return "not a regular file (a pipe, socket or device)"


def _not_a_source_file(rel: str, path: Path) -> str | None:
    """Why a file cannot be a source file, '' for files read elsewhere (manifest, describe), None when it may be."""
    parts = rel.split("/")
    if rel == "manifest.toml" or (
        len(parts) == 3
        and parts[0].lower() == "sfdc"
        and parts[1].lower() == "describe"
        and path.suffix.lower() == ".json"
    ):
        return ""
    if any(part.startswith((".", "~$")) for part in parts):
        return "a hidden or temporary file"
    if len(parts) == 1:
        return f"not in a source folder ({', '.join(s + '/' for s in SYSTEMS)})"
    if parts[0].lower() not in SYSTEMS:
        return f"folder '{parts[0]}/' is not a source folder ({', '.join(s + '/' for s in SYSTEMS)})"
    if len(parts) > 2:
        return f"in a subfolder: a source reads only the files directly in {parts[0]}/"
    if path.suffix.lower() not in (".csv", ".parquet", ".jsonl"):
        return "not a .csv, .parquet or .jsonl file"
    return None


def _no_source_named(rel: str) -> str:
    return {
        "sfdc": "the name is none of Lead, CampaignMember, Contact, Campaign (e.g. sfdc/Lead.csv)",
        "smartlead": "the name is neither campaign-<id>.* (a leads export) nor events*.jsonl (webhooks)",
        "pardot": "the name does not contain 'prospects' (e.g. pardot/prospects.csv)",
    }.get(rel.split("/")[0].lower(), "the name matches no source")


# manifest.toml's text keys (instance_url: written by `reconcile pull`, the org the sfdc/ files were read from)
MANIFEST_TEXT = {
    "org_id": "00D5g000004XyZ1EAK",
    "notes": "exported by hand on Monday",
    "instance_url": "https://acme.my.salesforce.com",
}
MANIFEST_KEYS = (*MANIFEST_TEXT, "taken_at", "pulled")  # SPEC §2; [pulled.<source>] is what `reconcile pull` adds
TAKEN_AT_EXAMPLE = "2026-11-27T06:00:00Z"


def read_manifest(root: Path) -> dict:
    path = root / "manifest.toml"
    if not path.exists():
        return {}
    doc = read_toml(path.read_bytes(), "Snapshot 'manifest.toml'", SnapshotError, "Fix it or delete it.")
    doc = _per_source_tables(doc)
    check_manifest(doc)
    if "org_id" in doc:
        doc["org_id"] = _org_id(doc["org_id"])
    return doc


def _per_source_tables(doc: dict) -> dict:
    """The manifest with each source's taken_at under [taken_at], source names lower-cased: `[sfdc]` then
    `taken_at = …` (a source's own table) says what `[taken_at]` then `sfdc = …` says (SPEC §2: "taken_at per
    source"). A source table holding anything else, or two different times for one source, is left for
    check_manifest to refuse."""
    doc = dict(doc)
    taken = doc.get("taken_at")
    if isinstance(taken, dict):
        doc["taken_at"] = taken = {str(k).lower() if str(k).lower() in SYSTEMS else k: v for k, v in taken.items()}
    for key in [k for k, v in doc.items() if isinstance(v, dict) and k.lower() in SYSTEMS and set(v) == {"taken_at"}]:
        system, value = key.lower(), doc[key]["taken_at"]
        if taken is None:
            doc["taken_at"] = taken = {}
        if not isinstance(taken, dict):
            break  # taken_at = "…" as one value: check_manifest says how to write it
        if system in taken and taken[system] != value:
            raise SnapshotError(
                f"Snapshot 'manifest.toml': [{key}] taken_at = {toml_value(value)} and [taken_at] {system} = "
                f"{toml_value(taken[system])} give {system} two times. Keep one of them."
            )
        taken[system] = value
        del doc[key]
    return doc


def _org_id(value: str) -> str:
    """The manifest's org id as 18 characters (SPEC §2: ids 15 → 18), or an error: an Organization id (00D…)."""
    org = id18(value)
    if org is None or not org.startswith("00D"):
        raise SnapshotError(
            f"Snapshot 'manifest.toml': org_id = {toml_value(value)} is not a Salesforce org id (00D followed by 12 "
            "more characters, or 15 with the 3-character checksum: Setup → Company Information → Salesforce.com "
            "Organization ID). Fix it in manifest.toml or remove the line."
        )
    return org


def check_manifest(doc: dict) -> None:
    """The keys manifest.toml holds, each with a value of its kind: a misspelt or misplaced taken_at is an error,
    never a silent fall-back to the files' modification times (plan_id and freshness would drift)."""
    where = "Snapshot 'manifest.toml'"
    for key, value in doc.items():
        # a table, or a key named after a source or taken_at, is a taken_at in the wrong place; any other text a
        # person adds (exported_by = "Ana") is theirs: kept in the file, not read
        misplaced = isinstance(value, dict) or key.lower() in SYSTEMS or "taken" in key.lower()
        if key not in MANIFEST_KEYS and misplaced:
            name = f"[{key}]" if isinstance(value, dict) else key
            shown = name if isinstance(value, dict) else f"{key} = {toml_value(value)}"
            raise SnapshotError(
                f"{where}: {shown} is not a manifest key; manifest.toml holds org_id, notes, [taken_at] and "
                f"[pulled]. A source's taken_at goes under [taken_at] (e.g. [taken_at] then "
                f'sfdc = "{TAKEN_AT_EXAMPLE}"): move or remove {name}.'
            )
        if key in MANIFEST_TEXT and not isinstance(value, str):
            raise SnapshotError(
                f"{where}: {key} = {toml_value(value)}: expected text in quotes (e.g. {key} = "
                f'"{MANIFEST_TEXT[key]}"). Fix it in manifest.toml.'
            )
    taken = doc.get("taken_at", {})
    if not isinstance(taken, dict):
        sample = toml_value(taken) if isinstance(taken, str) else f'"{TAKEN_AT_EXAMPLE}"'
        raise SnapshotError(
            f"{where}: taken_at = {toml_value(taken)} is one value, but taken_at holds one timestamp per source. "
            f"Write [taken_at] on a line of its own, then one line per source below it: sfdc = {sample} (and "
            f"{', '.join(SYSTEMS[1:])})."
        )
    for system, value in taken.items():
        _not_a_system(system, f"[taken_at] {system} = {toml_value(value)}")
        manifest_time(system, value)
    pulled = doc.get("pulled", {})
    if not isinstance(pulled, dict) or not all(isinstance(v, dict) for v in pulled.values()):
        raise SnapshotError(
            f"{where}: pulled = {toml_value(pulled)} is not what `reconcile pull` writes ([pulled.<source>] tables "
            "of files, records, api_requests). Remove it from manifest.toml."
        )
    for system in pulled:
        _not_a_system(system, f"[pulled.{system}]")


def _not_a_system(name: str, shown: str) -> None:
    if name not in SYSTEMS:
        raise SnapshotError(
            f"Snapshot 'manifest.toml': {shown}: '{name}' is not a source; use one of {', '.join(SYSTEMS)}. Fix the "
            "name in manifest.toml."
        )


def manifest_time(system: str, value) -> datetime:
    """A manifest taken_at (an ISO 8601 text, or a TOML date-time written without quotes) as a datetime."""
    try:
        if isinstance(value, (bool, int, float, list, dict)) or not str(value).strip():
            raise ValueError(value)
        return parse_utc(value)
    except ValueError as e:
        raise SnapshotError(
            f"Snapshot 'manifest.toml': taken_at.{system} value '{value}' is not an ISO 8601 "
            f"timestamp such as {TAKEN_AT_EXAMPLE}."
        ) from e


CLOCK_SKEW = timedelta(minutes=5)  # a taken_at this far ahead of our clock is clock skew; beyond it, an error


def taken_at_for(manifest: dict, system: str, path: Path) -> str:
    """A source's taken_at from the manifest (checked by check_manifest), else the file's modification time
    (documented fallback)."""
    value = manifest.get("taken_at", {}).get(system)
    if value is not None:
        dt = manifest_time(system, value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        where = f"Snapshot 'manifest.toml': taken_at.{system} value '{value}'"
        fix = f"Correct taken_at in manifest.toml (UTC, e.g. {TAKEN_AT_EXAMPLE})."
    else:
        dt = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        where = (
            f"Snapshot '{path.parent.name}/{path.name}': the file's modification time ({iso(dt)}, "
            f"used because manifest.toml gives no taken_at.{system})"
        )
        fix = f"Set taken_at.{system} in manifest.toml, or fix the clock of the machine that wrote the file."
    now = datetime.now(timezone.utc)
    if dt > now + CLOCK_SKEW:
        raise SnapshotError(f"{where} is in the future (now {iso(now)}): the data's age could never be checked. {fix}")
    return iso(dt)


# ---------------------------------------------------------------------------------------------- loading


def create_ingest_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The `rejects` and `snapshot_files` tables (raw tables are made per file or run of files by read_group and
    load_payloads, see combine_files)."""
    con.execute(
        "create or replace table rejects (file varchar, row bigint, col varchar, value varchar, "
        "expected varchar, message varchar)"
    )
    con.execute(
        "create or replace table snapshot_files (file varchar, source varchar, system varchar, "
        "sha256 varchar, rows bigint, taken_at varchar, staged bigint, rejected bigint)"
    )
    con.execute("create or replace table snapshot_ignored (file varchar, reason varchar)")
    # Salesforce rows lenient mode quarantined (quarantine): not planned, but still records of the org for identity —
    # an email shared with a rejected Lead is ambiguous, not the other Lead's (int_source_rows_matched)
    con.execute(
        "create or replace table rejected_records (object varchar, record_id varchar, email_norm varchar, "
        "file varchar, row bigint)"
    )
    # the name each contract column has in each file: its alias (Pardot v4's is_email_hard_bounced for
    # isEmailHardBounced), else the contract's own spelling (headers match case-insensitively: an ALL-CAPS `ID` is `Id`).
    # Rejects and the evidence of Pardot rows name the column by it.
    con.execute(
        "create or replace table snapshot_headers (file varchar, source varchar, column_name varchar, header varchar)"
    )


def raw_schema(s: Source) -> list[tuple[str, str]]:
    """(column, type) of a source's raw table: file + row, the text as read, the parsed typed values."""
    return (
        [("_file", "varchar"), ("_row", "bigint"), ("_campaign", "varchar")]
        + [(c.name, "varchar") for c in s.columns]
        + [(c.parsed, PARSERS[c.type].sql_type) for c in s.columns if c.parsed]
        + ([("payload", "json")] if s.keep_payload else [])
    )


def file_table(s: Source, index: int) -> str:
    return f"{s.table}__{index}"


def combine_files(con, s: Source, tables: list[str], lenient: bool = False) -> None:
    """Make `raw_<source>` of its files' tables: each file, or run of files of one shape (read_group), is read into a
    table of its own (appending a file to a table that already holds rows cost ~2.5× creating a table of it); no
    file gives an empty table. Several files
    are a view over their tables (strict mode: copying them into one table cost 1.1–1.5 CPU s for Clay's two files
    at 1M leads, 3.3 s on the backfill, and staging from the view costs the same as from a table), or one table
    (lenient mode, which deletes the quarantined rows from it)."""
    if not tables:
        _create_empty(con, s, s.table)
    elif len(tables) == 1:
        con.execute(f"alter table {tables[0]} rename to {s.table}")
    elif not lenient:
        con.execute(
            f"create or replace temp view {s.table} as " + " union all ".join(f"select * from {t}" for t in tables)
        )
    else:
        con.execute(
            f"create or replace temp table {s.table} as " + " union all ".join(f"select * from {t}" for t in tables)
        )
        for t in tables:
            con.execute(f"drop table {t}")


def drop_raw(con, s: Source, tables: list[str], lenient: bool = False) -> None:
    """Drop a source's raw table, or its view and the files' tables under it (as combine_files made them)."""
    if len(tables) > 1 and not lenient:
        con.execute(f"drop view {s.table}")
        for t in tables:
            con.execute(f"drop table {t}")
    else:
        con.execute(f"drop table {s.table}")


def load_payloads(con, s: Source, path: Path, rel: str, delim: str | None, lenient: bool, table: str) -> int:
    """Read a JSONL file kept whole (webhook events) into its own temporary `table`, one JSON object per row;
    returns the number of data records in the file (rows read, plus the damaged lines lenient mode quarantined).

    Lenient mode reads like strict mode; only when DuckDB refuses the file does damaged.py load its well-formed
    records and quarantine the rest."""
    salvageable = lenient and path.suffix.lower() == ".jsonl"
    try:
        read_in_file_order(
            con,
            table,
            "select cast(? as varchar) as _file, cast(null as bigint) as _row, "
            "cast(null as varchar) as _campaign, json as payload "
            "from read_json_objects(?, format='newline_delimited', maximum_object_size=?)",
            [rel, str(path), damaged.MAX_JSON_OBJECT],
        )
    except duckdb.Error as e:
        _refused(path, rel, delim, e, salvageable)
        _create_empty(con, s, table)
        good, bad = damaged.scan_jsonl(path)
        damaged.insert_rows(
            con,
            table,
            [{"_file": rel, "_row": r, "payload": damaged.payload_text(v)} for r, v in good],
            ["_file", "_row", "payload"],
            casts={"payload": "json"},
        )
        damaged.reject(con, rel, bad)
        return len(good) + len(bad)
    return number_rows(con, table, path)


@dataclass
class FileRead:
    """How one file of a source is read (prepare_read): the contract columns as expressions over the file's scan.
    Files whose `shape` is equal (same format, delimiter, header line and line ending; Parquet: same schema) read
    the same way, so they are read together, in one scan (read_group); None: always read alone (JSONL)."""

    path: Path
    rel: str
    delim: str | None
    columns: list[str]  # select expressions, after _file, _row, _campaign
    params: list
    mapping: dict[str, str]
    campaign: str | None
    shape: tuple | None


def prepare_read(con, s: Source, path: Path, rel: str, delim: str | None, lenient: bool) -> FileRead:
    """Map a file's header to the contract (an error names a missing or doubled column) and record it in
    snapshot_headers; the read itself is read_alone's or read_group's."""
    suffix = path.suffix.lower()
    is_json = suffix == ".jsonl"
    scan, params = _scan(path, delim)
    framing = ()
    if suffix == ".csv":
        headers, framing = _csv_head(path, delim)
    else:
        try:
            headers = _headers(con, scan, params, path)
        except duckdb.Error as e:  # only a JSONL file's keys are read by DuckDB
            _refused(path, rel, delim, e, lenient and is_json)
            headers = sorted({k for _, v in damaged.scan_jsonl(path)[0] for k in v})
    mapping = _map_columns(s, headers, rel)
    if mapping:  # one statement (executemany runs one per row: ~5 ms a file)
        spelled = {c.name: c.header for c in s.columns}
        con.execute(
            "insert into snapshot_headers select ?, ?, unnest(?), unnest(?)",
            [
                rel,
                s.name,
                list(mapping),
                [spelled[n] if h.strip().lower() == spelled[n].lower() else h.strip() for n, h in mapping.items()],
            ],
        )
    named = _read_names(con, scan, params, headers) if suffix == ".csv" else {}
    types = _parquet_types(con, scan, params) if suffix == ".parquet" else {}
    columns, col_params = [], []
    for c in s.columns:
        if c.name not in mapping:
            columns.append(f"cast(null as varchar) as {qi(c.name)}")
        elif is_json:  # an empty string is a blank value, as an empty CSV cell (quoted or not) reads as NULL
            columns.append(f"nullif(cast(json ->> ? as varchar), '') as {qi(c.name)}")
            col_params.append(mapping[c.name])
        else:
            column = named.get(mapping[c.name], mapping[c.name])
            columns.append(f"{_as_text(qi(column), types.get(column))} as {qi(c.name)}")
    if is_json:  # a line that is JSON but not an object (`[1, 2]`, `"text"`) has no columns: named, not read as blanks
        columns.append(f"case when json_type(json) <> 'OBJECT' then left(json::varchar, 200) end as {NOT_OBJECT}")
    if suffix == ".csv":
        shape = (suffix, delim, tuple(headers), *framing)
    elif suffix == ".parquet":
        shape = (suffix, tuple(types.items()))
    else:
        shape = None
    campaign = _campaign_from_name(path) if s.name == "smartlead__leads" else None
    return FileRead(path, rel, delim, columns, col_params, mapping, campaign, shape)


def _csv_head(path: Path, delim: str) -> tuple[list[str], tuple[bool, bytes]]:
    """A CSV file's header and what DuckDB's sniffer reads off its start besides: a byte order mark and the line
    ending (files read in one scan share the first file's dialect). The head only; bad bytes further in are DuckDB's
    to find."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    line = head.split(b"\n", 1)[0]
    ending = b"\r\n" if line.endswith(b"\r") else b"\n" if b"\n" in head else b""
    header = next(csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace"), newline=""), delimiter=delim), [])
    return header, (head.startswith(b"\xef\xbb\xbf"), ending)


def _select(s: Source, columns: list[str], scan: str) -> str:
    parsed = "".join(
        f", cast({parse_expr(c)} as {PARSERS[c.type].sql_type}) as {qi(c.parsed)}" for c in s.columns if c.parsed
    )
    return f"select *{parsed} from (select {', '.join(columns)} from {scan})"


def read_alone(con, s: Source, r: FileRead, lenient: bool, table: str) -> int:
    """Read one prepared file into its own temporary `table` (raw_schema); returns the number of data records in the
    file (rows read, plus the damaged records lenient mode quarantined). Lenient mode reads like strict mode; only
    when DuckDB refuses a CSV or JSONL file does damaged.py load its well-formed records and quarantine the rest."""
    suffix = r.path.suffix.lower()
    salvageable = lenient and suffix in (".csv", ".jsonl")
    scan, params = _scan(r.path, r.delim)
    select = _select(
        s,
        ["cast(? as varchar) as _file", "cast(null as bigint) as _row", "cast(? as varchar) as _campaign", *r.columns],
        scan,
    )
    expr_params = [r.rel, r.campaign, *r.params]
    try:
        try:
            read_in_file_order(con, table, select, [*expr_params, *params])
        except duckdb.InvalidInputException as e:
            if suffix != ".csv" or "Maximum line size" not in str(e):
                raise
            read_in_file_order(con, table, select, [*expr_params, *_scan(r.path, r.delim, damaged.MAX_RECORD)[1]])
    except duckdb.Error as e:
        _refused(r.path, r.rel, r.delim, e, salvageable)
        _create_empty(con, s, table)
        return _salvage(con, s, table, r.path, r.rel, r.delim, r.mapping, r.campaign)
    verify_ids(con, s, table)
    records = number_rows(con, table, r.path)
    if suffix == ".jsonl":
        _reject_non_objects(con, table)
    return records


def reading_message(group: list[FileRead]) -> str:
    """What a progress line says while a run of files is read: the file, or how many in one scan, first … last."""
    if len(group) == 1:
        return f"reading {group[0].rel}"
    return f"reading {len(group)} files in one scan ({group[0].rel} … {group[-1].rel})"


def groups(reads: list[FileRead]) -> list[list[FileRead]]:
    """Runs of consecutive files of one shape (each read in one scan), in file order."""
    out: list[list[FileRead]] = []
    for r in reads:
        if out and r.shape is not None and out[-1][0].shape == r.shape:
            out[-1].append(r)
        else:
            out.append([r])
    return out


def read_group(con, s: Source, reads: list[FileRead], lenient: bool, tables: list[str]) -> list[int]:
    """Read files of one shape into one new table (appended to `tables`) in a single scan — one multi-file read
    instead of one per file: a Smartlead account exports a file per campaign, and each read of its own cost ~13 ms
    besides its rows (400 small files: 5.4 s) — or, one file, as read_alone. Returns each file's records.

    A row's number is its place in its own file: the scan keeps each file's order (as a single file's read) and
    gives each row its file's index; the files' rows are checked to follow one another in the table, in file order,
    before the numbers are set from that. If DuckDB refuses the scan, or the check fails, each file is read alone,
    which names the problem (or, lenient, salvages the file) as it always did."""
    table = file_table(s, len(tables))
    tables.append(table)
    if len(reads) == 1:
        return [read_alone(con, s, reads[0], lenient, table)]
    first = reads[0]
    scan, params = _scan([r.path for r in reads], first.delim)
    index = "cast(file_index as bigint)"
    select = _select(
        s,
        [
            f"(?::varchar[])[{index} + 1] as _file",
            f"{index} as _row",  # the file's index until number_group_rows sets the row number
            f"(?::varchar[])[{index} + 1] as _campaign",
            *first.columns,
        ],
        scan,
    )
    try:
        read_in_file_order(
            con, table, select, [[r.rel for r in reads], [r.campaign for r in reads], *first.params, *params]
        )
        counts = number_group_rows(con, table, len(reads))
    except (duckdb.Error, GroupOrderError):
        con.execute(f"drop table if exists {table}")
        tables.pop()
        return [read_group(con, s, [r], lenient, tables)[0] for r in reads]
    verify_ids(con, s, table)
    return counts


class GroupOrderError(Exception):
    """A multi-file read whose files' rows do not follow one another in file order (read_group reads them alone)."""


def number_group_rows(con, table: str, files: int) -> list[int]:
    """Row numbers of a multi-file read's table, whose _row holds each row's file index: its files' rows must lie
    in consecutive rowid ranges, in file order (GroupOrderError otherwise); a row's number is then its rowid + 1 less
    its file's first rowid (as number_rows numbers one file's table). Returns the rows of each file."""
    starts, counts, expect = [0] * files, [0] * files, 0
    for i, lo, hi, n in con.execute(
        f"select _row, min(rowid), max(rowid), count(*) from {table} group by _row order by _row"
    ).fetchall():
        if lo != expect or hi - lo + 1 != n:
            raise GroupOrderError(f"file {i}: rowids {lo}..{hi} ({n} rows), expected to start at {expect}")
        starts[i], counts[i], expect = lo, n, hi + 1
    con.execute(f"update {table} set _row = rowid + 1 - (?::bigint[])[_row + 1]", [starts])
    return counts


NOT_OBJECT = "_not_object"  # a JSONL read's column holding each line that is not an object (dropped after the check)


def _reject_non_objects(con, table: str) -> None:
    """Lines of a JSONL file that are JSON but not an object go to `rejects` (as the salvage of a damaged file puts
    them, damaged.scan_jsonl): every column of such a line would otherwise read as blank, and a Clay or Pardot row of
    blanks is planned from without a word."""
    con.execute(
        f"insert into rejects select _file, _row, '', {NOT_OBJECT}, ?, ? from {table} where {NOT_OBJECT} is not null",
        [damaged.EXPECTED_JSON, damaged.NOT_OBJECT_VALUE],
    )
    con.execute(f"alter table {table} drop column {NOT_OBJECT}")


def _refused(path: Path, rel: str, delim: str | None, e: duckdb.Error, salvageable: bool) -> None:
    """DuckDB refused a file: raise the error naming the file, row and fix — unless lenient mode can salvage it, or
    a CSV file has no damaged record after all (then the caller loads it from damaged.scan_csv as lenient mode does;
    a wrong encoding is never salvaged: the whole file is unreadable)."""
    if problem := damaged.encoding_problem(path, rel):
        raise problem from e
    if salvageable:
        return
    if path.suffix.lower() == ".jsonl":
        raise damaged.json_error(path, rel) from e
    if path.suffix.lower() == ".csv":
        if problem := damaged.csv_problem(path, rel, delim):
            raise problem from e
        # every record well formed by RFC 4180 (Python's csv reader), but not to DuckDB's state machine — a blank
        # CR-LF line or one CR-LF line ending in an LF file: read from that scan, in strict mode too (nothing rejected)
        return
    raise damaged.structure_error(rel, e) from e


def _create_empty(con, s: Source, table: str) -> None:
    con.execute(f"create or replace temp table {table} (" + ", ".join(f"{qi(n)} {t}" for n, t in raw_schema(s)) + ")")


def parse_expr(c: Column) -> str:
    return f"{PARSERS[c.type].macro}({qi(c.name)})"


UNIQUE_ID = "a unique Id"  # how a duplicate key's reject begins its `expected` (its error and message say so)

# Physical operators that keep their input's row order (DuckDB "Order Preservation": a single-table FROM, SELECT,
# WHERE; https://duckdb.org/docs/stable/sql/dialect/order_preservation). A join, aggregate or sort does not.
ORDER_KEEPING = frozenset({"PROJECTION", "FILTER"})


def read_in_file_order(con, table: str, select: str, params: list) -> None:
    """Materialise one file's read as `table`, its rows in the file's order — which is what makes a row's number its
    rowid + 1 (number_rows). DuckDB keeps a scan's order through projections and filters whatever the thread count,
    but not through a join, and its optimizer plans some expressions as joins (a constant `x in (…)` list becomes a
    MARK hash join: rows then came out shuffled above ~30k rows). So the read's plan is checked first: a single scan
    under projections and filters only, or this stops instead of numbering rows wrongly."""
    plan = json.loads(con.execute(f"explain (format json) {select}", params).fetchall()[0][1])
    node = plan[0]
    while node["children"]:
        if node["name"] not in ORDER_KEEPING or len(node["children"]) != 1:
            raise ReconcileError(
                f"Internal error: reading into {table} would not keep the file's row order (the "
                f"query plan has {node['name']}), so row numbers could be wrong. Please report this "
                "with the snapshot's headers."
            )
        node = node["children"][0]
    con.execute(f"create or replace temp table {table} as {select}", params)


def verify_ids(con, s: Source, table: str) -> None:
    """Check, in bulk, the 18-byte ids the read took as they are (sf_id18_read; ids.correct_ids): the rare ones
    id18 answers differently for are corrected in the parsed column (a bad checksum becomes NULL, so check_values
    reports it as it did when the read checked)."""
    for c in s.columns:
        if c.type == "id":
            correct_ids(con, table, qi(c.name), qi(c.parsed))


def number_rows(con, table: str, path: Path | None = None) -> int:
    """Row numbers of a file's table (read_in_file_order keeps the file's order): a row's number is its rowid + 1 (a
    row_number() window over the read costs ~0.4 s per million rows; this ~0.02 s). Returns the row count.

    A JSONL row is its line number (as damaged.scan_jsonl, errors and lenient mode number it): DuckDB's read skips
    blank lines, so a file that has any gets the line number of each object it read."""
    n = con.execute(f"update {table} set _row = rowid + 1").fetchone()[0]
    if path is not None and path.suffix.lower() == ".jsonl" and _has_blank_line(path):
        with path.open(encoding="utf-8-sig") as fh:
            lines = [row for row, line in enumerate(fh, start=1) if line.strip()]
        if len(lines) != n:  # every non-blank line of a file DuckDB read is one object
            raise SnapshotError(
                f"Snapshot '{path}': {n} JSON objects were read from {len(lines)} non-blank lines; each non-blank line "
                "must hold one JSON object. Fix the file."
            )
        con.execute(
            f"update {table} set _row = m.line from (select unnest(?) as line, generate_subscripts(?, 1) as n) as m "
            f"where {table}._row = m.n",
            [lines, lines],
        )
    return n


# a blank line: the first line, or one after a line break, holding nothing but spaces. Two patterns, not one with
# `(?:\A|\n)`: a pattern that begins with a literal is searched for that byte first (60 MB of events at 1M leads:
# 0.54 → 0.03 s, in Python's lock, before the next file is read)
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r\f\v]*\n")
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")


def _has_blank_line(path: Path) -> bool:
    """Whether a JSONL file has a blank line (only then are its line numbers not its object numbers): one C-speed
    scan of the mapped file."""
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _BLANK_FIRST_LINE.match(data) is not None or _BLANK_LINE.search(data) is not None


def _parse_salvaged(con, s: Source, table: str) -> None:
    """Salvaged rows arrive as text: parse their typed columns as the read does."""
    parsed = [c for c in s.columns if c.parsed]
    if parsed:
        sets = ", ".join(f"{qi(c.parsed)} = {parse_expr(c)}" for c in parsed)
        con.execute(f"update {table} set {sets}")
        verify_ids(con, s, table)


def _salvage(
    con, s: Source, table: str, path: Path, rel: str, delim: str | None, mapping: dict, campaign: str | None
) -> int:
    """Lenient mode after DuckDB refused the file: load the well-formed records, quarantine the rest."""
    columns = ["_file", "_row", "_campaign"] + [c.name for c in s.columns]
    if path.suffix.lower() == ".jsonl":
        good, bad = damaged.scan_jsonl(path)
        rows = [
            {
                "_file": rel,
                "_row": r,
                "_campaign": campaign,
                **{c.name: damaged.json_text(v.get(mapping[c.name])) or None for c in s.columns if c.name in mapping},
            }
            for r, v in good
        ]
    else:
        header, records, bad = damaged.scan_csv(path, delim or ",")
        index = {h: i for i, h in enumerate(header)}
        rows = [
            {
                "_file": rel,
                "_row": r,
                "_campaign": campaign,
                **{c.name: (rec[index[mapping[c.name]]] or None) for c in s.columns if c.name in mapping},
            }
            for r, rec in records
        ]
        _ragged_records(con, s, rel, delim or ",", index, mapping, bad)
    damaged.insert_rows(con, table, rows, columns)
    _parse_salvaged(con, s, table)
    damaged.reject(con, rel, bad)
    return len(rows) + len(bad)


def _ragged_records(con, s: Source, rel: str, delim: str, index: dict, mapping: dict, bad: list[tuple]) -> None:
    """A Lead or CampaignMember row quarantined for its column count is still a record of the org to identity
    (rejected_records, as quarantine keeps a row with a bad value): its Id where the header puts it — when that is
    an id of the object, as the first column of an export usually is — so a source row naming it says it was
    quarantined, not that the snapshot lacks it; and a Lead's email, so no other Lead becomes its only match."""
    if s.name not in REJECTED_RECORDS:
        return
    obj, email = REJECTED_RECORDS[s.name]
    key = next(c for c in s.columns if c.name == s.key)
    out = []
    for row, text, message in bad:
        if message.startswith(damaged.UNCLOSED) or message.startswith(damaged.UNCLOSED_MIDWAY):
            continue  # a record broken by a quote: its fields cannot be told apart
        fields = next(csv.reader(io.StringIO(text), delimiter=delim), [])
        at = index.get(mapping.get(key.name), len(fields))
        rid = id18(fields[at]) if at < len(fields) else None
        if rid is None or rid[:3] != key.prefix:
            continue
        mail = index.get(mapping.get(email), len(fields)) if email else len(fields)
        out.append([obj, rid, fields[mail] if mail < len(fields) else None, rel, row])
    if out:
        con.executemany("insert into rejected_records values (?, ?, norm_email(?), ?, ?)", out)


def _scan(files: Path | list[Path], delim: str | None, record: int | None = None) -> tuple[str, list]:
    """The strict read of one file, or of a run of files of one shape in one scan (read_group), in both modes (DuckDB's
    own ignore_errors may drop a good row beside a broken one and shifts the row numbers of every row after it;
    lenient mode salvages a refused file instead). A CSV record may be up to `record` bytes long (default
    damaged.read_buffer of the largest file's size)."""
    paths = files if isinstance(files, list) else [files]
    where = [str(p) for p in paths] if isinstance(files, list) else str(files)
    suffix = paths[0].suffix.lower()
    if suffix == ".csv":
        # buffer_size: DuckDB's default is 16 × max_line_size, capped at the file's size — one buffer of the whole
        # file, read by one thread (a 2.9 GB Lead.csv at 10M leads could not be allocated under the default memory
        # limit); buffers of max_line_size are shared out among the threads
        opts = (
            "delim=?, header=true, all_varchar=true, quote='\"', escape='\"', auto_detect=true, max_line_size=?, "
            "buffer_size=?"
        )
        size = record or damaged.read_buffer(max(p.stat().st_size for p in paths))
        return f"read_csv(?, {opts})", [where, delim, size, size]
    if suffix == ".parquet":
        return "read_parquet(?)", [where]
    return (
        "read_json_objects(?, format='newline_delimited', maximum_object_size=?)",
        [where, damaged.MAX_JSON_OBJECT],
    )


def _headers(con, scan: str, params: list, path: Path) -> list[str]:
    """A JSONL file's keys (every line's), or a Parquet file's columns (a CSV header: _csv_head)."""
    if path.suffix.lower() == ".jsonl":
        rows = con.execute(f"select distinct unnest(json_keys(json)) from {scan}", params).fetchall()
        return sorted(r[0] for r in rows)
    try:  # the file's own names, in order: DuckDB's read renames a second `Email` (or `EMAIL`) to `Email_1`, so a
        # column the file names twice would pass unseen (_map_columns refuses it, as in a CSV header)
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - a damaged footer: DuckDB's read below fails too, and says why
        return [d[0] for d in con.execute(f"describe select * from {scan}", params).fetchall()]


def _read_names(con, scan: str, params: list, headers: list[str]) -> dict[str, str]:
    """The name DuckDB's CSV read gives each header that has surrounding whitespace (it trims ` Email` to `Email`;
    hand-typed files put a space after each comma): positional, from the read's own columns. {} when none has."""
    if all(h == h.strip() for h in headers):
        return {}
    try:
        names = [d[0] for d in con.execute(f"describe select * from {scan}", params).fetchall()]
    except duckdb.Error:  # a damaged file: the read fails too, and says why
        return {}
    return dict(zip(headers, names)) if len(names) == len(headers) else {}


def _parquet_types(con, scan: str, params: list) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"describe select * from {scan}", params).fetchall()}


NESTED = re.compile(r"^(STRUCT|MAP|UNION)\(|\]$")  # DuckDB's names of nested types: STRUCT(…), MAP(…), VARCHAR[], …


def _as_text(column: str, type_: str | None) -> str:
    """A file's column as the text a CSV cell holds: a Parquet text column's empty string is blank (NULL, as an empty
    CSV cell reads), a nested value (custom_fields as a STRUCT) is its JSON text, any other typed value its text."""
    if type_ is None:  # CSV: read as text, an empty cell already NULL
        return f"cast({column} as varchar)"
    if type_ == "VARCHAR":
        return f"nullif({column}, '')"
    if NESTED.search(type_):
        return f"cast(to_json({column}) as varchar)"
    return f"cast({column} as varchar)"


def _map_columns(s: Source, headers: list[str], rel: str) -> dict[str, str]:
    by_lower: dict[str, str] = {}
    for h in headers:
        by_lower.setdefault(h.strip().lower(), h)
    mapping: dict[str, str] = {}
    for c in s.columns:
        names = {h.lower() for h in c.headers()}
        positions = [i for i, h in enumerate(headers, start=1) if h.strip().lower() in names]
        if len(positions) > 1:  # a JSONL file's keys have no position (_headers lists them sorted)
            jsonl = rel.lower().endswith(".jsonl")
            found = " and ".join(f"'{headers[i - 1]}'" + ("" if jsonl else f" (column {i})") for i in positions)
            raise SnapshotError(
                f"Snapshot '{rel}' header names the column '{c.header}' {len(positions)} times: "
                f"{found}. Keep one of them in the export (reconcile will not guess which is right)."
            )
        hit = next((by_lower[h.lower()] for h in c.headers() if h.lower() in by_lower), None)
        if hit is not None:
            mapping[c.name] = hit
        elif c.required:
            json_hint = (
                " A JSONL export needs the key on at least one line: an exporter that leaves out empty values must "
                'write them as null (or "").'
                if rel.lower().endswith(".jsonl")
                else ""
            )
            raise SnapshotError(
                f"Snapshot '{rel}' has no column '{c.header}' (found: {', '.join(headers)}). "
                f"Add the column to the export (header names are case-insensitive).{json_hint}"
            )
    if s.name == "clay__rows" and not any(k in mapping for k in CLAY_IDENTITY):
        names = ", ".join(f"'{c.header}'" for c in s.columns if c.name in CLAY_IDENTITY)
        raise SnapshotError(
            f"Snapshot '{rel}' has none of the Clay identity columns {names}. Add one, or map "
            "your header names in the policy's [clay.columns]."
        )
    return mapping


def _campaign_from_name(path: Path) -> str:
    """The Smartlead campaign id of a leads export: the digits after 'campaign' (campaign-9181.csv,
    Campaign_9181 leads.csv)."""
    return re.match(r"campaign[-_ ]?(\d+)", path.stem, re.IGNORECASE).group(1)


# ---------------------------------------------------------------------------------------------- checks


def is_bad(c: Column) -> str:
    """SQL that is true when a raw value is neither blank nor of its column's type (macros in sql/macros)."""
    if c.parsed:  # parsed in the read: compare the parsed value with the text
        return f"is_malformed({qi(c.name)}, {qi(c.parsed)})"
    return f"is_bad_{c.type}({qi(c.name)})"


def is_other_object(c: Column) -> str:
    """SQL that is true when an id column holds a well-formed id of another object than its key prefix names."""
    return f"(left({qi(c.parsed)}, 3) <> '{c.prefix}')"  # prefix: a constant of the contract (KEY_PREFIXES)


def other_object_expected(c: Column) -> str:
    return (
        f"a {KEY_PREFIXES[c.prefix]} id (key prefix {c.prefix}; this file's {c.header} column holds "
        f"{KEY_PREFIXES[c.prefix]} ids only — was another object exported into it?)"
    )


def check_values(con, s: Source) -> None:
    """Record every bad typed value and duplicate key of a raw table in `rejects`.

    One scan finds whether anything is wrong at all (the usual answer is no); only then is each column's
    check run to name the values.
    """
    if s.keep_payload:  # DuckDB reads any JSON value per line; a line must be one object (a `[1, 2]` line is not)
        con.execute(
            f"insert into rejects select _file, _row, '', payload::varchar, ?, ? from {s.table} "
            "where json_type(payload) <> 'OBJECT'",
            [damaged.EXPECTED_JSON, damaged.NOT_OBJECT_VALUE],
        )
    if s.columns:  # every column: a typed value of its type, a text value without NUL bytes
        prefixed = [c for c in s.columns if c.prefix]
        any_bad = " or ".join([is_bad(c) for c in s.columns] + [is_other_object(c) for c in prefixed])
        if con.execute(f"select count(*) from {s.table} where {any_bad}").fetchone()[0]:
            for c in s.columns:  # a NUL is named as \x00 (a raw one would end the error line where a terminal shows it)
                con.execute(
                    f"insert into rejects select _file, _row, ?, replace({qi(c.name)}, chr(0), '\\x00'), ?, null "
                    f"from {s.table} where {is_bad(c)}",
                    [c.header, TYPES[c.type]],
                )
            for c in prefixed:
                con.execute(
                    f"insert into rejects select _file, _row, ?, {qi(c.name)}, ?, null "
                    f"from {s.table} where {is_other_object(c)}",
                    [c.header, other_object_expected(c)],
                )
    if s.key:
        col = next(c for c in s.columns if c.name == s.key)
        key, parsed = qi(col.name), qi(col.parsed)
        # a record without its Id cannot be matched, diffed or written: it would silently leave the snapshot (and
        # every source row naming it would look unmatched), so a blank Id is bad input like a malformed one (a JSONL
        # line that is not an object has no Id either: it is rejected as such, once, by _reject_non_objects)
        con.execute(
            f"insert into rejects select _file, _row, ?, '', ?, null from {s.table} as t "
            f"where ({key} is null or trim({key}) = '') and not exists "
            "(select 1 from rejects as r where r.file = t._file and r.row = t._row and r.col = '')",
            [col.header, "the record's Salesforce Id (every row of a Salesforce export has one)"],
        )
        duplicated = con.execute(
            f"select count(*) from (select {parsed} as k from {s.table} "
            f"where k is not null group by k having count(*) > 1)"
        ).fetchone()[0]
        if duplicated:  # every row of a duplicated Id is rejected (reconcile will not guess which is right), each
            # naming the rows that hold the same record (15- or 18-character): up to 5, then how many more
            con.execute(
                f"insert into rejects select _file, _row, ?, {key}, ? || case when n = 2 then rows[1] || ' and ' || "
                "rows[2] else array_to_string(rows[1:5], ', ') || case when n > 5 then ' and ' || (n - 5) || ' more' "
                "else '' end end || ' hold the same record)', null from ("
                f"  select _file, _row, {key}, count(*) over w as n, "
                f"  list(_row::varchar order by _row) over w as rows from {s.table} where {parsed} is not null "
                f"  window w as (partition by {parsed})) where n > 1",
                [col.header, f"{UNIQUE_ID} (each Salesforce record once per file; rows "],
            )
    name_as_in_file(con, s)


def name_as_in_file(con, s: Source) -> None:
    """Rejects of a source name a column by the alias its file uses (snapshot_headers), not by the contract's name: a
    Pardot v4 file's bad value is in `is_email_hard_bounced`, which is the column its user will look for."""
    if not s.columns or not con.execute("select count(*) from rejects").fetchone()[0]:
        return
    con.executemany(
        "update rejects set col = h.header from snapshot_headers as h "
        "where h.file = rejects.file and h.source = ? and h.column_name = ? and rejects.col = ?",
        [[s.name, c.name, c.header] for c in s.columns],
    )


def check_staged(con, s: Source, files: list[LoadedFile], lenient: bool) -> None:
    """The bad values a source's staging model typed itself (sql.STAGED_CHECKS: ids and times inside JSON) go to
    `rejects` like the read's own (a strict plan stops at the first, raise_first_reject); lenient mode removes
    their rows from the staging table and counts them rejected instead of staged (records = staged + rejected)."""
    from ..sql import staged_check

    check = staged_check(s.name, {"expected_id": TYPES["id"], "expected_timestamp": TYPES["timestamp"]})
    if check is None:
        return
    query, bound = check
    found = con.execute(f"insert into rejects select file, row, col, value, expected, null from ({query})", bound)
    if not found.fetchone()[0] or not lenient:
        return
    table = f"stg_{s.name}"  # rows rejected by the read were quarantined before staging: only this check's match
    removed = dict(
        con.execute(
            f"select file, count(*) from {table} as t semi join rejects as r on r.file = t.file and r.row = t.row "
            "group by file"
        ).fetchall()
    )
    con.execute(f"delete from {table} as t using rejects as r where r.file = t.file and r.row = t.row")
    for f in files:
        n = removed.get(f.path, 0)
        f.staged, f.rejected = f.staged - n, f.rejected + n


NO_EVENT_TYPE = "(no event type)"


def count_not_used(con, s: Source, files: list[LoadedFile]) -> None:
    """Webhook events of a type no rule reads (EMAIL_SENT, EMAIL_OPEN, …: Smartlead sends every type) are read and
    kept, but the staging model leaves them out: count them per file and type (f.not_used), so the plan and report
    account for every record. The kept types are the staging model's alone: this counts the raw rows it left out
    that were not rejected. Call before the raw table is dropped."""
    if s.name != "smartlead__events":
        return
    rows = con.execute(
        f"select r._file, upper(coalesce(r.payload ->> 'event_type', r.payload ->> 'event')) as t, count(*) "
        f"from {s.table} as r anti join stg_{s.name} as k on k.file = r._file and k.row = r._row "
        "anti join rejects as j on j.file = r._file and j.row = r._row group by all"
    ).fetchall()
    by_path = {f.path: f for f in files}
    for path, kind, n in rows:
        by_path[path].not_used[kind or NO_EVENT_TYPE] = n


def _rejects(con) -> int:
    return con.execute("select count(*) from rejects").fetchone()[0]


def raise_first_reject(con) -> None:
    rows = con.execute(
        "select file, row, col, value, expected, message from rejects order by file, row, col"
    ).fetchall()
    if not rows:
        return
    file, row, col, value, expected, message = rows[0]
    more = f" ({len(rows) - 1} more problem{'s' if len(rows) > 2 else ''} in this snapshot.)" if len(rows) > 1 else ""
    if message and file.lower().endswith(".jsonl"):  # a line that is not one JSON object (row = its line)
        text = f"Snapshot '{file}' row {row}: value '{damaged.shown(value)}' is {message}. Each line must hold one JSON object."
    elif message:  # a record the reader could not split into columns has no column to name: say its line in the
        # file as an editor shows it (the header is line 1, so record row N is line N + 1)
        text = f"Snapshot '{file}' line {row + 1}: {message}."
    elif not value:  # a value a staged check requires (a category event's time, sql/checks)
        text = f"Snapshot '{file}' row {row}: column '{col}' is missing; expected {expected}."
    elif expected.startswith(UNIQUE_ID):
        text = (
            f"Snapshot '{file}' row {row}: column '{col}' value '{value}' appears more than once; expected {expected}."
        )
    else:
        text = f"Snapshot '{file}' row {row}: column '{col}' value '{value}' is not {expected}."
    raise SnapshotError(f"{text} {LENIENT_HINT}{more}")


# Salesforce sources whose quarantined rows identity still counts (rejected_records): object, email column or None
REJECTED_RECORDS = {"sfdc__lead": ("Lead", "email"), "sfdc__campaign_member": ("CampaignMember", None)}


def quarantine(con, srcs: list[Source]) -> None:
    """Lenient mode: drop every rejected row from its raw table (it stays listed in `rejects`). A Lead or
    CampaignMember row is kept in `rejected_records` first (its id, if it is one, and normalised email): a bad value in
    one Lead must not make another Lead the only match of an email they share."""
    for s in srcs:
        if s.name in REJECTED_RECORDS:
            obj, email = REJECTED_RECORDS[s.name]
            key = next(c for c in s.columns if c.name == s.key)
            con.execute(
                f"insert into rejected_records select ?, {qi(key.parsed)}, "
                f"{f'norm_email({qi(email)})' if email else 'null'}, _file, _row from {s.table} t "
                "where exists (select 1 from rejects r where r.file = t._file and r.row = t._row)",
                [obj],
            )
        con.execute(f"delete from {s.table} t using rejects r where r.file = t._file and r.row = t._row")


def account(con, s: Source, files: list[LoadedFile], lenient: bool) -> None:
    """Every data record of every file is either staged or rejected: count both and check they add up to the file's
    records (a record can be lost no other way than by a bug, so this stops the plan instead of hiding one).
    Strict mode stages every record it read (a rejected one stops the plan after the last file is checked)."""
    staged = dict(con.execute(f"select _file, count(*) from {s.table} group by _file").fetchall())
    rejected = dict(
        con.execute("select file, count(distinct row) from rejects group by file").fetchall() if lenient else []
    )
    for f in files:
        f.staged, f.rejected = staged.get(f.path, 0), rejected.get(f.path, 0)
        if f.staged + f.rejected != f.records:
            raise ReconcileError(
                f"Internal error: '{f.path}' holds {f.records} records but {f.staged} were staged "
                f"and {f.rejected} rejected. Nothing was written; please report this."
            )


# ---------------------------------------------------------------------------------------------- entry point


def _loaded(snap: Snapshot, lf: LoadedFile) -> None:
    snap.files.append(lf)
    snap.taken_at.setdefault(lf.system, lf.taken_at)


def ingest(
    con,
    root: Path,
    clay_columns: dict[str, str],
    lenient: bool = False,
    progress=None,
    on_source=None,
    release: bool = False,
    outputs: tuple[Path, ...] = (),
) -> Snapshot:
    """Load a snapshot directory into raw tables. Strict: raises SnapshotError on the first bad value.

    `on_source(source, snapshot)` runs after each source is loaded and checked (lenient: quarantined), so the
    caller can stage it; its raw tables are dropped right after (bounded peak memory). Without on_source the raw
    tables stay (tests, profiling).

    release: once a source is done (read, fingerprinted, staged), its files' pages are released from the page cache
    (files.release_cached_pages), for a snapshot too large to share the machine's memory with the build's own files.
    outputs: the plan's own outputs, not listed as ignored inputs when written into the snapshot folder (discover).
    """
    srcs = sources(clay_columns)
    manifest = read_manifest(root)
    discovery = discover(root, srcs, outputs)
    found = discovery.found
    create_ingest_tables(con)
    snap = Snapshot(root=root, manifest=manifest, ignored=discovery.ignored)
    digests = []
    with ThreadPoolExecutor(max_workers=1) as hashing:
        for s in srcs:
            tables, hashed, reads = [], [], []
            for path in found[s.name]:
                rel = path.relative_to(root).as_posix()
                delim = damaged.inspect_head(path, rel)
                digests.append(hashing.submit(damaged.sha256_of, path))
                hashed.append((path, digests[-1]))
                if s.keep_payload:
                    if progress:
                        progress(f"reading {rel}")
                    tables.append(file_table(s, len(tables)))
                    records = load_payloads(con, s, path, rel, delim, lenient, tables[-1])
                    _loaded(
                        snap, LoadedFile(rel, s.name, s.system, "", records, taken_at_for(manifest, s.system, path))
                    )
                else:
                    reads.append(prepare_read(con, s, path, rel, delim, lenient))
            for group in groups(reads):
                if progress:
                    progress(reading_message(group))
                    if hasattr(progress, "skip"):  # a bar that counts files (console.Steps) counts the run's others
                        progress.skip(len(group) - 1)
                for r, records in zip(group, read_group(con, s, group, lenient, tables)):
                    lf = LoadedFile(r.rel, s.name, s.system, "", records, taken_at_for(manifest, s.system, r.path))
                    lf.columns = frozenset(r.mapping)
                    _loaded(snap, lf)
            combine_files(con, s, tables, lenient)
            rejected_before = _rejects(con)
            check_values(con, s)
            if lenient:
                quarantine(con, [s])
            account(con, s, [f for f in snap.files if f.source == s.name], lenient)
            if on_source:
                # strict mode stages only a source without bad values: the plan stops at raise_first_reject anyway,
                # and staging would parse them (a custom_fields cell that is not JSON failed in DuckDB, unnamed)
                if lenient or _rejects(con) == rejected_before:
                    on_source(s, snap)
                drop_raw(con, s, tables, lenient)
            if release:
                for path, digest in hashed:
                    digest.result()  # its fingerprint has read it too
                    release_cached_pages(path)
        for lf, digest in zip(snap.files, digests):
            lf.sha256 = digest.result()
    con.executemany(
        "insert into snapshot_files values (?, ?, ?, ?, ?, ?, ?, ?)",
        [[f.path, f.source, f.system, f.sha256, f.records, f.taken_at, f.staged, f.rejected] for f in snap.files],
    )
    if snap.ignored:
        con.executemany("insert into snapshot_ignored values (?, ?)", [list(i) for i in snap.ignored])
    if not lenient:
        raise_first_reject(con)
    con.execute(  # the words of raise_first_reject's error, without the file and row the reject names itself
        "update rejects set message = coalesce(message, 'column ''' || col || ''' ' || case "
        "when coalesce(value, '') = '' then 'is missing; expected ' "
        "when starts_with(expected, ?) then 'value ''' || value || ''' appears more than once; expected ' "
        "else 'value ''' || value || ''' is not ' end || expected)",
        [UNIQUE_ID],
    )
    return snap
