-- Identity (SPEC §3): Clay rows reach a CampaignMember by CampaignMemberId; Smartlead rows through the Clay
-- rows pairing (Smartlead Campaign ID, email) with one, through the leads-export map id (events), or through
-- (Lead, custom_fields.sfdc_campaign_id). Grain: one row per source row that names a CampaignMember.
-- Parameters: none.
with clay_pairs as not materialized (
    select c.sl_campaign_id, c.email_norm, min(c.cm_id) as cm_id
    from stg_clay__rows as c
    join stg_sfdc__campaign_member as m on m.cm_id = c.cm_id
    where c.sl_campaign_id is not null and c.email_norm is not null
    group by c.sl_campaign_id, c.email_norm
    having min(c.cm_id) = max(c.cm_id)  -- one CampaignMember (cheaper than count(distinct) and spills to disk)
),
member_by_lead_campaign as (
    select lead_id, campaign_id, min(cm_id) as cm_id
    from stg_sfdc__campaign_member
    where lead_id is not null
    group by lead_id, campaign_id
    having count(*) = 1
),
smartlead_rows as not materialized (  -- the leads-export rows that reach a CampaignMember
    select s.file, s.row, s.sl_campaign_id, s.map_id, coalesce(p.cm_id, b.cm_id) as cm_id
    from stg_smartlead__leads as s
    join (select file, row, lead_id from int_source_rows_matched where source = 'smartlead') as i
        on i.file = s.file and i.row = s.row
    left join clay_pairs as p on p.sl_campaign_id = s.sl_campaign_id and p.email_norm = s.email_norm
    left join member_by_lead_campaign as b on b.lead_id = i.lead_id and b.campaign_id = s.sfdc_campaign_id
    where coalesce(p.cm_id, b.cm_id) is not null
),
by_map_id as (
    select sl_campaign_id, map_id, min(cm_id) as cm_id
    from smartlead_rows
    where map_id is not null
    group by sl_campaign_id, map_id
)
select 'clay' as source, c.file, c.row, c.cm_id, m.cm_id is not null as cm_found
from stg_clay__rows as c
left join stg_sfdc__campaign_member as m on m.cm_id = c.cm_id
where c.cm_id is not null
union all
select 'smartlead', file, row, cm_id, true
from smartlead_rows
union all
select 'smartlead', e.file, e.row, coalesce(p.cm_id, mp.cm_id), true
from stg_smartlead__events as e
left join clay_pairs as p on p.sl_campaign_id = e.sl_campaign_id and p.email_norm = e.email_norm
left join by_map_id as mp on mp.sl_campaign_id = e.sl_campaign_id and mp.map_id = e.map_id
where coalesce(p.cm_id, mp.cm_id) is not null
