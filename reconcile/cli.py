"""`reconcile` command line: parse → one library call → render / exit code. No business logic here.

Exit codes: 0 success · 1 error (bad input, refused plan, failed check) · 2 usage error ·
3 apply stopped cleanly (session expired / API limit) — rerun to resume.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import traceback
from pathlib import Path

import click

from .errors import ReconcileError
from .files import short_id
from .policy import load_policy, policy_path

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}  # subcommands inherit it


# Options several commands share: one spelling, one help text each.
def policy_option(f):
    return click.option(
        "--policy", type=click.Path(path_type=Path), help="Policy TOML [default: the packaged policy]."
    )(f)


def _org_name(ctx, param, value):
    """--org names a policy file and environment variables: letters, digits and _ only (usage error otherwise)."""
    from .policy import ORG_NAME

    if value is not None and not ORG_NAME.fullmatch(value):
        raise click.BadParameter(
            f"'{value}' is not an org name: letters, digits and _ only, starting with a letter (e.g. ICARE), "
            "as in its policy file policies/<org>.toml and its SF_<ORG>_… variables."
        )
    return value


def org_option(f):
    return click.option(
        "--org",
        callback=_org_name,
        help="The CRM org (one integration user and policy per org): use policies/<org>.toml "
        "unless --policy is given, and read only SF_<ORG>_… environment variables.",
    )(f)


def db_option(f):
    return click.option(
        "--db",
        type=click.Path(path_type=Path),
        help="The plan's DuckDB file (built by `reconcile "
        "plan`; holds the audit trail and who was told what) [default: reconcile.duckdb beside the "
        "plan].",
    )(f)


EXIT_CODES = "Exit codes: 0 success · 1 error, refused or failed check · 2 usage error"
STOPPED = " · 3 stopped cleanly (session expired, API limit, no answer to a write): rerun the same command to resume"
RESUMABLE = {"apply", "pull", "preflight", "run", "demo"}  # their Salesforce calls can stop cleanly (ApplyStopped)


def _exit_codes(ctx, formatter, resumable: bool) -> None:
    """The README's exit codes at the end of a command's --help."""
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(EXIT_CODES + (STOPPED if resumable else "") + ".")


def _late_debug(ctx, param, value) -> None:
    """`reconcile plan … --debug`: the flag where people put it, after the command, means what it means before it."""
    if value:
        ctx.ensure_object(dict)["debug"] = True


class Command(click.Command):
    """Every command's --help ends with its exit codes; every command takes --debug after it too (hidden: the
    top-level option is the documented place)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(p.name == "debug" for p in self.params):
            self.params.append(
                click.Option(["--debug"], is_flag=True, hidden=True, expose_value=False, callback=_late_debug)
            )

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        _exit_codes(ctx, formatter, self.name in RESUMABLE)


class Group(click.Group):
    """Turns every ReconcileError (and a file the OS refuses) into `Error: …` and its exit code; --debug keeps the
    traceback. Its commands are `Command`s (exit codes in --help); the top level's --help lists every code."""

    command_class = Command
    group_class = type  # sub-groups (sandbox, standins, smartlead-webhook) are Groups too

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        _exit_codes(ctx, formatter, ctx.parent is None)  # a sub-group's commands never stop on a Salesforce limit

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ReconcileError as e:
            from .credentials import redact  # no credential value is ever printed, tracebacks included

            if ctx.obj and ctx.obj.get("debug"):
                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            click.echo(redact(f"Error: {e}"), err=True)
            sys.exit(e.exit_code)
        except BrokenPipeError:  # the reader of stdout went away (`| head`): Python's own handling
            raise
        except OSError as e:  # a file the command reads or writes was refused: which, why and the fix, no traceback
            from .credentials import redact
            from .errors import os_error_message

            if ctx.obj and ctx.obj.get("debug"):
                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            click.echo(redact(f"Error: {os_error_message(e)}"), err=True)
            sys.exit(ReconcileError.exit_code)


def _usage_checked(kind: str, value):
    """A run date (`run --date`) or a week's day (`digest --week`) checked as the command will read it (None
    passes): a value it refuses is a usage error (exit 2) with the check's own message, as other bad option values
    are (it was an Error: line, exit 1, and `--date ''` ran as today)."""
    if value is None:
        return None
    try:
        if kind == "run_date":
            from .notebook.run import _checked_run_date

            return _checked_run_date(value)
        from .report.digest import week_of

        week_of(value)
        return value
    except ReconcileError as e:
        raise click.BadParameter(str(e)) from e


