-- Identity (SPEC §3): the (Lead, Campaign) pairs more than one CampaignMember has. A Smartlead row carrying its Lead
-- and its Salesforce Campaign (custom_fields sfdc_lead_id / sfdc_campaign_id) reaches the CampaignMember of that pair
-- only when the pair names one member: leads-export rows (int_smartlead_member_rows) and webhook events
-- (int_campaign_member_links) join the members anti-joined with these pairs. Only the repeats are kept: a table of
-- every unique pair was nearly the member table again (15M rows at 10M leads, ~11 s to write to the scratch file).
-- Grain: one row per repeated (Lead, Campaign). Parameters: none.
select sf_lead_id, sf_campaign_id
from stg_sfdc__campaign_member
where sf_lead_id is not null and sf_campaign_id is not null
group by sf_lead_id, sf_campaign_id
having count(*) > 1
