-- Identity (SPEC §3): Smartlead leads-export rows that reach a CampaignMember — through the Clay pair
-- (Smartlead Campaign ID, email), else through (their Lead, custom_fields.sfdc_campaign_id) naming one member
-- (int_repeated_lead_campaigns: not a pair several members have).
-- Grain: one row per leads-export row with a CampaignMember (with the row's Smartlead ids and email, by which
-- webhook events find it: int_campaign_member_links). Parameters: none.
-- leads_with_lead is materialised: with its (file, row) join in the same pipeline as the two member lookups, three
-- hash tables had to fit at once — at 10M leads that ran out of memory under a 6 GB limit (and spilled for 138 s
-- under 960 MB); in two steps it completes under either.
with leads_with_lead as materialized (
    select
        s.file, s.row, s.smartlead_campaign_id, s.smartlead_lead_map_id, s.smartlead_lead_id, s.email_norm,
        s.sf_campaign_id, i.sf_lead_id
    from stg_smartlead__leads as s
    inner join (select file, row, sf_lead_id from int_source_rows_matched where source = 'smartlead') as i
        on s.file = i.file and s.row = i.row
)

select
    s.file, s.row, s.smartlead_campaign_id, s.smartlead_lead_map_id, s.smartlead_lead_id, s.email_norm,
    coalesce(p.sf_campaign_member_id, b.sf_campaign_member_id) as sf_campaign_member_id
from leads_with_lead as s
left join int_clay_member_pairs as p
    on s.smartlead_campaign_id = p.smartlead_campaign_id and s.email_norm = p.email_norm
-- the member of the row's (Lead, Campaign), when that pair names one
left join (
    select m.sf_lead_id, m.sf_campaign_id, m.sf_campaign_member_id
    from stg_sfdc__campaign_member as m
    anti join int_repeated_lead_campaigns as r on r.sf_lead_id = m.sf_lead_id and r.sf_campaign_id = m.sf_campaign_id
) as b
    on s.sf_lead_id = b.sf_lead_id and s.sf_campaign_id = b.sf_campaign_id
where coalesce(p.sf_campaign_member_id, b.sf_campaign_member_id) is not null
