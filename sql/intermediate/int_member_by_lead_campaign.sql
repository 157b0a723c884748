-- Identity (SPEC §3): the CampaignMember a (Lead, Campaign) pair names, where exactly one member has that pair —
-- how a Smartlead row carrying its Lead and its Salesforce Campaign (custom_fields sfdc_lead_id / sfdc_campaign_id)
-- reaches its CampaignMember, leads-export rows (int_smartlead_member_rows) and webhook events
-- (int_campaign_member_links) alike. Grain: one row per (Lead, Campaign) with one member. Parameters: none.
select
    sf_lead_id,
    sf_campaign_id,
    min(sf_campaign_member_id) as sf_campaign_member_id
from stg_sfdc__campaign_member
where sf_lead_id is not null
group by sf_lead_id, sf_campaign_id
having count(*) = 1
