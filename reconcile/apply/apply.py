"""`reconcile apply`: an approved plan → Salesforce, re-checked, drift-guarded, audited, resumable.

Order of work: verify plan + approval → re-check every change against the policy and the org's live
describe (allowlist, read-only, pending Legal, picklists, lengths — the plan-time gate is not trusted) →
re-read the current values of every targeted record → `already_applied` / `drifted` / to write →
write-ahead audit → send (writeback.py) → outcome audit → exports (results, Jira exceptions, the undo plan that
plan.undo_plan builds).
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import audit, runbook
from .. import planfile, provenance
from ..approval import APPLY_COLUMNS, approval_path, approved_changes, is_released, load_approval
from ..errors import ApplyError, ApplyStopped, ReconcileError
from .invariants import live_violation
from ..files import short_id, write_atomic
from ..plan import dumps, load_plan, undo_plan
from ..policy import BLOCKED_REASONS, WRITABLE_OBJECTS, Policy, load_policy
from .writeback import TRANSIENT, bulk_answers, send
from ..clock import parse_utc, utc_now


@dataclass
class ApplyResult:
    run_id: str
    plan_id: str
    outcomes: list[dict] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    requests: int = 0
    stopped: str | None = None
    approved: bool = True  # False: a dry run of a plan with no approval (shown as if every ready change were)

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(o["result"] for o in self.outcomes).items()))


NOT_WRITTEN = ("refused", "failed")


def exit_status(result: ApplyResult) -> int:
    """1 when any change was refused or failed, or a dry run found no approval; 0 when everything was applied, already
    applied or drifted."""
    return 1 if not result.approved or any(o["result"] in NOT_WRITTEN for o in result.outcomes) else 0


def summary_lines(result: ApplyResult) -> list[str]:
    """What the person at the terminal must know: a dry run's changes in a killed run's Bulk jobs counted per job;
    drifted changes listed; refused/failed counted with the file."""
    lines = [
        f"{n} change(s) in Bulk API 2.0 {job} submitted by a previous run; a real apply reads its results first."
        for job, n in sorted(Counter(o["job_id"] for o in result.outcomes if o["result"] == "in_bulk_job").items())
    ]
    drifted = [o for o in result.outcomes if o["result"] in ("drifted", "changed_since_apply")]
    if drifted:
        lines.append(
            f"{len(drifted)} change(s) not written because Salesforce changed (drifted or changed since apply):"
        )
        lines += [
            f"  {o['result']}: {o['object']} {o['record_id']} {o['field']}: now {o['current']!r}, plan "
            f"{o['before']!r} → {o['after']!r}"
            for o in drifted[:50]
        ]
        if len(drifted) > 50:
            lines.append(f"  … and {len(drifted) - 50} more in {result.files.get('results', 'the results file')}")
    not_written = [o for o in result.outcomes if o["result"] in NOT_WRITTEN]
    if not_written:
        bad = Counter(o["result"] for o in not_written)
        codes = Counter(o["error_code"] or "?" for o in not_written)
        exceptions = result.files.get("exceptions_csv")  # a dry run writes no file: it lists them here instead
        lines.append(
            f"Not applied: {', '.join(f'{k} {bad[k]}' for k in NOT_WRITTEN)} (by reason: "  # README: refused N, failed M
            f"{', '.join(f'{k} {v}' for k, v in sorted(codes.items()))})"
            + (f"; see {exceptions}" if exceptions else "")
            + ". Exit status 1."
        )
        if not exceptions:
            lines += [
                f"  {o['result']}: {o['object']} {o['record_id']} {o['field']}: {o['error_code'] or '?'}"
                for o in not_written[:50]
            ]
            if len(not_written) > 50:
                lines.append(f"  … and {len(not_written) - 50} more (the apply itself exports them all)")
    if not result.approved:
        lines.append(
            "Not approved yet: shown as if every ready change were approved; apply refuses this plan until "
            "`reconcile approve PLAN --by NAME` approves it. Exit status 1."
        )
    return lines


def policy_violations(
    change: dict, policy: Policy, org_updateable: dict[tuple[str, str], bool], converted: bool = False
) -> list[str]:
    """Apply-time gate, independent of the plan's own status (an edited plan is caught here): the checks of the plan
    gate (sql/plan/plan_changes.sql; tests/test_gate_parity.py holds them equal), reasons in BLOCKED_REASONS order.

    converted: whether the Lead is converted. apply itself leaves it False and checks the live record's IsConverted
    after re-reading it (_classify_against_current); the plan checks the snapshot's.
    A rule's own reason (overwrite_not_approved) is the live fill-if-blank invariant here (invariants.py), because
    an approval may release it."""
    reasons = []
    fp = policy.field_policy(change["object"], change["field"])
    if fp is None:
        reasons.append("not_in_allowlist")
    elif fp.status == "read_only" or fp.kind == "formula":
        reasons.append("read_only")
    if change["object"] not in WRITABLE_OBJECTS:
        reasons.append("object_not_writable")
    if org_updateable.get((change["object"], change["field"].lower())) is False:
        reasons.append("org_field_not_updateable")
    if fp is not None and fp.status == "pending_legal":
        reasons.append("pending_legal")
    if converted:
        reasons.append("converted_lead")
    after = change.get("after")
    if fp is not None and fp.picklist and after is not None and after not in fp.picklist:
        reasons.append("invalid_picklist_value")
    if fp is not None and fp.max_length and isinstance(after, str) and salesforce_length(after) > fp.max_length:
        reasons.append("too_long")
    if fp is not None and fp.kind == "checkbox" and not isinstance(after, bool):
        reasons.append("invalid_picklist_value")  # a checkbox is the two-value picklist {true, false} (plan: same)
    return [r for r in BLOCKED_REASONS if r in reasons]


def salesforce_length(text: str) -> int:
    """A text's length as Salesforce counts it against a field's max length (STRING_TOO_LONG): Java's
    String.length(), UTF-16 code units, so a character beyond U+FFFF (an emoji) counts 2 (the plan: sf_length)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _norm(v):
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return _norm(a) == _norm(b)


