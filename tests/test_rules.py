"""The precedence rules of SPEC §4, table-driven: one table per rule, each case {why, given, expect}.

`given` names the rows of each snapshot file (only what the case cares about; conftest writes valid defaults):
    leads / members / contacts / clay / pardot: lists of row dicts (CSV files sfdc/Lead.csv … clay/table.csv)
    smartlead: {campaign id: rows} (smartlead/campaign-<id>.csv) · events: webhook payloads (events.jsonl)
    files: any other file, verbatim (None leaves a default file out)
    policy: {field: status} edits of the default policy · drop_fields: fields removed from the policy
`expect` lists every change and finding in the table's scope (SCOPE): nothing else in scope may appear.
    {"change": "Object.field", "record": id, …attributes to compare (before, after, status, reasons, …)}
    {"finding": kind, "record": id, …attributes to compare (route, evidence_rows, …)}
"""

from __future__ import annotations

import json

import pytest
from conftest import (
    CLAY_HEADER,
    CONTACT_HEADER,
    LEAD_HEADER,
    MEMBER_HEADER,
    PARDOT_HEADER,
    SMARTLEAD_HEADER,
    campaign_id,
    contact_id,
    csv_text,
    jsonl_text,
    lead,
    lead_id,
    member,
    member_id,
    plan_in,
    policy_with,
    write_snapshot,
)

L1, L2, L3 = lead_id(1), lead_id(2), lead_id(3)
M1, M2 = member_id(1), member_id(2)
MIXED, MIXED2 = lead_id("5g00000AbCdE"), lead_id("5g00000XyZwV")  # checksums other than the trivial 'AAA'
ACTIVE = {"Industry": "active", "company_description__c": "active"}
T0, T1, T2 = "2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"


# ------------------------------------------------------------------------------------------ machinery


def files_of(given: dict) -> dict[str, str]:
    files = {}
    if "leads" in given:
        files["sfdc/Lead.csv"] = csv_text(LEAD_HEADER, given["leads"])
    if "members" in given:
        files["sfdc/CampaignMember.csv"] = csv_text(MEMBER_HEADER, given["members"])
    if "contacts" in given:
        files["sfdc/Contact.csv"] = csv_text(CONTACT_HEADER, given["contacts"])
    if "clay" in given:
        files["clay/table.csv"] = csv_text(CLAY_HEADER, given["clay"])
    for cid, rows in given.get("smartlead", {}).items():
        files[f"smartlead/campaign-{cid}.csv"] = csv_text(SMARTLEAD_HEADER, rows)
    if "events" in given:
        files["smartlead/events.jsonl"] = jsonl_text(given["events"])
    if "pardot" in given:
        files["pardot/prospects.csv"] = csv_text(PARDOT_HEADER, given["pardot"])
    files.update(given.get("files", {}))
    return files


def plan_given(tmp_path, given: dict) -> dict:
    snap = write_snapshot(tmp_path, files_of(given))
    policy = None
    if "policy" in given or "drop_fields" in given:
        policy = policy_with(tmp_path / "policy", given.get("policy"), drop=given.get("drop_fields", ()))
    return plan_in(snap, tmp_path / "out", policy=policy)


def observed(plan: dict, scope: dict) -> dict[tuple, dict]:
    """Everything in scope, keyed like the expectations: ("change", "Lead.Industry", id) / ("finding", kind, id)."""
    out = {}
    for c in plan["changes"]:
        name = f"{c['object']}.{c['field']}"
        if scope["changes"] == "all" or name in scope["changes"]:
            key = ("change", name, c["record_id"])
            assert key not in out, f"two changes for {key}"
            out[key] = {**c, **_evidence_of(c)}
    for f in plan["findings"]:
        if f["kind"] in scope["findings"]:
            key = ("finding", f["kind"], f["record_id"])
            n = 2
            while key in out:  # several findings of one kind for one record (e.g. source rows)
                key = ("finding", f["kind"], f["record_id"], n)
                n += 1
            out[key] = {**f, **_evidence_of(f)}
    return out


def _evidence_of(item: dict) -> dict:
    """evidence_rows: (source, file, row, value) per evidence row; evidence_columns: the column each names."""
    return {
        "evidence_rows": [(e["source"], e["file"], e["row"], e["value"]) for e in item["evidence"]],
        "evidence_columns": [e["column"] for e in item["evidence"]],
    }


def expected(expect: list[dict]) -> dict[tuple, dict]:
    out = {}
    for e in expect:
        key = ("change", e["change"], e["record"]) if "change" in e else ("finding", e["finding"], e["record"])
        n = 2
        while key in out:
            key = (*key[:3], n)
            n += 1
        out[key] = {k: v for k, v in e.items() if k not in ("change", "finding", "record")}
    return out


def check(tmp_path, case: dict, scope: dict) -> dict:
    plan = plan_given(tmp_path, case["given"])
    got, want = observed(plan, scope), expected(case["expect"])
    assert sorted(got, key=repr) == sorted(want, key=repr), case["why"]
    for key, attrs in want.items():
        actual = {k: got[key][k] for k in attrs}
        assert actual == attrs, f"{case['why']}: {key}"
    return plan


def cases(table):
    """pytest params named by `why`; a case with "xfail" documents product behaviour that contradicts SPEC.md."""
    return [
        pytest.param(c, id=c["why"], marks=[pytest.mark.xfail(reason=c["xfail"], strict=True)] if "xfail" in c else [])
        for c in table
    ]


def change(field, record, **attrs):
    return {"change": field, "record": record, **attrs}


def finding(kind, record, **attrs):
    return {"finding": kind, "record": record, **attrs}


def bounce(email, campaign="77", at=T0, event="EMAIL_BOUNCE"):
    return {"event_type": event, "event_timestamp": at, "campaign_id": campaign, "to_email": email}


def category_event(email, name, at, campaign="77"):
    return {
        "event_type": "LEAD_CATEGORY_UPDATED",
        "event_timestamp": at,
        "campaign_id": campaign,
        "to_email": email,
        "lead_category": {"old_name": None, "new_name": name},
    }


def reply_event(email, at=T0, campaign="77"):
    return {"event_type": "EMAIL_REPLY", "event_timestamp": at, "campaign_id": campaign, "to_email": email}


def clay_member(n=1, lead_n=1, **cols):
    """A Clay row that names CampaignMember n and pairs Smartlead campaign 77 with lead n's email."""
    return {
        "CampaignMemberId": member_id(n),
        "Email": f"lead{lead_n}@example.com",
        "Smartlead Campaign ID": "77",
        **cols,
    }


# ------------------------------------------------------------------------------------------ hard_bounce_union

