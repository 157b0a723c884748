-- Identity (SPEC §3): Smartlead leads-export rows that reach a CampaignMember — through the Clay pair
-- (Smartlead Campaign ID, email), else through (their Lead, custom_fields.sfdc_campaign_id) naming one member.
-- Grain: one row per leads-export row with a CampaignMember. Parameters: none.
with member_by_lead_campaign as (
    select lead_id, campaign_id, min(cm_id) as cm_id
    from stg_sfdc__campaign_member
    where lead_id is not null
    group by lead_id, campaign_id
    having count(*) = 1
)
select s.file, s.row, s.sl_campaign_id, s.map_id, coalesce(p.cm_id, b.cm_id) as cm_id
from stg_smartlead__leads as s
join (select file, row, lead_id from int_source_rows_matched where source = 'smartlead') as i
    on i.file = s.file and i.row = s.row
left join int_clay_member_pairs as p on p.sl_campaign_id = s.sl_campaign_id and p.email_norm = s.email_norm
left join member_by_lead_campaign as b on b.lead_id = i.lead_id and b.campaign_id = s.sfdc_campaign_id
where coalesce(p.cm_id, b.cm_id) is not null
