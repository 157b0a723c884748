"""The Clay drop folder → clay/<table>.<ext>: Clay has no API to read a table, so its exports land in a folder
(a Clay "Export to CSV" download, a scheduled export, a synced drive) and the pull takes the newest one per table.

Which table a file is, and when it was exported (README "Daily unattended run"):
  * the table is the file name without its export time and a trailing "export"/"view" word, lower-cased:
    `Enrichment 2026-11-27T05-50-00.csv`, `enrichment_2026-11-27.csv` and `Enrichment-export-1764222600000.csv` are
    all the table `enrichment`; `errors…` is the connector's error log (clay/errors.csv).
  * the export time is the time in the name (ISO date with optional time, UTC; or Unix seconds / milliseconds),
    else the file's modification time.
The newest file per table is copied as it is; older ones are left in the folder. Clay's taken_at is the export time
of the oldest table taken (the snapshot is as fresh as its stalest table), the error log not counted. A table older than the policy's
[sources.clay] max_age_hours (default 24) at pull time is refused (on_problem = "error") or taken with a warning
in the pull output and manifest ("warn", the default) — the plan then also flags it against Salesforce's taken_at.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import PullError
from .smartlead import SourcePull
from ..clock import iso

FORMATS = (".csv", ".parquet", ".jsonl")
_SEP = r"[-_ .]*"
STAMPS = [  # (regex at the end of the stem, parser)
    (
        re.compile(_SEP + r"(\d{4}-\d{2}-\d{2})[T_ ](\d{2})[-:.h]?(\d{2})[-:.m]?(\d{2})?Z?$", re.I),
        lambda m: datetime.fromisoformat(f"{m[1]}T{m[2]}:{m[3]}:{m[4] or '00'}+00:00"),
    ),
    (re.compile(_SEP + r"(\d{4}-\d{2}-\d{2})$"), lambda m: datetime.fromisoformat(m[1] + "T00:00:00+00:00")),
    (  # compact: 20261127T055000Z, 20261127_055000, 20261127
        re.compile(_SEP + r"(?<!\d)(\d{4})(\d{2})(\d{2})(?:[T_ -]?(\d{2})(\d{2})(\d{2})Z?)?$", re.I),
        lambda m: datetime(*(int(v or 0) for v in m.groups()), tzinfo=timezone.utc),
    ),
    (re.compile(_SEP + r"(\d{13})$"), lambda m: datetime.fromtimestamp(int(m[1]) / 1000, timezone.utc)),
    (re.compile(_SEP + r"(\d{10})$"), lambda m: datetime.fromtimestamp(int(m[1]), timezone.utc)),
]
TRAILING_WORDS = re.compile(r"([-_ .]*(export|default[-_ ]?view|view|\(\d+\)))+$", re.I)


def table_and_time(path: Path) -> tuple[str, datetime, str]:
    """(table, export time, where the time came from: 'name' or 'mtime') of one exported file."""
    # the words a download adds after the time ("… 2026-11-27T05-50-00 export", "… Default View", "… (1)") first
    stem = TRAILING_WORDS.sub("", path.stem).strip()
    exported, origin = None, "mtime"
    for pattern, parse in STAMPS:
        m = pattern.search(stem)
        if m:
            try:
                exported, origin, stem = parse(m), "name", stem[: m.start()]
            except ValueError:
                continue
            break
    if exported is None:
        exported = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    table = re.sub(r"[^a-z0-9]+", "_", TRAILING_WORDS.sub("", stem).strip().lower()).strip("_") or "table"
    return table, exported, origin


def newest_exports(drop: Path) -> dict[str, tuple[Path, datetime, str]]:
    best: dict[str, tuple[Path, datetime, str]] = {}
    for path in sorted(drop.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in FORMATS:
            continue
        table, at, origin = table_and_time(path)
        if table not in best or (at, path.name) > (best[table][1], best[table][0].name):
            best[table] = (path, at, origin)
    return best


def check_drop(clay_dir=None, env=None, policy=None, now: datetime | None = None) -> tuple[Path, dict, list[str]]:
    """The drop folder, its newest export per table and what is stale in it; PullError when it cannot be pulled
    (no folder, no export, a stale table the policy refuses). `reconcile pull` asks before it pulls anything."""
    env = os.environ if env is None else env
    drop = Path(clay_dir or env.get("RECONCILE_CLAY_DIR") or "")
    if not str(clay_dir or env.get("RECONCILE_CLAY_DIR") or ""):
        raise PullError(
            "No Clay drop folder: give --clay-dir DIR or set RECONCILE_CLAY_DIR to the folder Clay's "
            "exports land in, or leave clay out of --sources."
        )
    if not drop.is_dir():
        what = "is a file, not a folder" if drop.exists() else "does not exist"
        raise PullError(
            f"Clay drop folder '{drop}' {what}: check --clay-dir / RECONCILE_CLAY_DIR (the folder Clay's exports land "
            "in)."
        )
    best = newest_exports(drop)
    if not best:
        raise PullError(
            f"Clay drop folder '{drop}' holds no export (.csv, .parquet or .jsonl): export the Clay "
            "tables into it first."
        )
    from ..policy import load_policy

    rule = load_policy(policy).sources["clay"]
    now = now or datetime.now(timezone.utc)
    stale = []
    for path, at, _ in (best[t] for t in sorted(best)):
        age_h = (now - at) / timedelta(hours=1)
        if rule.max_age_hours is not None and age_h > rule.max_age_hours:
            stale.append(f"'{path.name}' was exported {age_h:.1f} h ago (max_age_hours {rule.max_age_hours:g})")
    if stale and rule.on_problem == "error":
        raise PullError(
            f"Clay drop folder '{drop}': {'; '.join(stale)}. Export the table from Clay again, or "
            "relax [sources.clay] max_age_hours / on_problem in the policy."
        )
    return drop, best, stale


def pull_clay(
    out_dir: str | Path, clay_dir=None, env=None, policy=None, progress=None, now: datetime | None = None
) -> SourcePull:
    drop, best, stale = check_drop(clay_dir, env, policy, now)
    result = SourcePull("clay")
    for table, (path, at, origin) in sorted(best.items()):
        result.notes.append(f"{path.name} → clay/{table}{path.suffix.lower()} (exported {_iso(at)}, from the {origin})")
    result.notes += [f"STALE: {s}" for s in stale]
    out = Path(out_dir) / "clay"
    for old in out.glob("*") if out.is_dir() else ():
        if old.is_file() and old.suffix.lower() in FORMATS:
            old.unlink()  # the snapshot holds this pull's tables only
    out.mkdir(parents=True, exist_ok=True)
    for table, (path, _, _) in sorted(best.items()):
        target = out / f"{table}{path.suffix.lower()}"
        shutil.copyfile(path, target)
        result.files.append(f"clay/{target.name}")
        result.records += _records(target)
        if progress:
            progress(f"Clay: {path.name}")
    # the tables' export time: the error log is the connector's record of its writes, not a table of values, so a
    # log saved at 00:00 does not make a 09:30 export of the tables look older (only a drop of the log alone uses it)
    tables = [at for t, (_, at, _) in best.items() if t != "errors"] or [at for _, at, _ in best.values()]
    result.taken_at = _iso(min(tables))
    result.detail = {"tables": {t: _iso(at) for t, (_, at, _) in sorted(best.items())}}
    return result


def _iso(at: datetime) -> str:
    return iso(at)


def _records(path: Path) -> int:
    if path.suffix.lower() != ".csv" and path.suffix.lower() != ".jsonl":
        return 0
    import csv

    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        n = sum(1 for _ in (csv.reader(fh) if path.suffix.lower() == ".csv" else fh))
    return max(0, n - (path.suffix.lower() == ".csv"))