HB = "Lead.external_hard_bounced__c"
BOUNCED = {"overall_hard_bounced__c": True, "Cold_Lead_Eligible__c": False}  # consistent with a bounce
HARD_BOUNCE_SCOPE = {
    "changes": {HB, "Lead.pi__pardot_hard_bounced__c", "Lead.overall_hard_bounced__c"},
    "findings": {"bounce_hop_lost", "sender_originated_bounce"},
}
HARD_BOUNCE = [
    {
        "why": "Clay Hard Bounced sets the flag",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": L1, "Hard Bounced": "TRUE"}]},
        "expect": [
            change(
                HB,
                L1,
                before=False,
                after=True,
                status="ready",
                rule="hard_bounce_union",
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 1, "false"), ("clay", "clay/table.csv", 1, "TRUE")],
            )
        ],
    },
    {
        "why": "Smartlead-only bounce sets the flag and reports bounce_hop_lost to the CRM Admin (seed 3.5 escalation path)",
        "given": {"leads": [lead(1)], "events": [bounce("lead1@example.com")]},
        "expect": [
            change(
                HB,
                L1,
                after=True,
                status="ready",
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 1, "false"),
                    ("smartlead", "smartlead/events.jsonl", 1, "EMAIL_BOUNCE"),
                ],
            ),
            finding(
                "bounce_hop_lost",
                L1,
                route="CRM Admin",
                evidence_rows=[("smartlead", "smartlead/events.jsonl", 1, "EMAIL_BOUNCE")],
            ),
        ],
    },
    {
        "why": "old webhook name EMAIL_BOUNCED counts as a bounce",
        "given": {"leads": [lead(1)], "events": [bounce("lead1@example.com", event="EMAIL_BOUNCED")]},
        "expect": [change(HB, L1, after=True), finding("bounce_hop_lost", L1)],
    },
    {
        "why": "old webhook field names (event, sl_lead_email, timestamp) are accepted",
        "given": {
            "leads": [lead(1)],
            "events": [
                {"event": "EMAIL_BOUNCED", "sl_lead_email": "Lead1@example.com", "timestamp": T0, "campaign_id": "77"}
            ],
        },
        "expect": [
            # the evidence names the payload's own key (event, not event_type)
            change(HB, L1, after=True, status="ready", evidence_columns=["external_hard_bounced__c", "event"]),
            finding("bounce_hop_lost", L1),
        ],
    },
    {
        "why": "bounce in both Clay and Smartlead: the hop worked, no bounce_hop_lost",
        "given": {
            "leads": [lead(1)],
            "clay": [{"LeadId": L1, "Hard Bounced": "yes"}],
            "events": [bounce("lead1@example.com")],
        },
        "expect": [change(HB, L1, after=True, status="ready")],
    },
    {
        "why": "Sender Originated Bounce category is not a recipient bounce: finding, no change",
        "given": {
            "leads": [lead(1)],
            "smartlead": {"77": [{"id": "1", "email": "lead1@example.com", "category": "Sender Originated Bounce"}]},
            "events": [bounce("lead1@example.com", campaign="77")],
        },
        "expect": [finding("sender_originated_bounce", L1, route="MARCOM Ops")],
    },
    {
        "why": "Sender Originated Bounce from a LEAD_CATEGORY_UPDATED event: finding, no change",
        "given": {
            "leads": [lead(1)],
            "events": [
                category_event("lead1@example.com", "Sender Originated Bounce", T0),
                bounce("lead1@example.com", at=T0),
            ],
        },
        "expect": [finding("sender_originated_bounce", L1)],
    },
    {
        # Clay's Reply Category carries Smartlead's category over the Smartlead → Clay hop (SPEC §3.4 hop, §4)
        "why": "Sender Originated Bounce from Clay's Reply Category: finding with the Clay row, no change",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member(1, 1, **{"Reply Category": "sender originated bounce", "Reply At": T0})],
            "events": [bounce("lead1@example.com", campaign="77")],
        },
        "expect": [
            finding(
                "sender_originated_bounce",
                L1,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "sender originated bounce")],
                evidence_columns=["Reply Category"],
            )
        ],
    },
    {
        "why": "a true flag is never cleared (Clay false) and more evidence is no change (after = before)",
        "given": {
            "leads": [
                lead(1, external_hard_bounced__c=True, **BOUNCED),
                lead(2, external_hard_bounced__c=True, **BOUNCED),
            ],
            "clay": [{"LeadId": L1, "Hard Bounced": "false"}, {"LeadId": L2, "Hard Bounced": "true"}],
            "events": [bounce("lead2@example.com")],
        },
        "expect": [],
    },
    {
        "why": "Pardot's bounce is never evidence and Pardot's own flag is never changed",
        "given": {
            "leads": [lead(1), lead(2, pi__pardot_hard_bounced__c=True, **BOUNCED)],
            "pardot": [
                {"id": "51", "email": "lead1@example.com", "salesforceLeadId": L1, "isEmailHardBounced": "true"}
            ],
            "clay": [{"LeadId": L2, "Hard Bounced": "1"}],
        },
        "expect": [change(HB, L2, before=False, after=True)],
    },
    {
        "why": "Clay Hard Bounced false, no or empty is not evidence",
        "given": {
            "leads": [lead(1), lead(2), lead(3)],
            "clay": [
                {"LeadId": L1, "Hard Bounced": "false"},
                {"LeadId": L2, "Hard Bounced": "no"},
                {"LeadId": L3, "Hard Bounced": ""},
            ],
        },
        "expect": [],
    },
    {
        "why": "evidence lists every bounce row, Clay and Smartlead, in file/row order",
        "given": {
            "leads": [lead(1)],
            "clay": [{"LeadId": L1, "Hard Bounced": "yes"}, {"Email": "lead1@example.com", "Hard Bounced": "y"}],
            "events": [bounce("lead1@example.com")],
        },
        "expect": [
            change(
                HB,
                L1,
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 1, "false"),
                    ("clay", "clay/table.csv", 1, "yes"),
                    ("clay", "clay/table.csv", 2, "y"),
                    ("smartlead", "smartlead/events.jsonl", 1, "EMAIL_BOUNCE"),
                ],
            )
        ],
    },
    {
        "why": "a bounce of a converted lead is planned but blocked converted_lead",
        "given": {"leads": [lead(1, IsConverted=True)], "clay": [{"LeadId": L1, "Hard Bounced": "true"}]},
        "expect": [change(HB, L1, status="blocked", reason="converted_lead", reasons=["converted_lead"])],
    },
]


@pytest.mark.parametrize("case", cases(HARD_BOUNCE))
def test_hard_bounce_union(tmp_path, case):
    check(tmp_path, case, HARD_BOUNCE_SCOPE)


# ------------------------------------------------------------------------------------------ enrichment_fill_if_blank