def _org_describe(client, objects: set[str]) -> tuple[dict[tuple[str, str], bool], dict[tuple[str, str], frozenset]]:
    """(updateable, active picklist values) of every field of the writable objects, from the org's describe."""
    updateable, active = {}, {}
    for obj in sorted(objects & set(WRITABLE_OBJECTS)):
        for f in client.describe(obj).get("fields", []):
            updateable[(obj, f["name"].lower())] = bool(f.get("updateable"))
            values = f.get("picklistValues") or []
            if f.get("type") in ("picklist", "multipicklist") or values:
                active[(obj, f["name"].lower())] = frozenset(v["value"] for v in values if v.get("active", True))
    return updateable, active


def check_snapshot_age(plan: dict, policy: Policy, now: datetime | None = None) -> None:
    taken = plan.get("snapshot", {}).get("taken_at", {}).get("sfdc")
    if not taken:
        return
    age = (now or utc_now()) - parse_utc(taken)
    limit = policy.thresholds.max_snapshot_age_hours
    if age.total_seconds() > limit * 3600:
        raise ApplyError(
            f"The plan's Salesforce snapshot was taken at {taken}, {age.total_seconds() / 3600:.0f} h ago, "
            f"older than the policy's max_snapshot_age_hours = {limit}. Pull a fresh snapshot, plan and "
            "approve again."
        )


def check_same_org(plan: dict, plan_path: Path, client) -> None:
    """A plan whose Salesforce snapshot `reconcile pull` read from one org is refused against any other (one
    integration user per CRM system: two orgs' records can share ids, e.g. a sandbox copied from production)."""
    pulled = (plan.get("snapshot") or {}).get("instance_url")
    here = getattr(client, "instance_url", None)
    if not pulled or not here or urlsplit(pulled).netloc.lower() == urlsplit(here).netloc.lower():
        return
    creds = getattr(client, "creds", None)
    variables = f" ({creds.prefix}…)" if creds else ""
    raise ApplyError(
        f"Plan '{plan_path}' was built from a Salesforce snapshot pulled from {pulled} (manifest.toml "
        f"instance_url), but the credentials{variables} log in to {here}. Nothing was read or written. Apply it "
        "with the org it was pulled from (--org NAME), or pull, plan and approve again for this org."
    )


