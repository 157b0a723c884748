"""The runbook step of every apply exception (apply/runbook.py): who acts and what to do, per code or refusal."""

from __future__ import annotations

import pytest

from reconcile.apply import runbook
from reconcile.apply.invariants import FILL_IF_BLANK, SET_ONCE_TRUE
from reconcile.apply.writeback import TRANSIENT
from reconcile.policy import BLOCKED_REASONS

# every code apply itself produces, and every reason it refuses with: none may fall through to the generic step
APPLY_CODES = sorted({*TRANSIENT, "NOT_PROCESSED", "NOT_FOUND", "REQUIRED_FIELD_MISSING", "REQUEST_LIMIT_EXCEEDED"})
REFUSALS = sorted({*BLOCKED_REASONS, *SET_ONCE_TRUE.values(), FILL_IF_BLANK, "inactive_picklist_value"})
OWNERS = {runbook.CRM_ADMIN, runbook.IT_INFRA, runbook.MARCOM, runbook.DPO, runbook.NOBODY}


@pytest.mark.parametrize("code", APPLY_CODES)
def test_every_code_apply_produces_has_its_own_step(code):
    owner, step = runbook.next_step("failed", code)
    assert (owner, step) != runbook.UNKNOWN and owner in OWNERS and step


@pytest.mark.parametrize("reason", REFUSALS)
def test_every_refusal_has_its_own_step(reason):
    owner, step = runbook.next_step("refused", reason)
    assert (owner, step) != runbook.UNKNOWN and owner in OWNERS and step


@pytest.mark.parametrize(
    "result, code, owner, says",
    [
        # seed 3.5: missing-field exceptions → the validation-bypass permission, logged in the sprint Jira ticket
        ("failed", "REQUIRED_FIELD_MISSING", "CRM Admin", ["validation-bypass", "Jira"]),
        ("failed", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "CRM Admin", ["validation-bypass"]),
        # integration issues: CRM Admin → IT Infra when the connector's user is affected
        ("failed", "INSUFFICIENT_ACCESS_OR_READONLY", "CRM Admin → IT Infra", ["reconcile preflight"]),
        ("failed", "INVALID_FIELD_FOR_INSERT_UPDATE", "CRM Admin → IT Infra", ["permission set"]),
        # data quality → MARCOM Ops
        ("failed", "STRING_TOO_LONG", "MARCOM Ops", ["Clay"]),
        ("failed", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "MARCOM Ops", ["picklist"]),
        ("failed", "UNABLE_TO_LOCK_ROW", "CRM Admin", ["apply the same plan again"]),
        ("failed", "ENTITY_IS_DELETED", "nobody", ["nothing to write"]),
        ("failed", "unable_to_lock_row", "CRM Admin", ["apply the same plan again"]),  # codes compare as upper case
        # legal / compliance → DPO; a union and a set-once field are never written
        ("refused", "pending_legal", "DPO", ["Legal"]),
        ("refused", "hard_bounce_only_false_to_true", "nobody", ["audit trail"]),
        ("refused", "overwrite_not_approved", "CRM Admin", ["approve"]),
        ("refused", "invalid_picklist_value", "MARCOM Ops", ["picklist"]),
        ("refused", "not_in_allowlist", "nobody", ["allowlist", "never written"]),
        # anything else: read by the CRM Admin, escalated if connector-level
        ("failed", "SOME_FUTURE_CODE", "CRM Admin → IT Infra", ["escalates"]),
        ("failed", None, "CRM Admin → IT Infra", ["escalates"]),
        ("refused", "no_such_reason", "CRM Admin → IT Infra", ["escalates"]),
    ],
)
def test_the_next_step_names_who_acts_and_what_to_do(result, code, owner, says):
    got_owner, step = runbook.next_step(result, code)
    assert got_owner == owner
    for words in says:
        assert words in step, step
