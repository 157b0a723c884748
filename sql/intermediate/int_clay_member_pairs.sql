-- Identity (SPEC §3): the (Smartlead Campaign ID, email) pairs Clay rows tie to exactly one existing
-- CampaignMember — how Smartlead rows and webhook events reach a CampaignMember.
-- Grain: one row per (sl_campaign_id, email_norm). Parameters: none.
select c.sl_campaign_id, c.email_norm, min(c.cm_id) as cm_id
from stg_clay__rows as c
join stg_sfdc__campaign_member as m on m.cm_id = c.cm_id
where c.sl_campaign_id is not null and c.email_norm is not null
group by c.sl_campaign_id, c.email_norm
having min(c.cm_id) = max(c.cm_id)  -- one CampaignMember (cheaper than count(distinct), and spills to disk)
