"""Provenance at real size (issue 9): a generated snapshot of 100,000 leads (files of tens of MB, read by DuckDB's
parallel readers) planned with 1 thread and with 4 gives byte-identical plans; every evidence row is the file's own
record (checked cell by cell against an independent Python read of the file); CSV and Parquet give the same plan;
a bad value deep in a file is reported at its row, strict and lenient, and lenient accounts for every record.

The snapshot is generated once per module (about 2 s); each plan of it takes a few seconds.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import loaded

from reconcile.build import build_plan
from reconcile.demo_data import generate_snapshot
from reconcile.errors import ReconcileError, SnapshotError
from reconcile.plan import load_plan
from reconcile.sql import default_memory_limit, input_size

LEADS = 100_000
DEEP_ROW = 75_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    generate_snapshot(root / "csv", leads=LEADS, formats="csv")
    return root


def plan_bytes(snap: Path, work: Path, **kw) -> tuple[dict, bytes]:
    """The plan (rows loaded) and its bytes: the manifest, then every data file (reconcile.plan/2, which `--format
    auto` writes from 10,000 rows on: a 100k-lead day has fewer)."""
    res = build_plan(snap, out=work / "plan.json", db=work / "reconcile.duckdb", exports=False, fmt="parquet", **kw)
    load_plan(work / "plan.json")  # the data files hold what the manifest's hashes (and so plan_id) bind
    data = b"".join(
        (work / "plan.data" / f"{part}.parquet").read_bytes() for part in ("changes", "findings", "rejects")
    )
    return loaded(res.plan), (work / "plan.json").read_bytes() + b"\0" + data  # NUL: never in the JSON


def without_created_at(raw: bytes) -> bytes:
    manifest, data = raw.split(b"\0", 1)
    doc = json.loads(manifest)
    doc.pop("created_at")
    return json.dumps(doc, sort_keys=True).encode() + data


# ------------------------------------------------------------------------------------------ an independent reader


class Files:
    """The snapshot's files as Python reads them (csv module / json / pyarrow), records numbered from 1."""

    def __init__(self, snap: Path):
        self.snap, self.cache = snap, {}

    def records(self, rel: str):
        if rel not in self.cache:
            self.cache[rel] = self._read(self.snap / rel)
        return self.cache[rel]

    @staticmethod
    def _read(path: Path):
        if path.suffix == ".jsonl":
            lines = path.read_text("utf-8-sig").split("\n")
            return None, {n: json.loads(line) for n, line in enumerate(lines, start=1) if line.strip()}
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            header = [h.lower() for h in table.column_names]
            return header, dict(enumerate((list(r.values()) for r in table.to_pylist()), start=1))
        text = path.read_text("utf-8-sig")
        delim = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t|").delimiter
        reader = csv.reader(text.splitlines(keepends=True), delimiter=delim)
        header = [h.lower() for h in next(reader)]
        return header, dict(enumerate(reader, start=1))

    def cell(self, rel: str, row: int, column: str):
        """The file's value at (row, column); KeyError when the column is not in the file under that name."""
        header, recs = self.records(rel)
        rec = recs[row]
        if header is None:  # JSONL: the column is a key path
            value = rec
            for key in column.split("."):
                value = value[key]
            return value if value is None or isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        value = rec[header.index(column.lower())] if column.lower() in header else _missing(column)
        return None if value in ("", None) else str(value)

    def record_id(self, rel: str, row: int) -> str:
        header, recs = self.records(rel)
        return recs[row][header.index("id")]


def _missing(column):
    raise KeyError(column)


BOOLS = {
    "true": "true",
    "1": "true",
    "yes": "true",
    "y": "true",
    "t": "true",
    "": "false",
    "false": "false",
    "0": "false",
    "no": "false",
    "n": "false",
    "f": "false",
}


def normal(value):
    """Evidence carries the value as reconcile read it: trimmed, ids in 18 characters, Salesforce checkboxes as
    true/false (blank = false). The file's cell is compared in the same terms."""
    text = (value or "").strip()
    if len(text) in (15, 18) and text[:3].isalnum() and text.isalnum() and any(ch.isdigit() for ch in text[:5]):
        return text[:15]
    return BOOLS.get(text.lower(), text)


