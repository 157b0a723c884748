"""Snapshot files damaged the way real exports go wrong (README: Snapshot contract, bad input): one damage to one
file of each source (a damage to a file as a whole: two files in turn), in each format the source takes, planned
strict and --lenient through the CLI (a harmless damage: strict alone).

Whatever the damage, the answer is a plan (the damage is harmless, or the bad row is quarantined and counted in
lenient mode) or exit 1 with exactly one `Error:` line naming the file (and, where a row is at fault, the row) and
the fix — never a traceback — and a failed plan writes nothing: the previous plan at the same path, its data folder,
exports and DuckDB file stay byte-identical, and no `.building` / `.scratch` file is left behind.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import (
    _cell,
    CLAY_HEADER,
    CONTACT_HEADER,
    LEAD_HEADER,
    MEMBER_HEADER,
    PARDOT_HEADER,
    SMARTLEAD_HEADER,
    contact_id,
    csv_text,
    lead,
    lead_id,
    manifest,
    member,
)

from reconcile.cli import app
from reconcile.plan import load_plan

L1, L2 = lead_id(1), lead_id(2)
MARK = "QQMARKQQ"  # a placeholder in a text value, replaced by raw bytes in the file

# ------------------------------------------------------------------------------------------ the valid snapshot


@dataclass(frozen=True)
class File:
    """One file of the valid snapshot: its rows, and the columns the damages aim at (None: it has no such column)."""

    header: tuple[str, ...]
    rows: tuple[dict, ...]
    formats: tuple[str, ...] = ("csv", "jsonl", "parquet")
    text: str | None = None  # a text column: long values, stray bytes
    time: str | None = None  # a timestamp column
    id: str | None = None  # a Salesforce id column
    number: str | None = None  # a whole-number column
    required: str | None = None  # a column the file cannot do without


FILES = {
    "sfdc/Lead": File(
        tuple(LEAD_HEADER),
        (lead(1), lead(2), lead(3)),
        text="company_description__c",
        time="SystemModstamp",
        id="Id",
        required="IsConverted",
    ),
    "sfdc/CampaignMember": File(
        tuple(MEMBER_HEADER),
        (member(1, 1), member(2, 2)),
        text="Status",
        time="SystemModstamp",
        id="LeadId",
        required="CampaignId",
    ),
    "sfdc/Contact": File(
        tuple(CONTACT_HEADER),
        ({"Id": contact_id(1), "Email": "c1@example.com"}, {"Id": contact_id(2), "Email": "c2@example.com"}),
        text="Email",
        id="Id",
        required="Email",
    ),
    "clay/table": File(
        tuple(CLAY_HEADER),
        (
            {"LeadId": L1, "Hard Bounced": "yes", "Reply At": "2026-11-20T10:00:00Z", "Company Description": "Anvils"},
            {"LeadId": L2, "Replied": "yes", "Reply Category": "Interested", "Reply At": "2026-11-21T10:00:00Z"},
        ),
        text="Company Description",
        time="Reply At",
        id="LeadId",
    ),
    "smartlead/campaign-9181": File(
        tuple(SMARTLEAD_HEADER),
        (
            {"id": "11", "email": "lead1@example.com", "reply_count": "1", "custom_fields": json.dumps({"a": "b"})},
            {"id": "12", "email": "lead2@example.com", "reply_count": "0", "category": "Interested"},
        ),
        text="status",
        number="reply_count",
        required="email",
    ),
    "smartlead/events": File(
        ("event_type", "event_timestamp", "to_email", "subject"),
        (
            {"event_type": "EMAIL_BOUNCE", "event_timestamp": "2026-11-26T09:35:01Z", "to_email": "lead3@example.com"},
            {"event_type": "EMAIL_REPLY", "event_timestamp": "2026-11-26T10:35:01Z", "to_email": "lead2@example.com"},
        ),
        formats=("jsonl",),
        text="subject",
        time="event_timestamp",
    ),
    "pardot/prospects": File(
        tuple(PARDOT_HEADER),
        (
            {"id": "51", "email": "lead1@example.com", "salesforceLeadId": L1, "isEmailHardBounced": "true"},
            {
                "id": "52",
                "email": "lead2@example.com",
                "salesforceLeadId": L2,
                "isEmailHardBounced": "false",
                "updatedAt": "2026-11-26T09:00:00Z",
            },
        ),
        text="email",
        time="updatedAt",
        id="salesforceLeadId",
        required="id",
    ),
}


def rows(stem: str) -> tuple[list[str], list[dict]]:
    """The file's header and rows, every value as its CSV text ("true", not True)."""
    f = FILES[stem]
    return list(f.header), [{k: _cell(v) for k, v in r.items() if v is not None} for r in f.rows]