CD, IND = "Lead.company_description__c", "Lead.Industry"
ENRICH_SCOPE = {"changes": {CD, IND}, "findings": {"conflicting_enrichment"}}
ENRICHMENT = [
    {
        "why": "a missing or whitespace-only description is filled with the trimmed Clay value",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2, company_description__c="   ")],
            "clay": [
                {"LeadId": L1, "Company Description": "  Acme makes anvils \t"},
                {"LeadId": L2, "Company Description": "Acme"},
            ],
        },
        "expect": [
            change(
                CD,
                L1,
                before=None,
                after="Acme makes anvils",
                status="ready",
                reasons=[],
                rule="enrichment_fill_if_blank",
            ),
            change(CD, L2, before="   ", after="Acme", status="ready"),
        ],
    },
    {
        "why": "under the default policy a fill waits for Legal (pending_legal)",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": L1, "Company Description": "Acme", "Industry": "Banking"}]},
        "expect": [
            change(CD, L1, after="Acme", status="blocked", reason="pending_legal", reasons=["pending_legal"]),
            change(IND, L1, after="Banking", status="blocked", reasons=["pending_legal"]),
        ],
    },
    {
        "why": "an SFDC value of tabs, line breaks or no-break spaces is blank; surrounding ones are not a difference",
        "given": {
            "policy": ACTIVE,
            "leads": [
                lead(1, company_description__c="\t"),
                lead(2, company_description__c="\u00a0\r\n"),
                lead(3, company_description__c="Acme\t", Industry="\tBanking\n"),
            ],
            "clay": [
                {"LeadId": L1, "Company Description": "Acme"},
                {"LeadId": L2, "Company Description": "Acme"},
                {"LeadId": L3, "Company Description": "Acme", "Industry": "banking"},
            ],
        },
        "expect": [
            change(CD, L1, before="\t", after="Acme", status="ready", reasons=[]),
            change(CD, L2, before="\u00a0\r\n", after="Acme", status="ready", reasons=[]),
        ],
    },
    {
        "why": "an existing different value is never overwritten: blocked overwrite_not_approved",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1, company_description__c="Makes widgets")],
            "clay": [{"LeadId": L1, "Company Description": "Globex does it all"}],
        },
        "expect": [
            change(
                CD,
                L1,
                before="Makes widgets",
                after="Globex does it all",
                status="blocked",
                reason="overwrite_not_approved",
                reasons=["overwrite_not_approved"],
            )
        ],
    },
    {
        "why": "an equal value (up to surrounding spaces; Industry up to case) is no change",
        "given": {
            "policy": ACTIVE,
            "leads": [
                lead(1, company_description__c="Acme"),
                lead(2, company_description__c=" Acme "),
                lead(3, Industry="Banking"),
            ],
            "clay": [
                {"LeadId": L1, "Company Description": "Acme"},
                {"LeadId": L2, "Company Description": "Acme  "},
                {"LeadId": L3, "Industry": "BANKING"},
            ],
        },
        "expect": [],
    },
    {
        "why": "two different Clay values for one lead: conflicting_enrichment, no change",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2)],
            "clay": [
                {"LeadId": L1, "Company Description": "Acme"},
                {"Email": "lead1@example.com", "Company Description": "Acme Corp"},
                {"LeadId": L2, "Industry": "Banking"},
                {"LeadId": L2, "Industry": "Retail"},
            ],
        },
        "expect": [
            finding(
                "conflicting_enrichment",
                L1,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "Acme"), ("clay", "clay/table.csv", 2, "Acme Corp")],
            ),
            finding("conflicting_enrichment", L2),
        ],
    },
    {
        "why": "two Clay rows with the same value agree: one change citing both rows",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1)],
            "clay": [
                {"LeadId": L1, "Company Description": "Acme"},
                {"Email": "lead1@example.com", "Company Description": " Acme"},
            ],
        },
        "expect": [
            change(
                CD,
                L1,
                after="Acme",
                status="ready",
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 1, None),
                    ("clay", "clay/table.csv", 1, "Acme"),
                    ("clay", "clay/table.csv", 2, "Acme"),
                ],
            )
        ],
    },
    {
        "why": "two or three agreeing Clay rows in two files: every row cited, in (file, row) order after SFDC's",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2)],
            "clay": [
                {"LeadId": L2, "Company Description": "Globex"},
                {"LeadId": L1, "Company Description": "Acme"},
                {"Email": "lead2@example.com", "Company Description": "Globex "},
            ],
            "files": {
                "clay/extra.csv": csv_text(
                    CLAY_HEADER,
                    [{"LeadId": L1, "Company Description": "Acme"}, {"LeadId": L2, "Company Description": "Globex"}],
                )
            },
        },
        "expect": [
            change(
                CD,
                L1,
                after="Acme",
                status="ready",
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 1, None),
                    ("clay", "clay/extra.csv", 1, "Acme"),
                    ("clay", "clay/table.csv", 2, "Acme"),
                ],
            ),
            change(
                CD,
                L2,
                after="Globex",
                status="ready",
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 2, None),
                    ("clay", "clay/extra.csv", 2, "Globex"),
                    ("clay", "clay/table.csv", 1, "Globex"),
                    ("clay", "clay/table.csv", 3, "Globex"),
                ],
            ),
        ],
    },
    {
        "why": "a blank Clay value is not a value (and never clears SFDC's)",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2, company_description__c="Keep me")],
            "clay": [{"LeadId": L1, "Company Description": "  "}, {"LeadId": L2, "Company Description": ""}],
        },
        "expect": [],
    },
    {
        "why": "longer than the policy's max length (255): blocked too_long",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2)],
            "clay": [
                {"LeadId": L1, "Company Description": "x" * 256},
                {"LeadId": L2, "Company Description": "y" * 255},
            ],
        },
        "expect": [
            change(CD, L1, status="blocked", reasons=["too_long"]),
            change(CD, L2, status="ready", after="y" * 255),
        ],
    },
    {
        # Salesforce counts a text's length as Java does, in UTF-16 code units: 😀 (U+1F600) is 2 of them
        "why": "a supplementary character counts 2 towards max length, as Salesforce counts it: 254 x + 😀 is too long",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2), lead(3)],
            "clay": [
                {"LeadId": L1, "Company Description": "x" * 254 + "\U0001f600"},
                {"LeadId": L2, "Company Description": "y" * 253 + "\U0001f600"},
                {"LeadId": L3, "Company Description": "z" * 254 + "é"},
            ],
        },
        "expect": [
            change(CD, L1, status="blocked", reasons=["too_long"]),
            change(CD, L2, status="ready", after="y" * 253 + "\U0001f600"),
            change(CD, L3, status="ready", after="z" * 254 + "é"),
        ],
    },
    {
        "why": "Industry is matched case-insensitively and written in the picklist's spelling",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2)],
            "clay": [{"LeadId": L1, "Industry": "  BANKING "}, {"LeadId": L2, "Industry": "food & beverage"}],
        },
        "expect": [
            change(
                IND,
                L1,
                before=None,
                after="Banking",
                status="ready",
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 1, None), ("clay", "clay/table.csv", 1, "BANKING")],
            ),
            change(IND, L2, after="Food & Beverage", status="ready"),
        ],
    },
    {
        "why": "Industry values differing only in case are not a conflict",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1)],
            "clay": [{"LeadId": L1, "Industry": "banking"}, {"Email": "lead1@example.com", "Industry": "Banking"}],
        },
        "expect": [change(IND, L1, after="Banking", status="ready")],
    },
    {
        "why": "Industry not in the picklist: blocked invalid_picklist_value",
        "given": {"policy": ACTIVE, "leads": [lead(1)], "clay": [{"LeadId": L1, "Industry": "Fintech"}]},
        "expect": [
            change(
                IND,
                L1,
                after="Fintech",
                status="blocked",
                reason="invalid_picklist_value",
                reasons=["invalid_picklist_value"],
            )
        ],
    },
    {
        "why": "Industry outside the picklist in several spellings: the first in byte order is written (blocked)",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1), lead(2)],
            "clay": [
                {"LeadId": L1, "Industry": "fintech"},
                {"Email": "lead1@example.com", "Industry": "Fintech"},
                {"LeadId": L2, "Industry": "Fintech"},
                {"Email": "lead2@example.com", "Industry": "FinTech"},
            ],
        },
        "expect": [
            change(IND, L1, after="Fintech", status="blocked", reasons=["invalid_picklist_value"]),
            change(IND, L2, after="FinTech", status="blocked", reasons=["invalid_picklist_value"]),
        ],
    },
    {
        "why": "Industry over a different existing value: canonical spelling, blocked overwrite_not_approved",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1, Industry="Retail")],
            "clay": [{"LeadId": L1, "Industry": "banking"}],
        },
        "expect": [
            change(IND, L1, before="Retail", after="Banking", status="blocked", reasons=["overwrite_not_approved"])
        ],
    },
]


@pytest.mark.parametrize("case", cases(ENRICHMENT))
def test_enrichment_fill_if_blank(tmp_path, case):
    check(tmp_path, case, ENRICH_SCOPE)


# ------------------------------------------------------------------------------------------ reply_set_once

HR = "CampaignMember.Has_Replied__c"
REPLY_SCOPE = {"changes": {HR}, "findings": set()}
REPLY = [
    {
        "why": "Clay Replied via CampaignMemberId sets the flag",
        "given": {"leads": [lead(1)], "members": [member(1, 1)], "clay": [clay_member(Replied="yes")]},
        "expect": [
            change(
                HR,
                M1,
                before=False,
                after=True,
                status="ready",
                rule="reply_set_once",
                evidence_rows=[("sfdc", "sfdc/CampaignMember.csv", 1, "false"), ("clay", "clay/table.csv", 1, "yes")],
            )
        ],
    },
    {
        "why": "a 15-character CampaignMemberId in Clay reaches the 18-character member",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [{"CampaignMemberId": member_id(1, 15), "Replied": "true"}],
        },
        "expect": [change(HR, M1, after=True, status="ready")],
    },
    {
        "why": "Smartlead EMAIL_REPLY reaches the member through the Clay (campaign, email) pair",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member()],
            "events": [reply_event("Lead1@Example.com")],
        },
        "expect": [
            change(
                HR,
                M1,
                after=True,
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, "false"),
                    ("smartlead", "smartlead/events.jsonl", 1, "EMAIL_REPLY"),
                ],
            )
        ],
    },
    {
        "why": "Smartlead reply_count > 0 reaches the member through the Clay pair",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member()],
            "smartlead": {"77": [{"id": "9", "email": "lead1@example.com", "reply_count": "2"}]},
        },
        "expect": [
            change(
                HR,
                M1,
                after=True,
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, "false"),
                    ("smartlead", "smartlead/campaign-77.csv", 1, "2"),
                ],
            )
        ],
    },
    {
        "why": "Smartlead reply_count reaches the member through custom_fields (LeadId, CampaignId)",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "smartlead": {
                "77": [
                    {
                        "id": "9",
                        "email": "other@example.com",
                        "reply_count": "1",
                        "custom_fields": {"sfdc_lead_id": lead_id(1, 15), "sfdc_campaign_id": campaign_id(1)},
                    }
                ]
            },
        },
        "expect": [change(HR, M1, after=True)],
    },
    {
        "why": "reply_count 0, Replied no or empty are not evidence",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [member(1, 1), member(2, 2)],
            "clay": [clay_member(Replied="no"), clay_member(2, 2, Replied="")],
            "smartlead": {"77": [{"id": "9", "email": "lead1@example.com", "reply_count": "0"}]},
        },
        "expect": [],
    },
    {
        "why": "a true flag is never set back to false, and more evidence is no change",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [member(1, 1, Has_Replied__c=True), member(2, 2, Has_Replied__c=True)],
            "clay": [clay_member(Replied="false"), clay_member(2, 2, Replied="true")],
            "events": [reply_event("lead2@example.com")],
        },
        "expect": [],
    },
    {
        "why": "evidence from every source is listed",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member(Replied="1")],
            "smartlead": {"77": [{"id": "9", "email": "lead1@example.com", "reply_count": "3"}]},
            "events": [reply_event("lead1@example.com")],
        },
        "expect": [
            change(
                HR,
                M1,
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, "false"),
                    ("clay", "clay/table.csv", 1, "1"),
                    ("smartlead", "smartlead/campaign-77.csv", 1, "3"),
                    ("smartlead", "smartlead/events.jsonl", 1, "EMAIL_REPLY"),
                ],
            )
        ],
    },
]


