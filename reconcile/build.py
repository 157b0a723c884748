"""Snapshot directory → DuckDB (file-backed) → SQL models → plan file: the policy as tables, staging per source,
the models, then the plan (plan.assemble*). All or nothing: the DuckDB file, the plan and its exports are written
beside their targets and moved into place only when everything succeeded (build_plan, dbfile.py)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .ingest import coverage
from . import dbfile, planfile, provenance
from . import plan as planmod
from .clock import iso
from .errors import DUCKDB_DISK_FULL, ReconcileError, SnapshotError
from .files import folders_for, move_into_place, refuse_folder, remove_path
from .policy import BLOCKED_REASONS, WRITABLE_OBJECTS, Policy, load_policy
from .ingest.contract import SYSTEMS, sources
from .ingest.snapshots import Snapshot, check_staged, count_not_used, discover, ingest
from .sql import (
    MODELS,
    attach_scratch,
    checkpoints_deferred,
    connect,
    default_memory_limit,
    effective_memory_limit,
    input_size,
    load_macros,
    plan_write_memory_limit,
    run_audits,
    run_model,
    run_models,
    spills,
)


@dataclass
class PlanResult:
    plan: dict
    plan_path: Path | None
    db_path: Path
    snapshot: Snapshot
    exports: list[Path]


def refuse_in_source_folder(target: Path, snapshot_dir: Path, what: str, overwrite_only: bool = False) -> None:
    """An output inside one of the snapshot's source folders (sfdc/, clay/, smartlead/, pardot/) would overwrite an
    export (`--out snap/sfdc/Lead.csv`) or be read as one by the next plan: refused before anything is written.
    overwrite_only: only a file that is there already (the member export may be written into clay/ on purpose, as
    the table Clay gives back)."""
    try:
        rel = target.resolve().relative_to(snapshot_dir.resolve())
    except ValueError:
        return
    if overwrite_only and not target.exists():
        return
    if len(rel.parts) > 1 and rel.parts[0].lower() in SYSTEMS:
        raise ReconcileError(
            f"{what} '{target}' is inside the snapshot's {rel.parts[0]}/ folder, where it would overwrite an export or "
            f"be read as one. Write it beside the snapshot (e.g. {snapshot_dir.resolve().parent / target.name})."
        )


def own_outputs(out: Path | None, db: Path) -> tuple[Path, ...]:
    """What a plan writes, as name prefixes (snapshots.discover): the DuckDB file with its .wal, .building, .scratch
    and .tmp, and every file of the plan's family — `<stem>.json`, `.data/`, `.changes.csv|parquet`, and what approve
    and apply write beside it (`.approval.json`, `.audit.csv`, `.undo.json`)."""
    return (db,) + ((out.with_name(out.stem + "."),) if out is not None else ())


def default_db_path(out: Path | None, snapshot_dir: Path) -> Path:
    return (out.parent if out else snapshot_dir) / "reconcile.duckdb"


def load_policy_tables(con, policy: Policy, snapshot_dir: Path) -> None:
    """The policy (and the org's describe, when the snapshot carries one) as tables the SQL joins."""
    con.execute(
        "create or replace table policy_fields (object varchar, field varchar, status varchar, kind varchar, "
        "max_length integer)"
    )
    con.execute("create or replace table policy_picklist (object varchar, field varchar, value varchar)")
    con.execute("create or replace table policy_routes (kind varchar, route varchar)")
    con.execute("create or replace table org_fields (object varchar, field varchar, updateable boolean)")
    if policy.fields:
        con.executemany(
            "insert into policy_fields values (?, ?, ?, ?, ?)",
            [[f.object, f.field, f.status, f.kind, f.max_length] for f in policy.fields],
        )
    picks = [[f.object, f.field, v] for f in policy.fields for v in f.picklist]
    if picks:
        con.executemany("insert into policy_picklist values (?, ?, ?)", picks)
    if policy.routes:
        con.executemany("insert into policy_routes values (?, ?)", list(policy.routes.items()))
    org = list(_org_fields(snapshot_dir))
    if org:
        con.executemany("insert into org_fields values (?, ?, ?)", org)


def _org_fields(snapshot_dir: Path):
    """sfdc/describe/<Object>.json, written by `reconcile pull`: the integration user's view of the org."""
    for path in sorted((snapshot_dir / "sfdc" / "describe").glob("*.json")):
        try:
            doc = json.loads(path.read_text("utf-8"))
        except ValueError as e:
            raise SnapshotError(
                f"Snapshot '{path.relative_to(snapshot_dir)}' is not valid JSON ({e}). "
                "Pull the snapshot again or delete the describe file."
            ) from e
        for f in doc.get("fields", []):
            yield [doc.get("name", path.stem), f["name"], bool(f.get("updateable"))]


def model_params(policy: Policy, snap: Snapshot) -> dict:
    cols = policy.clay_columns
    now = iso()
    return {
        "clay_taken_at": snap.taken_at.get("clay", now),
        "smartlead_taken_at": snap.taken_at.get("smartlead", now),
        "writable_objects": list(WRITABLE_OBJECTS),
        "blocked_reasons": list(BLOCKED_REASONS),
        "default_route": "CRM Admin",
        # $clay_header_<key>: the policy's name of each Clay column, so evidence names the header the file has
        **{f"clay_header_{key}": header for key, header in cols.items()},
        # $value_<key>: what a source value means to the rules (policy [source_values])
        **{f"value_{key}": value for key, value in policy.source_values.items()},
    }


def stage_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshot_dir: Path,
    policy: Policy,
    lenient: bool = False,
    progress=None,
    release: bool = False,
    outputs: tuple[Path, ...] = (),
) -> Snapshot:
    """Ingest every source and build its staging table (stg_*), freeing each raw table as soon as it is staged
    (release: and the source's files from the page cache, see ingest; outputs: see snapshots.discover)."""
    load_macros(con, _formula_path(policy))

    def stage(source, snap):
        # staging is 1:1 with its raw tables and keeps file + row of every value: ingest frees them right after
        run_model(con, f"staging/stg_{source.name}", model_params(policy, snap))
        mine = [f for f in snap.files if f.source == source.name]
        check_staged(con, source, mine, lenient)
        count_not_used(con, source, mine)

    return ingest(
        con,
        snapshot_dir,
        policy.clay_columns,
        lenient=lenient,
        progress=progress,
        on_source=stage,
        release=release,
        outputs=outputs,
    )


