-- Identity (SPEC §3): Clay rows that reach a Lead (by LeadId, else by email) and name an existing CampaignMember
-- of another Lead or of a Contact. The row contradicts itself: its CampaignMember values are not used (no link,
-- no Smartlead pairing) and find_ambiguous_match reports it; its Lead values follow the Lead it reached.
-- Grain: one row per such Clay row. Parameters: none.
select
    c.file,
    c.row,
    i.sf_lead_id,
    c.sf_lead_id is not null as by_lead_id,
    c.email_raw,
    c.sf_campaign_member_id,
    m.sf_lead_id as member_lead_id
from stg_clay__rows as c
join stg_sfdc__campaign_member as m on m.sf_campaign_member_id = c.sf_campaign_member_id
join int_source_rows_matched as i on i.file = c.file and i.row = c.row and i.sf_lead_id is not null
where m.sf_lead_id is distinct from i.sf_lead_id
