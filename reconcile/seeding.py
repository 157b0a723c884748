"""Load a snapshot's Salesforce files into the local sandbox org (demo and tests)."""

from __future__ import annotations

from pathlib import Path

from .build import staged

_QUERIES = {
    "Campaign": "select campaign_id as Id, name as Name, gbu as GBU__c from stg_sfdc__campaign",
    "Contact": "select contact_id as Id, email_raw as Email, 'Contact' as LastName from stg_sfdc__contact",
    "Lead": ("select lead_id as Id, email_raw as Email, company as Company, nullif(trim(industry), '') as Industry, "
             "company_description as company_description__c, external_hard_bounced as external_hard_bounced__c, "
             "pardot_hard_bounced as pi__pardot_hard_bounced__c, has_opted_out as HasOptedOutOfEmail, "
             "is_converted as IsConverted, status as Status, gbu as GBU__c, 'Lead' as LastName from stg_sfdc__lead"),
    "CampaignMember": ("select cm_id as Id, campaign_id as CampaignId, lead_id as LeadId, contact_id as ContactId, "
                       "status as Status, has_replied as Has_Replied__c, "
                       "nullif(trim(reply_classification), '') as ReplyClassification__c "
                       "from stg_sfdc__campaign_member"),
}


_FORMULAS = ("select lead_id as Id, overall_hard_bounced as overall_hard_bounced__c, "
             "cold_lead_eligible as Cold_Lead_Eligible__c from stg_sfdc__lead")


def salesforce_records(snapshot_dir: str | Path) -> dict[str, list[dict]]:
    """The snapshot's Salesforce records, normalised (18-character ids), keyed by sObject."""
    return _read(snapshot_dir)[0]


def _read(snapshot_dir: str | Path) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """salesforce_records, and each Lead's formula values as the snapshot holds them, by Lead id."""
    con = staged(snapshot_dir)
    out = {}
    for sobject, sql in _QUERIES.items():
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        out[sobject] = [{k: v for k, v in zip(names, row) if v is not None} for row in cur.fetchall()]
    cur = con.execute(_FORMULAS)
    names = [d[0] for d in cur.description]
    formulas = {row[0]: dict(zip(names[1:], row[1:])) for row in cur.fetchall()}
    con.close()
    return out, formulas


def seed_org(org, snapshot_dir: str | Path, keep_formula_values: bool = False) -> dict[str, int]:
    """Insert the snapshot's Campaigns, Contacts, Leads and CampaignMembers into a sandbox Org.

    keep_formula_values: where the snapshot's formula values (overall_hard_bounced__c, Cold_Lead_Eligible__c)
    differ from what the org's formulas compute from the same record, the org keeps answering the snapshot's value
    (the `formula_values` fault: an org whose deployed formula deviates from the spec). The demo uses it so that
    pulling Salesforce from the sandbox keeps its formula-mismatch scenarios."""
    counts = {}
    records, formulas = _read(snapshot_dir)
    for sobject, rows in records.items():
        org.insert(sobject, rows)
        counts[sobject] = len(rows)
    if keep_formula_values:
        deviating = {}
        for lead_id, held in formulas.items():
            computed = org.formulas("Lead", org.data["Lead"][lead_id])
            differ = {name: value for name, value in held.items() if computed.get(name) != value}
            if differ:
                deviating[lead_id] = differ
        org.set_faults(formula_values=deviating)
        org.save()
        counts["deviating formula values"] = len(deviating)
    return counts