def as_csv(header, rows, delimiter=",") -> bytes:
    return csv_text(header, rows, delimiter=delimiter).encode("utf-8")


def as_jsonl(header, rows) -> bytes:
    return "".join(json.dumps({h: r.get(h) for h in header}) + "\n" for r in rows).encode("utf-8")


def as_parquet(header, rows, types: dict | None = None) -> bytes:
    """Every column text, unless `types` gives a column another Arrow type (its values converted)."""
    types = types or {}
    table = pa.table(
        {h: pa.array([r.get(h) for r in rows], types.get(h, pa.string())) for h in header},
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def encode(fmt: str, header, rows) -> bytes:
    return {"csv": as_csv, "jsonl": as_jsonl, "parquet": as_parquet}[fmt](header, rows)


def valid_files() -> dict[str, bytes]:
    files = {f"{stem}.{f.formats[0]}": encode(f.formats[0], *rows(stem)) for stem, f in FILES.items()}
    files["manifest.toml"] = manifest().encode()
    return files


# ------------------------------------------------------------------------------------------ damages


@dataclass(frozen=True)
class Damage:
    name: str
    formats: tuple[str, ...]
    outcome: str  # plan (harmless, as the valid file) | row (strict: that row's error; lenient: quarantined) | file
    make: Callable[[str, str], bytes | None]  # (stem, format) → the damaged file, None where it does not apply
    says: str = ""  # what the one error line must say (file outcomes)
    # a damage to the file as a whole meets the same read in every source: it is tried on `files` files per format,
    # in turn (each damage starts one file further), so every source meets some; 0: every file (a value damage
    # meets each source's own columns and checks)
    files: int = 0


def whole(fn):
    """A damage to the bytes of the valid file."""
    return lambda stem, fmt: fn(encode(fmt, *rows(stem)))


def value(attr: str, new: Callable[[str | None], str | None], raw: bytes | None = None):
    """The first row's value in the file's `attr` column replaced (raw: MARK in it then replaced by raw bytes)."""

    def make(stem, fmt):
        col = getattr(FILES[stem], attr)
        if col is None:
            return None
        header, rs = rows(stem)
        rs[0][col] = new(rs[0].get(col))
        data = encode(fmt, header, rs)
        return data.replace(MARK.encode(), raw) if raw is not None else data

    return make


def without_required(stem, fmt):
    col = FILES[stem].required
    if col is None:
        return None
    header, rs = rows(stem)
    header.remove(col)
    return encode(fmt, header, [{k: v for k, v in r.items() if k != col} for r in rs])


def extra_columns(stem, fmt):
    header, rs = rows(stem)
    header += ["Unknown Column", "Notes (internal)"]
    for r in rs:
        r.update({"Unknown Column": "x", "Notes (internal)": "y, z"})
    return encode(fmt, header, rs)


def header_twice(stem, fmt):
    """The first column a second time at the end, in capitals (Excel users copy a column to compare)."""
    header, rs = rows(stem)
    lines = as_csv(header, rs).decode().split("\n")
    return "\n".join(
        line + ("," + header[0].upper() if i == 0 else ",dup" if line else "") for i, line in enumerate(lines)
    ).encode()


def header_only(stem, fmt):
    header, _ = rows(stem)
    return encode(fmt, header, [])


def cut_last_line(data: bytes) -> bytes:
    """The file cut in the middle of its last record (a download or copy that stopped)."""
    head, last = data.rstrip(b"\n").rsplit(b"\n", 1)
    return head + b"\n" + last[: len(last) // 2]


def unbalanced_quote(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[1] = lines[1].replace(b",", b',"', 1)  # a quote opened in the first row's second field, never closed
    return b"\n".join(lines)


def delimited(delim):
    return lambda stem, fmt: as_csv(*rows(stem), delimiter=delim)


def zipped(stem, fmt):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem.split('/')[1]}.{fmt}", encode(fmt, *rows(stem)))
    return buf.getvalue()


def wrong_parquet_type(stem, fmt):
    """A column a tool typed as a number where the contract wants text of a kind: a timestamp as epoch seconds, an
    id as an integer, a whole number as 2.5."""
    f = FILES[stem]
    header, rs = rows(stem)
    col, typ, v = (
        (f.time, pa.int64(), 1764149222)
        if f.time
        else (f.id, pa.int64(), 4711)
        if f.id
        else (f.number, pa.float64(), 2.5)
    )
    for r in rs:
        r[col] = v
    return as_parquet(header, rs, {col: typ})


def truncated_parquet(stem, fmt):
    data = encode(fmt, *rows(stem))
    return data[: len(data) * 2 // 3]


def bad_checksum(v):
    return v[:15] + ("AAA" if v[15:] != "AAA" else "BBB")


ALL = ("csv", "jsonl", "parquet")
TEXT = ("csv", "jsonl")
DAMAGES = [
    Damage(
        "invalid UTF-8 bytes", TEXT, "file", value("text", lambda v: f"Caf{MARK}", b"\xe9"), "is not UTF-8", files=2
    ),
    Damage("UTF-8 BOM", TEXT, "plan", whole(lambda d: b"\xef\xbb\xbf" + d), files=2),
    Damage("UTF-16 with its BOM", TEXT, "file", whole(lambda d: d.decode().encode("utf-16")), "is UTF-16", files=2),
    Damage("CRLF line ends", TEXT, "plan", whole(lambda d: d.replace(b"\n", b"\r\n")), files=2),
    Damage("lone CR line ends", ("csv",), "plan", whole(lambda d: d.replace(b"\n", b"\r")), files=2),
    Damage("unbalanced quote", ("csv",), "row", whole(unbalanced_quote), files=2),
    Damage("NUL byte", TEXT, "row", value("text", lambda v: f"ab{MARK}cd", b"\x00")),
    Damage("duplicated header column", ("csv",), "file", header_twice, "header names the column", files=2),
    Damage("missing required column", ALL, "file", without_required, "has no column"),
    Damage("extra unknown columns", ALL, "plan", extra_columns),
    Damage("truncated last line", TEXT, "row", whole(cut_last_line), files=2),
    Damage("gzip under the name", ALL, "file", whole(gzip.compress), "gzip", files=2),
    Damage("zip under the name", ALL, "file", zipped, "zip", files=2),
    Damage("empty file", ALL, "file", lambda stem, fmt: b"", "is empty", files=2),
    Damage("header-only file", ("csv", "parquet"), "plan", header_only, files=2),
    Damage("1 MB single field", ALL, "plan", value("text", lambda v: "x" * (1 << 20)), files=2),
    Damage("semicolon delimiter", ("csv",), "plan", delimited(";"), files=2),
    Damage("tab delimiter", ("csv",), "plan", delimited("\t"), files=2),
    Damage("date in another format", ALL, "row", value("time", lambda v: "11/26/2026 9:41 AM")),
    Damage("thousands separator", ALL, "row", value("number", lambda v: "1,234")),
    Damage("15-character id", ALL, "plan", value("id", lambda v: v[:15])),
    Damage("18-character id with a wrong checksum", ALL, "row", value("id", bad_checksum)),
    Damage("JSONL line that is an array", ("jsonl",), "row", whole(lambda d: d + b'["a", 1]\n'), files=2),
    Damage("JSONL line that is a bare string", ("jsonl",), "row", whole(lambda d: d + b'"hello"\n'), files=2),
    Damage("Parquet column of the wrong type", ("parquet",), "row", wrong_parquet_type),
    Damage("truncated Parquet", ("parquet",), "file", truncated_parquet, "cannot be read as Parquet", files=2),
]


def cases():
    for i, d in enumerate(DAMAGES):
        for fmt in d.formats:
            stems = [stem for stem, f in FILES.items() if fmt in f.formats and d.make(stem, fmt) is not None]
            if d.files:
                stems = [stems[(i + k) % len(stems)] for k in range(min(d.files, len(stems)))]
            for stem in stems:
                yield pytest.param(d, stem, fmt, id=f"{d.name}-{stem}.{fmt}")


# ------------------------------------------------------------------------------------------ running plan


def plan(snap: Path, out: Path, lenient: bool):
    args = ["plan", str(snap), "--out", str(out / "plan.json"), "--json"] + (["--lenient"] if lenient else [])
    return CliRunner().invoke(app, args, catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(*folders: Path) -> list[str]:
    return [str(p) for f in folders for p in f.rglob("*") if re.search(r"\.(building|scratch)", p.name)]


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A plan of the valid snapshot (the previous day's run at the same path) and its change list."""
    root = tmp_path_factory.mktemp("previous")
    snap = root / "snap"
    for rel, data in valid_files().items():
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        (snap / rel).write_bytes(data)
    result = plan(snap, root / "out", lenient=False)
    assert result.exit_code == 0, result.output
    plan_ = load_plan(root / "out" / "plan.json")
    assert plan_["changes"] and not plan_["rejects"]
    return root / "out", comparable(plan_)


def comparable(plan_: dict) -> list:
    """A plan's changes and findings without the file names of their evidence (a damage may change the name)."""
    return [
        {**c, "evidence": [{k: v for k, v in e.items() if k != "file"} for e in c["evidence"]]}
        for c in [*plan_["changes"], *plan_["findings"]]
    ]


def one_error_line(result) -> str:
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith(lines[0] + "\n"), result.stderr  # nothing after the error
    return lines[0]


@pytest.mark.parametrize("damage, stem, fmt", cases())
def test_a_damaged_file_gives_a_plan_or_one_error_and_writes_nothing(tmp_path, previous, damage, stem, fmt):
    prev_out, prev_plan = previous
    files = valid_files()
    del files[f"{stem}.{FILES[stem].formats[0]}"]
    rel = f"{stem}.{fmt}"
    files[rel] = damage.make(stem, fmt)
    snap = tmp_path / "snap"
    for name, data in files.items():
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).write_bytes(data)
    given = tree(snap)
    # a harmless damage is planned in strict mode alone: what strict mode plans, --lenient plans the same way
    for lenient in (False,) if damage.outcome == "plan" else (False, True):
        out = tmp_path / ("lenient" if lenient else "strict")
        shutil.copytree(prev_out, out)
        before = tree(out)
        result = plan(snap, out, lenient)
        assert "Traceback" not in result.output + result.stderr
        assert tree(snap) == given  # the snapshot is read, never written
        assert not leftovers(out, snap)
        fails = damage.outcome == "file" or (damage.outcome == "row" and not lenient)
        if fails:
            assert result.exit_code == 1, (lenient, result.output, result.stderr)
            line = one_error_line(result)
            assert f"'{rel}'" in line, line
            assert damage.says in line, line
            if damage.outcome == "row":
                assert re.search(r"' (row|line) \d+", line), line
            assert re.search(r"\b(Export|Save|Fix|Add|Keep|Remove|Rename|Decompress|Unzip|rerun)\b", line), line
            assert tree(out) == before, f"a failed plan changed {out}"  # the previous plan left byte-identical
            continue
        assert result.exit_code == 0, (lenient, result.stderr)
        got = load_plan(out / "plan.json")
        (read,) = [f for f in got["summary"]["inputs"]["files"] if f["file"] == rel]
        assert read["records"] == read["staged"] + read["rejected"]
        if damage.outcome == "row":
            assert read["rejected"] >= 1 and {r["file"] for r in got["rejects"]} == {rel}, got["rejects"]
            assert got["summary"]["rejects"]["by_file"] == {rel: read["rejected"]}
        else:
            assert got["rejects"] == [] and read["rejected"] == 0, got["rejects"]
            if damage.name not in ("header-only file", "1 MB single field"):  # the same data, the same plan
                assert read["records"] == len(FILES[stem].rows)
                assert comparable(got) == prev_plan
