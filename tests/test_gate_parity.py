"""One gate, two executors: the plan's gate (sql/plan/plan_changes.sql, after the rule SQL) and apply's re-check
(apply.policy_violations, plus the live fill-if-blank invariant that stands in for the rule's own reason) give the
same blocked reasons, in policy.BLOCKED_REASONS order, for one table of cases.

Each case: the change (object, field, after, the record's current value `before`), the policy status of the field
(default: the packaged policy's), whether the org lets the integration user update it, whether the Lead is
converted. Enrichment cases go through the real rule SQL (rule_enrichment_fill_if_blank) before the gate; the
others are fed to the gate as a rule's candidate.
"""

from __future__ import annotations

import json

import pytest
from conftest import policy_with

from reconcile.build import load_policy_tables, model_params
from reconcile.apply.invariants import FILL_IF_BLANK, live_violation
from reconcile.apply.apply import policy_violations
from reconcile.policy import BLOCKED_REASONS, load_policy
from reconcile.ingest.snapshots import Snapshot
from reconcile.sql import connect, load_macros, run_model

LEAD, MEMBER = "00Q000000000001EAA", "00v000000000001AAA"
LONG = "x" * 256

CASES = [
    # why, object, field, after, before, status, org_updateable, converted, reasons
    ("a blank enrichment field filled, field active", "Lead", "Industry", "Banking", None, "active", None, False, []),
    ("pending Legal", "Lead", "Industry", "Banking", None, None, None, False, ["pending_legal"]),
    (
        "value outside the picklist",
        "Lead",
        "Industry",
        "Bankingg",
        None,
        "active",
        None,
        False,
        ["invalid_picklist_value"],
    ),
    ("too long for the field", "Lead", "company_description__c", LONG, None, "active", None, False, ["too_long"]),
    # Salesforce's length is Java's String.length(), UTF-16 code units: a supplementary character counts 2
    (
        "too long by a supplementary character",
        "Lead",
        "company_description__c",
        "x" * 254 + "\U0001f600",
        None,
        "active",
        None,
        False,
        ["too_long"],
    ),
    (
        "at max length with a supplementary character",
        "Lead",
        "company_description__c",
        "x" * 253 + "\U0001f600",
        None,
        "active",
        None,
        False,
        [],
    ),
    (
        "an existing value would be overwritten",
        "Lead",
        "company_description__c",
        "Acme",
        "Other",
        "active",
        None,
        False,
        ["overwrite_not_approved"],
    ),
    (
        "blank-looking existing value is blank",
        "Lead",
        "company_description__c",
        "Acme",
        "  ",
        "active",
        None,
        False,
        [],
    ),
    (
        "an existing value of tabs, no-break and zero-width spaces is blank",
        "Lead",
        "company_description__c",
        "Acme",
        "\t\u00a0\u200b\ufeff\r\n",
        "active",
        None,
        False,
        [],
    ),
    (
        "everything at once, in the closed order",
        "Lead",
        "Industry",
        "Bankingg" + LONG,
        "Retail",
        None,
        False,
        True,
        [
            "org_field_not_updateable",
            "pending_legal",
            "converted_lead",
            "invalid_picklist_value",
            "too_long",
            "overwrite_not_approved",
        ],
    ),
    (
        "org says not updateable",
        "Lead",
        "external_hard_bounced__c",
        True,
        False,
        None,
        False,
        False,
        ["org_field_not_updateable"],
    ),
    ("org says updateable", "Lead", "external_hard_bounced__c", True, False, None, True, False, []),
    ("converted lead", "Lead", "external_hard_bounced__c", True, False, None, None, True, ["converted_lead"]),
    ("read-only formula field", "Lead", "overall_hard_bounced__c", True, False, None, None, False, ["read_only"]),
    ("field outside the allowlist", "Lead", "Title", "CEO", None, None, None, False, ["not_in_allowlist"]),
    (
        "object the integration only reads",
        "Contact",
        "Title",
        "CEO",
        None,
        None,
        None,
        False,
        ["not_in_allowlist", "object_not_writable"],
    ),
    (
        "a checkbox holds true or false only (the two-value picklist)",
        "CampaignMember",
        "Has_Replied__c",
        "yes",
        False,
        None,
        None,
        False,
        ["invalid_picklist_value"],
    ),
    ("a checkbox true", "CampaignMember", "Has_Replied__c", True, False, None, None, False, []),
    (
        "picklist value in its canonical spelling",
        "CampaignMember",
        "ReplyClassification__c",
        "Interested",
        None,
        None,
        None,
        False,
        [],
    ),
    (
        "picklist value outside the picklist",
        "CampaignMember",
        "ReplyClassification__c",
        "Maybe",
        None,
        None,
        None,
        False,
        ["invalid_picklist_value"],
    ),
    (
        "pending Legal picklist with a bad value",
        "CampaignMember",
        "ReplyClassification__c",
        "Maybe",
        None,
        "pending_legal",
        False,
        False,
        ["org_field_not_updateable", "pending_legal", "invalid_picklist_value"],
    ),
]
ENRICHMENT = ("Industry", "company_description__c")