def check_same_policy_org(plan: dict, plan_path: Path, policy: Policy) -> None:
    """A plan built with one org's policy is applied with that org's policy: another org's allowlist, statuses and
    approvers were not what the plan's gates and approval were computed under (SPEC §8: policy per org). The same
    org's policy edited since (a field put back to pending Legal) is applied as it is now: apply re-checks with it."""
    built = (plan.get("policy") or {}).get("org")
    if built and built != policy.org_name:
        raise ApplyError(
            f"Plan '{plan_path}' was built with the policy of org '{built}', but this apply reads the policy of org "
            f"'{policy.org_name}'. Nothing was read or written. Apply it with its org's policy (--org {built}), or "
            f"plan and approve again with --org {policy.org_name}."
        )


def apply_plan(
    plan_path: str | Path,
    client=None,
    db: str | Path | None = None,
    dry_run: bool = False,
    policy: str | Path | Policy | None = None,
    progress=None,
    now: datetime | None = None,
    expected_plan_id: str | None = None,
    org: str | None = None,
) -> ApplyResult:
    """Apply the approved changes of a plan (README: Approval and apply). Without `client`, logs in to `org` (its
    SF_<ORG>_… variables) only after the local checks: a plan that is unapproved, edited, stale or of another org's
    policy is refused before any request reaches Salesforce."""
    plan_path = Path(plan_path)
    plan = load_plan(plan_path)
    if expected_plan_id is not None and plan["plan_id"] != expected_plan_id:
        raise ApplyError(
            f"Plan '{plan_path}' changed on disk since it was reviewed (plan_id {short_id(plan['plan_id'])} "
            f"instead of {short_id(expected_plan_id)}). Nothing was written; review the plan again."
        )
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    check_same_policy_org(plan, plan_path, pol)
    db_path = Path(db) if db else plan_path.parent / "reconcile.duckdb"
    approval = None if dry_run and not approval_path(plan_path).exists() else load_approval(plan_path, plan, pol)
    if not _is_undo(plan, plan_path, db_path):  # an undo plan's before-images come from the audit, not a snapshot
        check_snapshot_age(plan, pol, now)
    changes = (
        approved_changes(plan, approval)
        if approval
        else planfile.rows(plan, "changes", "status = 'ready'", columns=APPLY_COLUMNS)
    )
    approver = approval["approved_by"] if approval else "(dry run, not approved)"
    result = ApplyResult(run_id=uuid.uuid4().hex[:12], plan_id=plan["plan_id"], approved=approval is not None)
    con, source = _open_checked(plan, plan_path, db_path, read_only=dry_run)
    try:
        applied_before = audit.applied_changes(con, plan["plan_id"])
        resumed = audit.pending_without_outcome(con, plan["plan_id"])
        if dry_run:
            changes = _in_bulk_jobs(result, changes, audit.submitted_jobs(con, plan["plan_id"]))
            con.close()
            con = None
        if client is None:
            from ..salesforce import connect

            client = connect(org=org)
        check_same_org(plan, plan_path, client)
        requests_before = getattr(client, "requests_made", 0)
        try:
            if con is not None:
                changes = _resume_bulk_jobs(client, con, result, plan["plan_id"], approver, changes)
            recorded = len(result.outcomes)  # the jobs' outcomes are in the audit already
            org, active = _org_describe(client, {c["object"] for c in changes})
            allowed = []
            for c in changes:
                reasons = policy_violations(c, pol, org)
                if reasons:
                    result.outcomes.append(
                        _outcome(c, "refused", reasons[0], "refused at apply time: " + ", ".join(reasons))
                    )
                else:
                    allowed.append(c)
            to_write = _classify_against_current(
                client, allowed, result, pol, approval, active, applied_before, undo=source == "undo"
            )
            if con is not None:
                for o in result.outcomes[recorded:]:
                    if o["result"] == "already_applied" and (o["object"], o["record_id"], o["field"]) in resumed:
                        o["result"], o["message"] = "applied", "confirmed after an interrupted run"
                audit.record(con, result.run_id, plan["plan_id"], approver, result.outcomes[recorded:])
            if dry_run:
                result.outcomes += [_outcome(c, "would_apply") for c in to_write]
            else:
                _write(client, con, result, plan, approver, to_write, pol, progress)
        finally:
            result.requests = getattr(client, "requests_made", 0) - requests_before
            if con is not None:
                result.files = _exports(con, plan_path, plan, result, approver)
    finally:
        if con is not None:
            con.close()
    return result


