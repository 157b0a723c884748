"""The daily batch (`reconcile run`): papermill executes notebooks/daily_run.ipynb into reports/<run_id>/.

    from reconcile.notebook.run import run_daily
    bundle = run_daily("snapshots/2026-11-27")      # → reports/2026-11-27-3f9a1c2b/

A bundle holds the executed notebook, report.html, plan.json (+ .changes.csv/.parquet), reconcile.duckdb,
fingerprints.json (sha256 of every input file), summary.json and history.json (earlier runs' summaries,
oldest first, for the report's trends). The daily run never applies. Credentials stay in the environment
(SF_…, read by `salesforce.connect`): they are never notebook parameters, so never in the executed notebook.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReconcileError
from ..files import write_atomic
from ..plan import load_plan
from ..policy import load_policy
from ..clock import iso

NOTEBOOKS = Path(__file__).resolve().parent.parent.parent / "notebooks"
DAILY_NOTEBOOK = NOTEBOOKS / "daily_run.ipynb"
SOURCES = ("clay", "smartlead", "pardot", "manifest.toml")  # copied from --snapshot beside what is pulled
DEMO_LEADS = 200


@dataclass
class RunBundle:
    run_id: str
    path: Path
    summary: dict = field(repr=False)
    created_at: str = ""
    plan_id: str = ""
    run_date: str = ""

    notebook = property(lambda self: self.path / "daily_run.ipynb")
    report = property(lambda self: self.path / "report.html")
    plan_path = property(lambda self: self.path / "plan.json")
    db_path = property(lambda self: self.path / "reconcile.duckdb")
    changes_csv = property(lambda self: self.path / "plan.changes.csv")
    changes_parquet = property(lambda self: self.path / "plan.changes.parquet")
    fingerprints = property(lambda self: self.path / "fingerprints.json")
    history = property(lambda self: self.path / "history.json")

    @property
    def plan(self) -> dict:
        return load_plan(self.plan_path)

    @classmethod
    def from_dir(cls, path: Path) -> "RunBundle | None":
        """The bundle in `path`, or None when it holds no finished run (no summary.json)."""
        meta = path / "summary.json"
        if not meta.is_file():
            return None
        doc = json.loads(meta.read_text("utf-8"))
        return cls(
            run_id=path.name,
            path=path,
            summary=doc.get("summary") or {},
            created_at=doc.get("created_at") or "",
            plan_id=doc.get("plan_id") or "",
            run_date=doc.get("run_date") or (doc.get("created_at") or "")[:10],
        )


def list_runs(reports_dir: str | Path = "reports") -> list[RunBundle]:
    """Finished runs in `reports_dir`, oldest first (by plan creation time, then run id)."""
    root = Path(reports_dir)
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    runs = [b for b in map(RunBundle.from_dir, dirs) if b is not None]
    return sorted(runs, key=lambda b: (b.created_at, b.run_id))


def _run_date(run_id: str) -> str | None:
    """The run date a `reconcile run` bundle is named by (YYYY-MM-DD-…); None for another folder name."""
    return run_id[:10] if re.match(r"\d{4}-\d{2}-\d{2}(-|$)", run_id) else None


def _day_order(run_date: str | None, created_at: str) -> tuple[str, str]:
    """Where a run stands among runs: by the day it is for (its run date; a run without one, by the day it was
    planned), then by when it was planned — so a backfilled run of 11-27 comes before a 12-04 run planned earlier."""
    return (run_date or created_at[:10], created_at)


def history_of(
    reports_dir: str | Path, exclude: str | Path | None = None, before: str | None = None, run_date: str | None = None
) -> list[dict]:
    """Runs in reports_dir as render_report's history items ({"run_id", "created_at", "summary", "run_date"}),
    oldest first (_day_order).

    `exclude`: a run folder to leave out (the current one); `before` (a plan's created_at) and `run_date` (its run
    date, if it has one): only the runs that come before that run in _day_order.
    """
    skip = Path(exclude).resolve() if exclude else None
    upto = _day_order(run_date, before) if before is not None else None
    runs = [
        {"run_id": b.run_id, "created_at": b.created_at, "summary": b.summary, "run_date": _run_date(b.run_id)}
        for b in list_runs(reports_dir)
        if b.path.resolve() != skip
    ]
    runs = [r for r in runs if upto is None or _day_order(r["run_date"], r["created_at"]) <= upto]
    return sorted(runs, key=lambda r: (*_day_order(r["run_date"], r["created_at"]), r["run_id"]))


def prepare_snapshot(
    snapshot_dir: str | Path | None,
    work_dir: Path,
    pull: bool = False,
    org: str | None = None,
    policy: str | None = None,
) -> Path:
    """The snapshot to plan from: pulled from Salesforce, given, or (neither) a generated demo snapshot."""
    if pull:
        from ..sources.pull_all import parse_sources, pull_sources  # imported only when pulling
        from ..salesforce import connect

        target = work_dir / "snapshot"
        # README: Daily unattended run
        sources = parse_sources(os.environ.get("RECONCILE_PULL_SOURCES") or "sfdc", "RECONCILE_PULL_SOURCES")
        kept = SOURCES if "sfdc" in sources else ("sfdc", *SOURCES)  # Salesforce from --snapshot when not pulled
        for name in kept if snapshot_dir else ():
            src = Path(snapshot_dir) / name
            if src.is_dir():
                shutil.copytree(src, target / name, dirs_exist_ok=True)
            elif src.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / name)
        pull_sources(
            target,
            sources,
            connect_sf=lambda: connect(org=org or None),
            spool=os.environ.get("RECONCILE_SMARTLEAD_SPOOL") or None,
            policy=policy,
        )
        return target
    if snapshot_dir:
        return Path(snapshot_dir)
    from ..demo_data import generate_snapshot

    target = work_dir / "demo-snapshot"
    generate_snapshot(target, leads=DEMO_LEADS, taken_at=_utc_now())
    return target


def plan_bundle(
    snapshot_dir: str = "",
    pull: bool = False,
    run_date: str = "",
    work_dir: str = "reports/notebook-run",
    policy_path: str = "",
    lenient: bool = False,
    org: str = "",
) -> RunBundle:
    """In the daily notebook's kernel (run_daily drives the notebook): snapshot → plan → fingerprints, summary,
    history → report.html in work_dir.

    Returns the RunBundle of work_dir (run_daily renames the folder to its run id afterwards).
    """
    from ..build import build_plan

    if run_date:
        _checked_run_date(run_date, hint="-p run_date YYYY-MM-DD")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "summary.json").unlink(missing_ok=True)  # written last: until then the folder is no finished run
    snap = prepare_snapshot(snapshot_dir, work, pull=pull, org=org, policy=policy_path or None)
    plan = build_plan(
        snap, out=work / "plan.json", db=work / "reconcile.duckdb", policy=policy_path or None, lenient=lenient
    ).plan  # also writes plan.changes.csv / .parquet
    # a snapshot inside the bundle (pulled, or generated) is named relative to it: the bundle is built in a temporary
    # folder and renamed to its run_id once complete, so the path it was built under does not outlive the run
    inside = snap.resolve().is_relative_to(work.resolve())
    _write_json(
        work / "fingerprints.json",
        {
            "snapshot_dir": snap.resolve().relative_to(work.resolve()).as_posix() if inside else str(snap),
            "files": plan["snapshot"]["fingerprints"],
            "policy": plan["policy"]["fingerprint"],
        },
    )
    history = history_of(work.parent, exclude=work, before=plan["created_at"], run_date=run_date or None)
    _write_json(work / "history.json", history)
    render_run_report(plan, work, run_date or plan["created_at"][:10], policy_path=policy_path, history=history)
    _write_json(
        work / "summary.json",
        {
            "plan_id": plan["plan_id"],
            "created_at": plan["created_at"],
            "run_date": run_date or plan["created_at"][:10],
            "summary": plan["summary"],
        },
    )
    return RunBundle.from_dir(_finish(work, run_date or plan["created_at"][:10], plan["plan_id"]))


def render_run_report(
    plan: dict,
    folder: Path,
    run_date: str,
    out: Path | None = None,
    title: str | None = None,
    policy_path: str | Path | None = None,
    history: list | None = None,
):
    """The run's MARCOM Ops report (folder/report.html unless `out`): trends from the runs beside `folder` that come
    before this one (history_of: by run date, then creation time), "since last run", the findings CSVs per route
    (written into `folder`) and the link to the week's connector review — only where that review is (run_daily builds
    it once the run is done; a notebook run by papermill directly has none). plan_bundle and report.ipynb both render
    through here, so re-rendering a run's report from the notebook gives the same report."""
    from ..report.digest import week_of
    from ..report.report import render_report

    folder = Path(folder)
    if history is None:
        history = history_of(folder.parent, exclude=folder, before=plan["created_at"], run_date=run_date)
    previous = RunBundle.from_dir(folder.parent / history[-1]["run_id"]) if history else None  # the last before it
    week = week_of(run_date)[0]
    built_later = folder.name.startswith(".running-")  # run_daily's folder: the review follows the run
    weekly = f"../weekly/{week}.html" if built_later or (folder.parent / "weekly" / f"{week}.html").is_file() else None
    pol = load_policy(policy_path or None)
    instance = pol.notify.instance_url if pol.notify else None
    return render_report(
        plan,
        Path(out) if out else folder / "report.html",
        history=history,
        run_date=run_date,
        title=title or f"Reconciliation report — {run_date}",
        weekly_review=weekly,
        since=since_last_run(previous),
        instance_url=instance,
        findings_exports=write_findings_exports(plan, folder, instance),
    )