@pytest.mark.parametrize("case", cases(REPLY))
def test_reply_set_once(tmp_path, case):
    check(tmp_path, case, REPLY_SCOPE)


# ------------------------------------------------------------------------------------------ reply_classification_latest

RC = "CampaignMember.ReplyClassification__c"
CLASS_SCOPE = {"changes": {RC}, "findings": {"classification_without_reply", "do_not_contact_reply"}}
REPLIED = member(1, 1, Has_Replied__c=True)
CLASSIFICATION = [
    {
        "why": "Clay's category is written, the evidence is the Clay row",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "Interested", "Reply At": T0})],
        },
        "expect": [
            change(
                RC,
                M1,
                before=None,
                after="Interested",
                status="ready",
                rule="reply_classification_latest",
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, None),
                    ("clay", "clay/table.csv", 1, "Interested"),
                ],
            )
        ],
    },
    {
        "why": "a later Smartlead event wins over Clay",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "Interested", "Reply At": T0})],
            "events": [category_event("lead1@example.com", "Not Interested", T1)],
        },
        "expect": [
            change(
                RC,
                M1,
                after="Not Interested",
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, None),
                    ("smartlead", "smartlead/events.jsonl", 1, "Not Interested"),
                ],
                evidence_columns=["ReplyClassification__c", "lead_category.new_name"],
            )
        ],
    },
    {
        "why": "an old payload's category (deprecated field) is evidence named category",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "events": [
                {
                    "event_type": "LEAD_CATEGORY_UPDATED",
                    "event_timestamp": T1,
                    "campaign_id": "77",
                    "lead_email": "lead1@example.com",
                    "category": "Out Of Office",
                }
            ],
            "clay": [clay_member()],
        },
        "expect": [
            change(RC, M1, after="Out Of Office", evidence_columns=["ReplyClassification__c", "category"]),
        ],
    },
    {
        "why": "a later Clay category wins over Smartlead",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "Meeting Request", "Reply At": T2})],
            "events": [category_event("lead1@example.com", "Not Interested", T1)],
        },
        "expect": [change(RC, M1, after="Meeting Request")],
    },
    {
        "why": "the latest of several Smartlead events wins, whatever the file order",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member()],
            "events": [
                category_event("lead1@example.com", "Out Of Office", T2),
                category_event("lead1@example.com", "Interested", T1),
            ],
        },
        "expect": [
            change(
                RC,
                M1,
                after="Out Of Office",
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, None),
                    ("smartlead", "smartlead/events.jsonl", 1, "Out Of Office"),
                ],
            )
        ],
    },
    {
        "why": "a tie in time goes to Clay (offsets compared in UTC)",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "Interested", "Reply At": "2026-11-20T10:00:00Z"})],
            "events": [category_event("lead1@example.com", "Not Interested", "2026-11-20T11:00:00+01:00")],
        },
        "expect": [
            change(
                RC,
                M1,
                after="Interested",
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, None),
                    ("clay", "clay/table.csv", 1, "Interested"),
                ],
            )
        ],
    },
    {
        "why": "a leads-export category counts at the Smartlead file's taken_at (05:30Z)",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [REPLIED, member(2, 2, Has_Replied__c=True)],
            "clay": [
                clay_member(**{"Reply Category": "Interested", "Reply At": "2026-11-27T05:29:59Z"}),
                clay_member(2, 2, **{"Reply Category": "Interested", "Reply At": "2026-11-27T05:30:01Z"}),
            ],
            "smartlead": {
                "77": [
                    {"id": "9", "email": "lead1@example.com", "category": "Wrong Person"},
                    {"id": "8", "email": "lead2@example.com", "category": "Wrong Person"},
                ]
            },
        },
        "expect": [
            change(
                RC,
                M1,
                after="Wrong Person",
                evidence_rows=[
                    ("sfdc", "sfdc/CampaignMember.csv", 1, None),
                    ("smartlead", "smartlead/campaign-77.csv", 1, "Wrong Person"),
                ],
            ),
            change(RC, M2, after="Interested"),
        ],
    },
    {
        "why": "a blank category never clears, nor hides an earlier category",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [
                member(1, 1, Has_Replied__c=True, ReplyClassification__c="Interested"),
                member(2, 2, Has_Replied__c=True),
            ],
            "clay": [
                clay_member(**{"Reply Category": "  ", "Reply At": T2}),
                clay_member(2, 2, **{"Reply Category": "", "Reply At": T2}),
            ],
            "events": [category_event("lead2@example.com", "Meeting Request", T1)],
        },
        "expect": [change(RC, M2, after="Meeting Request")],
    },
    {
        "why": "the category is written in the picklist's spelling; the current value in another spelling is kept",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [REPLIED, member(2, 2, Has_Replied__c=True, ReplyClassification__c="Interested")],
            "clay": [
                clay_member(**{"Reply Category": " meeting REQUEST ", "Reply At": T0}),
                clay_member(2, 2, **{"Reply Category": "INTERESTED", "Reply At": T0}),
            ],
        },
        "expect": [change(RC, M1, after="Meeting Request", status="ready")],
    },
    {
        "why": "SFDC's classification with a surrounding tab is the same; one of only a tab is no classification",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [
                member(1, 1, Has_Replied__c=True, ReplyClassification__c="Interested\t"),
                member(2, 2, ReplyClassification__c="\t"),
            ],
            "clay": [clay_member(**{"Reply Category": "interested", "Reply At": T0})],
        },
        "expect": [],
    },
    {
        "why": "a category not in the picklist: blocked invalid_picklist_value",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "Maybe later", "Reply At": T0})],
        },
        "expect": [
            change(
                RC,
                M1,
                after="Maybe later",
                status="blocked",
                reason="invalid_picklist_value",
                reasons=["invalid_picklist_value"],
            )
        ],
    },
    {
        "why": "a classification without reply evidence: change plus classification_without_reply",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member(**{"Reply Category": "Interested", "Reply At": T0})],
        },
        "expect": [
            change(RC, M1, after="Interested", status="ready"),
            finding("classification_without_reply", M1, route="MARCOM Ops"),
        ],
    },
    {
        "why": "SFDC's own classification without any reply is reported, citing the SFDC row",
        "given": {"leads": [lead(1)], "members": [member(1, 1, ReplyClassification__c="Interested")]},
        "expect": [
            finding(
                "classification_without_reply", M1, evidence_rows=[("sfdc", "sfdc/CampaignMember.csv", 1, "Interested")]
            )
        ],
    },
    {
        "why": "reply evidence in the same snapshot satisfies the reply check",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member(**{"Replied": "yes", "Reply Category": "Interested", "Reply At": T0})],
        },
        "expect": [change(RC, M1, after="Interested")],
    },
    {
        "why": "Do Not Contact: change plus do_not_contact_reply routed to the DPO",
        "given": {
            "leads": [lead(1)],
            "members": [REPLIED],
            "clay": [clay_member(**{"Reply Category": "do not contact", "Reply At": T0})],
        },
        "expect": [
            change(RC, M1, after="Do Not Contact", status="ready"),
            finding(
                "do_not_contact_reply", M1, route="DPO", evidence_rows=[("clay", "clay/table.csv", 1, "do not contact")]
            ),
        ],
    },
    {
        "why": "Do Not Contact in a row of a Lead that reaches no CampaignMember still reaches the DPO, on the Lead",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [member(1, 1)],
            "clay": [{"LeadId": L2, "Reply Category": "Do Not Contact", "Reply At": T0}],
            "events": [category_event("lead1@example.com", "do not contact", T0)],
            "smartlead": {"78": [{"id": "1", "email": "lead1@example.com", "category": "Do Not Contact"}]},
        },
        "expect": [
            finding(
                "do_not_contact_reply",
                L1,
                object="Lead",
                route="DPO",
                evidence_rows=[
                    ("smartlead", "smartlead/campaign-78.csv", 1, "Do Not Contact"),
                    ("smartlead", "smartlead/events.jsonl", 1, "do not contact"),
                ],
            ),
            finding("do_not_contact_reply", L2, evidence_rows=[("clay", "clay/table.csv", 1, "Do Not Contact")]),
        ],
    },
]


