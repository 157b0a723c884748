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


def salesforce_records(snapshot_dir: str | Path) -> dict[str, list[dict]]:
    """The snapshot's Salesforce records, normalised (18-character ids), keyed by sObject."""
    con = staged(snapshot_dir)
    out = {}
    for sobject, sql in _QUERIES.items():
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        out[sobject] = [{k: v for k, v in zip(names, row) if v is not None} for row in cur.fetchall()]
    con.close()
    return out


def seed_org(org, snapshot_dir: str | Path) -> dict[str, int]:
    """Insert the snapshot's Campaigns, Contacts, Leads and CampaignMembers into a sandbox Org."""
    counts = {}
    for sobject, records in salesforce_records(snapshot_dir).items():
        org.insert(sobject, records)
        counts[sobject] = len(records)
    return counts