def check_evidence(plan: dict, files: Files) -> dict[str, int]:
    """Every evidence cell equals the file's cell at its row and column; every Salesforce evidence row of a Lead or
    CampaignMember is that record. Returns the number of cells checked per source."""
    checked: dict[str, int] = {}
    wrong = []
    for item in plan["changes"] + plan["findings"]:
        for e in item["evidence"]:
            if e["column"] is None:
                continue
            try:
                actual = files.cell(e["file"], e["row"], e["column"])
            except KeyError:  # a header alias (e.g. Pardot v3 names): not comparable by name
                continue
            checked[e["source"]] = checked.get(e["source"], 0) + 1
            if normal(actual) != normal(e["value"]):
                wrong.append((item.get("record_id"), e, actual))
            rid = item.get("record_id") or ""
            if e["file"].startswith("sfdc/") and item["object"] in e["file"]:
                in_file = files.record_id(e["file"], e["row"])
                if in_file[:15] != rid[:15]:
                    wrong.append((rid, e, in_file))
    assert not wrong, f"{len(wrong)} evidence cells are not the file's; first: {wrong[:3]}"
    return checked


# ------------------------------------------------------------------------------------------ the tests


def test_same_plan_with_1_and_4_threads_and_every_evidence_row_is_the_files_own_record(big):
    snap = big / "csv"
    one, one_bytes = plan_bytes(snap, big / "t1", threads=1)
    four, four_bytes = plan_bytes(snap, big / "t4", threads=4)
    assert one["plan_id"] == four["plan_id"]
    assert without_created_at(one_bytes) == without_created_at(four_bytes)
    assert len(one["changes"]) > 2_000 and len(one["findings"]) > 500, one["summary"]["changes"]

    checked = check_evidence(four, Files(snap))
    assert set(checked) == {"sfdc", "clay", "smartlead", "pardot"}, checked
    assert min(checked.values()) >= 50, checked
    assert sum(checked.values()) > 5_000, checked


def test_parquet_gives_the_csv_plan_row_for_row(big):
    generate_snapshot(big / "parquet", leads=LEADS, formats="parquet")
    csv_plan, _ = plan_bytes(big / "csv", big / "pc", threads=2)
    pq_plan, _ = plan_bytes(big / "parquet", big / "pp", threads=2)

    def rows(plan):  # what each change and finding is, and the rows behind it (a quoted "" cell in CSV is an
        # empty string where Parquet holds a null, so values are compared by check_evidence instead)
        return sorted(
            (
                i["object"],
                i.get("record_id") or "",
                i.get("field") or i.get("kind"),
                tuple((e["file"].replace(".parquet", ".csv"), e["row"]) for e in i["evidence"]),
            )
            for i in plan["changes"] + plan["findings"]
        )

    assert rows(csv_plan) == rows(pq_plan)
    check_evidence(pq_plan, Files(big / "parquet"))


def _with_lead_edited(big, name, edit):
    """A copy of the 100k-lead CSV snapshot whose Lead.csv records (header first) `edit(records, column_index)`
    changed; column_index("id") is a column's position by its lower-cased header."""
    return _with_file_edited(big, name, "sfdc/Lead.csv", edit)


def _with_file_edited(big, name, rel, edit):
    """A copy of the 100k-lead CSV snapshot whose file `rel` has its records (header first) `edit`ed, as above."""
    snap = big / name
    if not snap.exists():
        shutil.copytree(big / "csv", snap)
        path = snap / rel
        text = path.read_text("utf-8-sig")
        delim = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t|").delimiter
        records = list(csv.reader(text.splitlines(keepends=True), delimiter=delim))
        edit(records, [h.lower() for h in records[0]].index)
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=delim, lineterminator="\n").writerows(records)
    return snap


def _with_bad_value_deep_in_lead(big, name="bad", row=DEEP_ROW, column="systemmodstamp", bad=lambda v: "last tuesday"):
    """A copy of the 100k-lead CSV snapshot whose Lead.csv holds bad(value) in `column` of data row `row`."""

    def edit(records, col):
        records[row][col(column)] = bad(records[row][col(column)])

    return _with_lead_edited(big, name, edit)


