"""A Bulk API 2.0 job that went wrong between its creation and its results: a failed upload or close, a close whose
answer was lost, a killed run's jobs, a dry run after a killed run — against the local sandbox org.

The shared fixtures and helpers come from tests/test_apply.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner

from conftest import sandbox_env
import reconcile.apply.apply as apply_module
from reconcile.cli import app
from reconcile.errors import ApplyStopped
from reconcile.files import short_id
from reconcile.plan import load_plan
from test_apply import (  # noqa: F401 (plans is a fixture)
    NOW,
    assert_each_change_once,
    assert_resumed_trail,
    audit_rows,
    do_apply,
    history,
    ingest_jobs_run,
    kill_paused_apply,
    plans,
    prepared,
    ready,
    requests_of,
)

CLOSE_OR_ABORT = r"^PATCH .*/jobs/ingest/\w+$"  # PATCH {"state": "UploadComplete"} and {"state": "Aborted"}
JOB_INFO = r"^GET .*/jobs/ingest/\w+$"


@pytest.fixture
def org(sandbox_org):
    return sandbox_org


def ingest_jobs(h) -> list[dict]:
    """The org's ingest jobs' info, in the order they were created."""
    return sorted((j["info"] for j in h.org.jobs.values() if j["kind"] == "ingest"), key=lambda i: i["id"])


@pytest.mark.parametrize(
    "faults, states",
    [
        # the upload answers 503: the job is Open with or without its data; it is aborted, then sent again
        ({"http_503_paths": {r"^PUT .*/batches$": 1}}, ["Aborted", "JobComplete"]),
        # the close answers 503 and was not carried out: the job, asked for, is Open; aborted, then sent again
        ({"http_503_paths": {CLOSE_OR_ABORT: 1}}, ["Aborted", "JobComplete"]),
        # the close was carried out but its answer lost: the job, asked for, is closed (it ran): followed, not resent
        ({"http_503_after_paths": {CLOSE_OR_ABORT: 1}}, ["JobComplete"]),
    ],
    ids=["upload-503", "close-503", "close-committed-answer-lost"],
)
def test_a_bulk_job_whose_upload_or_close_failed_is_aborted_or_followed_never_left_open(
    org, plans, tmp_path, run_cli, faults, states
):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    changes = ready(plan_path)
    org.org.set_faults(**faults)
    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": len(changes)}
    jobs = ingest_jobs(org)
    assert [j["state"] for j in jobs] == states  # no job left Open, none run twice
    assert ingest_jobs_run(org) == 1 and len(requests_of(org, "POST", "/jobs/ingest")) == len(states)
    assert_each_change_once(org, changes)
    # the abandoned job is in the audit: an 'abandoned' row per change with its id, before the job is sent again
    rows = audit_rows(plan_path)
    aborted = [r for r in rows if r["result"] == "abandoned"]
    if states[0] == "Aborted":
        assert {r["job_id"] for r in aborted} == {jobs[0]["id"]}
        assert Counter((r["record_id"], r["field"]) for r in aborted) == Counter(
            (c["record_id"], c["field"]) for c in changes
        )
        assert all(f"job {jobs[0]['id']} aborted" in r["message"] for r in aborted)
        assert [r["job_id"] for r in rows if r["result"] == "submitted"][-1] == jobs[1]["id"]
    else:
        assert not aborted
    per_change = Counter((r["record_id"], r["field"]) for r in rows if r["result"] == "applied")
    assert per_change == Counter((c["record_id"], c["field"]) for c in changes)
    verified = run_cli("audit", "--db", plan_path.parent / "reconcile.duckdb", "--verify")
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    "faults, where, states",
    [
        # the first job's close and every try to abort it answer 503: it stays Open; the second is closed, then
        # the run is killed while that job runs. The rerun aborts the first and takes the second's results
        ({"http_503_paths": {CLOSE_OR_ABORT: 6}}, "bulk-closed", ["Aborted", "JobComplete"]),
        # the first job closed (its answer lost, as before such a close was asked for), the same records uploaded
        # to a second job, never closed, then killed. The rerun takes the first job's results and aborts the second:
        # following only the newest job re-read values the first had not written yet and sent them in a third job
        ({}, "bulk-resent", ["JobComplete", "Aborted"]),
    ],
    ids=["older-job-left-open", "older-job-closed"],
)
def test_a_rerun_follows_every_job_the_killed_run_recorded_not_only_the_newest(
    org, plans, tmp_path, run_cli, faults, where, states
):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    changes = ready(plan_path)
    org.org.set_faults(bulk_processing_polls=3, **faults)  # a closed job runs later, when polled
    kill_paused_apply(org, tmp_path, where, plan_path, pol)
    org.org.set_faults(http_503_paths={})
    killed = audit_rows(plan_path)
    jobs = ingest_jobs(org)
    assert len({r["job_id"] for r in killed if r["result"] == "submitted"}) == len(jobs) == 2 and not history(org)

    res = do_apply(org, plan_path, policy=pol)
    assert [j["state"] for j in ingest_jobs(org)] == states  # nothing left Open, no third job
    assert len(requests_of(org, "POST", "/jobs/ingest")) == 2 and ingest_jobs_run(org) == 1
    assert res.counts == {"applied": len(changes)}
    assert Counter(o["message"] for o in res.outcomes)["confirmed after an interrupted run"] == len(changes)
    assert_each_change_once(org, changes)
    assert_resumed_trail(plan_path, killed, changes, run_cli)


def test_a_dry_run_after_a_killed_run_names_its_bulk_job_instead_of_sending_its_changes_again(
    org, plans, tmp_path, monkeypatch
):
    """The killed run's job is closed but has not run (a real org runs it later): a dry run that re-read the records
    would see the old values and claim it would send them again. It names the job; it asks Salesforce nothing about
    it (no poll, no abort) and records nothing."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    changes = ready(plan_path)
    org.org.set_faults(bulk_processing_polls=3)
    kill_paused_apply(org, tmp_path, "bulk-closed", plan_path, pol)
    [job] = ingest_jobs(org)
    killed, seen = audit_rows(plan_path), len(org.org.request_log)

    monkeypatch.setattr(apply_module, "utc_now", lambda: NOW)  # the hand-made snapshot's age, as PAUSE_SCRIPT does
    r = CliRunner().invoke(app, ["apply", str(plan_path), "--dry-run", "--policy", str(pol)], env=sandbox_env(org))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert f"Dry run plan {short_id(load_plan(plan_path)['plan_id'])}: in_bulk_job {len(changes)} (" in r.stdout, (
        r.stdout
    )
    assert (
        f"{len(changes)} change(s) in Bulk API 2.0 job {job['id']} submitted by a previous run; a real apply reads "
        "its results first." in r.stdout
    ), r.stdout
    assert "would_apply" not in r.stdout
    assert not requests_of(org, contains="/jobs/", start=seen) and not requests_of(org, "PATCH", start=seen)
    assert [j["state"] for j in ingest_jobs(org)] == ["UploadComplete"] and not history(org)
    assert audit_rows(plan_path) == killed

    res = do_apply(org, plan_path, policy=pol)  # the real apply then takes that job's results
    assert res.counts == {"applied": len(changes)} and ingest_jobs_run(org) == 1
    assert_each_change_once(org, changes)