def _policy(tmp_path, field, status):
    return load_policy(policy_with(tmp_path, {field: status}) if status else None)


def plan_gate(tmp_path, case) -> list[str]:
    _, obj, field, after, before, status, updateable, converted, _ = case
    policy = _policy(tmp_path, field, status)
    con = connect()
    try:
        load_macros(con)
        load_policy_tables(con, policy, tmp_path)
        if updateable is not None:
            con.execute("insert into org_fields values (?, ?, ?)", [obj, field, updateable])
        con.execute(
            "create table stg_sfdc__lead as select ?::varchar as sf_lead_id, 'sfdc/Lead.csv' as file, "
            "1::bigint as row, ?::boolean as is_converted, 'EMEA' as gbu, ?::varchar as company_description, "
            "?::varchar as industry",
            [
                LEAD,
                converted,
                before if field == "company_description__c" else None,
                before if field == "Industry" else None,
            ],
        )
        con.execute(
            "create table stg_sfdc__campaign_member as select ?::varchar as sf_campaign_member_id, "
            "'sfdc/CampaignMember.csv' as file, 1::bigint as row, '701000000000001AAA' as sf_campaign_id, "
            "?::varchar as sf_lead_id",
            [MEMBER, LEAD],
        )
        con.execute("create table stg_sfdc__campaign as select '701000000000001AAA' as sf_campaign_id, 'EMEA' as gbu")
        shape = (
            "select ''::varchar as object, ''::varchar as record_id, ''::varchar as field, ''::varchar as rule, "
            "'null'::json as before, 'null'::json as after, []::varchar[] as rule_reasons, "
            "[evidence('clay', 'clay/table.csv', 1, 'c', 'v', null)] as evidence limit 0"
        )
        for rule in (
            "rule_hard_bounce_union",
            "rule_reply_set_once",
            "rule_reply_classification_latest",
            "rule_enrichment_fill_if_blank",
        ):
            con.execute(f"create table {rule} as {shape}")
        record = LEAD if obj == "Lead" else MEMBER
        if field in ENRICHMENT:  # the rule SQL decides the candidate and its own reason from the current value
            con.execute("drop table rule_enrichment_fill_if_blank")
            con.execute(
                "create table int_enrichment_values as select ?::varchar as sf_lead_id, ?::varchar as field, "
                "true as agreed, ?::varchar as value, 1::bigint as n_rows",
                [LEAD, field, after],
            )
            con.execute(
                "create table int_enrichment_rows as select sf_lead_id, field, value, "
                "'clay/table.csv' as file, 1::bigint as row from int_enrichment_values"
            )
            headers = {"clay_header_industry": "Industry", "clay_header_company_description": "Company Description"}
            run_model(con, "rules/rule_enrichment_fill_if_blank", headers)
        else:
            con.execute(
                "insert into rule_hard_bounce_union select ?, ?, ?, 'test', ?::json, ?::json, [], "
                "[evidence('clay', 'clay/table.csv', 1, 'c', 'v', null)]",
                [obj, record, field, json.dumps(before), json.dumps(after)],
            )
        run_model(con, "plan/plan_record_context")
        run_model(con, "plan/plan_changes", model_params(policy, Snapshot(root=tmp_path)))
        rows = con.execute("select reasons, reason from plan_changes").fetchall()
    finally:
        con.close()
    assert len(rows) == 1, rows
    reasons, reason = rows[0]
    assert reason == (reasons[0] if reasons else None)
    return reasons


def apply_gate(tmp_path, case) -> list[str]:
    _, obj, field, after, before, status, updateable, converted, _ = case
    policy = _policy(tmp_path, field, status)
    change = {
        "object": obj,
        "record_id": LEAD if obj == "Lead" else MEMBER,
        "field": field,
        "before": before,
        "after": after,
    }
    org = {} if updateable is None else {(obj, field.lower()): updateable}
    reasons = policy_violations(change, policy, org, converted=converted)
    # the rule's own reason: at apply time the live fill-if-blank invariant (the record's current value = before)
    if live_violation(change, policy.field_policy(obj, field), before, released=False) == FILL_IF_BLANK:
        reasons = [r for r in BLOCKED_REASONS if r in {*reasons, "overwrite_not_approved"}]
    return reasons


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_plan_gate_and_apply_gate_give_the_same_reasons(tmp_path, case):
    expected = case[-1]
    assert expected == sorted(expected, key=BLOCKED_REASONS.index)
    assert plan_gate(tmp_path / "plan", case) == expected
    assert apply_gate(tmp_path / "apply", case) == expected


def test_every_blocked_reason_is_covered_by_a_case():
    assert {r for c in CASES for r in c[-1]} == set(BLOCKED_REASONS)


def test_every_blocked_reason_has_report_wording_in_the_closed_order():
    from reconcile.report.report_text import REASONS

    assert list(REASONS) == list(BLOCKED_REASONS)
    assert all(len(REASONS[r]) == 3 and all(REASONS[r]) for r in BLOCKED_REASONS)