def test_a_bad_value_deep_in_a_file_is_reported_at_its_row_strict_and_lenient(big):
    snap = _with_bad_value_deep_in_lead(big)
    with pytest.raises(SnapshotError) as e:
        build_plan(snap, out=big / "bs" / "plan.json", exports=False, threads=4)
    assert f"'sfdc/Lead.csv' row {DEEP_ROW}: column 'SystemModstamp' value 'last tuesday'" in str(e.value)

    plan, _ = plan_bytes(snap, big / "bl", lenient=True, threads=4)
    assert [(r["file"], r["row"], r["value"]) for r in plan["rejects"]] == [("sfdc/Lead.csv", DEEP_ROW, "last tuesday")]
    files = {f["file"]: f for f in plan["summary"]["inputs"]["files"]}
    lead = files["sfdc/Lead.csv"]
    assert (lead["records"], lead["staged"], lead["rejected"]) == (LEADS, LEADS - 1, 1)
    for f in files.values():  # every record of every file (several MB each) is staged or rejected
        assert f["records"] == f["staged"] + f["rejected"], f
    assert sum(f["records"] for f in files.values()) > 400_000


def test_a_bad_value_deep_in_one_of_the_campaign_files_read_in_one_scan_is_reported_at_its_row(big):
    """Smartlead's campaign files are read in one scan (snapshots.read_group): a bad value deep in the tenth of them
    is named at that file's own row, strict and lenient, and every other file's records are all staged."""
    rel = sorted((big / "csv" / "smartlead").glob("campaign-*.csv"))[9].relative_to(big / "csv").as_posix()
    row = 5_000

    def edit(records, col):
        records[row][col("reply_count")] = "2.5"

    snap = _with_file_edited(big, "bad-campaign", rel, edit)
    with pytest.raises(SnapshotError) as e:
        build_plan(snap, out=big / "bcs" / "plan.json", exports=False, threads=4)
    assert f"'{rel}' row {row}: column 'reply_count' value '2.5' is not a whole number" in str(e.value)

    plan, _ = plan_bytes(snap, big / "bcl", lenient=True, threads=4)
    assert [(r["file"], r["row"], r["value"]) for r in plan["rejects"]] == [(rel, row, "2.5")]
    files = {f["file"]: f for f in plan["summary"]["inputs"]["files"]}
    assert files[rel]["rejected"] == 1 and files[rel]["records"] > row
    campaigns = [f for name, f in files.items() if name.startswith("smartlead/campaign-")]
    assert len(campaigns) >= 10 and all(f["records"] == f["staged"] + f["rejected"] for f in campaigns)
    assert sum(f["rejected"] for f in campaigns) == 1


def test_an_id_with_a_bad_checksum_deep_in_a_file_is_found_by_the_bulk_id_check_strict_and_lenient(big):
    """The read takes 18-character ids as they are and checks them in bulk afterwards (snapshots.verify_ids): a wrong
    checksum 90,000 rows into Lead.csv is still reported at its row, and lenient mode quarantines only that row."""
    row = 90_000
    snap = _with_bad_value_deep_in_lead(
        big, "bad_id", row, "id", lambda v: v[:15] + ("ZZZ" if v[15:] != "ZZZ" else "YYY")
    )
    bad = next(csv.reader([(snap / "sfdc" / "Lead.csv").read_text("utf-8-sig").splitlines()[row]]))[0]
    with pytest.raises(SnapshotError) as e:
        build_plan(snap, out=big / "bis" / "plan.json", exports=False, threads=4)
    assert f"'sfdc/Lead.csv' row {row}: column 'Id' value '{bad}' is not a Salesforce id" in str(e.value)

    plan, _ = plan_bytes(snap, big / "bil", lenient=True, threads=4)
    assert [(r["file"], r["row"], r["column"], r["value"]) for r in plan["rejects"]] == [
        ("sfdc/Lead.csv", row, "Id", bad)
    ]
    lead = {f["file"]: f for f in plan["summary"]["inputs"]["files"]}["sfdc/Lead.csv"]
    assert (lead["records"], lead["staged"], lead["rejected"]) == (LEADS, LEADS - 1, 1)


