"""`reconcile` command line: parse → one library call → render / exit code. No business logic here.

Exit codes: 0 success · 1 error (bad input, refused plan, failed check) · 2 usage error ·
3 apply stopped cleanly (session expired / API limit) — rerun to resume.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from .errors import ReconcileError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Turns every ReconcileError into `Error: …` and its exit code; --debug keeps the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ReconcileError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"Error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=Group, context_settings=CONTEXT)
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def app(ctx, debug):
    """Reconcile Clay, Smartlead and Pardot with Salesforce — plan, approve, apply, audit.

    \b
    Typical day:
      reconcile plan SNAPSHOT/ --out plan.json     build the writeback plan (never writes to Salesforce)
      reconcile explain 00Q… --plan plan.json      why a record gets each change or finding
      reconcile approve plan.json --by "Ana"       a person approves (scope, gate overrides)
      reconcile apply plan.json                    write the approved changes, with an audit trail
    Try it all on demo data with a local sandbox org:  reconcile demo
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@app.command(context_settings=CONTEXT)
@click.argument("snapshot_dir", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Plan file to write (JSON).")
@click.option("--db", type=click.Path(path_type=Path), help="DuckDB file [default: reconcile.duckdb beside --out].")
@click.option("--policy", type=click.Path(path_type=Path), help="Policy TOML [default: the packaged policy].")
@click.option("--lenient", is_flag=True, help="Quarantine bad rows in the rejects table and plan from the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan summary as JSON instead of tables.")
def plan(snapshot_dir, out, db, policy, lenient, as_json):
    """Build the writeback plan of a snapshot directory.

    Reads SNAPSHOT_DIR (sfdc/, clay/, smartlead/, pardot/, optional manifest.toml), computes in DuckDB what
    Salesforce should hold, and writes OUT (reconcile.plan/1 JSON) plus OUT.changes.csv / .parquet.
    Nothing is written to Salesforce. On bad input nothing is written at all and the error names the file,
    row, column and value; --lenient plans from the good rows instead.

    \b
    Example:
      reconcile plan snapshots/2026-11-27 --out plans/2026-11-27.json
    """
    from .build import build_plan
    from .console import plan_summary_text, progress_status

    with progress_status("Planning") as progress:
        result = build_plan(snapshot_dir, out=out, db=db, policy=policy, lenient=lenient, progress=progress)
    if as_json:
        click.echo(json.dumps(result.plan["summary"], indent=2))
        return
    plan_summary_text(result.plan, extra={"Plan": out, "DuckDB": result.db_path,
                                          "Changes for spreadsheets": ", ".join(map(str, result.exports))})


@app.command(context_settings=CONTEXT)
@click.argument("record_id")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), required=True, help="Plan file.")
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

    result = run(load_plan(plan_path, verify=False), record_id)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else render_text(result))


def main():  # console_scripts entry point
    app(prog_name="reconcile")


if __name__ == "__main__":
    main()