FINDINGS_COLUMNS = ("route", "kind", "object", "record_id", "link", "detail", "at", "evidence")


def write_findings_exports(plan: dict, folder: Path, instance_url: str | None = None) -> dict[str, str]:
    """Every finding of the plan, one CSV per route (findings-<route>.csv, spreadsheet-safe, evidence as
    file:row column=value), so each owner gets all of theirs, not the report's sample. Returns route → file name."""
    from ..csvsafe import writer
    from ..messages import instance_url as configured, sf_link, slug

    instance = configured(instance_url)
    by_route: dict[str, list[dict]] = {}
    for f in plan.get("findings") or []:
        by_route.setdefault(f.get("route") or "CRM Admin", []).append(f)
    names = {}
    for route, rows in sorted(by_route.items()):
        names[route] = f"findings-{slug(route)}.csv"
        buf = io.StringIO()
        w = writer(buf, FINDINGS_COLUMNS)
        w.writeheader()
        for f in rows:
            w.writerow(
                {
                    **f,
                    "route": route,
                    "link": sf_link(instance, f.get("object") or "", f.get("record_id")),
                    "evidence": "; ".join(
                        f"{e['file']}:{e['row']} {e.get('column') or ''}={e.get('value')}"
                        for e in f.get("evidence") or []
                    ),
                }
            )
        write_atomic(folder / names[route], buf.getvalue())
    return names