def test_a_blank_and_a_repeated_id_deep_in_a_file_are_reported_at_their_rows_strict_and_lenient(big):
    """At 100k leads: a Lead without its Id 70,000 rows in, and row 20's Id again at row 95,000. Strict names the
    first problem's row (and, for the repeat, both rows); lenient quarantines all three rows and accounts for them."""
    blank_row, first, again = 70_000, 20, 95_000

    def edit(records, col):
        records[blank_row][col("id")] = ""
        records[again][col("id")] = records[first][col("id")]

    snap = _with_lead_edited(big, "blank_dup", edit)
    header = next(csv.reader([(snap / "sfdc" / "Lead.csv").read_text("utf-8-sig").splitlines()[0]]))
    dup = next(csv.reader([(snap / "sfdc" / "Lead.csv").read_text("utf-8-sig").splitlines()[first]]))[
        [h.lower() for h in header].index("id")
    ]
    with pytest.raises(SnapshotError) as e:
        build_plan(snap, out=big / "bds" / "plan.json", exports=False, threads=4)
    assert str(e.value).startswith(
        f"Snapshot 'sfdc/Lead.csv' row {first}: column 'Id' value '{dup}' appears more than once; expected a unique Id "
        f"(each Salesforce record once per file; rows {first} and {again} hold the same record)."
    ), str(e.value)
    assert str(e.value).endswith("(2 more problems in this snapshot.)")

    plan, _ = plan_bytes(snap, big / "bdl", lenient=True, threads=4)
    assert [(r["file"], r["row"], r["column"], r["value"]) for r in plan["rejects"]] == [
        ("sfdc/Lead.csv", first, "Id", dup),
        ("sfdc/Lead.csv", blank_row, "Id", ""),
        ("sfdc/Lead.csv", again, "Id", dup),
    ]
    files = {f["file"]: f for f in plan["summary"]["inputs"]["files"]}
    assert (files["sfdc/Lead.csv"]["staged"], files["sfdc/Lead.csv"]["rejected"]) == (LEADS - 3, 3)
    for f in files.values():
        assert f["records"] == f["staged"] + f["rejected"], f


# ------------------------------------------------------------------------------------------ memory without flags


@pytest.mark.parametrize(
    "available_kb, limit",
    [(24_000_000, "1024MB"), (4_000_000, "1024MB"), (48_000_000, "1953MB"), (200_000_000, "4096MB")],
)
def test_default_memory_limit_is_a_bounded_share_of_available_memory(tmp_path, available_kb, limit):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        f"MemTotal:       {available_kb * 2} kB\nMemFree:        1 kB\nMemAvailable:   {available_kb} kB\n", "ascii"
    )
    assert default_memory_limit(meminfo) == limit


@pytest.mark.parametrize(
    "input_bytes, limit",
    [
        (1_476_000_000, "1024MB"),  # the 1M-lead CSV snapshot: 0.4 × its size is below the machine's share
        (14_400_000_000, "5493MB"),  # 10M leads: 0.4 × 14.4 GB
        (100_000_000_000, "7812MB"),  # never more than a third of the available memory
    ],
)
def test_default_memory_limit_grows_with_a_large_snapshot_up_to_a_third_of_available_memory(
    tmp_path, input_bytes, limit
):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       48000000 kB\nMemAvailable:   24000000 kB\n", "ascii")
    assert default_memory_limit(meminfo, input_bytes=input_bytes) == limit


@pytest.mark.parametrize(
    "available_kb, build_limit, limit",
    [
        (24_000_000, "1024MB", "1536MB"),  # this machine: 1/16 is 1430 MB, below the 1.5 GB floor
        (48_000_000, "1953MB", "2929MB"),  # 1/16 of 48 GB (kB of 1024 bytes)
        (24_000_000, "5493MB", "5493MB"),  # a large snapshot's build limit is larger: kept
        (24_000_000, "2GiB", "2GiB"),
        (200_000_000, "4096MB", "6144MB"),  # never more than 6 GB
        (3_000_000, "1024MB", "1024MB"),  # a small machine: a third of 3 GB is under the build's own limit
        (4_000_000, "1024MB", "1302MB"),  # a third of 4 GB, not the 1.5 GB floor
    ],
)
def test_the_plan_is_written_under_a_larger_share_than_the_build_when_no_limit_is_given(
    tmp_path, available_kb, build_limit, limit
):
    from reconcile.sql import plan_write_memory_limit

    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:       {available_kb * 2} kB\nMemAvailable:   {available_kb} kB\n", "ascii")
    assert plan_write_memory_limit(build_limit, meminfo) == limit


