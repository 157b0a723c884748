-- Identity (SPEC §3): Clay rows that reach a Lead (by LeadId, else by email) and name an existing CampaignMember
-- of another Lead or of a Contact. The row contradicts itself: its CampaignMember values are not used (no link,
-- no Smartlead pairing) and find_ambiguous_match reports it; its Lead values follow the Lead it reached.
-- Grain: one row per such Clay row. Parameters: none.
-- Only the rows whose member is not the Lead their own LeadId names (or that name none: reached by email, if at all)
-- are looked up in int_source_rows_matched: nearly every row gives the member's LeadId (1M leads: 0.77 → 0.35 s).
with candidates as (
    select
        c.file,
        c.row,
        c.sf_lead_id as given_id,
        c.email_raw,
        c.sf_campaign_member_id,
        m.sf_lead_id as member_lead_id
    from stg_clay__rows as c
    join stg_sfdc__campaign_member as m on m.sf_campaign_member_id = c.sf_campaign_member_id
    where c.sf_lead_id is null or m.sf_lead_id is distinct from c.sf_lead_id
)
select
    x.file,
    x.row,
    i.sf_lead_id,
    x.given_id is not null as by_lead_id,
    x.email_raw,
    x.sf_campaign_member_id,
    x.member_lead_id
from candidates as x
join int_source_rows_matched as i on i.file = x.file and i.row = x.row and i.sf_lead_id is not null
where x.member_lead_id is distinct from i.sf_lead_id
