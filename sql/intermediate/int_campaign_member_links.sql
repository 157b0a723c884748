-- Identity (SPEC §3): Clay rows reach a CampaignMember by CampaignMemberId (not one of another Lead's:
-- int_clay_member_conflicts); Smartlead leads-export rows as int_smartlead_member_rows says; webhook events through
-- the Clay pair (Smartlead Campaign ID, email), else through the campaign's leads-export row that reaches a member
-- — by the event's map id (sl_email_lead_map_id), else its Smartlead lead id (sl_email_lead_id; `lead_id` of
-- LEAD_CATEGORY_UPDATED, which carries no map id), else (their Lead, custom_fields.sfdc_campaign_id) naming one member
-- (not in int_repeated_lead_campaigns), else the event's email (the lead's address: `to_email`).
-- A Smartlead lead id or email that names several members in one campaign names none.
-- Grain: one row per source row that names a CampaignMember. Parameters: none.
with by_map_id as (
    select smartlead_campaign_id, smartlead_lead_map_id, min(sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows
    where smartlead_lead_map_id is not null
    group by smartlead_campaign_id, smartlead_lead_map_id
),
by_lead_id as (
    select smartlead_campaign_id, smartlead_lead_id, any_value(sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows
    where smartlead_lead_id is not null
    group by smartlead_campaign_id, smartlead_lead_id
    having count(distinct sf_campaign_member_id) = 1
),
by_email as (
    select smartlead_campaign_id, email_norm, any_value(sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows
    where email_norm is not null
    group by smartlead_campaign_id, email_norm
    having count(distinct sf_campaign_member_id) = 1
)
select 'clay' as source, c.file, c.row, c.sf_campaign_member_id, m.sf_campaign_member_id is not null as cm_found
from stg_clay__rows as c
left join stg_sfdc__campaign_member as m on m.sf_campaign_member_id = c.sf_campaign_member_id
-- a member of another Lead than the row's is no link (int_clay_member_conflicts; find_ambiguous_match reports it)
anti join int_clay_member_conflicts as x on x.file = c.file and x.row = c.row
where c.sf_campaign_member_id is not null
union all
select 'smartlead', file, row, sf_campaign_member_id, true
from int_smartlead_member_rows
union all
select
    'smartlead', e.file, e.row,
    coalesce(
        p.sf_campaign_member_id, mp.sf_campaign_member_id, ml.sf_campaign_member_id, b.sf_campaign_member_id,
        me.sf_campaign_member_id
    ),
    true
from stg_smartlead__events as e
left join int_clay_member_pairs as p
    on p.smartlead_campaign_id = e.smartlead_campaign_id and p.email_norm = e.email_norm
left join by_map_id as mp
    on mp.smartlead_campaign_id = e.smartlead_campaign_id and mp.smartlead_lead_map_id = e.smartlead_lead_map_id
left join by_lead_id as ml
    on ml.smartlead_campaign_id = e.smartlead_campaign_id and ml.smartlead_lead_id = e.smartlead_lead_id
left join by_email as me
    on me.smartlead_campaign_id = e.smartlead_campaign_id and me.email_norm = e.email_norm
left join int_source_rows_matched as i on i.file = e.file and i.row = e.row and e.sf_campaign_id is not null
left join (
    select m.sf_lead_id, m.sf_campaign_id, m.sf_campaign_member_id
    from stg_sfdc__campaign_member as m
    anti join int_repeated_lead_campaigns as r on r.sf_lead_id = m.sf_lead_id and r.sf_campaign_id = m.sf_campaign_id
) as b
    on b.sf_lead_id = i.sf_lead_id and b.sf_campaign_id = e.sf_campaign_id
where coalesce(
    p.sf_campaign_member_id, mp.sf_campaign_member_id, ml.sf_campaign_member_id, b.sf_campaign_member_id,
    me.sf_campaign_member_id
) is not null