def test_the_plan_models_and_files_run_under_the_write_limit_by_default_and_under_a_given_limit_otherwise(
    tmp_path, monkeypatch
):
    """The plan models sort every change with its evidence (plan_changes is stored in the plan's order) and the plan's
    files are written from them: without a limit both get the write share (sql.plan_write_memory_limit), every model
    before them the build's own limit; --memory-limit or RECONCILE_MEMORY_LIMIT bound all of it. The share is only
    safe because no intermediate is left when the first plan model runs: checked on the live connection."""
    import duckdb

    from reconcile import build, planfile, sql

    _connections_seen(monkeypatch)
    monkeypatch.setattr(build, "plan_write_memory_limit", lambda build_limit: f"{int(build_limit[:-2]) + 111}MB")
    limits, models = [], []
    real = planfile.write_parts
    monkeypatch.setattr(
        planfile,
        "write_parts",
        lambda con, *a, **kw: (
            limits.append(con.execute("select current_setting('memory_limit')").fetchone()[0]) or real(con, *a, **kw)
        ),
    )
    run_model = sql.run_model

    def model(con, name, params=None, spill=False):
        (limit,) = con.execute("select current_setting('memory_limit')").fetchone()
        (live,) = con.execute(
            "select count(*) from duckdb_tables() where table_name like 'int\\_%' escape '\\'"
        ).fetchone()
        models.append((name, limit, live))
        run_model(con, name, params, spill=spill)

    monkeypatch.setattr(sql, "run_model", model)
    generate_snapshot(tmp_path / "snap", leads=60)
    build_plan(tmp_path / "snap", out=tmp_path / "a" / "plan.json", exports=False, fmt="parquet")
    build_plan(tmp_path / "snap", out=tmp_path / "b" / "plan.json", exports=False, memory_limit="300MB", fmt="parquet")
    monkeypatch.setenv("RECONCILE_MEMORY_LIMIT", "400MB")
    build_plan(tmp_path / "snap", out=tmp_path / "c" / "plan.json", exports=False, fmt="parquet")

    def shown(size):  # the setting as DuckDB prints it
        con = duckdb.connect()
        con.execute(f"set memory_limit = '{size}'")
        return con.execute("select current_setting('memory_limit')").fetchone()[0]

    assert limits == [shown("888MB"), shown("300MB"), shown("400MB")]
    modelled = [m for m in sql.MODELS if not m.startswith(sql.STAGING)]
    assert [m for m, _, _ in models] == modelled * 3
    first_plan = next(k for k, m in enumerate(modelled) if m.startswith(sql.PLAN_STAGE))
    for run, (build_limit, plan_limit) in enumerate([("777MB", "888MB"), ("300MB", "300MB"), ("400MB", "400MB")]):
        seen = models[run * len(modelled) : (run + 1) * len(modelled)]
        assert {limit for _, limit, _ in seen[:first_plan]} == {shown(build_limit)}, run
        assert {limit for _, limit, _ in seen[first_plan:]} == {shown(plan_limit)}, run
        assert {live for _, _, live in seen[first_plan:]} == {0}, run


class _OutOfMemoryWhenSorted:
    """A real DuckDB connection on which a sorted CREATE runs out of memory (as plan_changes sorted does at 1.58M
    changes under a 1 GB limit; fault injection at a small scale)."""

    def __init__(self, con):
        self.con = con

    def execute(self, statement, params=None):
        if statement.startswith("create") and statement.rstrip().endswith("order by object, record_id, field"):
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block of size 256.0 KiB")
        return self.con.execute(statement, params)


