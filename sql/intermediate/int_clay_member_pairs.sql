-- Identity (SPEC §3): the (Smartlead Campaign ID, email) pairs Clay rows tie to exactly one existing
-- CampaignMember of the Lead the row reaches — how Smartlead rows and webhook events reach a CampaignMember.
-- Grain: one row per (smartlead_campaign_id, email_norm). Parameters: none.
select c.smartlead_campaign_id, c.email_norm, min(c.sf_campaign_member_id) as sf_campaign_member_id
from stg_clay__rows as c
join stg_sfdc__campaign_member as m on m.sf_campaign_member_id = c.sf_campaign_member_id
-- a row whose member is another Lead's pairs nothing (int_clay_member_conflicts)
anti join int_clay_member_conflicts as x on x.file = c.file and x.row = c.row
where c.smartlead_campaign_id is not null and c.email_norm is not null
group by c.smartlead_campaign_id, c.email_norm
-- one CampaignMember (cheaper than count(distinct), and spills to disk)
having min(c.sf_campaign_member_id) = max(c.sf_campaign_member_id)
