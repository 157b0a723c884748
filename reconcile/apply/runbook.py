"""What to do about an apply exception: who acts and the next step, per Salesforce error code or refusal.

The seed's runbook (3.5): missing-field exceptions are logged in the sprint Jira ticket and the integration user's
validation-bypass permission handles partial updates; escalation goes integration issues → CRM Admin → IT Infra (if
connector-level), data quality → MARCOM Ops, legal / compliance → DPO. PLAN.exceptions.csv / .md carry `owner` and
`next_step` for every failed or refused change.

Salesforce's per-record codes are its StatusCode values, as sObject Collections (`errors[].statusCode`) and Bulk
API 2.0 (`sf__Error`, "CODE:message") return them:
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm
(StatusCode). Refusals are reconcile's own apply-time checks (policy.BLOCKED_REASONS and apply/invariants.py).
"""

from __future__ import annotations

from ..report.report_text import REASONS

CRM_ADMIN = "CRM Admin"
IT_INFRA = "CRM Admin → IT Infra"
MARCOM = "MARCOM Ops"
DPO = "DPO"
NOBODY = "nobody"

_RETRY = "apply the same plan again: only the changes that did not land are sent"
_PREFLIGHT = (
    "run `reconcile preflight` and grant it through the integration's permission set, this field only (least "
    "privilege); escalate to IT Infra if the connector's user is affected too"
)

# Salesforce StatusCode → (owner, next step)
SALESFORCE = {
    "REQUIRED_FIELD_MISSING": (
        CRM_ADMIN,
        "a field the record requires is blank (the message names it): check that the integration user holds the "
        "validation-bypass permission (partial updates, seed 3.5) or have the field filled, then "
        + _RETRY
        + "; log it in the sprint Jira ticket (`reconcile notify` posts it)",
    ),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (
        CRM_ADMIN,
        "a validation rule refused the value (the message is the rule's): check the integration user's "
        "validation-bypass permission, or exempt the integration user in the rule, then " + _RETRY,
    ),
    "FIELD_INTEGRITY_EXCEPTION": (
        MARCOM,
        "the org refused the value itself (the message says why): fix it at the source (Clay) and plan again",
    ),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (
        MARCOM,
        "not an active value of the restricted picklist: fix the value in Clay, or have the CRM Admin add it to the "
        "picklist, then plan again",
    ),
    "STRING_TOO_LONG": (MARCOM, "the value is longer than the field allows: shorten it in Clay and plan again"),
    "INVALID_FIELD_FOR_INSERT_UPDATE": (IT_INFRA, "the integration user may not write this field: " + _PREFLIGHT),
    "INVALID_FIELD": (IT_INFRA, "the field is not visible to the integration user: " + _PREFLIGHT),
    "INSUFFICIENT_ACCESS_OR_READONLY": (
        IT_INFRA,
        "the integration user may not edit this record (sharing, record type or object permission): " + _PREFLIGHT,
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (
        IT_INFRA,
        "the integration user cannot see a record this one refers to (e.g. its owner or campaign): " + _PREFLIGHT,
    ),
    "ENTITY_IS_DELETED": (
        NOBODY,
        "the record was deleted or merged after the snapshot: nothing to write; the next snapshot leaves it out",
    ),
    "INVALID_CROSS_REFERENCE_KEY": (
        NOBODY,
        "the record (or one it refers to) no longer exists: nothing to write; the next snapshot leaves it out",
    ),
    "NOT_FOUND": (
        CRM_ADMIN,
        "the record was deleted, merged or is not visible to the integration user since the snapshot: if it "
        "still exists, check the integration user's sharing; else nothing to write",
    ),
    "CANNOT_UPDATE_CONVERTED_LEAD": (NOBODY, "Salesforce no longer updates a converted Lead: never written"),
    "UNABLE_TO_LOCK_ROW": (CRM_ADMIN, "another process held the record through every retry: " + _RETRY),
    "SERVER_UNAVAILABLE": (CRM_ADMIN, "Salesforce was unavailable through every retry: " + _RETRY),
    "NOT_PROCESSED": (CRM_ADMIN, "the Bulk API job did not report this record: " + _RETRY),
    "DUPLICATES_DETECTED": (
        MARCOM,
        "a duplicate rule blocked the update: review the duplicates (merge or allow), then " + _RETRY,
    ),
    "CANNOT_EXECUTE_FLOW_TRIGGER": (
        IT_INFRA,
        "a flow or process in the org failed on this update (the message names it): the flow's owner fixes it, "
        "then " + _RETRY,
    ),
    "APEX_ERROR": (IT_INFRA, "an Apex trigger failed on this update: the trigger's owner fixes it, then " + _RETRY),
    "REQUEST_LIMIT_EXCEEDED": (CRM_ADMIN, "the org's daily API limit was reached: " + _RETRY + " when it resets"),
}
UNKNOWN = (
    IT_INFRA,
    "an error reconcile has no runbook step for: the CRM Admin reads the message and escalates it to IT Infra if it "
    "is connector-level",
)

# apply-time invariants (apply/invariants.py) → (owner, next step); the plan-gate reasons come from the report's
# wording of policy.BLOCKED_REASONS (report_text.REASONS), so a reason reads the same in the report and here
INVARIANTS = {
    "hard_bounce_only_false_to_true": (
        NOBODY,
        "a hard bounce is only ever set, never cleared (a union): never written; never override by hand without an "
        "audit trail (seed 3.5)",
    ),
    "replied_only_false_to_true": (NOBODY, "Has_Replied__c is set once and never cleared: never written"),
    "enrichment_fill_if_blank": (
        CRM_ADMIN,
        "the field holds a value and enrichment only fills blank fields: approve the overwrite by field or record "
        "with a reason, or leave it",
    ),
    "inactive_picklist_value": (
        MARCOM,
        "the org does not list the value as active in the picklist: fix it in Clay or have the CRM Admin activate "
        "it, then plan again",
    ),
}
_GATE_OWNER = {"never written": NOBODY, "released when Legal approves the field": DPO}


def _gate_step(reason: str) -> tuple[str, str] | None:
    if reason not in REASONS:
        return None
    singular, _, step = REASONS[reason]
    what = singular.replace("{n} ", "", 1)
    owner, _, action = step.partition(": ")
    if action:
        return owner, f"{what}: {action}"
    return _GATE_OWNER.get(step, CRM_ADMIN), f"{what}: {step}"


def next_step(result: str, error_code: str | None) -> tuple[str, str]:
    """(owner, next step) for a failed or refused change."""
    code = error_code or ""
    if result == "refused":
        return INVARIANTS.get(code) or _gate_step(code) or UNKNOWN
    return SALESFORCE.get(code.upper(), UNKNOWN)


def as_text(result: str, error_code: str | None) -> str:
    """The next step as one line, its owner first (the sprint ticket's comment, the weekly digest)."""
    owner, step = next_step(result, error_code)
    return f"{owner}: {step}"
