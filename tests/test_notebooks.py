"""The notebooks, executed by papermill with a real kernel on fixture data, and what each one produced.

One demo snapshot and two daily runs per module (kernel start is the cost); the apply panel is driven
in-process against a sandbox org started in the test, reached over HTTPS with credentials from env vars.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import nbformat
import papermill as pm
import pytest

from conftest import HANDMADE, REPO, policy_with, sandbox_env, seed
from reconcile.approval import approval_path
from reconcile.build import build_plan
from reconcile.demo_data import generate_snapshot
from reconcile.errors import ReconcileError
from reconcile.notebook.run import list_runs, plan_bundle, run_daily

NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SECRET = "00Dsecret!SESSION-do-not-leak"
SECTIONS = (
    "headline-counts",
    "changes",
    "by-field",
    "by-rule",
    "by-campaign",
    "by-gbu",
    "blocked",
    "hard-bounce",
    "findings",
    "rejects",
    "connector-errors",
    "trends",
    "samples",
)
SYSTEM_FIELDS = {"SystemModstamp", "LastModifiedDate", "LastModifiedById"}


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def execute(name: str, out_dir: Path, **parameters) -> nbformat.NotebookNode:
    out = out_dir / f"{name}.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(out_dir),
    )
    return nbformat.read(out, as_version=4)


def outputs(nb, mime: str) -> list[str]:
    return [
        str(o["data"][mime]) for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})
    ]


def stream_text(nb) -> str:
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )


def widget_models(nb, model_name: str) -> list[dict]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [m["state"] for m in state.values() if m["model_name"] == model_name]


def tile(page: str, key: str) -> str:
    return re.search(rf'data-count="{key}">([^<]*)<', page).group(1)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------ module fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="module")
def demo_snapshot(work) -> Path:
    """A small generated demo snapshot, taken now (so apply accepts its age)."""
    generate_snapshot(work / "demo", leads=120, seed=7, taken_at=now_utc())
    return work / "demo"


@pytest.fixture(scope="module")
def runs(work, demo_snapshot):
    """Two daily runs into one reports dir: the handmade fixture yesterday, the demo snapshot today.

    A session id sits in the environment throughout, to prove it never reaches a bundle.
    """
    reports = work / "reports"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SF_SESSION_ID", SECRET)
        first = run_daily(snapshot_dir=HANDMADE, run_date="2026-11-26", reports_dir=reports)
        second = run_daily(snapshot_dir=demo_snapshot, run_date="2026-11-27", reports_dir=reports)
    return reports, first, second


@pytest.fixture
def sandbox(sandbox_org, demo_snapshot, monkeypatch):
    """The local org seeded from the demo snapshot; SF_* env vars point at it (as in the apply notebook)."""
    seed(sandbox_org, demo_snapshot)
    for name, value in sandbox_env(sandbox_org).items():
        monkeypatch.setenv(name, value)
    return sandbox_org


@pytest.fixture
def fresh_plan(demo_snapshot, tmp_path) -> Path:
    """A plan of the demo snapshot of this test's own (approval and audit land beside it)."""
    return build_plan(demo_snapshot, out=tmp_path / "plan.json").plan_path


def org_state(handle) -> dict:
    return {obj: handle.org.records(obj) for obj in ("Lead", "CampaignMember", "Contact", "Campaign")}


def changed_fields(before: dict, after: dict) -> set[tuple[str, str, str]]:
    out = set()
    for obj, rows in after.items():
        for rid, row in rows.items():
            old = before[obj].get(rid, {})
            out |= {(obj, rid, f) for f in set(row) | set(old) if f not in SYSTEM_FIELDS and row.get(f) != old.get(f)}
    return out


def test_papermill_kernel_is_this_virtualenv(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "which.ipynb")
    out = pm.execute_notebook(
        str(tmp_path / "which.ipynb"), str(tmp_path / "which.out.ipynb"), kernel_name="python3", progress_bar=False
    )
    assert Path(out.cells[0].outputs[0]["text"].strip()) == Path(sys.executable)