def _resume_bulk_jobs(client, con, result: ApplyResult, plan_id: str, approver: str, changes: list[dict]) -> list:
    """Outcomes of the Bulk API 2.0 jobs a killed run created (audit 'submitted' rows): every job recorded for a
    change since its last outcome, not only the newest, is asked for, waited for while it runs and its results
    recorded — never sent again, and never re-read before it has finished (a running job has not written yet). A
    change one job wrote is applied, whatever another reported. Returns the changes left for the normal path: those
    of jobs Salesforce no longer has, never closed (aborted here) or that did not write them (a retryable lock, not
    reported), and all others."""
    jobs = audit.submitted_jobs(con, plan_id)
    if not jobs:
        return changes
    by_key = {(c["object"], c["record_id"], c["field"]): c for c in changes}
    answers = defaultdict(list)
    for (obj, job_id), keys in sorted(jobs.items()):
        answer = client.bulk_job_results(obj, job_id)
        if answer is None:
            continue
        _state, ok_csv, failed_csv = answer
        of_job = bulk_answers(sorted({rid for _, rid, _ in keys}), ok_csv, failed_csv)
        for key in keys:
            answers[key].append(of_job[key[1]])
    rows = []
    for key in sorted(set(answers) & set(by_key)):
        found = answers[key]
        failed = [(code, msg) for ok, code, msg in found if not ok and code not in (*TRANSIENT, "NOT_PROCESSED")]
        if any(ok for ok, _, _ in found):
            rows.append(_outcome(by_key[key], "applied", None, "confirmed after an interrupted run"))
        elif failed:
            rows.append(_outcome(by_key[key], "failed", *failed[0]))
    audit.record(con, result.run_id, plan_id, approver, rows)
    result.outcomes += rows
    settled = {(r["object"], r["record_id"], r["field"]) for r in rows}
    return [c for c in changes if (c["object"], c["record_id"], c["field"]) not in settled]


def _in_bulk_jobs(result: ApplyResult, changes: list[dict], jobs: dict) -> list[dict]:
    """Dry run: the changes of the Bulk API 2.0 jobs a killed run submitted are `in_bulk_job`, neither re-read (the job
    may not have run yet) nor said to be sent again — a real apply reads those jobs' results first. Salesforce is not
    asked about the jobs (a dry run aborts nothing). Returns the other changes."""
    jobs_of = defaultdict(list)
    for (_obj, job_id), keys in sorted(jobs.items()):
        for key in keys:
            jobs_of[key].append(job_id)
    rest = []
    for c in changes:
        job_ids = jobs_of.get((c["object"], c["record_id"], c["field"]))
        if not job_ids:
            rest.append(c)
            continue
        job = f"job{'s' if len(job_ids) > 1 else ''} {', '.join(job_ids)}"
        message = f"in Bulk API 2.0 {job} submitted by a previous run; a real apply reads its results first"
        result.outcomes.append({**_outcome(c, "in_bulk_job", None, message), "job_id": job})
    return rest


def _is_undo(plan: dict, plan_path: Path, db_path: Path) -> bool:
    """Whether the plan is an undo plan apply recorded from its audit (a plan's own `undoes` key is not trusted)."""
    return "undoes" in plan and db_path.exists() and provenance.check_file(plan, plan_path, db_path) == "undo"


def _open_checked(plan: dict, plan_path: Path, db_path: Path, read_only: bool):
    """The DuckDB file of the plan's build, after checking the plan came from it and its audit chain is intact."""
    if read_only:
        source = provenance.check_file(plan, plan_path, db_path)
        import duckdb

        con = duckdb.connect(str(db_path), read_only=True)
        if not con.execute("select count(*) from duckdb_tables() where table_name = 'audit'").fetchone()[0]:
            con.close()
            con = duckdb.connect(":memory:")
            audit.create_table(con)
    else:
        if not db_path.exists():
            provenance.check_file(plan, plan_path, db_path)  # names the missing file; never creates one
        con = audit.open_audit(db_path)
    try:
        if not read_only:
            source = provenance.check(con, plan, plan_path, db_path)
        audit.require_intact(con, db_path)
    except BaseException:
        con.close()
        raise
    return con, source