def since_last_run(previous: RunBundle | None) -> dict | None:
    """What became of the previous run's plan, from its bundle: approved (by whom, when), applied (outcome counts
    from PLAN.results.csv, written by `reconcile apply` beside the plan), or still waiting; {"first": True} on the
    first run in the reports folder."""
    if previous is None:
        return {"first": True}
    from ..approval import approval_path

    out = {
        "run_id": previous.run_id,
        "plan_id": previous.plan_id,
        "created_at": previous.created_at,
        "ready": (previous.summary.get("changes") or {}).get("ready", 0),
        "approvals": [],
        "outcomes": {},
    }
    approval = approval_path(previous.plan_path)
    if approval.is_file():
        try:
            entries = json.loads(approval.read_text("utf-8")).get("approvals") or []
        except (ValueError, AttributeError):
            entries = []
        out["approvals"] = [
            {"by": e.get("approved_by"), "at": e.get("approved_at")} for e in entries if isinstance(e, dict)
        ]
    results = previous.plan_path.with_name(previous.plan_path.stem + ".results.csv")
    if results.is_file():
        with results.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                out["outcomes"][row["result"]] = out["outcomes"].get(row["result"], 0) + 1
    return out


def _finish(work: Path, run_date: str, plan_id: str) -> Path:
    """A run folder made by run_daily (.running-…) takes its final name <run_date>-<short plan id> here, in the
    kernel, so the notebook shows the bundle's real path; run_daily finds it through <folder>.done."""
    if not work.name.startswith(".running-"):
        return work
    final = _unique(work.parent / f"{run_date}-{plan_id.removeprefix('sha256:')[:8]}")
    work.rename(final)
    write_atomic(work.with_name(work.name + ".done"), final.name)
    return final


CELL_TIMEOUT = 1800  # seconds one notebook cell may run (reconcile run --cell-timeout)
RUN_TIMEOUT = 3 * 3600  # seconds the whole run may take (reconcile run --timeout)


def _checked_run_date(day: str, hint: str = "--date YYYY-MM-DD") -> str:
    """The run date as given when it is a calendar date written YYYY-MM-DD (it names the bundle folder)."""
    from datetime import date

    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            date.fromisoformat(day)
            return day
    except ValueError:
        pass
    raise ReconcileError(f"Run date '{day}' is not a date like 2026-11-27. Pass {hint}.")