@pytest.mark.parametrize("case", cases(CLASSIFICATION))
def test_reply_classification_latest(tmp_path, case):
    check(tmp_path, case, CLASS_SCOPE)


# ------------------------------------------------------------------------------------------ read-only checks

READ_ONLY_SCOPE = {
    "changes": "all",
    "findings": {"overall_formula_mismatch", "pardot_sync_gap", "eligibility_mismatch", "deliverability_review"},
}
READ_ONLY = [
    {
        "why": "overall ≠ Pardot OR external as SFDC holds them: overall_formula_mismatch, never written",
        "given": {
            "leads": [
                lead(1, overall_hard_bounced__c=True),
                lead(2, pi__pardot_hard_bounced__c=True, Cold_Lead_Eligible__c=False),
            ]
        },
        "expect": [
            # evidence: the formula's value, then Pardot's and the external value it is computed from
            finding(
                "overall_formula_mismatch",
                L1,
                route="CRM Admin",
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 1, v) for v in ("true", "false", "false")],
            ),
            finding(
                "overall_formula_mismatch",
                L2,
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 2, v) for v in ("false", "true", "false")],
            ),
        ],
    },
    {
        "why": "overall = Pardot OR external as SFDC holds them: no finding",
        "given": {
            "leads": [
                lead(1, pi__pardot_hard_bounced__c=True, **BOUNCED),
                lead(2, external_hard_bounced__c=True, **BOUNCED),
                lead(3),
            ]
        },
        "expect": [],
    },
    {
        "why": "Pardot hard-bounced but SFDC's Pardot flag false: pardot_sync_gap, no change",
        "given": {
            "leads": [lead(1)],
            "pardot": [
                {
                    "id": "51",
                    "email": "x@y.com",
                    "salesforceLeadId": lead_id(1, 15),
                    "isEmailHardBounced": "true",
                    "emailBouncedAt": "2026-11-20T04:35:01-05:00",
                }
            ],
        },
        "expect": [
            finding(
                "pardot_sync_gap",
                L1,
                route="CRM Admin",
                at="2026-11-20T09:35:01Z",
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 1, "false"), ("pardot", "pardot/prospects.csv", 1, "true")],
            )
        ],
    },
    {
        "why": "Pardot v3/v4 column names are accepted (crm_lead_fid, is_email_hard_bounced)",
        "given": {
            "leads": [lead(1)],
            "files": {
                "pardot/prospects.csv": csv_text(
                    ["id", "email", "crm_lead_fid", "is_email_hard_bounced"],
                    [{"id": "51", "crm_lead_fid": lead_id(1, 15), "is_email_hard_bounced": "1"}],
                )
            },
        },
        "expect": [
            finding(
                "pardot_sync_gap",
                L1,
                # SFDC's flag first (what the gap is against), then the Pardot row, its column as the file names it
                evidence_rows=[("sfdc", "sfdc/Lead.csv", 1, "false"), ("pardot", "pardot/prospects.csv", 1, "1")],
                evidence_columns=["pi__pardot_hard_bounced__c", "is_email_hard_bounced"],
            )
        ],
    },
    {
        "why": "Pardot hard-bounced and SFDC's Pardot flag already true: no finding",
        "given": {
            "leads": [lead(1, pi__pardot_hard_bounced__c=True, **BOUNCED)],
            "pardot": [{"id": "51", "email": "LEAD1@example.com", "isEmailHardBounced": "true"}],
        },
        "expect": [],
    },
    {
        "why": "a Contact's Pardot prospect with a Lead's email is not matched to that Lead (no pardot_sync_gap)",
        "given": {
            "leads": [lead(1, Cold_Lead_Eligible__c=False)],  # not eligible: a Contact shares the email
            "contacts": [{"Id": contact_id(1), "Email": "lead1@example.com"}],
            "pardot": [
                {
                    "id": "51",
                    "email": "Lead1@example.com",
                    "salesforceContactId": contact_id(1),
                    "isEmailHardBounced": "true",
                }
            ],
        },
        "expect": [],
    },
    {
        "why": "eligibility_mismatch: Contact sharing the email (any case), opted out, clean but ineligible",
        "given": {
            "leads": [
                lead(1),
                lead(2, HasOptedOutOfEmail=True),
                lead(3, Cold_Lead_Eligible__c=False),
                lead(4, HasOptedOutOfEmail=True, Cold_Lead_Eligible__c=False),
            ],
            "contacts": [{"Id": contact_id(1), "Email": " Lead1@EXAMPLE.com"}],
        },
        "expect": [
            finding(  # the Contact sharing the email is the formula's input no Lead column shows: cited too
                "eligibility_mismatch",
                L1,
                route="CRM Admin",
                evidence_rows=[
                    ("sfdc", "sfdc/Lead.csv", 1, "true"),
                    ("sfdc", "sfdc/Contact.csv", 1, " Lead1@EXAMPLE.com"),
                ],
                detail="Cold_Lead_Eligible__c is true but the eligibility formula gives false (opted out: false, "
                "hard-bounced: false, a Contact has the email: true).",
            ),
            finding("eligibility_mismatch", L2),
            finding("eligibility_mismatch", L3),
        ],
    },
    {
        "why": "Clay says invalid and nothing records a bounce: deliverability_review, no write",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": L1, "Email Validation": "Invalid"}]},
        "expect": [
            finding(
                "deliverability_review",
                L1,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "Invalid")],
            )
        ],
    },
    {
        "why": "Clay says invalid and Clay also has the bounce: the bounce change only",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": L1, "Email Validation": "invalid", "Hard Bounced": "yes"}]},
        "expect": [change(HB, L1, after=True)],
    },
    {
        "why": "Clay says invalid and Pardot records the bounce: no deliverability_review",
        "given": {
            "leads": [lead(1)],
            "clay": [{"LeadId": L1, "Email Validation": "invalid"}],
            "pardot": [{"id": "51", "salesforceLeadId": L1, "isEmailHardBounced": "true"}],
        },
        "expect": [finding("pardot_sync_gap", L1)],
    },
    {
        "why": "no bounce anywhere: SFDC's Pardot or overall flag counts, a Sender Originated Bounce does not",
        "given": {
            "leads": [
                lead(1, pi__pardot_hard_bounced__c=True, **BOUNCED),
                lead(2, overall_hard_bounced__c=True, Cold_Lead_Eligible__c=False),
                lead(3),
            ],
            "clay": [
                {"LeadId": L1, "Email Validation": "invalid"},
                {"LeadId": L2, "Email Validation": "invalid"},
                {"LeadId": L3, "Email Validation": "invalid"},
            ],
            "smartlead": {"77": [{"id": "1", "email": "lead3@example.com", "category": "Sender Originated Bounce"}]},
            "events": [bounce("lead3@example.com", campaign="77")],
        },
        "expect": [
            finding("overall_formula_mismatch", L2),
            finding("eligibility_mismatch", L2),  # expected from Pardot OR external (both false), not overall
            finding("deliverability_review", L3),
        ],
    },
    {
        "why": "Clay says invalid and SFDC already holds a bounce: no deliverability_review",
        "given": {
            "leads": [lead(1, external_hard_bounced__c=True, **BOUNCED)],
            "clay": [{"LeadId": L1, "Email Validation": "invalid"}],
        },
        "expect": [],
    },
]


