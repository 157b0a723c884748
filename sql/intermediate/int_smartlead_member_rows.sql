-- Identity (SPEC §3): Smartlead leads-export rows that reach a CampaignMember — through the Clay pair
-- (Smartlead Campaign ID, email), else through (their Lead, custom_fields.sfdc_campaign_id) naming one member.
-- Grain: one row per leads-export row with a CampaignMember. Parameters: none.
with member_by_lead_campaign as (
    select sf_lead_id, sf_campaign_id, min(sf_campaign_member_id) as sf_campaign_member_id
    from stg_sfdc__campaign_member
    where sf_lead_id is not null
    group by sf_lead_id, sf_campaign_id
    having count(*) = 1
)
select
    s.file, s.row, s.smartlead_campaign_id, s.smartlead_lead_map_id,
    coalesce(p.sf_campaign_member_id, b.sf_campaign_member_id) as sf_campaign_member_id
from stg_smartlead__leads as s
join (select file, row, sf_lead_id from int_source_rows_matched where source = 'smartlead') as i
    on i.file = s.file and i.row = s.row
left join int_clay_member_pairs as p
    on p.smartlead_campaign_id = s.smartlead_campaign_id and p.email_norm = s.email_norm
left join member_by_lead_campaign as b on b.sf_lead_id = i.sf_lead_id and b.sf_campaign_id = s.sf_campaign_id
where coalesce(p.sf_campaign_member_id, b.sf_campaign_member_id) is not null