def test_the_plan_changes_table_is_stored_in_the_plan_order_and_its_files_are_written_as_stored(tmp_path, capsys):
    """plan_changes is stored in (object, record_id, field) order, its comment says so, and write_parts and the
    spreadsheet export copy it without sorting again. A connection that does not keep insertion order sorts instead,
    and so do they when the sorted CREATE ran out of memory and the table was stored unsorted: the same bytes."""
    from reconcile import build as rb
    from reconcile import plan as planmod
    from reconcile import planfile
    from reconcile.policy import load_policy
    from reconcile.sql import connect, run_model, stored_order

    generate_snapshot(tmp_path / "snap", leads=2000, profile="backfill")
    con = connect(tmp_path / "b.duckdb", threads=4)
    policy = load_policy(None)
    snap = rb.build(con, tmp_path / "snap", policy)
    keys = con.execute("select object, record_id, field from plan_changes").fetchall()  # stored order
    assert len(keys) > 2000 and keys == sorted(keys)
    assert stored_order(con, "plan_changes") == planfile.ORDER["changes"]

    def written(name):
        files = planfile.write_parts(con, tmp_path / name / "plan.json")
        exports = planmod.export_changes(con, tmp_path / name / "plan.json")
        for path in (tmp_path / name / "plan.data" / "changes.parquet", exports[0]):
            table = pq.read_table(path, columns=["object", "record_id", "field"])
            assert list(zip(*(table.column(c).to_pylist() for c in ("object", "record_id", "field")))) == keys
        return files, [p.read_bytes() for p in exports]

    stored = written("stored")
    con.execute("set preserve_insertion_order = false")
    assert stored_order(con, "plan_changes") is None
    assert written("no-insertion-order") == stored
    con.execute("set preserve_insertion_order = true")

    run_model(_OutOfMemoryWhenSorted(con), "plan/plan_changes", rb.model_params(policy, snap))
    assert "note: plan_changes sorted ran out of memory; stored unsorted" in capsys.readouterr().err
    assert stored_order(con, "plan_changes") is None
    assert sorted(con.execute("select object, record_id, field from plan_changes").fetchall()) == keys
    assert written("unsorted") == stored


def test_input_size_weighs_parquet_as_the_csv_it_replaces(tmp_path):
    (tmp_path / "Lead.csv").write_bytes(b"x" * 1000)
    (tmp_path / "Lead.parquet").write_bytes(b"x" * 1000)
    assert input_size([tmp_path / "Lead.csv"]) == 1000
    assert input_size([tmp_path / "Lead.parquet"]) == 5000


def _connections_seen(monkeypatch) -> list:
    """(memory_limit, threads) of every connection build_plan opens, under a default limit of 777MB (the machine's
    share varies by the minute) and no RECONCILE_MEMORY_LIMIT."""
    from reconcile import build, sql

    seen = []
    real = sql.connect
    monkeypatch.delenv("RECONCILE_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(
        build, "connect", lambda *a, **kw: seen.append((kw.get("memory_limit"), kw.get("threads"))) or real(*a, **kw)
    )
    monkeypatch.setattr(build, "default_memory_limit", lambda **kw: "777MB")
    return seen


def test_a_plan_without_a_limit_runs_under_the_default_one_and_an_explicit_limit_overrides_it(tmp_path, monkeypatch):
    seen = _connections_seen(monkeypatch)
    generate_snapshot(tmp_path / "snap", leads=60)
    build_plan(tmp_path / "snap", out=tmp_path / "a" / "plan.json", exports=False)
    build_plan(tmp_path / "snap", out=tmp_path / "b" / "plan.json", exports=False, memory_limit="300MB")
    monkeypatch.setenv("RECONCILE_MEMORY_LIMIT", "400MB")
    build_plan(tmp_path / "snap", out=tmp_path / "c" / "plan.json", exports=False)
    assert [limit for limit, _ in seen] == ["777MB", "300MB", "400MB"]


def test_the_spreadsheet_export_keeps_a_given_limit_and_thread_count(tmp_path, monkeypatch):
    """The export after the build (PLAN.changes.parquet/.csv) opens its own connection: --memory-limit and --threads
    bound it as they bound the build; without a limit it runs under DuckDB's own default (see build_plan)."""
    seen = _connections_seen(monkeypatch)
    generate_snapshot(tmp_path / "snap", leads=60)
    given = build_plan(tmp_path / "snap", out=tmp_path / "a" / "plan.json", memory_limit="300MB", threads=1)
    default = build_plan(tmp_path / "snap", out=tmp_path / "b" / "plan.json")
    assert seen == [("300MB", 1), ("300MB", 1), ("777MB", None), (None, None)]  # build, export; build, export
    names = ["plan.changes.parquet", "plan.changes.csv"]
    assert [p.name for p in given.exports] == [p.name for p in default.exports] == names