@pytest.mark.parametrize("case", cases(READ_ONLY))
def test_read_only_checks(tmp_path, case):
    check(tmp_path, case, READ_ONLY_SCOPE)


# ------------------------------------------------------------------------------------------ identity

IDENTITY_SCOPE = {"changes": "all", "findings": {"ambiguous_match", "unmatched_source_row"}}
IDENTITY = [
    {
        "why": "15-character and lower-case-checksum Clay LeadIds reach the lead by its 18-character id",
        "given": {
            "leads": [lead("5g00000AbCdE"), lead("5g00000XyZwV")],
            "clay": [
                {"LeadId": MIXED[:15], "Hard Bounced": "true"},
                {"LeadId": MIXED2[:15] + MIXED2[15:].lower(), "Hard Bounced": "true"},
            ],
        },
        "expect": [change(HB, MIXED, after=True), change(HB, MIXED2, after=True)],
    },
    {
        "why": "a Lead file with 15-character ids gives 18-character record ids",
        "given": {"leads": [lead("5g00000AbCdE", Id=MIXED[:15])], "clay": [{"LeadId": MIXED, "Hard Bounced": "true"}]},
        "expect": [change(HB, MIXED, after=True)],
    },
    {
        "why": "emails match trimmed and case-insensitively, on the source and the Salesforce side",
        "given": {
            "leads": [lead(1), lead(2, email=" Lead2@EXAMPLE.com ")],
            "clay": [
                {"Email": "  LEAD1@Example.COM ", "Hard Bounced": "true"},
                {"Email": "lead2@example.com", "Hard Bounced": "true"},
            ],
        },
        "expect": [change(HB, L1, after=True), change(HB, L2, after=True)],
    },
    {
        "why": "an email matching several Leads: ambiguous_match, no change",
        "given": {
            "leads": [lead(1, email="dup@example.com"), lead(2, email="DUP@example.com")],
            "clay": [{"Email": "dup@example.com", "Hard Bounced": "true"}],
        },
        "expect": [
            finding(
                "ambiguous_match",
                None,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "dup@example.com")],
            )
        ],
    },
    {
        "why": "an email matching no Lead: unmatched_source_row",
        "given": {"leads": [lead(1)], "clay": [{"Email": "nobody@example.com", "Hard Bounced": "true"}]},
        "expect": [
            finding(
                "unmatched_source_row",
                None,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "nobody@example.com")],
            )
        ],
    },
    {
        "why": "an email of one Lead and a Contact matches the Lead",
        "given": {
            "leads": [lead(1, Cold_Lead_Eligible__c=False)],
            "contacts": [{"Id": contact_id(1), "Email": "lead1@example.com"}],
            "clay": [{"Email": "LEAD1@example.com", "Hard Bounced": "true"}],
        },
        "expect": [change(HB, L1, after=True, status="ready")],
    },
    {
        "why": "an email only a Contact has matches no Lead: unmatched_source_row, no change (SPEC §3)",
        "given": {
            "leads": [lead(1)],
            "contacts": [{"Id": contact_id(1), "Email": "contact@example.com"}],
            "clay": [{"Email": "Contact@example.com", "Hard Bounced": "true"}],
        },
        "expect": [
            finding(
                "unmatched_source_row",
                None,
                route="MARCOM Ops",
                evidence_rows=[("clay", "clay/table.csv", 1, "Contact@example.com")],
            )
        ],
    },
    {
        "why": "a Clay row with only its CampaignMemberId: its member's reply is used, the finding says the Lead is not",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [{"CampaignMemberId": M1, "Replied": "yes"}],
        },
        "expect": [
            change(HR, M1, after=True),
            finding(
                "unmatched_source_row",
                None,
                detail=f"clay row matches no Lead (email missing). It reaches CampaignMember {M1}: only its "
                "CampaignMember values are used.",
            ),
        ],
    },
    {
        "why": "a Pardot prospect Pardot links to a Contact and no Lead is a Contact's: neither matched nor reported",
        "given": {
            "leads": [lead(1)],
            "contacts": [{"Id": contact_id(1), "Email": "contact@example.com"}],
            "pardot": [{"id": "51", "salesforceContactId": contact_id(1), "isEmailHardBounced": "true"}],
        },
        "expect": [],
    },
    {
        "why": "a LeadId not in the snapshot: unmatched_source_row naming it, the email is not used",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": L2, "Email": "lead1@example.com", "Hard Bounced": "true"}]},
        "expect": [
            finding(
                "unmatched_source_row",
                L2,
                evidence_rows=[("clay", "clay/table.csv", 1, L2)],
                detail=f"clay row names Lead {L2}, which is not in the Lead snapshot.",
            )
        ],
    },
    {
        "why": "a LeadId holding a Contact id: unmatched_source_row saying it is a Contact's id, not a Lead's",
        "given": {"leads": [lead(1)], "clay": [{"LeadId": contact_id(1), "Email": "lead1@example.com"}]},
        "expect": [
            finding(
                "unmatched_source_row",
                contact_id(1),
                detail=f"clay row names Lead {contact_id(1)}, but that is a Contact id (key prefix 003), not a Lead "
                "id: Contacts are read-only context.",
            )
        ],
    },
    {
        "why": "a Pardot v4 crm_lead_fid not in the snapshot: unmatched_source_row names the column as the file does",
        "given": {
            "leads": [lead(1)],
            "files": {
                "pardot/prospects.csv": csv_text(
                    ["id", "Email", "crm_lead_fid", "is_email_hard_bounced"],
                    [
                        {"id": "51", "Email": "a@b.com", "crm_lead_fid": L2, "is_email_hard_bounced": "0"},
                        {"id": "52", "Email": "nobody@b.com", "is_email_hard_bounced": "0"},
                    ],
                )
            },
        },
        "expect": [
            finding(
                "unmatched_source_row",
                L2,
                evidence_rows=[("pardot", "pardot/prospects.csv", 1, L2)],
                evidence_columns=["crm_lead_fid"],
            ),
            finding(
                "unmatched_source_row",
                None,
                evidence_rows=[("pardot", "pardot/prospects.csv", 2, "nobody@b.com")],
                evidence_columns=["email"],  # a header in another case keeps the contract's spelling
            ),
        ],
    },
    {
        "why": "the LeadId wins over an email naming another lead",
        "given": {
            "leads": [lead(1), lead(2)],
            "clay": [{"LeadId": L2, "Email": "lead1@example.com", "Hard Bounced": "true"}],
        },
        "expect": [change(HB, L2, after=True)],
    },
    {
        "why": "a Clay CampaignMemberId not in the snapshot: unmatched_source_row for the member",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [{"CampaignMemberId": M2, "LeadId": L1, "Replied": "yes"}],
        },
        "expect": [finding("unmatched_source_row", M2)],
    },
    {
        "why": "a Clay CampaignMemberId of another Lead's member: ambiguous_match on it, its Lead values still used",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [member(1, 1), member(2, 2)],
            "clay": [{"CampaignMemberId": M2, "LeadId": L1, "Replied": "yes", "Hard Bounced": "true"}],
        },
        "expect": [
            change(HB, L1, after=True),
            finding(
                "ambiguous_match",
                M2,
                object="CampaignMember",
                route="MARCOM Ops",
                detail=f"Clay row reaches Lead {L1} but names CampaignMember {M2}, which is Lead {L2}'s; its "
                "CampaignMember values are not used.",
                evidence_rows=[("clay", "clay/table.csv", 1, L1), ("clay", "clay/table.csv", 1, M2)],
                evidence_columns=["LeadId", "CampaignMemberId"],
            ),
        ],
    },
    {
        "why": "a Clay CampaignMemberId of a Contact's member, on a row whose email is a Lead's: ambiguous_match",
        "given": {
            "leads": [lead(1)],
            "members": [member(1, 1), member(3, 1, LeadId=None, ContactId=contact_id(1))],
            "contacts": [{"Id": contact_id(1), "Email": "contact@example.com"}],
            "clay": [{"CampaignMemberId": member_id(3), "Email": "lead1@example.com", "Replied": "yes"}],
        },
        "expect": [
            finding(
                "ambiguous_match",
                member_id(3),
                detail=f"Clay row reaches Lead {L1} but names CampaignMember {member_id(3)}, which is a Contact's; its "
                "CampaignMember values are not used.",
                evidence_rows=[
                    ("clay", "clay/table.csv", 1, "lead1@example.com"),
                    ("clay", "clay/table.csv", 1, member_id(3)),
                ],
                evidence_columns=["Email", "CampaignMemberId"],
            ),
        ],
    },
    {
        "why": "a Clay reply signal without a CampaignMemberId reaches no member: reported, not dropped",
        "given": {
            "leads": [lead(1), lead(2)],
            "members": [member(1, 1), member(2, 2)],
            "clay": [
                {"LeadId": L1, "Replied": "yes", "Reply Category": "Interested", "Smartlead Campaign ID": "77"},
                {"Email": "lead2@example.com", "Reply Category": "Do Not Contact", "Reply At": T0},
                {"LeadId": L2, "Replied": "no", "Hard Bounced": "no"},  # no reply signal: nothing to report
                {"Email": "nobody@example.com", "Replied": "yes"},  # reaches no Lead either: reported once, as such
            ],
        },
        "expect": [
            finding(
                "unmatched_source_row",
                None,
                object="CampaignMember",
                route="MARCOM Ops",
                detail="Clay row names no CampaignMemberId; its reply signal cannot be used.",
                evidence_rows=[("clay", "clay/table.csv", 1, "yes")],
                evidence_columns=["Replied"],
            ),
            finding(
                "unmatched_source_row",
                None,
                evidence_rows=[("clay", "clay/table.csv", 2, "Do Not Contact")],
                evidence_columns=["Reply Category"],
            ),
            finding(
                "unmatched_source_row",
                None,
                object="Lead",
                evidence_rows=[("clay", "clay/table.csv", 4, "nobody@example.com")],
            ),
        ],
    },
    {
        "why": "a Smartlead reply reaching no CampaignMember is reported, not dropped",
        "given": {"leads": [lead(1)], "members": [member(1, 1)], "events": [reply_event("lead1@example.com")]},
        "expect": [
            finding(
                "unmatched_source_row",
                None,
                evidence_rows=[("smartlead", "smartlead/events.jsonl", 1, "lead1@example.com")],
            )
        ],
    },
    {
        "why": "a Pardot prospect found by its 15-character salesforceLeadId",
        "given": {
            "leads": [lead(1, pi__pardot_hard_bounced__c=True, **BOUNCED)],
            "pardot": [{"id": "51", "salesforceLeadId": lead_id(1, 15), "isEmailHardBounced": "false"}],
        },
        "expect": [],
    },
]