@pytest.mark.parametrize(
    "faults, states",
    [
        ({"http_503_paths": {CLOSE_OR_ABORT: 1, JOB_INFO: 5}}, ["Aborted", "JobComplete"]),
        ({"http_503_after_paths": {CLOSE_OR_ABORT: 1}, "http_503_paths": {JOB_INFO: 5}}, ["JobComplete"]),
    ],
    ids=["close-not-carried-out", "close-carried-out"],
)
def test_a_failed_close_salesforce_cannot_account_for_stops_the_run_and_the_rerun_settles_that_job(
    org, plans, tmp_path, faults, states
):
    """The close answers 503 and every request for the job's state too: sending the job again could run its records
    twice, so the run stops (exit 3) and the rerun asks for the recorded job — aborts it if Open, else follows it."""
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    changes = ready(plan_path)
    org.org.set_faults(**faults)
    with pytest.raises(ApplyStopped, match=r"Closing the bulk job \w+ failed .* cannot say whether it was closed"):
        do_apply(org, plan_path, policy=pol)
    assert len(requests_of(org, "POST", "/jobs/ingest")) == 1
    assert {r["result"] for r in audit_rows(plan_path)} == {"pending", "submitted"}
    res = do_apply(org, plan_path, policy=pol)
    assert res.counts == {"applied": len(changes)}
    assert [j["state"] for j in ingest_jobs(org)] == states and ingest_jobs_run(org) == 1
    assert_each_change_once(org, changes)