@pytest.mark.parametrize(
    "limit, input_bytes, spill",
    [
        ("1024MB", 1_476_000_000, False),  # 1M leads under the default limit: temporary tables
        ("5632MB", 14_760_000_000, True),  # 10M leads under theirs: the scratch file
        ("1GiB", 2 * 2**30 + 2, True),
        ("1GiB", 2 * 2**30, False),
        ("1.5 GB", 3_000_000_000, False),
    ],
)
def test_intermediates_go_to_the_scratch_file_only_when_they_would_be_larger_than_the_limit(limit, input_bytes, spill):
    from reconcile.sql import spills

    assert spills(limit, input_bytes) is spill


def test_a_memory_limit_that_is_not_a_size_is_refused_before_anything_is_built(tmp_path):
    generate_snapshot(tmp_path / "snap", leads=20)
    with pytest.raises(ReconcileError) as e:
        build_plan(tmp_path / "snap", out=tmp_path / "out" / "plan.json", memory_limit="lots")
    assert str(e.value) == "Memory limit 'lots' is not a size such as 2GB or 512MB: use e.g. --memory-limit 2GB."
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_build_plan_defers_checkpoints_while_it_ingests_only(tmp_path, monkeypatch):
    """Ingest and staging run without DuckDB's automatic checkpoints (sql.checkpoints_deferred: each one vacuumed a
    raw table staging was about to drop); the models after them with DuckDB's default. Read on the real connection."""
    from reconcile import build, sql

    seen = {}

    def setting(con):
        return con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]

    run_model = sql.run_model

    def model(con, name, params=None, spill=False):
        seen.setdefault(name.split("/")[0], set()).add(setting(con))
        run_model(con, name, params, spill=spill)

    monkeypatch.setattr(build, "run_model", model)
    monkeypatch.setattr(sql, "run_model", model)
    generate_snapshot(tmp_path / "snap", leads=20)
    build_plan(tmp_path / "snap", out=tmp_path / "out" / "plan.json", exports=False)
    # sql.BUILD_CHECKPOINT_THRESHOLD (1TB) as DuckDB shows it; DuckDB's default is 16.0 MiB
    assert seen.pop("staging") == {"931.3 GiB"}
    assert seen.keys() >= {"intermediate", "rules", "findings", "plan"}
    assert set().union(*seen.values()) == {"16.0 MiB"}


@pytest.mark.parametrize("spill", [False, True])
def test_build_plan_drops_each_intermediate_after_its_last_reader(tmp_path, monkeypatch, spill):
    """The intermediates (temporary tables, or the scratch file's when the build spills) held ~1.5 GB at 1M leads,
    most of it evicted to disk, while the rules ran: each is dropped once the last model reading it has run. Read
    on the real connection as each model starts: what exists is exactly what a model still to run reads."""
    from reconcile import build, sql

    order = [m for m in sql.MODELS if not m.startswith(sql.STAGING)]

    def reads(m):  # the intermediates a model's SQL names (comments left out)
        body = sql.code_of(sql.sql_text(m))
        return {i for i in order if i.startswith(sql.TEMPORARY) and i != m and i.rsplit("/", 1)[1] in body}

    seen, where = [], set()
    run_model = sql.run_model

    def model(con, name, params=None, spill=False):
        live = con.execute(
            "select database_name, table_name from duckdb_tables() where table_name like 'int\\_%' escape '\\'"
        ).fetchall()
        seen.append((name, {t for (_, t) in live}))
        where.update(d for (d, _) in live)
        run_model(con, name, params, spill=spill)

    monkeypatch.setattr(build, "run_model", model)
    monkeypatch.setattr(sql, "run_model", model)
    if spill:
        monkeypatch.setattr(sql, "INTERMEDIATE_FACTOR", 10**6)
    generate_snapshot(tmp_path / "snap", leads=20)
    build_plan(tmp_path / "snap", out=tmp_path / "out" / "plan.json", exports=False)
    for k, (name, live) in enumerate(seen[-len(order) :]):
        assert name == order[k]
        still_read = {i.rsplit("/", 1)[1] for m in order[k:] for i in reads(m) if i in order[:k]}
        assert live == still_read, name
    assert seen[-1][1] == set()
    assert where == {"scratch" if spill else "temp"}