@pytest.mark.parametrize("case", cases(IDENTITY))
def test_identity(tmp_path, case):
    check(tmp_path, case, IDENTITY_SCOPE)


# ------------------------------------------------------------------------------------------ blocked reasons

BLOCKED_SCOPE = {"changes": "all", "findings": set()}
ORG_NOT_UPDATEABLE = json.dumps(
    {
        "name": "Lead",
        "fields": [
            {"name": "external_hard_bounced__c", "updateable": False},
            {"name": "Industry", "updateable": False},
        ],
    }
)
BLOCKED = [
    {
        "why": "pending_legal comes before converted_lead, invalid_picklist_value and overwrite_not_approved",
        "given": {
            "leads": [lead(1, IsConverted=True, Industry="Retail")],
            "clay": [{"LeadId": L1, "Industry": "Fintech"}],
        },
        "expect": [
            change(
                IND,
                L1,
                status="blocked",
                reason="pending_legal",
                reasons=["pending_legal", "converted_lead", "invalid_picklist_value", "overwrite_not_approved"],
            )
        ],
    },
    {
        "why": "converted_lead comes before the rule's own reasons",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1, IsConverted=True, company_description__c="Old")],
            "clay": [{"LeadId": L1, "Company Description": "z" * 300}],
        },
        "expect": [
            change(CD, L1, reason="converted_lead", reasons=["converted_lead", "too_long", "overwrite_not_approved"])
        ],
    },
    {
        "why": "invalid_picklist_value comes before too_long and overwrite_not_approved",
        "given": {
            "policy": ACTIVE,
            "leads": [lead(1, Industry="Retail")],
            "clay": [{"LeadId": L1, "Industry": "q" * 41}],
        },
        "expect": [
            change(
                IND,
                L1,
                reason="invalid_picklist_value",
                reasons=["invalid_picklist_value", "too_long", "overwrite_not_approved"],
            )
        ],
    },
    {
        "why": "org_field_not_updateable (from the org's describe) comes before pending_legal and converted_lead",
        "given": {
            "leads": [lead(1, IsConverted=True)],
            "clay": [{"LeadId": L1, "Hard Bounced": "yes", "Industry": "banking"}],
            "files": {"sfdc/describe/Lead.json": ORG_NOT_UPDATEABLE},
        },
        "expect": [
            change(HB, L1, reason="org_field_not_updateable", reasons=["org_field_not_updateable", "converted_lead"]),
            change(
                IND,
                L1,
                reason="org_field_not_updateable",
                reasons=["org_field_not_updateable", "pending_legal", "converted_lead"],
            ),
        ],
    },
    {
        "why": "a policy that makes a field read_only blocks it read_only first",
        "given": {
            "policy": {"Has_Replied__c": "read_only"},
            "leads": [lead(1)],
            "members": [member(1, 1)],
            "clay": [clay_member(Replied="yes")],
        },
        "expect": [change(HR, M1, status="blocked", reason="read_only", reasons=["read_only"])],
    },
    {
        "why": "a field missing from the policy is blocked not_in_allowlist",
        "given": {
            "drop_fields": ["external_hard_bounced__c"],
            "leads": [lead(1, IsConverted=True)],
            "clay": [{"LeadId": L1, "Hard Bounced": "yes"}],
        },
        "expect": [
            change(HB, L1, status="blocked", reason="not_in_allowlist", reasons=["not_in_allowlist", "converted_lead"])
        ],
    },
]


@pytest.mark.parametrize("case", cases(BLOCKED))
def test_blocked_reason_order(tmp_path, case):
    from reconcile.policy import BLOCKED_REASONS

    plan = check(tmp_path, case, BLOCKED_SCOPE)
    for c in plan["changes"]:
        assert c["reason"] == (c["reasons"][0] if c["reasons"] else None)
        assert c["reasons"] == sorted(c["reasons"], key=BLOCKED_REASONS.index), "closed order of SPEC §4"
        assert set(c["reasons"]) <= set(BLOCKED_REASONS)
    by_reason = {}
    for c in plan["changes"]:
        if c["reason"]:
            by_reason[c["reason"]] = by_reason.get(c["reason"], 0) + 1
    assert plan["summary"]["by_reason"] == by_reason


# ------------------------------------------------------------------------------------------ policy flips


def test_industry_active_makes_fills_ready_and_leaves_pending_fields_blocked(tmp_path):
    given = {
        "leads": [lead(1), lead(2, IsConverted=True)],
        "clay": [
            {"LeadId": L1, "Industry": "banking", "Company Description": "Acme"},
            {"LeadId": L2, "Industry": "retail"},
        ],
    }
    default = plan_given(tmp_path, given)
    flipped = plan_given(tmp_path, {**given, "policy": {"Industry": "active"}})
    key = lambda p: {(c["record_id"], c["field"]): (c["status"], c["reasons"]) for c in p["changes"]}  # noqa: E731
    assert key(default) == {
        (L1, "Industry"): ("blocked", ["pending_legal"]),
        (L1, "company_description__c"): ("blocked", ["pending_legal"]),
        (L2, "Industry"): ("blocked", ["pending_legal", "converted_lead"]),
    }
    assert key(flipped) == {
        (L1, "Industry"): ("ready", []),
        (L1, "company_description__c"): ("blocked", ["pending_legal"]),
        (L2, "Industry"): ("blocked", ["converted_lead"]),
    }
    assert flipped["policy"]["fingerprint"] != default["policy"]["fingerprint"]


def test_policy_cannot_make_a_formula_field_writable(tmp_path):
    from reconcile.errors import PolicyError
    from reconcile.policy import load_policy

    path = policy_with(tmp_path, {"overall_hard_bounced__c": "active"})
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert str(e.value) == (
        f"Policy file '{path}' [[fields]] entry 4: 'Lead.overall_hard_bounced__c' is a formula, "
        "so its status must be 'read_only'."
    )