def _outcome(c: dict, result: str, code: str | None = None, message: str | None = None, current=None) -> dict:
    return {
        "object": c["object"],
        "record_id": c["record_id"],
        "field": c["field"],
        "before": c["before"],
        "after": c["after"],
        "result": result,
        "error_code": code,
        "message": message,
        "current": current,
    }


def _classify_against_current(
    client,
    changes: list[dict],
    result: ApplyResult,
    pol: Policy,
    approval: dict | None,
    active: dict,
    applied_before: set,
    undo: bool = False,
) -> list[dict]:
    """Re-read every targeted record, then per change, in order: applied earlier by this plan → already_applied /
    changed_since_apply (never written again); equal to after → already_applied; breaks an invariant of its
    field's rule against the live value → refused; differs from before → drifted; else it is written.
    An undo plan (recorded as built by apply from its audit) restores before-images, so only the picklist
    invariant holds for it: the set-once and fill-if-blank rules are what it reverses."""
    by_object: dict[str, list[dict]] = defaultdict(list)
    for c in changes:
        by_object[c["object"]].append(c)
    to_write = []
    for obj, items in sorted(by_object.items()):
        fields = sorted({c["field"] for c in items} | ({"IsConverted"} if obj == "Lead" else set()))
        current = {r["Id"]: r for r in client.retrieve(obj, sorted({c["record_id"] for c in items}), fields)}
        for c in items:
            row = current.get(c["record_id"])
            now = None if row is None else row.get(c["field"])
            key = (c["object"], c["record_id"], c["field"])
            if row is None:
                result.outcomes.append(_outcome(c, "failed", "NOT_FOUND", "record not found or not visible"))
            elif key in applied_before:
                if _same(now, c["after"]):
                    result.outcomes.append(_outcome(c, "already_applied", None, "applied by an earlier run", now))
                else:
                    result.outcomes.append(
                        _outcome(
                            c,
                            "changed_since_apply",
                            "approval_used",
                            "applied by an earlier run and changed since; this approval does not write it again",
                            now,
                        )
                    )
            elif obj == "Lead" and row.get("IsConverted"):
                result.outcomes.append(_outcome(c, "refused", "converted_lead", "the lead was converted"))
            elif _same(now, c["after"]):
                result.outcomes.append(_outcome(c, "already_applied", current=now))
            elif broken := live_violation(
                c,
                None if undo else pol.field_policy(obj, c["field"]),
                now,
                approval is not None and is_released(c, approval),
                active.get((obj, c["field"].lower())),
            ):
                result.outcomes.append(
                    _outcome(c, "refused", broken, f"refused at apply time: {broken} (current value {now!r})", now)
                )
            elif not _same(now, c["before"]):
                result.outcomes.append(_outcome(c, "drifted", None, "value changed since the snapshot", current=now))
            else:
                to_write.append(c)
    return to_write