def _resident_bytes(paths) -> list[int]:
    """How much of each file is in the page cache (util-linux fincore)."""
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [int(n) for n in out.split()]


@pytest.mark.skipif(shutil.which("fincore") is None, reason="needs util-linux fincore to see the page cache")
@pytest.mark.parametrize("spill", [False, True])
def test_a_build_too_large_for_memory_releases_each_input_file_from_the_page_cache(tmp_path, monkeypatch, spill):
    """A snapshot whose intermediates go to the scratch file (10M leads: 14.8 GB of input) leaves its files in the
    page cache no longer than until each source is staged, so the cache holds what the build reads back (its DuckDB
    and scratch files), not input it has done with; a build that fits memory leaves the cache alone."""
    from reconcile import sql
    from reconcile.build import snapshot_files
    from reconcile.policy import load_policy

    if spill:
        monkeypatch.setattr(sql, "INTERMEDIATE_FACTOR", 10**6)
    generate_snapshot(tmp_path / "snap", leads=200)
    files = snapshot_files(tmp_path / "snap", load_policy())
    for path in files:  # written back and read: every page cached and clean (dirty pages are not released)
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
            fh.read()
    assert len(files) >= 8 and all(_resident_bytes(files))
    build_plan(tmp_path / "snap", out=tmp_path / "out" / "plan.json", exports=False)
    resident = dict(zip((p.relative_to(tmp_path / "snap").as_posix() for p in files), _resident_bytes(files)))
    if spill:
        assert resident == dict.fromkeys(resident, 0)
    else:
        assert all(resident.values()), resident


def test_releasing_a_file_from_the_page_cache_is_advice_that_never_fails_the_build(tmp_path):
    """A file gone or not a regular file (removed under a running build, a directory) is not an error; the file's
    content is untouched."""
    from reconcile.files import release_cached_pages

    kept = tmp_path / "kept.csv"
    kept.write_text("Id\n00Q000000000001AAA\n", encoding="utf-8")
    release_cached_pages(kept)
    release_cached_pages(tmp_path / "gone.csv")
    release_cached_pages(tmp_path)
    assert kept.read_text(encoding="utf-8") == "Id\n00Q000000000001AAA\n"


class _OutOfMemoryOnCreate:
    """A real DuckDB connection whose first `failures` CREATE statements run out of memory (fault injection: a real
    out-of-memory needs a 10M-lead snapshot); records the thread count each CREATE ran with."""

    def __init__(self, con, failures: int):
        self.con, self.failures, self.creates = con, failures, []

    def execute(self, statement, params=None):
        if statement.startswith("create"):
            self.creates.append(self.con.execute("select current_setting('threads')").fetchone()[0])
            if self.failures:
                self.failures -= 1
                raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block of size 256.0 KiB")
        return self.con.execute(statement, params)


@pytest.mark.parametrize("failures, created", [(0, True), (1, True), (2, False)])
def test_a_model_that_runs_out_of_memory_is_run_once_more_on_one_thread(failures, created, capsys):
    from reconcile.sql import connect, create_with_retry

    con = connect(threads=2)
    fake = _OutOfMemoryOnCreate(con, failures)
    if created:
        create_with_retry(fake, "create table t as select range as i from range($n)", {"n": 5})
        assert con.execute("select count(*) from t").fetchone()[0] == 5
    else:
        with pytest.raises(duckdb.OutOfMemoryException):
            create_with_retry(fake, "create table t as select range as i from range($n)", {"n": 5})
    assert fake.creates == [2, 1][: failures + 1]  # first with the connection's threads, the retry on one
    assert con.execute("select current_setting('threads')").fetchone()[0] == 2  # restored either way
    said = "note: table t ran out of memory on 2 threads; running it again on one.\n"
    assert capsys.readouterr().err == (said if failures else "")  # a run can tell that it needed the retry


def test_a_model_on_one_thread_that_runs_out_of_memory_is_not_retried():
    from reconcile.sql import connect, create_with_retry

    fake = _OutOfMemoryOnCreate(connect(threads=1), 1)
    with pytest.raises(duckdb.OutOfMemoryException):
        create_with_retry(fake, "create table t as select 1", {})
    assert fake.creates == [1]
