-- The pre-campaign Campaign Member export (SFDC → Clay, seed §3.4): one campaign's members with the keys
-- Clay writes back with and the current enrichment values. Grain: one row per CampaignMember.
-- Parameters: $campaign_id (18 characters).
select
    m.sf_campaign_member_id as campaign_member_id,
    m.sf_lead_id as lead_id,
    coalesce(l.email_raw, c.email_raw) as email,
    l.company,
    l.industry,
    l.company_description,
    l.is_converted,
    l.has_opted_out,
    l.pardot_hard_bounced or l.external_hard_bounced as is_hard_bounced
from stg_sfdc__campaign_member as m
left join stg_sfdc__lead as l on l.sf_lead_id = m.sf_lead_id
left join stg_sfdc__contact as c on c.sf_contact_id = m.sf_contact_id
where m.sf_campaign_id = $campaign_id
order by m.sf_campaign_member_id
