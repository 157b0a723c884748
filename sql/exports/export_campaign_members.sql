-- The pre-campaign Campaign Member export (SFDC → Clay, seed §3.4): one campaign's Lead members with the keys
-- Clay writes back with and the current enrichment values. A Contact's member is not exported: its row would
-- reach no Lead when it comes back (Contacts are read-only context), export_campaign_member_counts counts it.
-- Grain: one row per CampaignMember of a Lead. Parameters: $campaign_id (18 characters).
select
    m.sf_campaign_member_id as campaign_member_id,
    m.sf_lead_id as lead_id,
    l.email_raw as email,
    l.company,
    l.industry,
    l.company_description,
    l.is_converted,
    l.has_opted_out,
    l.pardot_hard_bounced or l.external_hard_bounced as is_hard_bounced
from stg_sfdc__campaign_member as m
left join stg_sfdc__lead as l on m.sf_lead_id = l.sf_lead_id
where m.sf_campaign_id = $campaign_id and m.sf_lead_id is not null
order by m.sf_campaign_member_id
