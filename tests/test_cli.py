"""Every command teaches (--help with an example or a description) and is documented in the README."""

import json
import os
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import HANDMADE, policy_with
from reconcile.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")


def _commands(group, prefix=""):
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


COMMANDS = list(_commands(app))
GROUPS = sorted(name for name, cmd in app.commands.items() if hasattr(cmd, "commands"))


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_has_help(name):
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) > 5


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS] + GROUPS)
def test_every_command_help_gives_an_example_to_copy(name):
    """An indented `reconcile <name> …` line (or the cron line of `run`) in the --help text; a group's shows one of
    its commands."""
    out = CliRunner().invoke(app, [*name.split(), "--help"]).output
    assert re.search(rf"^\s+(\S+ )*(\.venv/bin/)?reconcile {re.escape(name)}\b", out, re.MULTILINE), out


RESUMABLE = {
    "apply",
    "pull",
    "preflight",
    "run",
    "demo",
}  # they talk to Salesforce: a session or API limit may stop them


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS] + [""] + GROUPS)
def test_every_command_help_states_its_exit_codes(name):
    """README's exit codes, where a person looks first: 0, 1, 2, and 3 (rerun to resume) for the commands whose
    Salesforce calls can stop cleanly."""
    out = " ".join(CliRunner().invoke(app, [*name.split(), "--help"]).output.split())
    assert "Exit codes: 0 success · 1 error, refused or failed check · 2 usage error" in out, out
    assert ("3 stopped cleanly" in out and "rerun the same command to resume" in out) == (
        name in RESUMABLE or name == ""
    ), out


