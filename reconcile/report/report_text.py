"""The report's wording: routes, finding kinds, rules and blocked reasons in plain language."""

ROUTES = {
    "CRM Admin": "Integration issues: sync gaps, matching, connector errors. Escalates connector-level "
    "problems to IT Infra.",
    "IT Infra": "Connector-level failures, escalated by the CRM Admin.",
    "MARCOM Ops": "Data quality issues: enrichment conflicts, deliverability, classifications.",
    "DPO": "Legal and compliance concerns: go to the DPO directly.",
}

KINDS = {
    "bounce_hop_lost": "Smartlead recorded a hard bounce that never reached Clay (the Smartlead → Clay hop failed).",
    "sender_originated_bounce": "Smartlead called it a sender-originated bounce: not a recipient bounce, nothing written.",
    "overall_formula_mismatch": "overall_hard_bounced__c differs from Pardot hard bounce OR external_hard_bounced__c.",
    "pardot_sync_gap": "Pardot has the prospect hard-bounced, Salesforce's pi__pardot_hard_bounced__c is false.",
    "deliverability_review": "Clay says the email is invalid, but no system recorded a bounce.",
    "conflicting_enrichment": "Clay holds two different values for one lead; nothing written.",
    "classification_without_reply": "A reply classification exists without any reply evidence.",
    "do_not_contact_reply": "The recipient asked not to be contacted.",
    "eligibility_mismatch": "Cold_Lead_Eligible__c differs from what the eligibility formula expects.",
    "ambiguous_match": "A source row matches several Leads by email; nothing written.",
    "unmatched_source_row": "A source row matches no Lead.",
    "connector_error": "The Clay connector logged a write-back error.",
}

RULES = {
    "hard_bounce_union": "hard bounce from any source, never cleared",
    "enrichment_fill_if_blank": "Clay enrichment fills blank fields only",
    "reply_set_once": "replied flag set on the first response",
    "reply_classification_latest": "latest reply classification wins",
}

# (singular, plural, who acts) per blocked reason, keyed in policy.BLOCKED_REASONS order (a test holds them equal).
REASONS = {
    "not_in_allowlist": (
        "{n} change targets a field outside the integration allowlist",
        "{n} changes target fields outside the integration allowlist",
        "never written",
    ),
    "read_only": (
        "{n} change targets a read-only (formula) field",
        "{n} changes target read-only (formula) fields",
        "never written",
    ),
    "object_not_writable": (
        "{n} change targets an object the integration may only read",
        "{n} changes target objects the integration may only read",
        "never written",
    ),
    "org_field_not_updateable": (
        "{n} change targets a field the integration user cannot update in the org",
        "{n} changes target fields the integration user cannot update in the org",
        "CRM Admin: check field-level security",
    ),
    "pending_legal": (
        "{n} enrichment value waits for Legal",
        "{n} enrichment values wait for Legal",
        "released when Legal approves the field",
    ),
    "converted_lead": (
        "{n} change is for a converted lead, which Salesforce no longer updates",
        "{n} changes are for converted leads, which Salesforce no longer updates",
        "never written",
    ),
    "invalid_picklist_value": (
        "{n} value is not in the field's picklist",
        "{n} values are not in the field's picklist",
        "MARCOM Ops: fix the value in Clay or extend the picklist",
    ),
    "too_long": (
        "{n} value is longer than the field allows",
        "{n} values are longer than the field allows",
        "MARCOM Ops: shorten the value in Clay",
    ),
    "overwrite_not_approved": (
        "{n} existing value would be overwritten — needs explicit approval",
        "{n} existing values would be overwritten — needs explicit approval",
        "CRM Admin: approve by field or record, with a reason",
    ),
}