def _write(
    client, con, result: ApplyResult, plan: dict, approver: str, to_write: list[dict], pol: Policy, progress
) -> None:
    by_object: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for c in to_write:
        by_object[c["object"]][c["record_id"]][c["field"]] = c["after"]
    changes_of = defaultdict(list)
    for c in to_write:
        changes_of[(c["object"], c["record_id"])].append(c)
    done = 0
    for obj, updates in sorted(by_object.items()):
        in_flight: set[str] = set()  # records announced pending whose call has no answer recorded yet

        def announce(ids, obj=obj, in_flight=in_flight):
            in_flight.update(ids)
            audit.record(
                con,
                result.run_id,
                plan["plan_id"],
                approver,
                [_outcome(c, "pending") for r in ids for c in changes_of[(obj, r)]],
            )

        def submitted(job_id, ids, obj=obj, in_flight=in_flight):  # durable before the job's data is even uploaded: a
            in_flight.difference_update(ids)  # rerun asks for this job's results (_resume_bulk_jobs) instead of
            audit.record(  # sending its records again
                con,
                result.run_id,
                plan["plan_id"],
                approver,
                [
                    {**_outcome(c, "submitted", None, f"in Bulk API 2.0 job {job_id}"), "job_id": job_id}
                    for r in ids
                    for c in changes_of[(obj, r)]
                ],
            )

        def abandoned(
            job_id, ids, note, obj=obj, in_flight=in_flight
        ):  # a job given up after its upload or close failed
            in_flight.difference_update(ids)
            audit.record(
                con,
                result.run_id,
                plan["plan_id"],
                approver,
                [{**_outcome(c, "abandoned", None, note), "job_id": job_id} for r in ids for c in changes_of[(obj, r)]],
            )

        if len(updates) > pol.thresholds.bulk_threshold:  # one Bulk API job carries every record at once, so every
            announce(sorted(updates))  # record is 'pending' in the audit before the job is sent
        try:
            answers = send(
                client,
                obj,
                updates,
                pol.thresholds.bulk_threshold,
                on_batch=announce,
                on_job=submitted,
                on_abandoned=abandoned,
            )
        except ApplyStopped as e:
            result.stopped = str(e)
            audit.record(  # the stopped run's audit says what became of the call it stopped at
                con,
                result.run_id,
                plan["plan_id"],
                approver,
                [
                    _outcome(c, "stopped", e.code, f"no answer recorded: {e}")
                    for r in sorted(in_flight)
                    for c in changes_of[(obj, r)]
                ],
            )
            raise
        rows = []
        for rid, (ok, code, message) in sorted(answers.items()):
            for c in changes_of[(obj, rid)]:
                rows.append(_outcome(c, "applied" if ok else "failed", code, message))
        audit.record(con, result.run_id, plan["plan_id"], approver, rows)
        result.outcomes += rows
        done += len(updates)
        if progress:
            progress(done, len(to_write))


def _exports(con, plan_path: Path, plan: dict, result: ApplyResult, approver: str) -> dict[str, Path]:
    stem = plan_path.with_suffix("")
    rows = [{**o, "run_id": result.run_id, "plan_id": result.plan_id, "approver": approver} for o in result.outcomes]
    files = {
        "results": Path(f"{stem}.results.csv"),
        "exceptions_csv": Path(f"{stem}.exceptions.csv"),
        "exceptions_md": Path(f"{stem}.exceptions.md"),
        "audit": Path(f"{stem}.audit.csv"),
    }
    cols = ("object", "record_id", "field", "before", "after", "result", "error_code", "message")
    write_atomic(files["results"], audit.to_csv(rows, cols))
    failed = [
        dict(zip(("owner", "next_step"), runbook.next_step(r["result"], r["error_code"])), **r)
        for r in rows
        if r["result"] in ("failed", "refused")
    ]
    write_atomic(files["exceptions_csv"], audit.to_csv(failed, (*cols, "owner", "next_step")))
    write_atomic(
        files["exceptions_md"],
        f"Apply exceptions for plan {plan['plan_id']} (run {result.run_id})\n\n"
        + audit.to_markdown(
            failed, ("object", "record_id", "field", "result", "error_code", "message", "owner", "next_step")
        ),
    )
    trail = audit.trail_of_plan(con, plan["plan_id"])
    write_atomic(files["audit"], audit.to_csv(trail))
    # every change applied by any run of this plan (a resumed run must not lose the first run's before-images)
    latest = {(r["object"], r["record_id"], r["field"]): r for r in trail if r["result"] == "applied"}
    applied = [{**r, "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in latest.values()]
    if applied:
        files["undo"] = Path(f"{stem}.undo.json")
        undo = undo_plan(plan, applied, plan_path.name)
        if not _same_undo(files["undo"], undo):  # an unchanged undo plan keeps its plan_id (and its approval)
            provenance.record(con, undo, source="undo")
            write_atomic(files["undo"], dumps(undo))
    return files


def _same_undo(path: Path, undo: dict) -> bool:
    try:
        return path.exists() and load_plan(path)["changes"] == undo["changes"]
    except ReconcileError:
        return False