def test_argument_errors_come_before_credential_errors(tmp_path, monkeypatch):
    for var in [v for v in __import__("os").environ if v.startswith("SF_")]:
        monkeypatch.delenv(var)
    for args in (
        ["apply", str(tmp_path / "MISSING.json")],
        ["approve", str(tmp_path / "MISSING.json"), "--by", "x"],
        ["audit", "--db", str(tmp_path / "typo.duckdb")],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "does not exist" in result.output and "SF_" not in result.output
    assert not (tmp_path / "typo.duckdb").exists()


@pytest.mark.parametrize("value", ["bogus", "sfdc,bogus", ""])
def test_an_unknown_pull_source_is_a_usage_error(tmp_path, value):
    result = CliRunner().invoke(app, ["pull", "--out", str(tmp_path / "s"), "--sources", value])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--sources'" in result.output and "sfdc, smartlead, pardot, clay" in result.output
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_is_documented_in_readme(name):
    assert re.search(rf"`reconcile {re.escape(name)}\b", README), f"README lacks `reconcile {name}`"


def _table_synopsis(name: str) -> str:
    """The synopsis cell of `name`'s row in README's command table."""
    rows = re.findall(rf"^\| `(reconcile {re.escape(name)}(?: [^`]*)?)` \|", README, re.MULTILINE)
    assert len(rows) == 1, f"README's command table has {len(rows)} rows for `reconcile {name}`"
    return rows[0].replace("\\|", "|")


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_readme_command_table_lists_every_option_and_choice(name):
    """A row's synopsis is what `--help` accepts: every option, and every value of a choice option."""
    synopsis = _table_synopsis(name)
    cmd = dict(COMMANDS)[name]
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name == "help" or param.hidden:  # --help does not show it
            continue
        flag = max(param.opts, key=len)
        assert re.search(rf"\[?{re.escape(flag)}\b", synopsis), f"`reconcile {name}` row lacks {flag}: {synopsis}"
        for choice in getattr(param.type, "choices", ()):
            assert re.search(rf"{re.escape(flag)} [^\]]*\b{re.escape(choice)}\b", synopsis), (
                f"`reconcile {name}` row lacks {flag} {choice}: {synopsis}"
            )


def test_readme_gives_the_two_commands_at_the_top():
    top = README[:1500]
    assert "make demo" in top and "make test" in top


def test_unknown_snapshot_dir_is_an_error_line_and_exit_1(tmp_path):
    result = CliRunner().invoke(app, ["plan", str(tmp_path / "nope"), "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Snapshot directory '{tmp_path / 'nope'}' does not exist.")
    assert not (tmp_path / "p.json").exists()


def test_a_path_the_os_refuses_is_an_error_line_not_a_traceback(tmp_path):
    """An OSError from a file a command writes (here: a folder in the path is a file) → `Error:` naming the path,
    the reason and the fix, exit 1."""
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    runner = CliRunner()
    assert runner.invoke(app, ["plan", str(fixtures), "--out", str(tmp_path / "p.json")]).exit_code == 0
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result = runner.invoke(app, ["report", str(tmp_path / "p.json"), "--out", str(blocker / "r.html")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: Could not use '{blocker}"), result.output
    assert "File exists. A file is where a folder is needed: choose another path" in result.output
    assert "Traceback" not in result.output and blocker.read_text() == "a file, not a folder"


def test_a_full_disk_while_planning_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    """DuckDB's ENOSPC while the plan's files are written → not blamed on the snapshot: the error says the disk is
    full, where, and --db; no plan, no DuckDB file and no half-written data folder are left (fault injection: the
    disk fills once the data files are in the build's folder, before the manifest)."""
    import duckdb

    from reconcile import planfile

    real = planfile.write_parts

    def full_disk(con, plan_path, folder=None, timed=None):
        real(con, plan_path, folder, timed)  # the files are written, then the disk is full
        raise duckdb.IOException('IO Error: Could not write file "x.parquet": No space left on device')

    monkeypatch.setattr(planfile, "write_parts", full_disk)
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    out = tmp_path / "day"
    result = CliRunner().invoke(app, ["plan", str(fixtures), "--out", str(out / "p.json"), "--format", "parquet"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: The disk ran out of space while planning (nothing was written)")
    assert f"Free space on the disk of '{out}'" in result.output and "--db" in result.output
    assert "Snapshot" not in result.output.split(":", 1)[1][:40]
    assert not out.exists()  # nothing left, not even the folder it made for the plan


def _files(folder: Path) -> dict:
    """Every path under folder with its bytes (None for a folder)."""
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


# each output a plan writes, made a folder (so it cannot be written) before the plan starts, or while it is built (the
# new outputs are then written beside their targets and moving one of them into place fails)
@pytest.mark.parametrize("when", ["before", "during"])
@pytest.mark.parametrize("output", ["day.json", "day.changes.parquet", "day.changes.csv", "reconcile.duckdb"])
def test_a_failed_plan_leaves_every_old_output_exactly_as_it_was(tmp_path, monkeypatch, run_cli, output, when):
    """One output that cannot be written → `Error:` naming it, exit 1, and the plan, its data folder, the DuckDB
    file and the exports of the previous (approved) plan byte-identical, no temporary left beside them; the old
    plan can still be approved and checked against its DuckDB file. Once the path is free again, a plan succeeds
    and leaves nothing but its outputs."""
    import shutil

    from reconcile import approval, planfile, provenance
    from reconcile.plan import load_plan

    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    earlier = tmp_path / "earlier"
    shutil.copytree(fixtures, earlier)
    events = earlier / "smartlead" / "events.jsonl"  # without the first event (a bounce): other changes
    events.write_text("".join(events.read_text("utf-8").splitlines(keepends=True)[1:]), "utf-8")
    day = tmp_path / "M"
    plan_path = day / "day.json"
    assert run_cli("plan", earlier, "--out", plan_path, "--format", "parquet").exit_code == 0
    assert run_cli("approve", plan_path, "--by", "Ana Admin").exit_code == 0
    blocked = day / output

    def block():
        blocked.unlink()
        (blocked / "inside").mkdir(parents=True)

    if when == "before":
        block()
    else:
        real = planfile.write_parts

        def write_then_block(*args, **kw):
            files = real(*args, **kw)
            block()
            return files

        monkeypatch.setattr(planfile, "write_parts", write_then_block)
    old = {**_files(day), output: None, f"{output}/inside": None}
    result = run_cli("plan", fixtures, "--out", plan_path, "--format", "parquet")
    assert result.exit_code == 1, result.output
    assert (
        result.output == f"Error: Could not use '{blocked}': Is a directory. The path is a folder: give a file name.\n"
    )
    assert _files(day) == old
    if output != "day.json":
        plan = load_plan(plan_path)  # its data files are the ones its manifest binds
        approval.load_approval(plan_path, plan)
        if output != "reconcile.duckdb":
            provenance.check_file(plan, plan_path, day / "reconcile.duckdb")
    monkeypatch.undo()
    shutil.rmtree(blocked)
    assert run_cli("plan", fixtures, "--out", plan_path, "--format", "parquet").exit_code == 0
    assert sorted(p.name for p in day.iterdir()) == [
        "day.approval.json",
        "day.changes.csv",
        "day.changes.parquet",
        "day.data",
        "day.json",
        "reconcile.duckdb",
    ]
    assert sorted(p.name for p in (day / "day.data").iterdir()) == sorted(f"{p}.parquet" for p in planfile.PARTS)


def test_a_db_file_named_as_an_output_of_the_plan_is_refused_before_anything_is_built(tmp_path, run_cli):
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    for name in ("p.json", "p.data", "p.changes.csv", "p.changes.parquet"):
        result = run_cli("plan", fixtures, "--out", tmp_path / "p.json", "--db", tmp_path / name)
        assert result.exit_code == 1, result.output
        assert result.output == (
            f"Error: The DuckDB file '{tmp_path / name}' would overwrite an output of the plan "
            f"'{tmp_path / 'p.json'}': give --db another name.\n"
        )
        assert list(tmp_path.iterdir()) == []


def test_audit_of_a_file_that_is_not_a_duckdb_database_says_so(tmp_path):
    """Not 'in use by another process' (that is a held lock, and waiting would not help here): the file cannot be
    opened, why, and which file to name."""
    bad = tmp_path / "reconcile.duckdb"
    bad.write_text("not a database")
    for args in (["audit", "--db", str(bad)], ["audit", "--db", str(bad), "--verify"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"Error: '{bad}' is not a DuckDB file. Name the reconcile.duckdb")
        assert "in use by another process" not in result.output and "wait for" not in result.output.lower()
    assert bad.read_text() == "not a database"


def test_explain_rejects_a_malformed_id(tmp_path):
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    runner = CliRunner()
    assert runner.invoke(app, ["plan", str(fixtures), "--out", str(tmp_path / "p.json")]).exit_code == 0
    result = runner.invoke(app, ["explain", "00Q12", "--plan", str(tmp_path / "p.json")])
    assert result.exit_code == 1
    assert "Error: Record id '00Q12' is not a Salesforce id" in result.output


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_explain_and_report_refuse_a_plan_edited_after_it_was_built(tmp_path, fmt):
    """What they show is what plan_id binds (SPEC §6: one verifiable unit): an edited value is never shown under the
    plan's id — the same check as approve and apply."""
    import duckdb

    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    runner = CliRunner()
    plan = tmp_path / "p.json"
    assert runner.invoke(app, ["plan", str(fixtures), "--out", str(plan), "--format", fmt]).exit_code == 0
    record, field = "00Q5g00000AbCdFEAV", "external_hard_bounced__c"  # a ready hard bounce false → true
    if fmt == "json":
        doc = json.loads(plan.read_text("utf-8"))
        c = next(c for c in doc["changes"] if (c["record_id"], c["field"]) == (record, field))
        c["after"] = False
        plan.write_text(json.dumps(doc), "utf-8")
    else:
        data = tmp_path / "p.data" / "changes.parquet"
        edited = tmp_path / "edited.parquet"
        flip = f"record_id = '{record}' and field = '{field}' and after = 'true'"
        assert duckdb.sql(f"select count(*) from '{data}' where {flip}").fetchall() == [(1,)]
        duckdb.sql(
            f"copy (select * replace (case when {flip} then 'false' else after end as after) "
            f"from '{data}' order by object, record_id, field) to '{edited}' (format parquet, compression zstd)"
        )
        edited.replace(data)
    for args in (["explain", record, "--plan", str(plan)], ["report", str(plan), "--out", str(tmp_path / "r.html")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"Error: Plan '{plan}' was edited after it was built"), result.output
    assert not (tmp_path / "r.html").exists()


def test_explain_names_rule_and_source_rows(tmp_path):
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    runner = CliRunner()
    runner.invoke(app, ["plan", str(fixtures), "--out", str(tmp_path / "p.json")])
    result = runner.invoke(app, ["explain", "00Q5g00000AbCdF", "--plan", str(tmp_path / "p.json")])
    assert result.exit_code == 0
    assert "rule: hard_bounce_union" in result.output
    assert "smartlead smartlead/events.jsonl row 1 event_type = 'EMAIL_BOUNCE'" in result.output
    assert "finding bounce_hop_lost → CRM Admin" in result.output


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_explain_shows_an_ambiguous_match_on_each_candidate_lead(tmp_path, run_cli, fmt):
    """SPEC §3/§4: an email matching two Leads is an ambiguous_match finding with no record of its own; explain on
    either Lead shows it (its detail names both), and not on a third Lead."""
    from conftest import CLAY_HEADER, LEAD_HEADER, csv_text, lead, lead_id, write_snapshot

    leads = csv_text(LEAD_HEADER, [lead(1, "dup@a.com"), lead(2, "DUP@a.com"), lead(3)])
    clay = csv_text(CLAY_HEADER, [{"Email": "  Dup@A.com ", "Company Description": "Dup desc"}])
    snap = write_snapshot(tmp_path, {"sfdc/Lead.csv": leads, "clay/table.csv": clay})
    plan = tmp_path / "out" / "plan.json"
    assert run_cli("plan", snap, "--out", plan, "--format", fmt).exit_code == 0
    for n in (1, 2):
        result = run_cli("explain", lead_id(n), "--plan", plan, "--json")
        assert result.exit_code == 0, result.output
        kinds = [f["kind"] for f in json.loads(result.stdout)["findings"]]
        assert kinds == ["ambiguous_match"], result.stdout
        assert "finding ambiguous_match" in run_cli("explain", lead_id(n)[:15], "--plan", plan).stdout
    assert json.loads(run_cli("explain", lead_id(3), "--plan", plan, "--json").stdout)["findings"] == []


def test_report_command_renders_trends_from_earlier_run_bundles(tmp_path):
    from reconcile.notebook.run import run_daily

    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    reports = tmp_path / "reports"
    run_daily(snapshot_dir=fixtures, reports_dir=reports, run_date="2026-11-26")
    second = run_daily(snapshot_dir=fixtures, reports_dir=reports, run_date="2026-11-27")
    result = CliRunner().invoke(
        app, ["report", str(second.plan_path), "--out", str(tmp_path / "r.html"), "--reports-dir", str(reports)]
    )
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text("utf-8")
    assert "Trends" in html and second.plan_id[:12] in html
    # the reported plan's own bundle is this run, not an earlier one: two runs, the first labelled by its run date
    assert "2 runs; the chart shows" in html and "2026-11-26" in html


def test_report_with_a_reports_dir_that_does_not_exist_is_a_usage_error(tmp_path, run_cli):
    """A mistyped --reports-dir would otherwise render a report without its trends and say nothing."""
    assert run_cli("plan", HANDMADE, "--out", tmp_path / "p.json").exit_code == 0
    r = run_cli("report", tmp_path / "p.json", "--out", tmp_path / "r.html", "--reports-dir", tmp_path / "reprots")
    assert r.exit_code == 2 and "'--reports-dir'" in r.stderr and "reprots" in r.stderr and "does not exist" in r.stderr
    assert not (tmp_path / "r.html").exists()


def test_org_selects_its_policy_file(tmp_path, monkeypatch):
    import hashlib

    from reconcile.policy import default_policy_path

    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(app, ["plan", str(fixtures), "--out", "p.json", "--org", "iCare"])
    assert missing.exit_code == 1
    assert "Error: No policy for org 'iCare': 'policies/icare.toml' does not exist (known orgs: none" in missing.output
    (tmp_path / "policies").mkdir()
    text = default_policy_path().read_text("utf-8").replace('status = "pending_legal"', 'status = "active"')
    (tmp_path / "policies" / "icare.toml").write_text(text, "utf-8")
    ok = runner.invoke(app, ["plan", str(fixtures), "--out", "p.json", "--org", "iCare"])
    assert ok.exit_code == 0, ok.output
    plan = json.loads((tmp_path / "p.json").read_text("utf-8"))
    assert plan["policy"]["fingerprint"] == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert "pending_legal" not in plan["summary"]["by_reason"]


CLAY_SOURCE = "[sources.clay]\nrequired = false\nmax_age_hours = 24\n"
VALUE_FIX, NAME_FIX = "Fix the value in the policy file.", "Fix the name in the policy file."
COUNT, HOURS = "expected a whole number, 0 or more", "expected a number of hours greater than 0"
FRACTION, LENGTH = "expected a number between 0 and 1", "expected a whole number greater than 0"
TEXTS, INDUSTRY = "expected a list of text values in quotes", "[[fields]] entry 6 (Lead.Industry)"
BAD_POLICY_VALUES = [  # (the default policy's text, what replaces it, the error after "Policy file '<path>' ")
    (
        "max_record_fraction = 0.25",
        'max_record_fraction = "lots"',
        f'[thresholds] max_record_fraction = "lots": {FRACTION}',
    ),
    ("max_record_fraction = 0.25", "max_record_fraction = 7", f"[thresholds] max_record_fraction = 7: {FRACTION}"),
    (
        "max_ready_changes_per_field = 5000",
        'max_ready_changes_per_field = "x"',
        f'[thresholds] max_ready_changes_per_field = "x": {COUNT}',
    ),
    (
        "max_ready_changes_per_field = 5000",
        "max_ready_changes_per_field = 2.5",
        f"[thresholds] max_ready_changes_per_field = 2.5: {COUNT}",
    ),
    (
        "min_records_for_fraction = 50",
        'min_records_for_fraction = "fifty"',
        f'[thresholds] min_records_for_fraction = "fifty": {COUNT}',
    ),
    ("bulk_threshold = 2000", "bulk_threshold = -5", f"[thresholds] bulk_threshold = -5: {COUNT}"),
    ("max_snapshot_age_hours = 48", "max_snapshot_age_hours = 0", f"[thresholds] max_snapshot_age_hours = 0: {HOURS}"),
    (
        "max_snapshot_age_hours = 48",
        "max_snapshot_age_hours = true",
        f"[thresholds] max_snapshot_age_hours = true: {HOURS}",
    ),
    (CLAY_SOURCE, CLAY_SOURCE.replace("24", '"a day"'), f'[sources.clay] max_age_hours = "a day": {HOURS}'),
    (
        CLAY_SOURCE,
        CLAY_SOURCE.replace("false", '"no"'),
        '[sources.clay] required = "no": expected true or false (without quotes)',
    ),
    (
        'on_problem = "warn"',
        'on_problem = "ignore"',
        '[sources.clay] on_problem = "ignore": expected "warn" or "error"',
    ),
    ("max_length = 40", 'max_length = "long"', f'{INDUSTRY} max_length = "long": {LENGTH}'),
    ("max_length = 40", "max_length = 0", f"{INDUSTRY} max_length = 0: {LENGTH}"),
    (
        'rule = "reply_set_once"',
        'rule = "reply_set_once"\npicklist = ["Yes", 2]',
        f'[[fields]] entry 1 (CampaignMember.Has_Replied__c) picklist = ["Yes", 2]: {TEXTS}',
    ),
    ("gbus = []", 'gbus = "EMEA"', f'[org] gbus = "EMEA": {TEXTS}'),
    ('email = "ana.admin@example.com"', "email = 7", "[[approvers]] entry 2 email = 7: expected text in quotes"),
]
UNKNOWN_POLICY_KEYS = [
    (
        "bulk_threshold = 2000",
        "bulk_treshold = 2000",
        "[thresholds] bulk_treshold = 2000: not a key of [thresholds]; "
        "use one of max_ready_changes_per_field, max_record_fraction, min_records_for_fraction, max_snapshot_age_hours, "
        "bulk_threshold",
    ),
    (
        "max_length = 40",
        "max_lenght = 40",
        f"{INDUSTRY} max_lenght = 40: not a key of [[fields]]; use one of object, "
        "field, status, kind, rule, max_length, picklist, direction",
    ),
    (
        CLAY_SOURCE,
        CLAY_SOURCE + "max_age = 2\n",
        "[sources.clay] max_age = 2: not a key of [sources.clay]; use one "
        "of required, max_age_hours, on_problem, campaigns, drop_dir",
    ),
    (
        'pardot_sync_gap = "CRM Admin"',
        'pardot_sync_gab = "CRM Admin"',
        '[routes] pardot_sync_gab = "CRM Admin": not a finding kind; use one of ambiguous_match, bounce_hop_lost, '
        "classification_without_reply, conflicting_enrichment, connector_error, deliverability_review, "
        "do_not_contact_reply, eligibility_mismatch, overall_formula_mismatch, pardot_sync_gap, "
        "sender_originated_bounce, unmatched_source_row",
    ),
]
DESCRIPTION = "[[fields]] entry 5 (Lead.company_description__c)"
BAD_FIELD_ENTRIES = [  # SPEC §5 literally: a status, kind, object, rule or picklist the policy cannot mean
    (
        'status = "pending_legal"\nkind = "text"',
        'status = "pendng_legal"\nkind = "text"',
        f'{DESCRIPTION} status = "pendng_legal": expected one of active, pending_legal, read_only',
    ),
    ('kind = "text"', 'kind = "txt"', f'{DESCRIPTION} kind = "txt": expected one of checkbox, text, picklist, formula'),
    (
        'object = "Lead"\nfield = "company_description__c"',
        'object = "lead"\nfield = "company_description__c"',
        '[[fields]] entry 5 (lead.company_description__c) object = "lead": expected one of Lead, CampaignMember, '
        "Contact, Campaign (as Salesforce spells them)",
    ),
    (  # a misspelt rule would also switch off apply's invariant of the field (reconcile/apply/invariants.py)
        'rule = "hard_bounce_union"',
        'rule = "hard_bounce_unoin"',
        '[[fields]] entry 3 (Lead.external_hard_bounced__c) rule = "hard_bounce_unoin": expected one of '
        "hard_bounce_union, enrichment_fill_if_blank, reply_set_once, reply_classification_latest",
    ),
    (  # README: each field's rule is the one of sql/rules/ that writes it; apply's invariant follows the policy's
        'rule = "hard_bounce_union"',
        'rule = "reply_set_once"',
        '[[fields]] entry 3 (Lead.external_hard_bounced__c) rule = "reply_set_once": expected "hard_bounce_union", '
        "the rule that writes it",
    ),
    (
        'status = "read_only"\nkind = "formula"',
        'status = "read_only"\nkind = "formula"\nrule = "hard_bounce_union"',
        '[[fields]] entry 4 (Lead.overall_hard_bounced__c) rule = "hard_bounce_union": expected no rule (no rule '
        "writes this field)",
    ),
    (
        '"Interested", "Meeting Request"',
        '"Interested", "interested", "Meeting Request"',
        '[[fields]] entry 2 (CampaignMember.ReplyClassification__c) picklist = ["Interested", "interested", '
        '"Meeting Request", "Not Interested", "Do Not Con...: expected every value once '
        '(values match case-insensitively): "interested" repeats "Interested"',
    ),
    (
        '"Interested", "Meeting Request"',
        '"Interested", " ", "Meeting Request"',
        '[[fields]] entry 2 (CampaignMember.ReplyClassification__c) picklist = ["Interested", " ", '
        '"Meeting Request", "Not Interested", "Do Not Contact", "I...: expected non-blank '
        "values",
    ),
    (
        'rule = "reply_set_once"',
        'rule = "reply_set_once"\npicklist = ["Yes"]',
        '[[fields]] entry 1 (CampaignMember.Has_Replied__c) picklist = ["Yes"]: expected no picklist on a checkbox '
        'field (only kind = "picklist" has one)',
    ),
]
UNKNOWN_POLICY_KEYS += [
    (
        "[thresholds]",
        "[threshold]",
        "threshold = {max_ready_changes_per_field = 5000, max_record_fraction = 0.25, min_records_...: "
        "not a table of the policy; use one of org, thresholds, sources, formulas, fields, approvers, clay, "
        "source_values, routes, destinations, notify",
    ),
    (
        "[clay.columns]",
        "[clay.colums]",
        '[clay] colums = {campaign_member_id = "CampaignMemberId", lead_id = "LeadId", email = "Email"...: '
        "not a key of [clay]; use one of columns",
    ),
    (
        "cold_lead_eligible = ",
        "cold_lead_eligble = ",
        '[formulas] cold_lead_eligble = "formulas/cold_lead_eligible.sql": not a key of [formulas]; use one of '
        "cold_lead_eligible",
    ),
]
CASES = [(*c, VALUE_FIX) for c in BAD_POLICY_VALUES + BAD_FIELD_ENTRIES] + [(*c, NAME_FIX) for c in UNKNOWN_POLICY_KEYS]


@pytest.mark.parametrize("old, new, error, fix", CASES, ids=[c[2].split(": ")[0] for c in CASES])
def test_a_mistyped_out_of_range_or_unknown_policy_key_is_one_error_line(tmp_path, run_cli, old, new, error, fix):
    """Through `reconcile plan`: exit 1, one Error: line naming the file, the key and the value, nothing written
    (before, a traceback from a comparison, an error blaming the snapshot, or silently accepted)."""
    from conftest import policy_with

    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    pol = policy_with(tmp_path / "pol", replace={old: new})
    out = tmp_path / "out" / "plan.json"
    result = run_cli("plan", fixtures, "--out", out, "--policy", pol)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: Policy file '{pol}' {error}. {fix}\n"
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_picklist_field_without_its_picklist_and_a_field_listed_twice_are_one_error_line(tmp_path, run_cli):
    """Without its values a picklist field took any value (the plan's and apply's picklist checks had nothing to
    check against); a field listed twice in another case (`industry` beside `Industry`: Salesforce names are
    case-insensitive, and so is the gate's match) gave every change of it twice and stopped the plan at a build audit
    blaming the plan."""
    from conftest import policy_with

    pol = policy_with(tmp_path / "pol")
    text = pol.read_text("utf-8")
    start = text.index('picklist = ["Agriculture"')
    no_picklist = text[:start] + text[text.index('"Utilities"]\n', start) + len('"Utilities"]\n') :]
    twice = text.replace(
        '[[approvers]]\nname = "Demo Admin"',
        '[[fields]]\nobject = "Lead"\nfield = "industry"\nstatus = "active"\nkind = "checkbox"\n\n'
        '[[approvers]]\nname = "Demo Admin"',
    )
    for policy_text, error in (
        (
            no_picklist,
            f'{INDUSTRY} kind = "picklist": expected a picklist = [...] of its values (a picklist field without them '
            "would take any value). Fix the value in the policy file.",
        ),
        (
            twice,
            '[[fields]] entry 8 (Lead.industry) field = "industry": Lead.Industry is listed twice, as entry 6 and '
            "entry 8 (field names match case-insensitively, as in Salesforce). Keep one [[fields]] entry per field.",
        ),
    ):
        pol.write_text(policy_text, "utf-8")
        result = run_cli("plan", HANDMADE, "--out", tmp_path / "out" / "plan.json", "--policy", pol)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"Error: Policy file '{pol}' {error}\n"
        assert "Traceback" not in result.output
        assert not (tmp_path / "out").exists()


def test_the_packaged_policy_loads_and_the_type_table_covers_every_threshold():
    import dataclasses

    from reconcile.policy import KEY_TYPES, Thresholds, load_policy

    assert list(KEY_TYPES["thresholds"]) == [f.name for f in dataclasses.fields(Thresholds)]
    pol = load_policy()
    assert pol.thresholds == Thresholds() and pol.sources["sfdc"].required is True


def test_snapshot_file_names_match_case_insensitively_and_one_file_per_salesforce_object(tmp_path):
    import shutil

    snap = tmp_path / "snap"
    shutil.copytree(Path(__file__).parent / "fixtures" / "handmade", snap)
    (snap / "sfdc").rename(snap / "SFDC")
    (snap / "SFDC" / "Lead.csv").rename(snap / "SFDC" / "lead.CSV")
    runner = CliRunner()
    ok = runner.invoke(app, ["plan", str(snap), "--out", str(tmp_path / "p.json"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["records"]["Lead"] == 4
    shutil.copy(snap / "SFDC" / "lead.CSV", snap / "SFDC" / "Lead.csv")
    twice = runner.invoke(app, ["plan", str(snap), "--out", str(tmp_path / "p2.json")])
    assert twice.exit_code == 1
    assert "has 2 files for sfdc/Lead.* (SFDC/Lead.csv, SFDC/lead.CSV). Keep one of them." in twice.output


def test_export_members_names_the_org_whose_policy_maps_the_clay_columns(tmp_path, monkeypatch):
    """SPEC §8: every command can name the org it works on — the members export takes its Clay header names from
    that org's policy ([clay.columns]), as `plan --org` reads them."""
    from conftest import policy_with

    folder = tmp_path / "policies"
    policy_with(folder, replace={'lead_id = "LeadId"': 'lead_id = "SFDC Lead"'}).rename(folder / "emea.toml")
    monkeypatch.setenv("RECONCILE_POLICY_DIR", str(folder))
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    out = tmp_path / "members.csv"
    args = ["export-members", str(fixtures), "--campaign", "7015g000000MNOCAA4", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--org", "EMEA"])
    assert result.exit_code == 0, result.output
    assert "SFDC Lead" in out.read_text("utf-8").splitlines()[0].split(",")
    assert CliRunner().invoke(app, args).exit_code == 0
    assert "LeadId" in out.read_text("utf-8").splitlines()[0].split(",")
    result = CliRunner().invoke(app, [*args, "--org", "APAC"])
    assert result.exit_code == 1 and "No policy for org 'APAC'" in result.output


def test_python_dash_m_reconcile_is_the_cli():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "reconcile", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: reconcile ") and "plan" in r.stdout
    r = subprocess.run([sys.executable, "-m", "reconcile", "nope"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "No such command 'nope'" in r.stderr


# Every command that talks to an org or reads a policy, with the least it needs to get as far as the org (SPEC §8:
# one integration user and policy per CRM system, "every command can name the org it works on").
ORG_COMMANDS = {
    "plan": ["plan", "{snap}", "--out", "{tmp}/plan.json"],
    "approve": ["approve", "{file}", "--by", "Ana Admin"],
    "apply": ["apply", "{file}"],
    "pull": ["pull", "--out", "{tmp}/pulled"],
    "preflight": ["preflight"],
    "run": ["run", "--snapshot", "{snap}", "--reports-dir", "{tmp}/reports"],
    "notify": ["notify", "{file}", "--dry-run"],
    "digest": ["digest", "--week", "2026-11-27", "--reports-dir", "{tmp}", "--out", "{tmp}/weekly"],
    "export-members": ["export-members", "{snap}", "--campaign", "7015g000000MNOCAA4", "--out", "{tmp}/m.csv"],
}


@pytest.mark.parametrize("command", sorted(ORG_COMMANDS))
def test_every_org_command_names_the_known_orgs_for_an_unknown_one(command, tmp_path, monkeypatch):
    """`--org` on every command of the README's list; an unknown org is one `Error:` line listing the orgs there are
    and the fix, before anything connects (the default org's SF_… variables are never a fallback) or is written."""
    from conftest import policy_with

    folder = tmp_path / "policies"
    for org in ("emea", "icare"):
        policy_with(folder).rename(folder / f"{org}.toml")
    monkeypatch.setenv("RECONCILE_POLICY_DIR", str(folder))
    monkeypatch.setenv("SF_INSTANCE_URL", "https://default-org.invalid")  # the default org: never used for --org
    monkeypatch.setenv("SF_SESSION_ID", "00Dx!default-org-session")
    (tmp_path / "plan.json").write_text("{}", encoding="utf-8")
    fill = {"snap": str(HANDMADE), "tmp": str(tmp_path), "file": str(tmp_path / "plan.json")}
    args = [a.format(**fill) for a in ORG_COMMANDS[command]]
    assert "--org" in CliRunner().invoke(app, [command, "--help"]).output
    result = CliRunner().invoke(app, [*args, "--org", "APAC"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("Error: No policy for org 'APAC'"), result.output
    assert "known orgs: EMEA, ICARE" in lines[0] and "--policy" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "policies"]
    bad = CliRunner().invoke(app, [*args, "--org", "../emea"])
    assert bad.exit_code == 2 and "--org" in bad.output and "letters, digits and _" in bad.output, bad.output


def test_demo_refuses_a_folder_it_did_not_make_and_leaves_it_as_it_was(tmp_path, run_cli):
    (tmp_path / "mine.txt").write_text("keep me", "utf-8")
    result = run_cli("demo", "--workdir", tmp_path, "--no-apply")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Demo folder '{tmp_path}' is not empty and was not made by `reconcile demo`, so it is left as it is (a "
        "demo replaces everything in its folder). Pass --workdir with a new or empty folder, or an earlier demo's.\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_demo_replaces_only_a_folder_an_earlier_demo_made(tmp_path):
    from reconcile.demo import DEMO_MARK, clear_workdir

    work = tmp_path / "demo"
    clear_workdir(work)  # new
    (work / "plan.json").write_text("{}", "utf-8")
    clear_workdir(work)  # an earlier demo's: replaced
    assert [p.name for p in work.iterdir()] == [DEMO_MARK]
    (tmp_path / "empty").mkdir()
    clear_workdir(tmp_path / "empty")
    assert (tmp_path / "empty" / DEMO_MARK).exists()


def test_demo_needs_at_least_the_scenario_catalogue(tmp_path, run_cli):
    result = run_cli("demo", "--workdir", tmp_path / "d", "--leads", "-5")
    assert result.exit_code == 2 and "-5 is not in the range x>=37" in result.stderr
    assert not (tmp_path / "d").exists()


def test_pull_into_a_file_is_refused_and_the_file_kept(tmp_path, run_cli):
    plan = tmp_path / "plan.json"
    plan.write_text("{}", "utf-8")
    result = run_cli("pull", "--out", plan, "--sources", "clay")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: --out '{plan}' is a file, not a snapshot folder: pull writes sfdc/, clay/, smartlead/ and pardot/ "
        "into a folder. Pass a new folder, or an earlier snapshot's folder to refresh it.\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"] and plan.read_text("utf-8") == "{}"


@pytest.mark.parametrize("target", ["sfdc/Lead.csv", "clay/plan.json", "SmartLead/x/plan.json"])
def test_a_plan_written_into_a_source_folder_of_its_snapshot_is_refused(tmp_path, run_cli, target):
    snap = tmp_path / "snap"
    shutil.copytree(Path(__file__).parent / "fixtures" / "handmade", snap)
    before = {p: p.read_bytes() for p in snap.rglob("*") if p.is_file()}
    result = run_cli("plan", snap, "--out", snap / target)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: The plan's output '{snap / target}' is inside the snapshot's ")
    assert {p: p.read_bytes() for p in snap.rglob("*") if p.is_file()} == before


def test_a_report_over_its_own_plan_and_a_member_export_into_the_snapshot_are_refused(tmp_path, run_cli):
    snap = tmp_path / "snap"
    shutil.copytree(Path(__file__).parent / "fixtures" / "handmade", snap)
    assert run_cli("plan", snap, "--out", tmp_path / "p.json").exit_code == 0
    text = (tmp_path / "p.json").read_bytes()
    result = run_cli("report", tmp_path / "p.json", "--out", tmp_path / "p.json")
    assert result.exit_code == 1 and "is the plan itself" in result.stderr
    assert (tmp_path / "p.json").read_bytes() == text
    lead_file = snap / "sfdc" / "CampaignMember.csv"
    members = lead_file.read_bytes()
    result = run_cli("export-members", snap, "--campaign", "7015g000000MNOCAA4", "--out", lead_file)
    assert (
        result.exit_code == 1
        and "The member export" in result.stderr
        and "inside the snapshot's sfdc/" in result.stderr
    )
    assert lead_file.read_bytes() == members


def test_a_file_that_is_not_a_duckdb_file_named_as_one_is_refused_not_read_as_empty(tmp_path, run_cli):
    # DuckDB opens a .csv or .json path as an empty in-memory database with a view of the file: an audit of
    # `--db plan.changes.csv` showed 0 rows and exit 0
    csv_file = tmp_path / "plan.changes.csv"
    csv_file.write_text("object,record_id\nLead,x\n", "utf-8")
    error = (
        f"Error: '{csv_file}' is not a DuckDB file. Name the reconcile.duckdb that `reconcile plan` wrote (--db; by "
        "default the one beside the plan).\n"
    )
    for args in (["audit", "--db", csv_file], ["audit", "--db", csv_file, "--verify"], ["digest", "--db", csv_file]):
        result = run_cli(*args)
        assert (result.exit_code, result.stderr) == (1, error), args
    fixtures = Path(__file__).parent / "fixtures" / "handmade"
    assert run_cli("plan", fixtures, "--out", tmp_path / "p" / "plan.json").exit_code == 0
    result = run_cli("approve", tmp_path / "p" / "plan.json", "--by", "Ana Admin", "--db", csv_file)
    assert (result.exit_code, result.stderr) == (1, error)
    assert csv_file.read_text("utf-8") == "object,record_id\nLead,x\n"


@pytest.mark.parametrize("ticket", ["foo", "kln-35", "KLN35", "KLN-0", "KLN-35x"])
def test_a_jira_ticket_that_is_not_an_issue_key_is_a_usage_error_before_anything_is_queued(tmp_path, run_cli, ticket):
    result = run_cli("notify", tmp_path / "plan.json", "--jira-ticket", ticket, "--dry-run")
    assert result.exit_code == 2
    assert f"'{ticket}' is not a Jira issue key such as KLN-35" in result.stderr


def test_a_short_signing_key_in_the_environment_is_refused_as_a_short_key_file_is(monkeypatch):
    from reconcile.signing import SigningKeyError, signing_key

    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "x")
    with pytest.raises(SigningKeyError, match=r"RECONCILE_APPROVAL_KEY is too short \(1 characters; at least 32\)"):
        signing_key()
    monkeypatch.setenv("RECONCILE_APPROVAL_KEY", "k" * 32)
    assert signing_key() == b"k" * 32


def test_version_is_the_package_version(run_cli):
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout.strip().endswith(f" {version('reconcile')}")


def test_a_policy_or_manifest_saved_as_utf16_says_save_it_as_utf8_and_an_empty_policy_is_refused(tmp_path, run_cli):
    snap = tmp_path / "snap"
    shutil.copytree(Path(__file__).parent / "fixtures" / "handmade", snap)
    utf16 = tmp_path / "utf16.toml"
    utf16.write_bytes("[org]\nname = 'x'\n".encode("utf-16"))
    empty = tmp_path / "empty.toml"
    empty.write_text("", "utf-8")
    result = run_cli("plan", snap, "--out", tmp_path / "p.json", "--policy", utf16)
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Policy file '{utf16}' is not UTF-8 text (UTF-16, as Windows Notepad saves Unicode). Save it as "
        "UTF-8 and rerun.\n",
    )
    result = run_cli("plan", snap, "--out", tmp_path / "p.json", "--policy", empty)
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Policy file '{empty}' lists no [[fields]] (the allowlist of fields the connector may write). Start "
        "from the packaged policy (reconcile/default_policy.toml) and change what differs in your org.\n",
    )
    (snap / "manifest.toml").write_bytes((snap / "manifest.toml").read_text("utf-8").encode("utf-16"))
    result = run_cli("plan", snap, "--out", tmp_path / "p.json")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Snapshot 'manifest.toml' is not UTF-8 text (UTF-16, as Windows Notepad saves Unicode). Save it as "
        "UTF-8 and rerun.\n",
    )
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    "env, value, error",
    [
        (
            "RECONCILE_THREADS",
            "zero",
            "Threads 'zero' is not a whole number of at least 1 (RECONCILE_THREADS): set RECONCILE_THREADS to e.g. 4, "
            "or unset it for the default.",
        ),
        (
            "RECONCILE_MEMORY_LIMIT",
            "lots",
            "Memory limit 'lots' is not a size such as 2GB or 512MB (RECONCILE_MEMORY_LIMIT): set "
            "RECONCILE_MEMORY_LIMIT to e.g. 2GB, or unset it for the default.",
        ),
    ],
)
def test_a_bad_setting_from_the_environment_names_the_variable(tmp_path, run_cli, monkeypatch, env, value, error):
    monkeypatch.setenv(env, value)
    result = run_cli("plan", Path(__file__).parent / "fixtures" / "handmade", "--out", tmp_path / "p.json")
    assert (result.exit_code, result.stderr) == (1, f"Error: {error}\n")


def test_approving_a_plan_with_no_ready_change_says_apply_will_write_nothing(tmp_path, run_cli):
    legal = {f: "pending_legal" for f in ("external_hard_bounced__c", "Has_Replied__c", "ReplyClassification__c")}
    pol = policy_with(tmp_path / "pol", statuses=legal)
    assert run_cli("plan", HANDMADE, "--out", tmp_path / "p.json", "--policy", pol).exit_code == 0
    result = run_cli("approve", tmp_path / "p.json", "--by", "Ana Admin", "--policy", pol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("Note: the plan has no ready changes, so apply will write nothing.\n")
    assert run_cli("plan", HANDMADE, "--out", tmp_path / "q.json").exit_code == 0
    result = run_cli("approve", tmp_path / "q.json", "--by", "Ana Admin")
    assert result.exit_code == 0 and "no ready changes" not in result.stdout


def test_a_folder_given_as_a_report_or_member_export_file_is_named_not_a_temporary_file(tmp_path, run_cli):
    assert run_cli("plan", HANDMADE, "--out", tmp_path / "p.json").exit_code == 0
    folder = tmp_path / "out"
    folder.mkdir()
    for args in (
        ["report", tmp_path / "p.json", "--out", folder],
        ["export-members", HANDMADE, "--campaign", "7015g000000MNOCAA4", "--out", folder],
    ):
        result = run_cli(*args)
        assert result.exit_code == 1 and f"'{folder}'" in result.stderr and ".tmp" not in result.stderr, result.stderr
    assert list(folder.iterdir()) == []


def test_run_checks_its_snapshot_and_credentials_before_it_starts_a_bundle(tmp_path, run_cli, monkeypatch):
    for name in [k for k in os.environ if k.startswith("SF_")]:
        monkeypatch.delenv(name)
    reports = tmp_path / "reports"
    result = run_cli("run", "--snapshot", tmp_path / "nosuch", "--reports-dir", reports)
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = run_cli("run", "--pull", "--snapshot", HANDMADE, "--reports-dir", reports)
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and "SF_" in result.stderr, result.stderr
    assert not reports.exists() or list(reports.iterdir()) == []


def test_debug_after_the_command_shows_the_traceback_as_before_it(tmp_path, run_cli):
    before = run_cli("--debug", "plan", tmp_path / "nosuch", "--out", tmp_path / "p.json")
    after = run_cli("plan", tmp_path / "nosuch", "--out", tmp_path / "p.json", "--debug")
    plain = run_cli("plan", tmp_path / "nosuch", "--out", tmp_path / "p.json")
    assert before.exit_code == after.exit_code == plain.exit_code == 1
    assert "Traceback" in before.stderr and "Traceback" in after.stderr and "Traceback" not in plain.stderr
    assert after.stderr.splitlines()[-1] == plain.stderr.splitlines()[-1]


def test_demo_data_only_writes_the_snapshot_and_nothing_else(tmp_path, run_cli):
    result = run_cli("demo", "--workdir", tmp_path / "d", "--leads", 40, "--data-only")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [".reconcile-demo", "snapshot"]
    assert run_cli("plan", tmp_path / "d" / "snapshot", "--out", tmp_path / "p.json").exit_code == 0


def test_apply_help_names_every_credential_variable_of_the_readme():
    """README "Connecting to your org" lists the variables each login reads; `apply --help` (to which preflight and
    pull point) names each of them."""
    section = README.split("## Connecting to your org", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"\bSF_[A-Z_]*[A-Z]\b", section))
    shown = CliRunner().invoke(app, ["apply", "--help"]).output
    assert documented and not {v for v in documented if v not in shown}


def test_a_field_a_rule_writes_needs_its_rule_in_the_policy(tmp_path, run_cli):
    """Without it apply would re-check the field with no invariant (set-once, union, fill-if-blank)."""
    from conftest import policy_with

    pol = policy_with(
        tmp_path / "pol", replace={'rule = "enrichment_fill_if_blank"\nmax_length = 255': "max_length = 255"}
    )
    result = run_cli(
        "plan", Path(__file__).parent / "fixtures" / "handmade", "--out", tmp_path / "p.json", "--policy", pol
    )
    assert result.exit_code == 1 and not (tmp_path / "p.json").exists()
    assert result.stderr == (
        f"Error: Policy file '{pol}' [[fields]] entry 5: 'rule' is missing. Lead.company_description__c is written by "
        'rule enrichment_fill_if_blank: add rule = "enrichment_fill_if_blank".\n'
    )


def test_a_fields_rule_is_matched_by_its_api_name_in_any_case(tmp_path, run_cli):
    """Salesforce API names are case-insensitive: `field = "industry"` is the Industry that enrichment fills."""
    from conftest import policy_with

    pol = policy_with(tmp_path / "pol", replace={'field = "Industry"': 'field = "industry"'})
    result = run_cli(
        "plan", Path(__file__).parent / "fixtures" / "handmade", "--out", tmp_path / "p.json", "--policy", pol
    )
    assert result.exit_code == 0, result.stderr
