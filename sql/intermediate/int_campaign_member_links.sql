-- Identity (SPEC §3): Clay rows reach a CampaignMember by CampaignMemberId (not one of another Lead's:
-- int_clay_member_conflicts); Smartlead leads-export rows as int_smartlead_member_rows says; webhook events through
-- the Clay pair (Smartlead Campaign ID, email), else through the campaign's leads-export row with the event's map id
-- (sl_email_lead_map_id), else through (their Lead, custom_fields.sfdc_campaign_id) naming one member (not in
-- int_repeated_lead_campaigns), else through the campaign's leads-export row with the event's Smartlead lead id
-- (sl_email_lead_id; `lead_id` of LEAD_CATEGORY_UPDATED, which carries no map id), else with its email (the lead's
-- address: `to_email`) — a lead id or email that names several members in one campaign names none.
-- The last two look up only the events the others leave without a member (few): over every leads-export row they
-- ran out of memory at 1M leads under the build's limit.
-- Grain: one row per source row that names a CampaignMember. Parameters: none.
with by_map_id as (
    select smartlead_campaign_id, smartlead_lead_map_id, min(sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows
    where smartlead_lead_map_id is not null
    group by smartlead_campaign_id, smartlead_lead_map_id
),
events as materialized (
    select
        e.file, e.row, e.smartlead_campaign_id, e.smartlead_lead_id, e.email_norm,
        coalesce(p.sf_campaign_member_id, mp.sf_campaign_member_id, b.sf_campaign_member_id) as sf_campaign_member_id
    from stg_smartlead__events as e
    left join int_clay_member_pairs as p
        on p.smartlead_campaign_id = e.smartlead_campaign_id and p.email_norm = e.email_norm
    left join by_map_id as mp
        on mp.smartlead_campaign_id = e.smartlead_campaign_id and mp.smartlead_lead_map_id = e.smartlead_lead_map_id
    left join int_source_rows_matched as i on i.file = e.file and i.row = e.row and e.sf_campaign_id is not null
    left join (
        select m.sf_lead_id, m.sf_campaign_id, m.sf_campaign_member_id
        from stg_sfdc__campaign_member as m
        anti join int_repeated_lead_campaigns as r
            on r.sf_lead_id = m.sf_lead_id and r.sf_campaign_id = m.sf_campaign_id
    ) as b
        on b.sf_lead_id = i.sf_lead_id and b.sf_campaign_id = e.sf_campaign_id
),
unlinked as materialized (
    select file, row, smartlead_campaign_id, smartlead_lead_id, email_norm
    from events
    where sf_campaign_member_id is null
),
by_lead_id as (
    select r.smartlead_campaign_id, r.smartlead_lead_id, any_value(r.sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows as r
    semi join unlinked as u
        on u.smartlead_campaign_id = r.smartlead_campaign_id and u.smartlead_lead_id = r.smartlead_lead_id
    group by r.smartlead_campaign_id, r.smartlead_lead_id
    having count(distinct r.sf_campaign_member_id) = 1
),
by_email as (
    select r.smartlead_campaign_id, r.email_norm, any_value(r.sf_campaign_member_id) as sf_campaign_member_id
    from int_smartlead_member_rows as r
    semi join unlinked as u on u.smartlead_campaign_id = r.smartlead_campaign_id and u.email_norm = r.email_norm
    group by r.smartlead_campaign_id, r.email_norm
    having count(distinct r.sf_campaign_member_id) = 1
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
select 'smartlead', file, row, sf_campaign_member_id, true
from events
where sf_campaign_member_id is not null
union all
select 'smartlead', u.file, u.row, coalesce(ml.sf_campaign_member_id, me.sf_campaign_member_id), true
from unlinked as u
left join by_lead_id as ml
    on ml.smartlead_campaign_id = u.smartlead_campaign_id and ml.smartlead_lead_id = u.smartlead_lead_id
left join by_email as me on me.smartlead_campaign_id = u.smartlead_campaign_id and me.email_norm = u.email_norm
where coalesce(ml.sf_campaign_member_id, me.sf_campaign_member_id) is not null