# ------------------------------------------------------------------------------------------ daily run


def test_daily_run_writes_a_bundle_named_after_date_and_plan(runs):
    reports, first, second = runs
    for bundle, date in ((first, "2026-11-26"), (second, "2026-11-27")):
        assert re.fullmatch(rf"{date}-[0-9a-f]{{8}}", bundle.run_id)
        assert bundle.run_id.endswith(bundle.plan_id.removeprefix("sha256:")[:8])
        for path in (
            bundle.notebook,
            bundle.report,
            bundle.plan_path,
            bundle.changes_csv,
            bundle.changes_parquet,
            bundle.fingerprints,
            bundle.history,
            bundle.db_path,
        ):
            assert path.is_file(), path
    assert [b.run_id for b in list_runs(reports)] == [first.run_id, second.run_id]
    assert not [p for p in reports.iterdir() if p.name.startswith(".running")]


def test_executed_notebook_carries_parameters_and_no_errors(runs):
    _, first, _ = runs
    nb = nbformat.read(first.notebook, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and str(HANDMADE) in injected[0].source and "2026-11-26" in injected[0].source
    assert all(o.output_type != "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


def test_fingerprints_are_the_input_files_sha256(runs):
    _, first, _ = runs
    doc = json.loads(first.fingerprints.read_text("utf-8"))
    files = {
        p.relative_to(HANDMADE).as_posix(): sha256(p)
        for p in HANDMADE.rglob("*")
        if p.is_file() and p.name != "manifest.toml"
    }
    assert {k: v for k, v in doc["files"].items() if k in files} == files
    assert set(files) <= set(doc["files"]) and doc["policy"].startswith("sha256:")
    assert doc["snapshot_dir"] == str(HANDMADE)  # a snapshot given from outside the bundle: its own path


def test_report_sections_and_headline_counts_equal_the_plan(runs):
    _, _, second = runs
    page = second.report.read_text("utf-8")
    s = second.plan["summary"]
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert tile(page, "ready") == f"{s['changes']['ready']:,}"
    assert tile(page, "blocked") == f"{s['changes']['blocked']:,}"
    assert tile(page, "findings") == f"{s['findings']['total']:,}"
    assert tile(page, "rejects") == f"{s['rejects']['total']:,}"
    assert tile(page, "leaving") == f"{s['eligibility']['leaving_pool']:,}"
    assert "2026-11-27" in page
    assert "2 runs; the chart shows" in page  # this run plus the one before it


def test_history_holds_earlier_runs_oldest_first(runs):
    _, first, second = runs
    assert json.loads(first.history.read_text("utf-8")) == []
    history = json.loads(second.history.read_text("utf-8"))
    assert [h["run_id"] for h in history] == [first.run_id]
    assert history[0]["summary"] == first.plan["summary"] and history[0]["created_at"] == first.created_at


def test_no_bundle_file_carries_the_session_id(runs):
    reports, _, _ = runs
    leaks = [
        p for p in reports.rglob("*") if p.is_file() and p.suffix != ".duckdb" and SECRET.encode() in p.read_bytes()
    ]
    assert leaks == []


def test_pull_reads_salesforce_into_the_bundle_and_keeps_the_other_sources(sandbox, demo_snapshot, tmp_path):
    before = org_state(sandbox)
    bundle = run_daily(snapshot_dir=demo_snapshot, pull=True, run_date="2026-11-27", reports_dir=tmp_path / "reports")
    snap = bundle.path / "snapshot"
    assert (snap / "sfdc" / "Lead.csv").is_file() and (snap / "sfdc" / "describe" / "Lead.json").is_file()
    assert sorted(p.name for p in (snap / "clay").iterdir()) == sorted(
        p.name for p in (demo_snapshot / "clay").iterdir()
    )
    assert bundle.summary["records"]["Lead"] == len(before["Lead"])
    assert org_state(sandbox) == before  # the daily run never writes
    assert sandbox.session_id not in bundle.notebook.read_text("utf-8")
    # the pulled snapshot is named where it is: in the bundle (not the temporary folder the run was built in)
    assert json.loads(bundle.fingerprints.read_text("utf-8"))["snapshot_dir"] == "snapshot"


def test_pull_reads_relative_paths_in_the_environment_from_where_run_was_started(demo_snapshot, tmp_path, monkeypatch):
    # README Daily unattended run: `cd /srv/reconcile && set -a && . ./env && reconcile run --pull`; a relative
    # RECONCILE_CLAY_DIR (or SF_PRIVATE_KEY_FILE=reconcile.key) means the folder `reconcile pull` reads from there too
    drop = tmp_path / "clay-drop"
    drop.mkdir()
    (drop / "enrichment 2026-11-27T05-50-00.csv").write_bytes((demo_snapshot / "clay" / "enrichment.csv").read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILE_PULL_SOURCES", "clay")
    monkeypatch.setenv("RECONCILE_CLAY_DIR", "clay-drop")
    bundle = run_daily(snapshot_dir=demo_snapshot, pull=True, run_date="2026-11-27", reports_dir="reports")
    pulled = bundle.path / "snapshot" / "clay" / "enrichment.csv"
    assert pulled.read_bytes() == (drop / "enrichment 2026-11-27T05-50-00.csv").read_bytes()


def test_failed_run_keeps_the_marked_notebook_and_is_not_listed(work):
    reports = work / "failing-reports"
    with pytest.raises(ReconcileError, match=r"Daily run failed in notebook cell .*daily_run\.ipynb"):
        run_daily(snapshot_dir=work / "no-such-snapshot", run_date="2026-11-27", reports_dir=reports)
    failed = reports / "2026-11-27-failed" / "daily_run.ipynb"
    assert failed.is_file()
    assert list_runs(reports) == []


@pytest.mark.parametrize("limits", [{"cell_timeout": 1}, {"run_timeout": 2}], ids=["cell", "run"])
def test_a_run_past_its_timeout_stops_with_a_failure_report(work, limits):
    snap = work / "snapshot-20k"
    if not snap.exists():  # planning 20,000 leads takes a few seconds: longer than either limit
        generate_snapshot(snap, leads=20_000)
    reports = work / f"slow-{next(iter(limits))}"
    with pytest.raises(ReconcileError, match=r"Daily run failed in .*FAILURE\.md"):
        run_daily(snapshot_dir=snap, run_date="2026-11-27", reports_dir=reports, **limits)
    failed = reports / "2026-11-27-failed"
    report = (failed / "FAILURE.md").read_text("utf-8")
    assert "The run was stopped" in report and "What to do" in report
    assert (failed / "daily_run.ipynb").is_file()
    assert list_runs(reports) == [] and not [p for p in reports.iterdir() if p.name.startswith(".running")]


def test_reconcile_run_prints_one_screen_for_the_cron_log(work, demo_snapshot, run_cli):
    result = run_cli("run", "--snapshot", demo_snapshot, "--date", "2026-11-29", "--reports-dir", work / "cli-runs")
    assert result.exit_code == 0, result.stderr
    (bundle,) = list_runs(work / "cli-runs")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Daily run {bundle.run_id} · plan sha256:")
    ch = bundle.summary["changes"]
    assert lines[1].startswith(
        f"Changes: {ch['ready']} ready, {ch['blocked']} blocked · findings: {bundle.summary['findings']['total']} ("
    )
    assert f"Run bundle: {bundle.path}" in lines and f"HTML report: {bundle.report}" in lines
    assert len(lines) < 25 and "Kernel is running" not in result.stdout + result.stderr

    typo = run_cli("run", "--snapshot", work / "nope", "--date", "2026-11-29", "--reports-dir", work / "cli-fail")
    assert typo.exit_code == 2 and not (work / "cli-fail").exists()  # a usage error, before any bundle
    (work / "empty-snapshot").mkdir()  # exists, holds no Lead file: the plan fails inside the notebook
    failed = run_cli(
        "run", "--snapshot", work / "empty-snapshot", "--date", "2026-11-29", "--reports-dir", work / "cli-fail"
    )
    assert failed.exit_code == 1
    assert failed.stderr.startswith("Error: Daily run failed in notebook cell ") and failed.stderr.count("\n") == 1


@pytest.mark.parametrize("day", ["2026-13-45", "27/11/2026", "20261127", "../../elsewhere", ""])
def test_a_run_date_that_is_not_a_date_is_a_usage_error_before_anything_runs(tmp_path, run_cli, day):
    """--date names the bundle folder: a typo is refused before a notebook runs or a folder is made — a usage
    error (exit 2) as other bad option values are; an empty --date ran as today."""
    reports = tmp_path / "reports"
    r = run_cli("run", "--snapshot", HANDMADE, "--date", day, "--reports-dir", reports)
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--date': Run date '{day}' is not a date like 2026-11-27. Pass --date YYYY-MM-DD."
    )
    assert not reports.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_policy_file_is_said_before_a_notebook_runs(tmp_path, run_cli):
    """As an unknown --org is: one error line naming the file, no kernel started, no failed bundle left."""
    reports = tmp_path / "reports"
    r = run_cli("run", "--snapshot", HANDMADE, "--policy", tmp_path / "nope.toml", "--reports-dir", reports)
    assert r.exit_code == 1 and not reports.exists()
    assert r.stderr == (
        f"Error: Policy file '{tmp_path / 'nope.toml'}' cannot be read (No such file or directory). Pass an existing "
        "file to --policy.\n"
    )


def test_a_failed_cell_is_named_with_the_last_lines_of_its_traceback(work):
    reports = work / "failing-report"
    with pytest.raises(ReconcileError):
        run_daily(snapshot_dir=work / "no-such-snapshot", run_date="2026-11-27", reports_dir=reports)
    report = (reports / "2026-11-27-failed" / "FAILURE.md").read_text("utf-8")
    assert "**Where:** notebook cell" in report
    assert "SnapshotError" in report and "no-such-snapshot" in report and "\x1b[" not in report


def test_the_kernels_noise_goes_to_the_bundle_and_the_notebook_shows_the_real_path(work, demo_snapshot, capfd):
    bundle = run_daily(snapshot_dir=demo_snapshot, run_date="2026-11-28", reports_dir=work / "quiet")
    err = capfd.readouterr().err
    assert "Kernel is running over TCP" not in err
    assert "Kernel is running over TCP" in (bundle.path / "kernel.log").read_text("utf-8")
    shown = "".join(
        o.get("data", {}).get("text/plain", "")
        for c in nbformat.read(bundle.notebook, 4).cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert bundle.path.name in shown and ".running" not in shown


# ------------------------------------------------------------------------------------------ report, explore


def test_report_notebook_runs_offline_with_its_defaults(tmp_path):
    nb = execute("report", tmp_path)  # no runs in tmp_path/reports: a demo run is built offline
    assert (tmp_path / "reports" / ".notebook-demo" / "report.html").is_file()
    assert any('id="headline-counts"' in html.unescape(h) for h in outputs(nb, "text/html"))


def test_report_notebook_renders_the_report_inline(runs, tmp_path):
    reports, first, second = runs
    nb = execute(
        "report",
        tmp_path,
        plan_path=str(second.plan_path),
        reports_dir=str(reports),
        out_path=str(tmp_path / "marcom.html"),
        title="MARCOM Ops daily",
    )
    page = (tmp_path / "marcom.html").read_text("utf-8")
    assert "MARCOM Ops daily" in page and tile(page, "ready") == f"{second.summary['changes']['ready']:,}"
    frames = [html.unescape(h) for h in outputs(nb, "text/html") if "<iframe sandbox=" in h and " srcdoc=" in h]
    assert len(frames) == 1
    for section in SECTIONS:
        assert f'id="{section}"' in frames[0], section
    assert "2 runs; the chart shows" in page  # the earlier run feeds the trends


def test_report_notebook_on_a_run_renders_the_report_the_run_rendered(runs, tmp_path):
    """Its defaults write report.html beside the latest run's plan: the same page as the run's (title with the run
    date, the week's review link, the findings CSVs, since last run), not a poorer one over it."""
    reports, _, second = runs
    before = second.report.read_bytes()
    execute("report", tmp_path, reports_dir=str(reports))
    assert second.report.read_bytes() == before
    assert (
        "Reconciliation report — 2026-11-27" in before.decode() and 'href="../weekly/2026-W48.html"' in before.decode()
    )


def test_a_daily_notebook_run_outside_run_daily_links_no_weekly_review_it_does_not_have(tmp_path):
    bundle = plan_bundle(snapshot_dir=str(HANDMADE), run_date="2026-11-27", work_dir=str(tmp_path / "nb-run"))
    page = bundle.report.read_text("utf-8")
    assert "weekly/" not in page and not (tmp_path / "weekly").exists()
    assert 'id="headline-counts"' in page


def test_the_inline_report_is_sandboxed_away_from_the_notebook(tmp_path):
    """The report shown inline runs in a sandboxed frame of its own origin: were script ever to get into it, it could
    neither run nor reach the notebook page (and its kernel); record links still open in a new tab."""
    from reconcile.notebook.explore import report_frame

    page = tmp_path / "r.html"
    page.write_text('<p>report</p><a href="https://acme.my.salesforce.com/x" target="_blank">x</a>', "utf-8")
    frame = report_frame(page).data
    sandbox = re.search(r'<iframe sandbox="([^"]*)" srcdoc=', frame)
    assert sandbox, frame[:200]
    assert set(sandbox.group(1).split()) == {"allow-popups", "allow-popups-to-escape-sandbox"}


def test_explore_notebook_shows_headlines_filters_and_an_explanation(runs, tmp_path):
    _, _, second = runs
    record = next(c["record_id"] for c in second.plan["changes"] if c["status"] == "blocked")
    nb = execute("explore", tmp_path, plan_path=str(second.plan_path), record_id=record)
    tables = "".join(outputs(nb, "text/html"))
    assert "Changes by field" in tables and "Findings by kind and route" in tables
    assert outputs(nb, "application/vnd.jupyter.widget-view+json")
    dropdowns = {d["description"]: d for d in widget_models(nb, "DropdownModel")}
    assert set(dropdowns) == {"Rule", "Field", "Finding kind", "Campaign", "GBU"}
    assert "reply_set_once" in dropdowns["Rule"]["_options_labels"]
    assert all(d["index"] == 0 and d["_options_labels"][0] == "(all)" for d in dropdowns.values())  # shown, not blank
    (tables,) = [m["value"] for m in widget_models(nb, "HTMLModel") if "Changes (" in m.get("value", "")]
    shown = min(second.summary["changes"]["total"], 50)
    changes_table = tables.split("<h4>")[1]
    assert changes_table.count("<tr>") >= shown + 1  # every row it says it shows (+ header), not polars' default 10
    assert f"Record {record}" in stream_text(nb) and "BLOCKED" in stream_text(nb)


# ------------------------------------------------------------------------------------------ apply


def test_apply_notebook_shows_the_panel_and_writes_nothing(sandbox, fresh_plan, tmp_path):
    before = org_state(sandbox)
    nb = execute("apply", tmp_path, plan_path=str(fresh_plan))
    assert org_state(sandbox) == before
    assert not approval_path(fresh_plan).exists()
    con = duckdb.connect(str(fresh_plan.parent / "reconcile.duckdb"), read_only=True)
    try:
        assert (
            con.execute("select count(*) from information_schema.tables where table_name = 'audit'").fetchone()[0] == 0
        )
    finally:
        con.close()
    buttons = [b for b in widget_models(nb, "ButtonModel") if b["description"] == "Apply"]
    assert len(buttons) == 1 and buttons[0]["disabled"] is True
    assert "First changes per field" in "".join(outputs(nb, "text/html"))
    assert sandbox.session_id not in json.dumps(nb)


def test_apply_panel_writes_exactly_the_ticked_field(sandbox, fresh_plan):
    from reconcile.notebook.apply_ui import ApplyPanel
    from reconcile.salesforce import connect

    panel = ApplyPanel(fresh_plan, client_factory=connect)
    key = "CampaignMember.Has_Replied__c"
    assert panel.apply_button.disabled and panel.gate_reason not in panel.children
    assert panel.field_boxes["Lead.Industry"].disabled  # pending Legal: nothing ready to tick
    before = org_state(sandbox)
    panel.click_apply()
    assert panel.result is None and not approval_path(fresh_plan).exists()
    panel.name.value = "Ana Admin"
    assert panel.apply_button.disabled
    panel.field_boxes[key].value = True
    assert not panel.apply_button.disabled

    panel.click_apply()

    ready = {
        ("CampaignMember", c["record_id"], "Has_Replied__c")
        for c in panel.plan["changes"]
        if f"{c['object']}.{c['field']}" == key and c["status"] == "ready"
    }
    assert ready and panel.error is None
    assert changed_fields(before, org_state(sandbox)) == ready
    assert panel.result.counts == {"applied": len(ready)}
    assert panel.progress.value == panel.progress.max == len(ready)
    approval = json.loads(approval_path(fresh_plan).read_text("utf-8"))["approvals"][-1]
    assert approval["approved_by"] == "Ana Admin" and approval["scope"]["fields"] == [key]
    assert "applied" in panel.output.value and "Ana Admin" in panel.output.value
    assert panel.output.value.count("<tr>") >= 2 * len(ready)  # pending + applied audit rows


def test_apply_panel_needs_a_gate_reason_when_the_plan_has_gates(sandbox, demo_snapshot, tmp_path):
    from reconcile.notebook.apply_ui import ApplyPanel
    from reconcile.salesforce import connect

    policy = policy_with(tmp_path, replace={"max_ready_changes_per_field = 5000": "max_ready_changes_per_field = 2"})
    plan_path = build_plan(demo_snapshot, out=tmp_path / "plan.json", policy=policy).plan_path
    before = org_state(sandbox)
    panel = ApplyPanel(plan_path, client_factory=connect, policy=policy)  # gates come from the policy
    assert panel.has_gates and panel.gate_reason in panel.children
    panel.name.value = "Ana Admin"
    panel.field_boxes["CampaignMember.Has_Replied__c"].value = True
    assert panel.apply_button.disabled
    panel.gate_reason.value = "replies backlog after the Smartlead outage"
    assert not panel.apply_button.disabled
    panel.gate_reason.value = "  "
    panel.click_apply()
    assert panel.result is None and not approval_path(plan_path).exists()
    assert org_state(sandbox) == before


# ------------------------------------------------------------------------------------------ browser


@pytest.mark.browser
def test_daily_report_opens_in_chromium_without_errors(runs):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    _, _, second = runs
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("request", lambda r: None if r.url.startswith("file:") else problems.append(f"request: {r.url}"))
            page.goto(second.report.as_uri())
            assert page.locator("#headline").is_visible()
            assert page.locator('[data-count="ready"]').inner_text() == f"{second.summary['changes']['ready']:,}"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "daily_report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []


def test_explore_runs_twice_in_one_process_on_the_rebuilt_demo(tmp_path):
    """Run All twice in one kernel: the second demo build must not collide with the first run's read-only
    connection ("Can't open a connection to same database file with a different configuration")."""
    from reconcile.notebook.explore import headline, locate, open_db

    for _ in range(2):
        plan, db = locate("", "", str(tmp_path / "reports"))
        assert "Changes by field" in headline(open_db(db))


def test_each_route_gets_all_its_findings_as_a_csv_linked_from_the_report(runs):
    _, first, second = runs
    report = second.report.read_text("utf-8")
    for route, n in second.summary["findings"]["by_route"].items():
        name = "findings-" + re.sub(r"[^a-z0-9]+", "-", route.lower()).strip("-") + ".csv"
        with (second.path / name).open(encoding="utf-8", newline="") as fh:
            rows = list(__import__("csv").DictReader(fh))
        assert len(rows) == n and {r["route"] for r in rows} == {route}
        assert all(r["evidence"] for r in rows)
        assert f'href="{name}"' in report
    assert 'id="since-last-run"' in report and first.run_id in report and "was not approved" in report


# ------------------------------------------------------------------------------------------ bad parameters


NO_PLAN = "PlanError: Plan 'no-such/plan.json' cannot be read (No such file or directory)."


@pytest.mark.parametrize(
    "notebook, params, error",
    [
        (
            "daily_run",
            {"snapshot_dir": "no-such-snapshot"},
            "SnapshotError: Snapshot directory 'no-such-snapshot' does not exist.",
        ),
        (
            "daily_run",
            {"snapshot_dir": str(HANDMADE), "run_date": "27/11/2026"},
            "ReconcileError: Run date '27/11/2026' is not a date like 2026-11-27. Pass -p run_date YYYY-MM-DD.",
        ),
        ("explore", {"plan_path": "no-such/plan.json"}, NO_PLAN),
        ("report", {"plan_path": "no-such/plan.json"}, NO_PLAN),
        ("apply", {"plan_path": "no-such/plan.json"}, NO_PLAN),
    ],
    ids=["snapshot_dir", "run_date", "explore-plan", "report-plan", "apply-plan"],
)
def test_a_bad_papermill_parameter_is_one_error_line_and_leaves_no_finished_run(tmp_path, notebook, params, error):
    """`papermill notebooks/X.ipynb out.ipynb -p …` as README shows: the cell's error is the one line the CLI would
    print (papermill echoes it), not a call stack through reconcile or DuckDB; nothing looks like a finished run."""
    with pytest.raises(pm.PapermillExecutionError) as caught:
        execute(notebook, tmp_path, **params)
    (line,) = caught.value.traceback
    assert line.startswith(error)
    assert list_runs(tmp_path / "reports") == []
    assert not (tmp_path / "reports" / "notebook-run" / "plan.json").exists()


def test_a_run_folder_failing_after_its_plan_is_not_listed_as_a_finished_run(tmp_path, monkeypatch):
    """A direct papermill run writes into work_dir itself: summary.json, which makes a folder a finished run, comes last."""
    from reconcile.notebook.run import plan_bundle
    from reconcile.report import report

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "render_report", broken)
    with pytest.raises(OSError):
        plan_bundle(str(HANDMADE), work_dir=str(tmp_path / "reports" / "notebook-run"))
    assert (tmp_path / "reports" / "notebook-run" / "plan.json").is_file()
    assert list_runs(tmp_path / "reports") == []


def test_explore_names_a_missing_duckdb_file_and_the_parameter_to_fix(tmp_path):
    from reconcile.notebook.explore import open_db

    with pytest.raises(ReconcileError) as caught:
        open_db(tmp_path / "no-such.duckdb")
    assert caught.value._render_traceback_() == [
        f"ReconcileError: DuckDB file '{tmp_path / 'no-such.duckdb'}' does not exist. Pass db_path the "
        "reconcile.duckdb of the plan's run (empty: the one beside the plan)."
    ]
