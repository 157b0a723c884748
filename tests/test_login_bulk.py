"""Unattended runs survive token expiry on the Bulk API 2.0 path too (simple-salesforce never re-authenticates
Bulk API 2.0 itself): the fixtures and plans of tests/test_apply.py, logged in with client credentials."""

import pytest

from reconcile.apply.apply import apply_plan
from reconcile.salesforce import connect
from test_apply import (  # noqa: F401
    NOW,
    assert_each_change_once,
    audit_rows,
    ingest_jobs_run,
    org,
    plans,
    prepared,
    ready,
)


@pytest.mark.parametrize("calls_before_expiry", [3, 5, 6], ids=["at-upload", "after-commit-at-poll", "at-results"])
def test_token_expiry_during_a_bulk_job_logs_in_again_and_finishes_in_one_run(
    org,
    plans,
    tmp_path,  # noqa: F811
    calls_before_expiry,
):
    plan_path, pol = prepared(org, plans, tmp_path, "bulk")
    client = connect(env=org.oauth_env())
    client.backoff, client.bulk_wait = 0.01, 0.05
    org.org.set_faults(expire_after_calls=calls_before_expiry)
    res = apply_plan(plan_path, client=client, policy=pol, now=NOW)
    assert set(res.counts) == {"applied"} and client.reauths == 1
    assert_each_change_once(org, ready(plan_path))
    assert ingest_jobs_run(org) == 1  # a job the org had already run is not sent again after the re-login
    assert not [j for j in org.org.jobs.values() if j["kind"] == "ingest" and j["info"]["state"] == "Open"]
    assert [r["status"] for r in org.org.request_log if r["path"] == "/services/oauth2/token"] == [200, 200]
    # expired at the upload, the job was given up (aborted after the re-login) and its records sent in a new one
    abandoned = {"abandoned"} if calls_before_expiry == 3 else set()
    assert {r["result"] for r in audit_rows(plan_path)} == {"pending", "submitted", "applied"} | abandoned
