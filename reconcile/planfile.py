"""The plan on disk, format `reconcile.plan/2`: a small JSON manifest beside columnar data files.

    plan.json                 manifest: format, plan_id, created_at, snapshot, policy, summary, gates, files
    plan.data/changes.parquet      one row per change (object, record_id, field, before, after, …, evidence)
    plan.data/findings.parquet     one row per finding
    plan.data/rejects.parquet      one row per rejected input row

The data folder is always `<plan stem>.data/` beside the manifest (move or copy both: copy_plan). Each entry
of the manifest's `files` names its file in that folder, its row count, `bytes_sha256` (the file's bytes: DuckDB
writes the same bytes at any thread count; load_plan checks it) and `sha256`: the hash of the file's canonical
rows — every row as one compact JSON line (DuckDB's `to_json` of the row, `before`/`after` as JSON values), in
the plan's canonical order — independent of Parquet's encoding; it is the build record's change-set hash.
plan_id is the sha256 of the canonical manifest without plan_id and created_at (plan.compute_plan_id), which
holds those hashes: it binds every row of every file, and no Python object is built per change to compute it.

Readers never load a whole /2 plan into Python: `connect(plan)` gives a DuckDB connection with the views
`changes`, `findings`, `rejects` (over the Parquet files; for a /1 plan, over its lists), and the functions
below query it. `plan["changes"]` still works (loaded on first use) for small plans, tests and notebooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from .errors import PlanError
from .files import write_atomic

PARTS = ("changes", "findings", "rejects")
CHANGE_COLUMNS = (
    "object",
    "record_id",
    "field",
    "before",
    "after",
    "rule",
    "status",
    "reason",
    "reasons",
    "evidence",
    "campaign_id",
    "gbu",
)
FINDING_COLUMNS = ("kind", "object", "record_id", "route", "detail", "at", "evidence")
REJECT_COLUMNS = ("file", "row", "column", "value", "expected", "message")
# the plan's canonical order of each part (ends with the canonical line itself, so it is total)
ORDER = {
    "changes": "object, record_id, field",
    "findings": "kind, object, record_id nulls first, detail, evidence[1].file, evidence[1].row, line",
    "rejects": 'file, "row", "column", line',
}
# what each part is built from in the build's DuckDB file (same columns, same types as the Parquet files)
SOURCES = {
    "changes": "select " + ", ".join(f'"{c}"' for c in CHANGE_COLUMNS) + " from plan_changes",
    "findings": "select " + ", ".join(f'"{c}"' for c in FINDING_COLUMNS) + " from plan_findings",
    "rejects": 'select file, "row", col as "column", value, expected, message from rejects',
}
EVIDENCE = pa.list_(
    pa.struct(
        [
            ("source", pa.string()),
            ("file", pa.string()),
            ("row", pa.int64()),
            ("column", pa.string()),
            ("value", pa.string()),
            ("at", pa.string()),
        ]
    )
)
SCHEMAS = {
    "changes": pa.schema(
        [
            ("object", pa.string()),
            ("record_id", pa.string()),
            ("field", pa.string()),
            ("before", pa.string()),
            ("after", pa.string()),
            ("rule", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("reasons", pa.list_(pa.string())),
            ("evidence", EVIDENCE),
            ("campaign_id", pa.string()),
            ("gbu", pa.string()),
        ]
    ),
    "findings": pa.schema(
        [
            ("kind", pa.string()),
            ("object", pa.string()),
            ("record_id", pa.string()),
            ("route", pa.string()),
            ("detail", pa.string()),
            ("at", pa.string()),
            ("evidence", EVIDENCE),
        ]
    ),
    "rejects": pa.schema(
        [
            ("file", pa.string()),
            ("row", pa.int64()),
            ("column", pa.string()),
            ("value", pa.string()),
            ("expected", pa.string()),
            ("message", pa.string()),
        ]
    ),
}


def _columns(part: str) -> tuple[str, ...]:
    return {"changes": CHANGE_COLUMNS, "findings": FINDING_COLUMNS, "rejects": REJECT_COLUMNS}[part]


def _line_sql(part: str, newline: bool = False) -> str:
    """One row as its canonical JSON line: the row's to_json as a struct (before/after are JSON values, not
    strings), with newline its '\\n'. Written as each column's to_json between the struct's literal keys, which
    is the same bytes (test_plan_format checks it on edge values; the 1M plans' hashes are unchanged) for less:
    backfill 1M, hashing 1.58M changes, 4.3 -> 3.7 CPU s."""
    pieces = []
    for i, c in enumerate(_columns(part)):
        value = f'"{c}"::json' if part == "changes" and c in ("before", "after") else f'"{c}"'
        pieces += [f"'{'{' if i == 0 else ','}\"{c}\":'", f"coalesce(to_json({value})::varchar, 'null')"]
    pieces.append("'}'" + (" || chr(10)" if newline else ""))
    return f"concat({', '.join(pieces)})"


def data_dir(plan_path: str | Path) -> Path:
    p = Path(plan_path)
    return p.with_name(p.stem + ".data")


# ------------------------------------------------------------------------------------------ canonical hashes


def _hash_lines(con, relation: str, part: str, params=None) -> tuple[str, int]:
    """sha256 over the canonical lines of a data file (each line + '\\n'), in file order — the file was written in
    the plan's order, and DuckDB reads a Parquet file in order — hashed from Arrow buffers in batches."""
    sql = f"select {_line_sql(part, newline=True)} from {relation}"
    h, n = hashlib.sha256(), 0
    reader = con.sql(sql, params=params or None).to_arrow_reader(200_000)
    for batch in reader:
        arr = batch.column(0)
        if len(arr) == 0:
            continue
        width = 8 if pa.types.is_large_string(arr.type) else 4
        offsets, data = arr.buffers()[1], arr.buffers()[2]
        first = int.from_bytes(offsets[arr.offset * width : (arr.offset + 1) * width], "little", signed=True)
        last = int.from_bytes(
            offsets[(arr.offset + len(arr)) * width : (arr.offset + len(arr) + 1) * width], "little", signed=True
        )
        h.update(memoryview(data)[first:last])
        n += len(arr)
    return "sha256:" + h.hexdigest(), n


def write_parts(con, plan_path: Path, folder: Path | None = None, timed: list | None = None) -> dict:
    """The plan tables of a build → Parquet files in canonical order, with their content hashes (`files`).
    Written into `folder` (default: the plan's data folder); the manifest names them in the data folder.
    `timed` (the benchmark's profile) receives (what, seconds) per file written and hashed."""
    folder = folder or data_dir(plan_path)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for part in PARTS:
        target = folder / f"{part}.parquet"
        tmp = folder / f".{part}.parquet.tmp"
        t0 = time.perf_counter()
        con.execute(
            f"copy (select {', '.join(_quoted(part))} from (select {_line_sql(part)} as line, * from "
            f"({SOURCES[part]})) order by {ORDER[part]}) to '{_sql_path(tmp)}' "
            "(format parquet, compression zstd)"
        )
        tmp.replace(target)
        t1 = time.perf_counter()
        digest, rows = _hash_lines(con, f"read_parquet('{_sql_path(target)}')", part)
        if timed is not None:
            timed += [
                (f"write: plan {part} (Parquet, DuckDB)", t1 - t0),
                (f"assemble: {part} content hash (canonical rows + sha256)", time.perf_counter() - t1),
            ]
        files[part] = {"file": f"{part}.parquet", "rows": rows, "sha256": digest, "bytes_sha256": _file_hash(target)}
    return files


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def install(folder: Path, target: Path) -> None:
    """Move freshly written data files over the plan's data folder (the old one is removed first)."""
    aside = target.with_name(target.name + ".old")
    shutil.rmtree(aside, ignore_errors=True)
    if target.exists():
        os.replace(target, aside)
    os.replace(folder, target)
    shutil.rmtree(aside, ignore_errors=True)


def _quoted(part: str) -> list[str]:
    return [f'"{c}"' for c in _columns(part)]


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")  # a path of our own making, quoted for COPY (which cannot bind it)


def part_path(plan: dict, part: str) -> Path:
    """A data file: always in the plan's own data folder (`<plan stem>.data/`), so a plan is renamed or copied
    with its folder (copy_plan)."""
    files = plan.get("files") if isinstance(plan.get("files"), dict) else {}
    entry = files.get(part) if isinstance(files.get(part), dict) else {}
    return data_dir(plan.path) / Path(str(entry.get("file") or f"{part}.parquet")).name


def verify(plan, full: bool = False) -> None:
    """Refuse a /2 plan whose data files are not the ones its manifest (and so plan_id) binds: the sha256 of each
    file's bytes (DuckDB writes the same bytes at any thread count). full: also recompute the hash of every
    file's canonical rows (what the change-set hash of the build record is)."""
    con = duckdb.connect() if full else None
    try:
        for part in PARTS:
            entry = plan["files"].get(part) if isinstance(plan.get("files"), dict) else None
            path = part_path(plan, part) if entry else None
            if path is None or not path.exists():
                raise PlanError(
                    f"Plan '{plan.path}' is missing its {part} file "
                    f"'{data_dir(plan.path).name}/{(entry or {}).get('file', part + '.parquet')}'. "
                    "Keep the plan's .data folder beside it, or rebuild it with `reconcile plan`."
                )
            ok = _file_hash(path) == entry.get("bytes_sha256")
            if ok and full:
                try:
                    ok = _hash_lines(con, "read_parquet(?)", part, [str(path)]) == (
                        entry.get("sha256"),
                        entry.get("rows"),
                    )
                except duckdb.Error as e:
                    raise PlanError(
                        f"Plan '{plan.path}': '{path.parent.name}/{path.name}' cannot be read "
                        f"({str(e).splitlines()[0]}). Rebuild the plan with `reconcile plan`."
                    ) from e
            if not ok:
                raise PlanError(
                    f"Plan '{plan.path}' was edited after it was built: '{path.parent.name}/{path.name}' "
                    f"no longer matches the manifest (plan_id '{plan.get('plan_id')}'). Rebuild the plan "
                    "with `reconcile plan` and approve it again."
                )
    finally:
        if con is not None:
            con.close()


# ------------------------------------------------------------------------------------------ querying a plan


def connect(plan) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views `changes`, `findings`, `rejects` over the plan (cached on the plan)."""
    columnar = plan.get("format") == "reconcile.plan/2" and isinstance(plan.get("files"), dict)
    if columnar and hasattr(plan, "_stamp"):
        _check_unchanged(plan)
    con = getattr(plan, "_con", None)
    if con is not None:
        return con
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    if columnar:
        for part in PARTS:
            con.execute(f"create view {part} as select * from read_parquet('{_sql_path(part_path(plan, part))}')")
    else:
        for part in PARTS:
            con.register(f"_{part}", _arrow(part, dict.get(plan, part) or []))
            cast = "* replace (before::json as before, after::json as after)" if part == "changes" else "*"
            con.execute(f"create view {part} as select {cast} from _{part}")
    if hasattr(plan, "_con"):
        plan._con = con
    return con


def _stamps(plan) -> tuple:
    out = []
    for part in PARTS:
        try:
            st = part_path(plan, part).stat()
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def stamp(plan) -> None:
    """Remember which data files this plan object reads (checked before every query)."""
    plan._stamp = _stamps(plan)


def _check_unchanged(plan) -> None:
    """The data files a plan object reads are the ones it was opened with (a rebuild replaces them)."""
    now = _stamps(plan)
    if plan._stamp is None:
        plan._stamp = now
    elif now != plan._stamp:
        raise PlanError(
            f"Plan '{plan.path}' was replaced on disk since it was opened (its .data files changed). "
            "Load the plan again."
        )


def _arrow(part: str, rows: list[dict]) -> pa.Table:
    """A /1 plan's list (or a list to be saved) as an Arrow table of the part's schema."""

    def cell(row, c):
        v = row.get(c)
        if part == "changes" and c in ("before", "after"):
            return None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        if c == "evidence":
            return [
                {
                    **e,
                    "value": e.get("value")
                    if e.get("value") is None or isinstance(e.get("value"), str)
                    else json.dumps(e.get("value")),
                }
                for e in (v or [])
            ]
        return v

    cols = _columns(part)
    return pa.Table.from_pylist([{c: cell(r, c) for c in cols} for r in rows], schema=SCHEMAS[part])


def order_of(part: str) -> str:
    return ORDER[part].replace(", line", "")


def rows(
    plan,
    part: str,
    where: str = "true",
    params=None,
    columns: tuple[str, ...] | None = None,
    limit: int | None = None,
    qualify: str | None = None,
) -> list[dict]:
    """Rows of one part as plan dicts (before/after decoded), in the plan's canonical order."""
    cols = columns or _columns(part)
    if qualify and part == "changes":  # pick the keys on narrow columns first: a window over whole rows (with
        # their evidence) costs several times more at a million changes
        where = (
            f"({where}) and (object, record_id, field) in (select object, record_id, field from changes "
            f"where {where} qualify {qualify})"
        )
        qualify, params = None, [*(params or []), *(params or [])]
    sql = (
        f"select {', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)} from {part} where {where} "
        + (f"qualify {qualify} " if qualify else "")
        + f"order by {order_of(part)}"
        + (f" limit {int(limit)}" if limit is not None else "")
    )
    out = []
    for r in connect(plan).execute(sql, params or []).fetchall():
        d = dict(zip(cols, r))
        for c in ("before", "after"):
            if c in d and part == "changes":
                d[c] = None if d[c] is None else json.loads(d[c])
        out.append(d)
    return out


def scalar(plan, sql: str, params=None):
    return connect(plan).execute(sql, params or []).fetchone()[0]


def pairs(plan, sql: str, params=None) -> list[tuple]:
    return connect(plan).execute(sql, params or []).fetchall()


# ------------------------------------------------------------------------------------------ writing from lists


def save(plan: dict, plan_path: str | Path, rehash: bool = True) -> dict:
    """Write a plan held as lists (or a loaded /2 plan after an edit) as /2: data files + manifest; returns the
    manifest. With rehash, plan_id is recomputed over the new content (a hand edit is then only caught by
    provenance, as with /1); without, the old plan_id stays (and load_plan refuses the plan)."""
    from . import plan as planmod

    path = Path(plan_path)
    con = duckdb.connect()
    try:
        lists = {table: plan.get(table) or [] for table in PARTS}  # read before the files are rewritten
        for part, table in (("plan_changes", "changes"), ("plan_findings", "findings"), ("rejects", "rejects")):
            arrow = _arrow(table, lists[table])
            if table == "rejects":
                arrow = arrow.rename_columns(["file", "row", "col", "value", "expected", "message"])
            con.register(f"_{part}", arrow)
            cast = ", ".join(f'"{c}"::json as "{c}"' for c in ("before", "after"))
            con.execute(
                f"create table {part} as select * replace ({cast}) from _{part}"
                if table == "changes"
                else f"create table {part} as select * from _{part}"
            )
        files = write_parts(con, path)
    finally:
        con.close()
    manifest = {k: v for k, v in plan.items() if k not in PARTS and k != "files"}
    manifest.update(format=planmod.FORMAT, files=files)
    if rehash or not manifest.get("plan_id"):
        manifest["plan_id"] = planmod.compute_plan_id(manifest)
    write_atomic(path, planmod.dumps(manifest))
    return planmod.Plan(manifest, path)


def copy_plan(src: str | Path, dst: str | Path) -> Path:
    """Copy a plan file with its data folder (/2) to dst."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    if data_dir(src).is_dir():
        shutil.rmtree(data_dir(dst), ignore_errors=True)
        shutil.copytree(data_dir(src), data_dir(dst))
    return dst