def staged(snapshot_dir: str | Path, policy: str | Path | Policy | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory connection holding a snapshot's staging tables (seeding the sandbox, member exports)."""
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    con = connect()
    try:
        stage_snapshot(con, Path(snapshot_dir), pol)
    except BaseException:
        con.close()
        raise
    return con


def build(
    con: duckdb.DuckDBPyConnection,
    snapshot_dir: Path,
    policy: Policy,
    lenient: bool = False,
    progress=None,
    spill: bool = False,
    plan_memory_limit: str | None = None,
    outputs: tuple[Path, ...] = (),
) -> Snapshot:
    """Ingest and run every model on an open connection (no transaction handling here).
    spill (under a memory limit): intermediates go to the attached scratch database, not memory, and each source's
    files leave the page cache once staged — a snapshot that large would otherwise keep the memory the build's own
    files need (the DuckDB file and the scratch file are written, then read back). plan_memory_limit: the limit from
    the plan models on (sql.run_models), which stays set for writing the plan. outputs: the plan's own outputs, which
    are no inputs when written into the snapshot folder (snapshots.discover)."""
    load_policy_tables(con, policy, snapshot_dir)
    with checkpoints_deferred(con):  # the raw tables live only until staged
        snap = stage_snapshot(
            con, snapshot_dir, policy, lenient=lenient, progress=progress, release=spill, outputs=outputs
        )
    snap.inputs = coverage.assess(snap, policy)
    params = model_params(policy, snap)
    run_models(
        con, params, progress=progress, names=_modelled(), spill=spill, free=True, plan_memory_limit=plan_memory_limit
    )
    run_audits(con, params)  # the plan's invariants, checked before anything is written (AuditError: no plan)
    return snap


def _modelled() -> list[str]:
    """The models run after staging (staging runs per source, as each is ingested)."""
    return [m for m in MODELS if not m.startswith("staging/")]


def _formula_path(policy: Policy) -> Path | None:
    rel = policy.formulas.get("cold_lead_eligible")
    if not rel:
        return None
    p = Path(rel)
    if not p.is_absolute():
        base = Path(policy.path).parent / p
        p = base if base.exists() else p
    return p


def snapshot_files(snapshot_dir: Path, policy: Policy) -> list[Path]:
    """Every source file of a snapshot directory the policy's sources read."""
    return [p for paths in discover(snapshot_dir, sources(policy.clay_columns)).found.values() for p in paths]


def memory_settings(files: list[Path], memory_limit: str | None = None) -> tuple[str, bool]:
    """The build's DuckDB memory limit — the given one, else RECONCILE_MEMORY_LIMIT, else a share of the machine,
    more for a large snapshot (sql.default_memory_limit) — and whether its intermediates go to the scratch file
    (sql.spills) rather than temporary tables. ValueError: a limit that is not a size."""
    input_bytes = input_size(files)
    limit = effective_memory_limit(memory_limit) or default_memory_limit(input_bytes=input_bytes)
    return limit, spills(limit, input_bytes)


def build_plan(
    snapshot_dir: str | Path,
    out: str | Path | None = None,
    db: str | Path | None = None,
    policy: str | Path | Policy | None = None,
    lenient: bool = False,
    progress=None,
    exports: bool = True,
    memory_limit: str | None = None,
    threads: int | None = None,
    fmt: str = "auto",
) -> PlanResult:
    """`reconcile plan`: build the plan of a snapshot directory; nothing is written when anything fails.

    Every output — the DuckDB file, the plan's data folder, the plan file, the spreadsheet exports — is written
    beside its target under a temporary name (`<name>.building`), and all are moved into place only once all are
    written (see the order below); a failure before leaves every old output exactly as it was. The DuckDB file is
    built committing as it goes, so memory stays bounded (a dropped table's memory is only freed by a commit), with
    the target's audit trail carried over. The target stays open read-only meanwhile: no apply can write to it
    unseen.

    fmt "parquet" writes `reconcile.plan/2` (manifest + `<plan>.data/`), "json" one `reconcile.plan/1` file, "auto"
    (the default) /1 for a plan of at most JSON_PLAN_ROWS rows and /2 for a larger one (SPEC §6: a plan is one JSON
    document; a large plan's rows live in columnar files beside a manifest); without `out` the plan is only returned
    (/1, lists inline)."""
    if fmt not in PLAN_FORMATS:
        raise ReconcileError(
            f"Plan format '{fmt}' is unknown: use auto (the default: json up to {JSON_PLAN_ROWS:,} changes, findings "
            "and rejects, parquet beyond), parquet (reconcile.plan/2) or json (reconcile.plan/1)."
        )
    snapshot_dir = Path(snapshot_dir)
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    out_path = Path(out) if out else None
    db_path = Path(db) if db else default_db_path(out_path, snapshot_dir)
    exported = planmod.export_paths(out_path) if out_path is not None and exports else ()
    for target in (*([out_path] if out_path else []), *exported, db_path):
        refuse_in_source_folder(target, snapshot_dir, "The plan's output")
    for target in (db_path, *exported, *([out_path] if out_path else [])):
        refuse_folder(target)  # before anything is built
    if out_path and db_path.resolve() in {p.resolve() for p in (out_path, planfile.data_dir(out_path), *exported)}:
        raise ReconcileError(
            f"The DuckDB file '{db_path}' would overwrite an output of the plan '{out_path}': give --db another name."
        )
    with folders_for(db_path.parent, *([out_path.parent] if out_path else [])):  # removed again if the plan fails
        work, scratch = dbfile.building_paths(db_path)
        parts = _building(planfile.data_dir(out_path)) if out_path else None
        manifest = _building(out_path) if out_path else None
        staged_exports = tuple(_building(p) for p in exported)
        temporaries = [p for p in (parts, manifest, *staged_exports) if p is not None]
        files = snapshot_files(snapshot_dir, pol)
        try:
            build_limit, spill = memory_settings(files, memory_limit)
        except ValueError as e:
            raise _setting_error(e, memory_limit, "--memory-limit", "RECONCILE_MEMORY_LIMIT", "2GB") from e
        if progress is not None and hasattr(progress, "expect"):  # files + models + writing the plan
            progress.expect(len(files) + len(_modelled()) + 1)
        old = dbfile.open_previous(db_path)
        try:
            dbfile.remove_database(work)
            dbfile.remove_database(scratch)
            for path in temporaries:
                remove_path(path)
            try:
                con = connect(work, memory_limit=build_limit, threads=threads)
            except ValueError as e:
                raise _setting_error(e, threads, "--threads", "RECONCILE_THREADS", "4") from e
            try:
                if spill:
                    attach_scratch(con, scratch)
                # once the models' working tables are gone, sorting the changes with their evidence (plan_changes)
                # and writing them get a larger share when no limit is given (sql.plan_write_memory_limit)
                given = effective_memory_limit(memory_limit) is not None
                plan_limit = None if given else plan_write_memory_limit(build_limit)
                snap = build(
                    con,
                    snapshot_dir,
                    pol,
                    lenient=lenient,
                    progress=progress,
                    spill=spill,
                    plan_memory_limit=plan_limit,
                    outputs=own_outputs(out_path, db_path),
                )
                if progress:
                    progress("writing plan")
                columnar = out_path is not None and (fmt == "parquet" or (fmt == "auto" and _large(con)))
                if columnar:
                    plan = planmod.assemble_files(con, snap, pol, out_path, parts)
                else:
                    plan = planmod.assemble(con, snap, pol)
                if old is not None:
                    dbfile.carry_over(old, con)
                provenance.record(con, plan)
            except duckdb.OutOfMemoryException as e:
                raise _out_of_memory() from e
            except duckdb.Error as e:
                if DUCKDB_DISK_FULL in str(
                    e
                ):  # not the snapshot's fault: say where the space ran out and how to get more
                    raise ReconcileError(
                        f"The disk ran out of space while planning (nothing was written): {str(e).splitlines()[0]} "
                        f"Free space on the disk of '{db_path.parent}', or build on a larger disk with --db (DuckDB "
                        "writes its file, its temporary files and, for a large snapshot, a scratch file beside it)."
                    ) from e
                raise SnapshotError(
                    f"Snapshot '{snapshot_dir}' could not be reconciled: {str(e).splitlines()[0]}"
                ) from e
            finally:
                con.close()
            moves, made, removed = dbfile.moves(work, db_path), [], ()
            if out_path:
                manifest.write_bytes(planmod.dumps(plan.manifest() if columnar else plan).encode("utf-8"))
            if exported:
                made = _export(work, out_path, staged_exports, memory_limit, threads)
                # no CSV written (too many changes for a spreadsheet): an older plan's must not pass for this one's
                moves += [(tmp if tmp in made else None, final) for tmp, final in zip(staged_exports, exported)]
            # Every output is written: they move into place in this order, each with one rename over its target
            # (files.move_into_place: if one fails, those made are undone). A crash between two moves leaves nothing
            # that applies the wrong rows: the DuckDB file first — it holds the old file's audit trail and plan records
            # plus this plan's, so the plan still in place stays valid against it (and the old file is held open until
            # the last move, so no apply writes to it once its trail is copied); then the exports and the data folder,
            # while the old manifest is in place (between the two, an old plan with new exports; after the data folder,
            # load_plan refuses the old manifest: its data files no longer match its plan_id); the manifest last, the
            # commit point, naming this plan's data only once the data, its record and its exports are in place.
            if columnar:
                moves.append((parts, planfile.data_dir(out_path)))
            elif out_path and os.path.lexists(planfile.data_dir(out_path)):
                moves.append((None, planfile.data_dir(out_path)))  # an older /2 plan's rows: not this plan's
                removed = (planfile.data_dir(out_path),)
            if out_path:
                moves.append((manifest, out_path))
            move_into_place(moves, folders=removed)
        finally:
            for path in temporaries:  # none is left after the moves (a failure leaves them all)
                _discard(path)
            dbfile.remove_database(work)
            dbfile.remove_database(scratch)
            if old is not None:
                old.close()
        if columnar:
            planfile.stamp(plan)
        return PlanResult(
            plan=plan,
            plan_path=out_path,
            db_path=db_path,
            snapshot=snap,
            exports=[final for tmp, final in zip(staged_exports, exported) if tmp in made],
        )


# `--format auto`: a plan of at most this many rows (changes + findings + rejects) is one reconcile.plan/1 JSON file
# (~10 MB), readable as it is; a larger one is reconcile.plan/2, its rows in Parquet files (issue 11: a 1.58M-change
# plan.json was 1 GB and took minutes to write and read)
JSON_PLAN_ROWS = 10_000
PLAN_FORMATS = ("auto", "parquet", "json")


def _large(con) -> bool:
    """More rows than a reconcile.plan/1 file is for (JSON_PLAN_ROWS), counted in the build's tables."""
    n = con.execute(
        "select " + " + ".join(f"(select count(*) from ({planfile.SOURCES[part]}))" for part in planfile.PARTS)
    ).fetchone()[0]
    return n > JSON_PLAN_ROWS


def _setting_error(e: ValueError, given, option: str, env: str, example: str) -> ReconcileError:
    """A bad --memory-limit / --threads, or the environment variable standing in for it, named as the user set it."""
    msg = str(e)
    msg = msg[:1].upper() + msg[1:]
    if given is None and os.environ.get(env):
        return ReconcileError(f"{msg} ({env}): set {env} to e.g. {example}, or unset it for the default.")
    return ReconcileError(f"{msg}: use e.g. {option} {example}.")


def _building(path: Path) -> Path:
    """An output's temporary name beside it, while the plan is built."""
    return path.with_name(path.name + ".building")


def _discard(path: Path) -> None:
    try:
        remove_path(path)
    except OSError:
        pass  # a leftover temporary is removed by the next plan


def _out_of_memory() -> ReconcileError:
    return ReconcileError(
        "DuckDB ran out of memory while planning (nothing was written). Raise the limit "
        "with --memory-limit (e.g. 8GB) or RECONCILE_MEMORY_LIMIT, or free memory."
    )


def _export(work: Path, out_path: Path, into, memory_limit, threads) -> list[Path]:
    """The spreadsheet exports of the built plan, written to `into` (planmod.export_changes)."""
    # a given limit and thread count bound the export too; without a limit it runs under DuckDB's default, not
    # the build's: its COPY of plan_changes as stored streams (peak under the build's), and a 1 GB budget slows it
    con = connect(work, memory_limit=memory_limit, threads=threads)
    try:
        return planmod.export_changes(con, out_path, into=into)
    except duckdb.OutOfMemoryException as e:
        raise _out_of_memory() from e
    except duckdb.Error as e:
        first = str(e).splitlines()[0]
        fix = (
            f"Free space on the disk of '{out_path.parent}', or write the plan to a larger disk with --out."
            if DUCKDB_DISK_FULL in str(e)
            else f"Check the folder '{out_path.parent}', or write the plan elsewhere with --out."
        )
        raise ReconcileError(
            f"The changes for spreadsheets could not be written beside '{out_path}' (nothing was written): "
            f"{first} {fix}"
        ) from e
    finally:
        con.close()