def test_policy_rejects_an_unknown_status(tmp_path):
    from reconcile.errors import PolicyError
    from reconcile.policy import load_policy

    path = policy_with(tmp_path, {"Industry": "approved"})
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert str(e.value) == (
        f"Policy file '{path}' [[fields]] entry 6 (Lead.Industry) status = \"approved\": expected one of active, "
        "pending_legal, read_only. Fix the value in the policy file."
    )


def test_no_policy_edit_makes_a_read_only_or_pending_field_ready(tmp_path):
    """Whatever the policy says, a change is ready only on an `active` field of the policy."""
    given = {
        "leads": [lead(1), lead(2, overall_hard_bounced__c=True)],
        "members": [member(1, 1)],
        "clay": [
            {"LeadId": L1, "Industry": "banking", "Company Description": "Acme", "Hard Bounced": "yes"},
            clay_member(Replied="yes", **{"Reply Category": "Interested"}),
        ],
    }
    for statuses in (
        {"Industry": "active"},
        {"external_hard_bounced__c": "read_only"},
        {"Has_Replied__c": "pending_legal", "company_description__c": "active"},
    ):
        p = plan_given(tmp_path, {**given, "policy": statuses} if statuses else given)
        from reconcile.policy import load_policy

        pol = load_policy(policy_with(tmp_path / "check", statuses))
        for c in p["changes"]:
            fp = pol.field_policy(c["object"], c["field"])
            assert (c["status"] == "ready") <= (fp is not None and fp.status == "active"), (statuses, c)
        assert not [
            c
            for c in p["changes"]
            if c["field"] in ("overall_hard_bounced__c", "Cold_Lead_Eligible__c", "pi__pardot_hard_bounced__c")
        ]


# ------------------------------------------------------------------------------------------ empty inputs, NULL vs ''


def test_summary_counts_the_leads_leaving_the_cold_pool(tmp_path):
    p = plan_given(
        tmp_path,
        {
            "leads": [lead(1), lead(2), lead(3, IsConverted=True)],
            "clay": [{"LeadId": L1, "Hard Bounced": "yes"}, {"LeadId": L3, "Hard Bounced": "yes"}],
        },
    )
    assert [(c["record_id"], c["status"]) for c in p["changes"]] == [(L1, "ready"), (L3, "blocked")]
    assert p["summary"]["eligibility"] == {"eligible_now": 3, "leaving_pool": 1}


def test_zero_row_files_plan_nothing(tmp_path):
    given = {
        "leads": [],
        "members": [],
        "contacts": [],
        "clay": [],
        "smartlead": {"77": []},
        "pardot": [],
        "files": {"sfdc/Campaign.csv": "Id,Name,GBU__c\n", "clay/errors.csv": "time,object,record id,field,message\n"},
    }
    p = plan_given(tmp_path, given)
    assert (p["changes"], p["findings"], p["rejects"]) == ([], [], [])
    assert p["summary"]["changes"] == {"total": 0, "ready": 0, "blocked": 0}
    assert p["summary"]["records"] == {"Lead": 0, "CampaignMember": 0, "Contact": 0, "Campaign": 0}
    assert set(p["snapshot"]["fingerprints"]) == {
        "sfdc/Lead.csv",
        "sfdc/CampaignMember.csv",
        "sfdc/Contact.csv",
        "sfdc/Campaign.csv",
        "clay/table.csv",
        "clay/errors.csv",
        "smartlead/campaign-77.csv",
        "pardot/prospects.csv",
    }


def test_leads_without_any_source_rows_plan_nothing(tmp_path):
    p = plan_given(tmp_path, {"leads": [lead(1), lead(2)], "clay": [], "pardot": []})
    assert (p["changes"], p["findings"]) == ([], [])
    assert p["summary"]["eligibility"] == {"eligible_now": 2, "leaving_pool": 0}


def test_null_and_empty_string_are_both_blank_in_salesforce_csv(tmp_path):
    """`""` (empty string) and an empty cell (NULL) are both a blank SFDC value that Clay may fill."""
    rows = [lead(1, company_description__c=""), lead(2)]
    leads = csv_text(LEAD_HEADER, rows, quote_all=True)
    assert '""' in leads.splitlines()[1]
    p = plan_given(
        tmp_path,
        {
            "policy": ACTIVE,
            "files": {"sfdc/Lead.csv": leads},
            "clay": [{"LeadId": L1, "Company Description": "A"}, {"LeadId": L2, "Company Description": "B"}],
        },
    )
    assert [(c["record_id"], c["status"], c["after"]) for c in p["changes"]] == [(L1, "ready", "A"), (L2, "ready", "B")]


def test_null_and_empty_string_are_both_blank_in_jsonl(tmp_path):
    rows = [lead(1), lead(2)]
    rows[0]["company_description__c"], rows[1]["company_description__c"] = None, ""
    rows[0]["Industry"] = ""
    leads = jsonl_text([{k: (str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()} for r in rows])
    p = plan_given(
        tmp_path,
        {
            "policy": ACTIVE,
            "files": {"sfdc/Lead.jsonl": leads, "sfdc/Lead.csv": None},
            "clay": [
                {"LeadId": L1, "Company Description": "A", "Industry": ""},
                {"LeadId": L2, "Company Description": "B", "Industry": None},
            ],
        },
    )
    assert [(c["record_id"], c["field"], c["before"], c["after"]) for c in p["changes"]] == [
        (L1, "company_description__c", None, "A"),
        (L2, "company_description__c", None, "B"),  # "" is blank, as an empty CSV cell: the same before as from CSV
    ]


def test_empty_clay_values_are_not_evidence(tmp_path):
    clay = csv_text(CLAY_HEADER, [{"LeadId": L1, "CampaignMemberId": M1}], quote_all=True)
    p = plan_given(
        tmp_path,
        {
            "policy": ACTIVE,
            "leads": [lead(1)],
            "members": [member(1, 1, Has_Replied__c=True)],
            "files": {"clay/table.csv": clay},
        },
    )
    assert (p["changes"], p["findings"]) == ([], [])


def test_source_values_come_from_the_policy(tmp_path):
    """[source_values] renamed: the rules follow the policy's spelling, never a value written into the SQL."""
    given = {
        "leads": [lead(1), lead(2), lead(3)],
        "members": [member(1, 1, Has_Replied__c=True)],
        "clay": [
            clay_member(**{"Reply Category": "Kein Kontakt", "Reply At": T0}),
            {"LeadId": L2, "Email Validation": "Undeliverable"},
            {"LeadId": L3, "Email Validation": "invalid"},
        ],
        "smartlead": {
            "78": [
                {"id": "1", "email": "lead3@example.com", "category": "Absender-Bounce"},
                {"id": "2", "email": "lead2@example.com", "category": "Sender Originated Bounce"},
            ]
        },
    }
    kinds = ("do_not_contact_reply", "deliverability_review", "sender_originated_bounce")
    found = lambda p: sorted((f["kind"], f["record_id"]) for f in p["findings"] if f["kind"] in kinds)  # noqa: E731
    assert found(plan_given(tmp_path / "default", given)) == [
        ("deliverability_review", L3),
        ("sender_originated_bounce", L2),
    ]
    policy = policy_with(
        tmp_path / "policy",
        replace={
            'sender_originated_bounce = "Sender Originated Bounce"': 'sender_originated_bounce = "absender-bounce"',
            'do_not_contact = "Do Not Contact"': 'do_not_contact = "KEIN KONTAKT"',
            'email_invalid = "invalid"': 'email_invalid = "undeliverable"',
        },
    )
    plan = plan_in(write_snapshot(tmp_path / "renamed", files_of(given)), tmp_path / "renamed-out", policy=policy)
    assert found(plan) == [
        ("deliverability_review", L2),
        ("do_not_contact_reply", M1),
        ("sender_originated_bounce", L3),
    ]


def test_policy_rejects_an_unknown_source_value(tmp_path):
    from reconcile.errors import PolicyError
    from reconcile.policy import load_policy

    path = policy_with(tmp_path, replace={'email_invalid = "invalid"': 'email_bad = "invalid"'})
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert str(e.value) == (
        f"Policy file '{path}': [source_values] entry 'email_bad' is not one of "
        "sender_originated_bounce, do_not_contact, email_invalid with a non-blank text value."
    )
