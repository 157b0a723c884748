"""Terminal rendering for the CLI: plan summaries and progress. No business logic."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import planfile
from .errors import ReconcileError
from .files import short_id

err = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get full tables, not 80 columns


class Steps:
    """Progress of a long command: a bar with %, elapsed time and ETA on a terminal; periodic plain lines on stderr
    otherwise (`[planning 12.3s] 14/44 reading clay/replies.csv`, at most one every EVERY seconds and none in the
    first EVERY seconds, so a quick command — or one that stops on bad input — prints only its result), so cron logs
    show where a long run is; RECONCILE_PROGRESS_EVERY sets EVERY (seconds). Call it with each step's text;
    `expect(n)` announces how many steps there are."""

    EVERY = 2.0

    def __init__(self, label: str, tty: bool):
        self.label, self.tty, self.done, self.total = label, tty, 0, None
        self.every = progress_every()
        self.started = self.printed = time.monotonic()
        self.bar = None
        if tty:
            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self.task = self.bar.add_task(label, total=None)

    def expect(self, total: int) -> None:
        self.total = total
        if self.bar:
            self.bar.update(self.task, total=total)

    def skip(self, steps: int) -> None:
        """Count `steps` more as done without a line of their own (files read in the same scan as the last step's)."""
        self.done += steps

    def __call__(self, msg: str) -> None:
        self.done += 1
        if self.bar:
            self.bar.update(self.task, completed=self.done - 1, description=f"{self.label}: {msg}")
            return
        now = time.monotonic()
        if now - self.printed < self.every:
            return
        self.printed = now
        of = f"/{self.total}" if self.total else ""
        print(f"[{self.label.lower()} {now - self.started:.1f}s] {self.done}{of} {msg}", file=sys.stderr, flush=True)


def progress_every() -> float:
    """Seconds between two progress lines in a log (RECONCILE_PROGRESS_EVERY, default Steps.EVERY).
    ReconcileError: a value that is not a number of seconds ≥ 0."""
    raw = os.environ.get("RECONCILE_PROGRESS_EVERY", "").strip()
    if not raw:
        return Steps.EVERY
    try:
        every = float(raw)
    except ValueError:
        every = -1.0
    if not every >= 0 or every == float("inf"):
        raise ReconcileError(
            f"RECONCILE_PROGRESS_EVERY = '{raw}' is not a number of seconds: set e.g. 2 (a progress line at most every "
            "2 s), 0 (one per step) or unset it."
        )
    return every


@contextlib.contextmanager
def progress_status(label: str):
    """A Steps progress for the duration of a command (see Steps)."""
    steps = Steps(label, sys.stderr.isatty())
    if steps.bar is None:
        yield steps
        return
    with steps.bar:
        yield steps


def plan_summary_text(plan: dict, extra: dict | None = None) -> None:
    s = plan["summary"]
    ch = s["changes"]
    out.print(
        f"[bold]Plan[/bold] {short_id(plan['plan_id'])}  "
        f"[green]{ch['ready']} ready[/green], [yellow]{ch['blocked']} blocked[/yellow], "
        f"{s['findings']['total']} findings, {s['rejects']['total']} rejected rows"
    )
    t = Table(title="Changes by field", show_lines=False)
    for col in ("field", "ready", "blocked"):
        t.add_column(col, justify="left" if col == "field" else "right")
    for key, c in s["by_field"].items():
        t.add_row(key, str(c["ready"]), str(c["blocked"]))
    out.print(t)
    if s["by_reason"]:
        t = Table(title="Blocked, by reason")
        t.add_column("reason")
        t.add_column("changes", justify="right")
        for reason, n in s["by_reason"].items():
            t.add_row(reason, str(n))
        out.print(t)
    if s["findings"]["by_kind"]:
        t = Table(title="Findings")
        t.add_column("kind")
        t.add_column("count", justify="right")
        route_of = dict(planfile.pairs(plan, "select kind, any_value(route) from findings group by 1"))
        t.add_column("route")
        for kind, n in s["findings"]["by_kind"].items():
            t.add_row(kind, str(n), route_of.get(kind, ""))
        out.print(t)
    if plan["gates"]:
        for g in plan["gates"]:
            out.print(f"[red]Gate[/red] {g['gate']}: {g['message']}")
    out.print(
        f"Cold-lead pool: {s['eligibility']['eligible_now']} eligible now, "
        f"{s['eligibility']['leaving_pool']} leave the pool once the plan applies."
    )
    inputs_text(s.get("inputs") or {})
    for label, value in (extra or {}).items():
        out.print(f"{label}: {value}")


def inputs_text(inputs: dict) -> None:
    """Which files fed which source (records = planned from + rejected), the records of them no rule reads, the
    ignored files and input warnings."""
    if not inputs:
        return
    t = Table(title="Inputs read")
    for col in ("source", "files", "records", "planned from", "rejected", "behind Salesforce"):
        t.add_column(col, justify="left" if col == "source" else "right")
    files = inputs.get("files") or []
    for name, src in (inputs.get("sources") or {}).items():
        mine = [f for f in files if f["file"].split("/")[0].lower() == name]
        behind = "—" if src["behind_sfdc_hours"] is None else f"{src['behind_sfdc_hours']:g} h"
        t.add_row(
            name if src["present"] else f"{name} (not provided)",
            str(src["files"]),
            str(src["records"]),
            str(sum(f["staged"] for f in mine)),
            str(sum(f["rejected"] for f in mine)),
            behind,
        )
    out.print(t)
    files_text(files)
    for n in inputs.get("not_used") or []:
        out.print(f"'{n['file']}': {n['records']} records not used — {n['reason']}", markup=False, highlight=False)
    for w in inputs.get("warnings") or []:
        out.print(f"[yellow]Warning[/yellow] {w}")


FILES_SHOWN = 20  # more files than this (a Smartlead account's campaign exports): only those with rejected rows


def files_text(files: list[dict]) -> None:
    """Each file's records = planned from + rejected (every file up to FILES_SHOWN, else those with rejected rows)."""
    shown = files if len(files) <= FILES_SHOWN else [f for f in files if f["rejected"]]
    if shown:
        t = Table(title="Inputs by file")
        for col in ("file", "records", "planned from", "rejected"):
            t.add_column(col, justify="left" if col == "file" else "right")
        for f in shown:
            t.add_row(f["file"], str(f["records"]), str(f["staged"]), str(f["rejected"]))
        out.print(t)
    if len(shown) < len(files):
        rest = len(files) - len(shown)
        out.print(f"{rest} more files, every record planned from (summary.inputs.files lists every file).")


def run_summary_text(bundle) -> None:
    """One screen for the cron log: the run's counts, gates, input warnings and where the bundle is."""
    s = bundle.summary
    ch, fi = s["changes"], s["findings"]
    lines = [
        f"Daily run {bundle.run_id} · plan {short_id(bundle.plan_id)}",
        f"Changes: {ch['ready']} ready, {ch['blocked']} blocked · findings: {fi['total']} ("
        + ", ".join(f"{route} {n}" for route, n in fi["by_route"].items())
        + ")"
        + f" · rejected rows: {s['rejects']['total']}",
    ]
    if s.get("gates"):
        lines.append(f"Gates: {s['gates']} plan-level gate(s) — approval must override them with a reason")
    lines += [f"Warning: {w}" for w in (s.get("inputs") or {}).get("warnings", [])]
    lines += [
        f"Run bundle: {bundle.path}",
        f"HTML report: {bundle.report}",
        "Nothing was written to Salesforce: approve and apply the plan (apply.ipynb or reconcile apply).",
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False)