def run_daily(
    snapshot_dir: str | Path | None = None,
    pull: bool = False,
    run_date: str | None = None,
    reports_dir: str | Path = "reports",
    policy: str | Path | None = None,
    org: str | None = None,
    lenient: bool = False,
    cell_timeout: float = CELL_TIMEOUT,
    run_timeout: float | None = RUN_TIMEOUT,
) -> RunBundle:
    """Execute the daily notebook with papermill into reports_dir/<run_date>-<short plan id>/; never applies.

    The kernel's own log (Jupyter's warnings) goes to the bundle's kernel.log, not to the caller's stderr. A cell
    running longer than cell_timeout, or the whole run longer than run_timeout (only enforced from the main thread),
    fails the run. A failed run leaves reports_dir/<run_date>-failed[-N]/ with the executed notebook (failing cell
    marked) and FAILURE.md (what failed, where, the traceback's last lines, what to do), and raises ReconcileError.
    """
    import papermill as pm

    run_date = _checked_run_date(run_date) if run_date else _utc_now()[:10]
    root = Path(reports_dir).resolve()
    work = root / f".running-{run_date}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    executed = root / f"{work.name}.ipynb"  # outside the folder: the kernel renames the folder when it is done
    params = {
        "snapshot_dir": str(Path(snapshot_dir).resolve()) if snapshot_dir else "",
        "pull": bool(pull),
        "run_date": run_date,
        "work_dir": str(work),
        "policy_path": str(Path(policy).resolve()) if policy else "",
        "lenient": bool(lenient),
        "org": org or "",
    }
    try:
        with _kernel_log(work / "kernel.log"), _deadline(run_timeout):
            pm.execute_notebook(
                str(DAILY_NOTEBOOK),
                str(executed),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                cwd=os.getcwd(),  # relative paths in the environment (RECONCILE_CLAY_DIR, SF_PRIVATE_KEY_FILE…) as for pull
                execution_timeout=max(1, round(cell_timeout)),
            )
    except (pm.PapermillExecutionError, RunTimeout, TimeoutError, RuntimeError) as e:
        raise _fail(root, run_date, work, executed, e, cell_timeout, run_timeout) from e
    final = _moved(work)  # kernel.log moved with its folder
    executed.rename(final / "daily_run.ipynb")
    from ..report.digest import (
        build_digest,
    )  # the week's connector review, which the report links to, includes this run

    build_digest(run_date, reports_dir=root)
    return RunBundle.from_dir(final)


class RunTimeout(Exception):
    """The whole run took longer than its timeout."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Raise RunTimeout in the main thread after `seconds` (papermill then shuts the kernel down)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise RunTimeout(f"the run took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _kernel_log(path: Path):
    """Send what the kernel process writes to stderr (it inherits our fd 2) to `path` for the run's duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _moved(work: Path) -> Path:
    """Where plan_bundle() moved the finished run's folder (it leaves the name in <folder>.done), or the folder itself."""
    marker = work.with_name(work.name + ".done")
    if not marker.is_file():
        return work
    final = work.with_name(marker.read_text("utf-8").strip())
    marker.unlink()
    return final


def _fail(
    root: Path, run_date: str, work: Path, executed: Path, e: Exception, cell_timeout: float, run_timeout: float | None
) -> ReconcileError:
    """Move what the failed run left into <run_date>-failed/, write FAILURE.md, and say what happened."""
    here = _moved(work)
    failed = _unique(root / f"{run_date}-failed")
    here.rename(failed)
    if executed.exists():
        executed.rename(failed / "daily_run.ipynb")
    (failed / "summary.json").unlink(missing_ok=True)  # a failed run is never listed as a finished one
    if isinstance(e, (RunTimeout, TimeoutError)):
        limit = (
            f"the whole run took longer than {run_timeout:g} s"
            if isinstance(e, RunTimeout)
            else f"a cell ran longer than {cell_timeout:g} s"
        )
        what = f"The run was stopped: {limit} (reconcile run --timeout / --cell-timeout)"
        where, tail = "the cell that was running (marked in the notebook)", ""
    elif hasattr(e, "exec_count"):
        what = f"{e.ename}: {e.evalue}"
        where = f"notebook cell {e.exec_count}"
        tail = "\n".join(_plain(line) for line in (e.traceback or [])[-12:])
    else:
        what, where, tail = str(e), "starting the notebook kernel", ""
    (failed / "FAILURE.md").write_text(
        f"# Daily run {run_date} failed\n\n- **What:** {what}\n- **Where:** {where} of "
        f"`daily_run.ipynb` in this folder\n- **What to do:** read the marked cell in `daily_run.ipynb` (and "
        f"`kernel.log`); fix the input or setting it names, then rerun `reconcile run`. Nothing was written to "
        f"Salesforce: the daily run never applies.\n\n## Last lines of the traceback\n\n```\n{tail}\n```\n",
        "utf-8",
    )
    return ReconcileError(
        f"Daily run failed in {where} ({what}). The executed notebook, with the failing cell "
        f"marked, is '{failed / 'daily_run.ipynb'}'; see '{failed / 'FAILURE.md'}'."
    )


def _plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def _unique(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, … when a run of the same day and plan already exists."""
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _write_json(path: Path, doc) -> None:
    write_atomic(path, json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def _utc_now() -> str:
    return iso()
