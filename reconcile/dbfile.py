"""The DuckDB file a plan is built into: built beside its target (`<db>.building`, with `<db>.scratch` for spilled
intermediates) and moved over it only when everything succeeded, the target's write-ahead log kept apart, and
what outlives a plan — the audit trail, plan provenance, who was told what — carried over from the file it replaces.
(Each table's copy lives with its table: audit.carry_over, provenance.carry_over, notify_state.carry_over.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from .apply import audit
from . import notify_state, provenance
from .errors import refuse_not_duckdb, unopened_db


def building_paths(db_path: Path) -> tuple[Path, Path]:
    """(the file being built, its scratch database), both beside the target."""
    return db_path.with_name(db_path.name + ".building"), db_path.with_name(db_path.name + ".scratch")


def carry_over(old: duckdb.DuckDBPyConnection, con: duckdb.DuckDBPyConnection) -> None:
    """Copy what outlives a plan from the file being replaced into the new one."""
    audit.carry_over(old, con)
    provenance.carry_over(old, con)
    notify_state.carry_over(old, con)  # who was told what survives a re-plan into the same file


def open_previous(db_path: Path) -> duckdb.DuckDBPyConnection | None:
    """The DuckDB file a plan replaces, read-only (its audit trail is carried over; the lock keeps applies out)."""
    if not db_path.exists():
        return None
    refuse_not_duckdb(db_path)
    try:
        return duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error as e:
        raise unopened_db(db_path, e) from e


def remove_database(path: Path) -> None:
    """A DuckDB file with its write-ahead log and temporary folder (a failed or finished build's leftovers)."""
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


def moves(work: Path, db_path: Path) -> list[tuple[Path | None, Path]]:
    """The built file's move over the target (files.move_into_place). A write-ahead log left beside the target
    belongs to the old file: it is removed first (kept until every move is made, and restored with the old file if
    one fails), never replayed onto the new one."""
    return [(None, db_path.with_name(db_path.name + ".wal")), (work, db_path)]