@click.group(cls=Group, context_settings=CONTEXT)
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.version_option(package_name="reconcile", message="%(prog)s %(version)s")
@click.pass_context
def app(ctx, debug):
    """Reconcile Clay, Smartlead and Pardot with Salesforce — plan, approve, apply, audit.

    \b
    Typical day:
      reconcile plan SNAPSHOT/ --out plan.json     build the writeback plan (never writes to Salesforce)
      reconcile explain 00Q… --plan plan.json      why a record gets each change or finding
      reconcile approve plan.json --by "Ana Admin"  a person approves (scope, gate overrides)
      reconcile apply plan.json                    write the approved changes, with an audit trail
    Try it all on demo data with a local sandbox org:  reconcile demo
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@app.command()
@click.argument("snapshot_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Plan file to write (the JSON manifest; its data files go to OUT's stem + .data/).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "parquet", "json"]),
    default="auto",
    show_default=True,
    help="json: reconcile.plan/1, one JSON file with every change, finding and reject inline; parquet: "
    "reconcile.plan/2 (a JSON manifest + Parquet files, any size); auto: json up to 10,000 changes, findings and "
    "rejects, parquet for a larger plan.",
)
@db_option
@policy_option
@click.option("--lenient", is_flag=True, help="Quarantine bad rows in the rejects table and plan from the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan summary as JSON instead of tables.")
@click.option(
    "--memory-limit",
    help="DuckDB memory limit such as 2GB: spills to disk beyond it, working tables go to a scratch file "
    "when they would be larger than it (1M leads: 0.8 GB peak at 600MB) [default: RECONCILE_MEMORY_LIMIT, else 1/24 of the "
    "available memory, 1GB to 4GB; for a larger snapshot 0.4 x its size, up to a third of the available memory].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="DuckDB worker threads (the plan is identical whatever "
    "the number) [default: RECONCILE_THREADS, else one per core].",
)
@org_option
def plan(snapshot_dir, out, db, policy, lenient, as_json, memory_limit, threads, org, fmt):
    """Build the writeback plan of a snapshot directory.

    Reads SNAPSHOT_DIR (sfdc/, clay/, smartlead/, pardot/, optional manifest.toml), computes in DuckDB what
    Salesforce should hold, and writes OUT — one reconcile.plan/1 JSON file with every change inline, or for a
    plan of more than 10,000 rows reconcile.plan/2: a JSON manifest, with the changes, findings and rejects as
    Parquet files in OUT's stem + .data/ (--format chooses) — plus OUT.changes.csv / .parquet for spreadsheets.
    Nothing is written to Salesforce. On bad input nothing is written at all and the error names the file,
    row, column and value; --lenient plans from the good rows instead. The DuckDB file is built beside the
    old one and replaces it only when everything succeeded (its audit trail is carried over).

    \b
    Example:
      reconcile plan snapshots/2026-11-27 --out plans/2026-11-27.json
    """
    from .build import build_plan
    from .console import plan_summary_text, progress_status

    with progress_status("Planning") as progress:
        result = build_plan(
            snapshot_dir,
            out=out,
            db=db,
            policy=policy_path(policy, org),
            lenient=lenient,
            progress=progress,
            memory_limit=memory_limit,
            threads=threads,
            fmt=fmt,
        )
    if as_json:
        click.echo(json.dumps(result.plan["summary"], indent=2))
        return
    plan_summary_text(
        result.plan,
        extra={"Plan": out, "DuckDB": result.db_path, "Changes for spreadsheets": ", ".join(map(str, result.exports))},
    )


@app.command()
@click.argument("record_id")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Plan file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def explain(record_id, plan_path, as_json):
    """Explain why RECORD_ID (Lead or CampaignMember, 15 or 18 characters) gets each change and finding.

    Prints every planned change with its rule, status and blocked reasons, every finding with its route,
    and the source rows (file, row, column, value) behind each.

    \b
    Example:
      reconcile explain 00Q5g00000AbCdE --plan plan.json
    """
    from .explain import explain as run, render_text
    from .plan import load_plan

    result = run(load_plan(plan_path), record_id)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else render_text(result))


@app.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder for the demo snapshot, DuckDB file, plan, report and sandbox state: a new or empty folder, or an "
    "earlier demo's (replaced; any other non-empty folder is refused).",
)
@click.option(
    "--leads",
    type=click.IntRange(min=37),
    default=200,
    show_default=True,
    help="Demo leads, the scenario catalogue (37 leads) included: at least 37.",
)
@click.option("--no-apply", is_flag=True, help="Stop after the plan and report (nothing written to the sandbox).")
@click.option(
    "--data-only",
    is_flag=True,
    help="Only write the demo snapshot (WORKDIR/snapshot) to plan from yourself: no org, no plan.",
)
def demo(workdir, leads, no_apply, data_only):
    """Run the whole day on demo data against a local sandbox org — no setup, no credentials.

    Generates a realistic snapshot (every rule case of the spec plus real-world data problems), starts the
    local Salesforce-compatible org on 127.0.0.1, pulls from it, plans, renders the HTML report, approves as
    "Demo Admin", applies with an audit trail and re-plans to show nothing is left to do.

    \b
    Examples:
      reconcile demo --workdir demo
      reconcile demo --leads 200000 --no-apply   # a bigger day, plan and report only
      reconcile demo --workdir try --data-only   # only try/snapshot, to plan from yourself
    """
    from .console import out, plan_summary_text
    from .demo import run_demo, write_demo_snapshot

    if data_only:
        out.print(f"Demo snapshot ({leads} leads, every scenario of the spec): {write_demo_snapshot(workdir, leads)}")
        return
    r = run_demo(workdir, leads=leads, apply=not no_apply, say=lambda m: out.print(f"[dim]{m}[/dim]"))
    plan_summary_text(r.plan)
    if not no_apply:
        out.print(
            "Applied to the sandbox org: "
            + (", ".join(f"{k} {v}" for k, v in r.apply_counts.items()) or "nothing to do")
            + f" in {r.requests} API requests; "
            f"re-plan after apply: {r.replan_ready} ready changes left."
        )
        for label, path in sorted(r.files.items()):
            out.print(f"  {label}: {path}")
    out.print(f"Plan: {r.plan_path}   DuckDB: {r.db_path}")
    out.print(f"[bold]HTML report: {r.report_path.resolve()}[/bold]")


@app.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", required=True, help="Approver's name (recorded with the time and plan_id).")
@click.option("--fields", "fields", multiple=True, help="Approve only this field (Object.Field or Field); repeatable.")
@click.option("--override-gate", help="Reason for accepting the plan's gates (blast radius).")
@click.option("--release-field", multiple=True, help="Release overwrite candidates of this field; repeatable.")
@click.option("--release-record", multiple=True, help="Release overwrite candidates of this record id; repeatable.")
@click.option("--release-reason", help="Why those existing values may be overwritten (required with --release-*).")
@click.option(
    "--replace", "replace", help="Replace the plan's current approval, saying why (both stay in its history)."
)
@db_option
@policy_option
@org_option
def approve(
    plan_path, by, fields, override_gate, release_field, release_record, release_reason, replace, db, policy, org
):
    """Approve PLAN_PATH for apply: who, when, which fields, gate overrides, overwrite releases.

    Writes PLAN.approval.json beside the plan, bound to its plan_id and signed with the key outside the
    plan's folder (RECONCILE_APPROVAL_KEY, or approval.key in RECONCILE_CONFIG_DIR / ~/.config/reconcile):
    an edited plan or approval is refused. The plan must be one `reconcile plan` built (its DuckDB file
    records it). --by names one of the policy's [[approvers]]. Gates are recomputed from the policy. Only
    `overwrite_not_approved` blocks can be released, and only for the fields or records named, with a
    reason. Legal, read-only and allowlist blocks are never released. An approved plan is approved again
    only with --replace REASON.

    \b
    Examples:
      reconcile approve plan.json --by "Ana Admin"
      reconcile approve plan.json --by "Ana Admin" --fields Has_Replied__c --fields ReplyClassification__c
      reconcile approve plan.json --by "Ana Admin" --override-gate "bounce backlog after outage, checked sample"
    """
    from .approval import approval_path, approve as run

    a = run(
        plan_path,
        by,
        fields=list(fields) or None,
        override_gate=override_gate,
        release_fields=list(release_field) or None,
        release_records=list(release_record) or None,
        release_reason=release_reason,
        policy=policy_path(policy, org),
        replace=replace,
        db=db,
    )
    click.echo(
        f"Approved plan {short_id(a['plan_id'])} by {a['approved_by']} at {a['approved_at']} "
        f"(fields: {a['scope']['fields'] if a['scope']['fields'] == 'all' else ', '.join(a['scope']['fields'])})"
        f" → {approval_path(plan_path)}"
    )
    if a["set_aside"]:
        click.echo(f"The approval of the plan built before it at this path was kept as {a['set_aside']}.")
    from .plan import load_plan

    # the manifest only: approve has just verified the plan and its data files
    if not load_plan(plan_path, verify=False)["summary"]["changes"]["ready"] and not a.get("overwrite_releases"):
        click.echo("Note: the plan has no ready changes, so apply will write nothing.")


@app.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Re-check and re-read only; show what would be written (a plan not yet approved: as if approved, exit 1).",
)
@db_option
@policy_option
@org_option
def apply(plan_path, dry_run, db, policy, org):
    """Apply an approved plan to Salesforce, with an audit trail.

    Re-checks every change against the policy and the org (allowlist, read-only, pending Legal), re-reads
    current values (drifted / already_applied are not written), writes with sObject Collections (≤ 200
    records a call) or Bulk API 2.0 above the policy's bulk_threshold (default 2,000 records per object),
    retries lock errors and 5xx with backoff, and stops cleanly on session expiry, API limits or an outage (exit 3:
    rerun the same command to resume — nothing is written twice). Writes PLAN.results.csv,
    PLAN.exceptions.csv/.md (paste into Jira) and PLAN.undo.json (before-images, needs approval).

    \b
    Credentials (environment only; README "Connecting to your org"):
      client credentials  SF_LOGIN_URL SF_CLIENT_ID SF_CLIENT_SECRET         (recommended)
      JWT bearer          SF_LOGIN_URL SF_CLIENT_ID SF_USERNAME SF_PRIVATE_KEY_FILE
      session             SF_INSTANCE_URL SF_SESSION_ID                       (expires within hours)
      legacy              SF_USERNAME SF_PASSWORD SF_SECURITY_TOKEN           (SOAP login, retired Summer '27)
                          + SF_DOMAIN (login, test, acme.my) or SF_LOGIN_URL
      optional            SF_CA_BUNDLE SF_API_VERSION SF_CONNECT_TIMEOUT (10 s) SF_READ_TIMEOUT (120 s)
    With --org ICARE every variable is read as SF_ICARE_… only.

    \b
    Examples:
      reconcile apply plans/2026-11-27.json --dry-run     # every check, nothing sent
      reconcile apply plans/2026-11-27.json
    """
    from rich.progress import Progress

    from .apply.apply import apply_plan
    from .console import err

    pol = policy_path(policy, org)  # an unknown org is said before anything connects
    with Progress(transient=True, console=err, disable=not err.is_terminal) as bar:  # stdout keeps the result only
        task = bar.add_task("Applying", total=None)
        result = apply_plan(  # logs in once the plan, its approval and the policy passed the local checks
            plan_path,
            org=org,
            db=db,
            dry_run=dry_run,
            policy=pol,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    from .apply.apply import exit_status, summary_lines

    click.echo(
        f"{'Dry run' if dry_run else 'Applied'} plan {short_id(result.plan_id)}: "
        + (", ".join(f"{k} {v}" for k, v in result.counts.items()) or "nothing to do")
        + f" ({result.requests} API requests)"
    )
    for line in summary_lines(result):
        click.echo(line)
    for label, path in sorted(result.files.items()):
        click.echo(f"  {label}: {path}")
    code = exit_status(result)
    if code:
        sys.exit(code)


@app.command()
@click.option(
    "--db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("reconcile.duckdb"),
    show_default=True,
    help="DuckDB file holding the audit table.",
)
@click.option("--record", "record_id", help="Only this record id (15 or 18 characters).")
@click.option("--plan", "plan_id", help="Only this plan_id (a prefix is enough, with or without sha256:).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option(
    "--verify", is_flag=True, help="Check the hash chain and its signed head; exit 1 naming the first broken row."
)
def audit(db, record_id, plan_id, as_csv, verify):
    """Show the audit trail: every attempted change with approver, before, after, result and error code.

    Each row carries the hash of the row before it and of its own content (prev_hash, row_hash); the last
    row is anchored by a signed head. --verify names the first row that was edited, deleted or inserted.

    \b
    Examples:
      reconcile audit --db plans/reconcile.duckdb --record 00Q5g00000AbCdEEAV
      reconcile audit --db plans/reconcile.duckdb --verify
    """
    from rich.table import Table

    from .apply.audit import COLUMNS, query, to_csv, verify_file
    from .console import out
    from .ids import id18

    if verify:
        n = verify_file(db)
        click.echo(f"Audit trail in {db}: {n} rows, hash chain and signed head intact.")
        return
    if record_id:  # 15-character ids are looked up by their 18-character form; a typo is said, not 0 rows
        from .errors import PlanError

        if id18(record_id) is None:
            raise PlanError(
                f"Record id '{record_id}' is not a Salesforce id (15 or 18 letters and digits with a valid "
                "checksum). Copy the id from the plan, the audit CSV or Salesforce."
            )
        record_id = id18(record_id)
    if plan_id and not ("sha256:".startswith(plan_id) or plan_id.startswith("sha256:")):
        plan_id = "sha256:" + plan_id  # a prefix of the hex digits, as the short ids print it after 'sha256:'
    if plan_id and plan_id.startswith("sha256:") and not re.fullmatch(r"[0-9a-f]{0,64}", plan_id[7:]):
        from .errors import PlanError

        raise PlanError(
            f"Plan id '{plan_id.removeprefix('sha256:')}' is not a plan_id or its beginning (hexadecimal digits "
            "0-9 a-f, with or without 'sha256:'). Copy it from the plan, the report or the audit."
        )
    rows = query(db, record_id=record_id, plan_id=plan_id)
    if as_csv:
        click.echo(to_csv(rows), nl=False)
        return
    plans = sorted({r["plan_id"] for r in rows})  # one plan: named in the title; several: a column
    of = f" of plan {plans[0]}" if len(plans) == 1 else ""
    t = Table(title=f"Audit trail ({len(rows)} rows){of}")
    hidden = ("run_id", "job_id", "prev_hash", "row_hash") + (
        ("plan_id",) if len(plans) <= 1 else ()
    )  # the CSV has all
    cols = [c for c in COLUMNS if c not in hidden]
    for c in cols:
        t.add_column(c, no_wrap=c in ("plan_id", "record_id", "field", "result", "at"), overflow="fold")
    for r in rows:
        t.add_row(*[short_id(r[c]) if c == "plan_id" else str("" if r[c] is None else r[c]) for c in cols])
    out.print(t)


def _jira_key(value: str | None) -> str | None:
    """A Jira issue key (PROJECT-123): a typo is a usage error before anything is queued (a queued comment on a
    ticket that does not exist is retried by every later run)."""
    if value is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*", value.strip()):
        raise click.BadParameter(f"'{value}' is not a Jira issue key such as KLN-35 (project key, dash, number).")
    return value.strip() if value else value


def _source_names(ctx, param, value):
    """--sources as a list of source names; an unknown name is a usage error (exit 2) listing the accepted ones."""
    from .errors import PullError
    from .sources.pull_all import parse_sources

    try:
        return parse_sources(value, origin="")  # click names the option
    except PullError as e:
        raise click.BadParameter(str(e)) from None


@app.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Snapshot directory to write.")
@click.option(
    "--sources",
    "names",
    default="sfdc",
    show_default=True,
    callback=_source_names,
    help="Comma-separated sources to pull: sfdc, smartlead, pardot, clay (or all).",
)
@org_option
@click.option(
    "--bulk-threshold",
    type=click.IntRange(min=0),
    default=50_000,
    show_default=True,
    help="Objects with more records than this are read with Bulk API 2.0 instead of REST.",
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    type=int,
    help="Smartlead campaign id to pull; repeatable [default: the policy's [sources.smartlead] campaigns, "
    "else every campaign of the key].",
)
@click.option(
    "--clay-dir",
    type=click.Path(path_type=Path),
    help="Clay drop folder [default: RECONCILE_CLAY_DIR, else the policy's [sources.clay] drop_dir].",
)
@click.option(
    "--spool",
    type=click.Path(path_type=Path),
    help="Smartlead webhook spool (`smartlead-webhook serve --spool`) [default: RECONCILE_SMARTLEAD_SPOOL].",
)
@policy_option
def pull(out_dir, names, org, bulk_threshold, campaigns, clay_dir, spool, policy):
    """Pull sources into OUT in the snapshot layout, with manifest.toml taken_at per source.

    sfdc: Lead, CampaignMember, Contact, Campaign (+ describe) from Salesforce (SF_* variables).
    smartlead: each campaign's leads export (SMARTLEAD_API_KEY, SMARTLEAD_BASE_URL), plus the webhook
    spool's days since the last snapshot. pardot: prospects from Account Engagement API v5 with the
    Salesforce token (PARDOT_BUSINESS_UNIT_ID, PARDOT_BASE_URL). clay: the newest export per table in the
    drop folder. Secrets come only from the environment and are never printed or written.

    \b
    Examples:
      reconcile pull --out snapshots/2026-11-27
      reconcile pull --out snapshots/2026-11-27 --sources all --clay-dir /srv/clay-drop --spool /srv/spool
    """
    import os

    from .console import progress_status
    from .salesforce import connect
    from .sources.pull_all import pull_sources

    pol = policy_path(policy, org)  # an unknown org is said before anything connects
    with progress_status("Pulling") as progress:
        results = pull_sources(
            out_dir,
            names,
            connect_sf=lambda: connect(org=org),
            campaigns=list(campaigns),
            clay_dir=clay_dir or os.environ.get("RECONCILE_CLAY_DIR") or None,
            spool=spool or os.environ.get("RECONCILE_SMARTLEAD_SPOOL") or None,
            policy=pol if {"smartlead", "clay"} & set(names) else None,
            progress=progress,
            bulk_threshold=bulk_threshold,
        )
    for r in results:
        if r.system == "sfdc":  # the one-line Salesforce summary scripts already read
            click.echo(
                "Pulled "
                + ", ".join(f"{k} {v}" for k, v in r.counts.items())
                + f" into {out_dir}/sfdc: {len(r.files)} files, {r.records} records, taken_at {r.taken_at} "
                f"({r.requests} API requests)"
            )
            continue
        click.echo(
            f"Pulled {r.system}: {len(r.files)} files, {r.records} records, taken_at {r.taken_at} "
            f"({r.requests} API requests)" + "".join(f"; {n}" for n in r.notes)
        )
    click.echo(f"Snapshot: {out_dir} (manifest.toml: taken_at per source)")


@app.command()
@policy_option
@org_option
def preflight(policy, org):
    """Check the integration user against seed §3.1 and the policy; exit 1 if anything fails.

    API-only profile, no admin-wide permissions, read (not edit) on Contacts, edit on Leads and Campaign
    Members limited to the allowlist, validation bypass, the policy's role, every policy GBU visible, and
    org-vs-policy drift (e.g. a field the policy calls writable that the org made a formula). First prints
    the login flow used and the user it resolved to. Credentials: see `reconcile apply --help`; a login
    failure names the variable to fix (README "Connecting to your org" has the Salesforce setup steps).

    \b
    Examples:
      reconcile preflight
      reconcile preflight --org ICARE
    """
    from .preflight import run_preflight
    from .salesforce import connect

    pol = load_policy(policy_path(policy, org))  # an unknown org is said before anything connects
    client = connect(org=org)
    checks = run_preflight(client, pol)
    who = client.identity or {}
    click.echo(
        f"Logged in with {client.creds.flow_name} as {who.get('preferred_username')} "
        f"({who.get('user_id')}) at {client.sf.base_url.split('/services')[0]}"
    )
    for c in checks:
        click.echo(f"{c.label}  {c.name}: {c.detail}" + ("" if c.label == "PASS" else f"\n      fix: {c.fix}"))
    failed = [c for c in checks if not c.ok and not c.warn]
    warned = [c for c in checks if c.warn]
    click.echo(
        f"{len(checks) - len(failed) - len(warned)} passed, {len(failed)} failed"
        + (f", {len(warned)} not checked for sure (WARN)" if warned else "")
    )
    if failed:
        sys.exit(1)


@app.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="HTML file to write.")
@click.option(
    "--reports-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Earlier run bundles (`reconcile run`'s REPORTS_DIR), for trends.",
)
def report(plan_path, out, reports_dir):
    """Render the self-contained HTML report (MARCOM Ops) of a plan; opens offline.

    \b
    Example:
      reconcile report plans/2026-11-27.json --out report.html --reports-dir reports
    """
    from .plan import load_plan
    from .report.report import render_report

    from .files import refuse_folder
    from .planfile import data_dir

    refuse_folder(Path(out))
    if Path(out).resolve() == Path(plan_path).resolve() or Path(out).resolve().is_relative_to(
        data_dir(plan_path).resolve()
    ):
        raise ReconcileError(
            f"--out '{out}' is the plan itself (or inside its data folder): the report would replace it. Name the "
            "report another file, e.g. --out report.html."
        )
    plan = load_plan(plan_path)
    history, since, run_date = [], None, None
    if reports_dir:
        from .notebook.run import RunBundle, history_of, since_last_run

        # the plan's own run bundle (its folder) is this run, not an earlier one; its run date places it
        own = Path(plan_path).resolve().parent
        run_date = bundle.run_date if (bundle := RunBundle.from_dir(own)) else None
        history = history_of(reports_dir, exclude=own, before=plan["created_at"], run_date=run_date)
        since = since_last_run(RunBundle.from_dir(Path(reports_dir) / history[-1]["run_id"]) if history else None)
    path = render_report(plan, out, history=history, since=since, run_date=run_date)
    click.echo(f"HTML report: {path}")


@app.command("export-members")
@click.argument("snapshot_dir", type=click.Path(path_type=Path))
@click.option("--campaign", "campaign_id", required=True, help="Salesforce Campaign id (15 or 18 characters).")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="CSV file for Clay to import.")
@policy_option
@org_option
def export_members(snapshot_dir, campaign_id, out, policy, org):
    """Write the pre-campaign Campaign Member export (SFDC → Clay, seed §3.4) for one campaign.

    Columns: CampaignMemberId, LeadId, Email (named as in the policy's [clay.columns]), Company, Industry,
    Company Description, and the eligibility inputs, so Clay writes back with stable keys. Members of a Lead
    only (a Contact's member is left out and counted); written whole or not at all.

    \b
    Example:
      reconcile export-members snapshots/2026-11-27 --campaign 7015g000001gsDqAAI --out members.csv
    """
    from .members import export_members as run

    r = run(snapshot_dir, campaign_id, out, policy=policy_path(policy, org))
    left_out = (
        f" (left out {r.contacts_left_out} Contact member(s): Contacts are read-only context)"
        if r.contacts_left_out
        else ""
    )
    click.echo(f"Wrote {r.rows} Campaign Members to {out}{left_out}")


@app.command()
@click.option(
    "--date",
    "run_date",
    callback=lambda ctx, param, value: _usage_checked("run_date", value),
    help="Run date (YYYY-MM-DD) [default: today, UTC].",
)
@click.option(
    "--snapshot",
    "snapshot_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Snapshot directory to reconcile.",
)
@click.option(
    "--pull",
    is_flag=True,
    help="Pull into the bundle first: the sources RECONCILE_PULL_SOURCES names (default: sfdc); --snapshot gives "
    "the others.",
)
@click.option("--reports-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@policy_option
@click.option("--lenient", is_flag=True, help="Quarantine bad rows instead of stopping.")
@org_option
@click.option(
    "--cell-timeout",
    type=click.FloatRange(min=1),
    default=1800,
    show_default=True,
    help="Seconds one notebook cell may run before the run is stopped.",
)
@click.option(
    "--timeout",
    "run_timeout",
    type=click.FloatRange(min=1),
    default=10800,
    show_default=True,
    help="Seconds the whole run may take before it is stopped.",
)
@click.option(
    "--notify",
    "send",
    is_flag=True,
    help="Then tell each route what is new (`reconcile notify`; state in REPORTS_DIR/notify.duckdb).",
)
def run(run_date, snapshot_dir, pull, reports_dir, policy, lenient, org, cell_timeout, run_timeout, send):
    """The daily batch: run notebooks/daily_run.ipynb with papermill; never applies.

    Leaves a run bundle under REPORTS_DIR/<run_id>/: the executed notebook, report.html, plan.json (+ CSV and
    Parquet changes), fingerprints.json of the inputs and history.json for trends. Without --snapshot and
    --pull it runs on a generated demo snapshot.

    \b
    cron (06:30 every day):
      30 6 * * *  cd /srv/reconcile && .venv/bin/reconcile run --pull --snapshot /srv/exports/today

    \b
    Example:
      reconcile run --snapshot snapshots/2026-11-27
    """
    from .notebook.run import run_daily

    from .console import run_summary_text

    # a missing or broken policy is said here, before a kernel starts and leaves a failed bundle
    load_policy(policy_path(policy, org))
    if pull:  # missing or partial credentials are said here, not as a failed bundle per attempt
        from .credentials import read_credentials

        read_credentials(org)
    bundle = run_daily(
        snapshot_dir=snapshot_dir,
        pull=pull,
        run_date=run_date,
        reports_dir=reports_dir,
        policy=policy_path(policy, org),
        org=org,
        lenient=lenient,
        cell_timeout=cell_timeout,
        run_timeout=run_timeout,
    )
    run_summary_text(bundle)
    if send:
        from .notify import notify as tell

        _print_notify(tell(bundle.plan_path, db=Path(reports_dir) / "notify.duckdb", policy=policy_path(policy, org)))


@app.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the messages that would go out; send nothing, change nothing.")
@db_option
@policy_option
@org_option
@click.option(
    "--jira-ticket",
    callback=lambda ctx, param, value: _jira_key(value),
    help="Sprint ticket (e.g. KLN-35) for the exceptions comment [default: the policy's notify.sprint_ticket].",
)
def notify(plan_path, dry_run, db, policy, org, jira_ticket):
    """Tell each route what is new in PLAN_PATH: e-mail, webhook, Jira (README "Who gets told what").

    One message per route with counts, the top items with Salesforce links and the full findings CSV; nothing
    for a route with nothing new. Legal/compliance findings go to the DPO directly; connector-level findings
    still open after notify.escalate_after_days are escalated to IT Infra. The run's apply exceptions and the
    Clay connector's missing-field errors go to the sprint Jira ticket as one comment, never twice. A message
    that cannot be delivered is retried once, stays queued in the DuckDB file and goes out with the next run
    (exit 1 until then). Secrets only from the environment: RECONCILE_SMTP_*, RECONCILE_JIRA_*, and the webhook
    variables the policy names.

    \b
    Example:
      reconcile notify plans/2026-11-27.json --dry-run
      reconcile notify plans/2026-11-27.json --jira-ticket KLN-35
    """
    from .notify import notify as run

    result = run(plan_path, db=db, policy=policy_path(policy, org), dry_run=dry_run, jira_ticket=jira_ticket)
    _print_notify(result, dry_run)


def _print_notify(result, dry_run: bool = False) -> None:
    from .credentials import redact

    for w in result.warnings:
        click.echo(f"Warning: {w}", err=True)
    if not result.messages:
        click.echo("Nothing new to tell.")
    for m in result.messages:
        click.echo(
            redact(
                f"{m['status']:8} {m['route']} → {m['channel']} {m['target']}: {m['subject']}"
                + (f"  [{m['detail']}]" if m["status"] != "dry run" else "")
            )
        )
        if dry_run and m["channel"] == "email":
            click.echo("    " + m["payload"]["text"].replace("\n", "\n    ").rstrip())
    if result.failed:
        raise ReconcileError(
            f"{len(result.failed)} of {len(result.messages)} message(s) not delivered (see above); "
            "they stay queued in the DuckDB file: fix the destination and rerun `reconcile notify`."
        )


@app.command()
@click.option(
    "--week",
    "week",
    is_flag=False,
    flag_value="",
    default="",
    metavar="[DATE]",
    callback=lambda ctx, param, value: _usage_checked("week", value) if value else value,
    help="Any day of the week to review (YYYY-MM-DD) [default: this week].",
)
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Run bundles to read (reconcile run); must exist (a misspelt folder would give an empty review).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Folder for WEEK.html and WEEK.md [default: REPORTS_DIR/weekly].",
)
@click.option(
    "--db",
    "dbs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Extra DuckDB file whose audit trail counts (where apply ran); repeatable.",
)
@click.option("--notify", "send", is_flag=True, help="Send it to the CRM Admin's destinations.")
@policy_option
@org_option
def digest(week, reports_dir, out_dir, dbs, send, policy, org):
    """The CRM Admin's weekly connector review (seed 3.5) from the week's run bundles and audit trail.

    Connector errors by object / field / message with counts and first / last seen, apply exceptions, what
    was applied and by whom, findings opened and closed — as HTML (the report's look) and Markdown.

    \b
    Example:
      reconcile digest --week 2026-11-27 --notify      # → reports/weekly/2026-W48.html and .md
    """
    from .report.digest import build_digest

    pol = policy_path(policy, org)  # an unknown org is an error with or without --notify, never ignored
    from .errors import refuse_not_duckdb

    for db in dbs:
        refuse_not_duckdb(db)
    d = build_digest(week or None, reports_dir=reports_dir, out_dir=out_dir, audit_dbs=tuple(dbs))
    click.echo(f"Weekly review {d.week} ({len(d.runs)} runs): {d.html_path}  {d.md_path}")
    if send:
        from .notify import notify_digest

        _print_notify(notify_digest(d, db=Path(reports_dir) / "notify.duckdb", policy=pol))


@app.group()
def standins():
    """Local stand-ins for Jira, incoming webhooks and SMTP on 127.0.0.1 (try `notify` offline; tests).

    \b
    Example:
      reconcile standins serve > standins.env &   # the export lines of the variables, then:
      sleep 1 && . ./standins.env
      reconcile notify plan.json --policy my-policy.toml
    """


@standins.command("serve")
@click.option("--jira-flavor", type=click.Choice(["cloud", "datacenter"]), default="cloud", show_default=True)
@click.option(
    "--issue",
    "issues",
    multiple=True,
    default=["KLN-35"],
    show_default=True,
    help="Jira issue that exists from the start, and its project (a new issue needs an existing project); repeatable.",
)
def standins_serve(jira_flavor, issues):
    """Serve a Jira stand-in (Cloud REST v3 or Data Center REST v2), a webhook receiver (Slack, Teams, Google
    Chat) and an SMTP server until interrupted; prints the `export` lines of the variables that reach them.

    \b
    Example:
      reconcile standins serve > standins.env &
      sleep 1 && . ./standins.env         # RECONCILE_JIRA_*, RECONCILE_SMTP_*, RECONCILE_WEBHOOK_*
      reconcile notify plan.json --policy my-policy.toml
    """
    import time

    from .standins.jira import JiraStandin
    from .standins.smtp import SmtpStandin
    from .standins.webhook import WebhookStandin

    jira, hooks, smtp = JiraStandin(flavor=jira_flavor, issues=list(issues)), WebhookStandin(), SmtpStandin()
    env = {**jira.env(), **smtp.env(), **{f"RECONCILE_WEBHOOK_{f.upper()}": hooks.url_for(f) for f in hooks.PATHS}}
    click.echo(f"# reconcile stand-ins on 127.0.0.1 (Jira {jira_flavor}, webhooks, SMTP) until interrupted; source me")
    click.echo("\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items()))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        jira.stop(), hooks.stop(), smtp.stop()


@app.group("smartlead-webhook")
def smartlead_webhook():
    """Receive Smartlead webhooks into a durable spool that `reconcile pull --sources smartlead` reads.

    \b
    Example:
      reconcile smartlead-webhook serve --spool /srv/smartlead-spool --port 8787 &
      reconcile pull --sources smartlead --spool /srv/smartlead-spool --out snapshots/today
    """


@smartlead_webhook.command("serve")
@click.option(
    "--spool",
    "spool_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for events-YYYY-MM-DD.jsonl and rejected/.",
)
@click.option("--port", type=int, default=8787, show_default=True, help="Port (0 = a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface (put TLS in front of it).")
def smartlead_webhook_serve(spool_dir, port, host):
    """Serve POST /smartlead/<secret> until interrupted; prints one JSON line with the URL.

    Accepts EMAIL_BOUNCE/EMAIL_BOUNCED, EMAIL_REPLY/EMAIL_REPLIED and LEAD_CATEGORY_UPDATED (old and new
    names; Smartlead's other event types are spooled too, and the plan ignores them), appends each to
    SPOOL/events-YYYY-MM-DD.jsonl and fsyncs it before answering 200. Bad payloads (not JSON, no event_type, no
    lead email, no event time or one that is not an ISO 8601 timestamp) get 400, a body sent as another
    Content-Type than application/json 415, a wrong secret 403; all are kept in SPOOL/rejected/ with the reason
    (any secret_key masked). The secret comes from RECONCILE_SMARTLEAD_WEBHOOK_SECRET: put it in the
    URL given to Smartlead (…/smartlead/<secret>), send it as the X-Reconcile-Webhook-Secret header, or set
    the variable to the webhook's Smartlead secret_key (then POST /smartlead verifies by it).

    \b
    Example:
      reconcile smartlead-webhook serve --spool /srv/reconcile/spool --port 8787
    """
    from .sources.webhook import serve as run

    run(
        spool_dir,
        port=port,
        host=host,
        ready=lambda url, notes: (
            click.echo(
                json.dumps({"url": f"{url}/smartlead/<secret>", "spool": str(spool_dir), "repaired": notes}), nl=True
            )
            or sys.stdout.flush()
        ),
    )


@app.group()
def sandbox():
    """The local Salesforce-compatible org on 127.0.0.1 (tests, demo, trying things safely).

    \b
    Example:
      reconcile sandbox serve --seed demo/snapshot --reset > sandbox.log &
      eval "$(reconcile sandbox env --wait 60)"     # SF_LOGIN_URL, SF_CLIENT_ID, … for every command
      reconcile preflight
    """


@sandbox.command("serve")
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1 [default: a free one].")
@click.option(
    "--seed",
    "seed_dir",
    type=click.Path(path_type=Path),
    help="Snapshot dir whose sfdc/ files seed a fresh org (refused when --state exists, unless --reset).",
)
@click.option("--reset", is_flag=True, help="Replace an existing --state with a fresh org (CA and JWT key are kept).")
@click.option(
    "--keep-formula-values",
    is_flag=True,
    help="With --seed: where the snapshot's overall_hard_bounced__c / Cold_Lead_Eligible__c differ from "
    "what the org's formulas compute, keep answering the snapshot's value (an org whose deployed "
    "formula deviates from the spec; `make demo` seeds this way).",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    default=Path(".sandbox/org.json"),
    show_default=True,
    help="State file: the org survives restarts; every field change is recorded.",
)
@click.option(
    "--token-ttl",
    type=float,
    default=7200,
    show_default=True,
    help="Seconds an OAuth access token stays valid (then the API answers INVALID_SESSION_ID).",
)
def sandbox_serve(port, seed_dir, reset, keep_formula_values, state, token_ttl):
    """Serve the sandbox org until interrupted; prints one JSON line: instance_url, session ids, ca_bundle,
    its registered OAuth app: login_url, client_id, client_secret, username, jwt_key_file, and the integration
    user's password and security_token (legacy SOAP login). Smartlead and
    Pardot stand-ins (seeded from --seed's smartlead/ and pardot/ files) serve beside it: smartlead_base_url,
    smartlead_api_key, pardot_base_url, pardot_business_unit_id (`sandbox env` exports them too).

    \b
    Example (client credentials):
      reconcile sandbox serve --seed demo/snapshot --reset &
      eval "$(reconcile sandbox env)"
      reconcile preflight && reconcile pull --out snap/
    """
    from .sandbox import serve

    seeder = None
    if seed_dir:
        from .seeding import seed_org

        seeder = lambda org: seed_org(org, seed_dir, keep_formula_values=keep_formula_values)  # noqa: E731
    from .standins.sources import start_source_standins

    serve(
        port,
        state,
        seed=seeder,
        token_ttl=token_ttl,
        reset=reset,
        companions=lambda org: start_source_standins(org, seed_dir),
    )


@sandbox.command("env")
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    default=Path(".sandbox/org.json"),
    show_default=True,
    help="State file of the serving org (as given to `sandbox serve`).",
)
@click.option(
    "--flow",
    type=click.Choice(["client_credentials", "jwt", "password", "session"]),
    default="client_credentials",
    show_default=True,
    help="Login flow the variables are for (password: the legacy SOAP login; session: the integration user's "
    "session id, no login).",
)
@click.option("--wait", type=float, default=10, show_default=True, help="Seconds to wait for the org to start.")
def sandbox_env(state, flow, wait):
    """Print shell lines that point `reconcile` at the running sandbox org (unset other ways in, export SF_…).

    \b
    Example:
      reconcile sandbox serve --seed demo/snapshot --reset &
      eval "$(reconcile sandbox env)"            # or: eval "$(reconcile sandbox env --flow jwt)"
      reconcile sandbox env --flow jwt           # just print them, to read or copy
      reconcile preflight
    """
    from .sandbox import env_lines

    click.echo("\n".join(env_lines(state, flow=flow, wait=wait)))


def main():  # console_scripts entry point
    app(prog_name="reconcile")


if __name__ == "__main__":
    main()
