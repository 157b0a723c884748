-- Ready and blocked changes per campaign (the plan summary's by_campaign): a change counts under every campaign
-- its record belongs to (plan_record_context: a Lead's change under each of the Lead's campaigns), once each.
-- A record's changes are counted first and its distinct campaigns joined to those counts (a change is unique per
-- record and field, audit assert_one_change_per_record_field): the same counts as a distinct over every
-- (campaign, change) pair, without that distinct over 1.7M string keys (backfill 1M: 2.4 → 1.8 CPU s).
-- Grain: one row per campaign with a change. Parameters: none.
with per_record as (
    select
        object,
        record_id,
        count(*) filter (where status = 'ready') as ready,
        count(*) filter (where status = 'blocked') as blocked
    from plan_changes
    group by object, record_id
),

touched as (
    select distinct
        x.campaign_id,
        x.object,
        x.record_id
    from plan_record_context as x
    semi join per_record as p on x.object = p.object and x.record_id = p.record_id
    where x.campaign_id is not null
)

select
    t.campaign_id,
    any_value(c.name) as name,
    any_value(c.gbu) as gbu,
    sum(p.ready)::bigint as ready,
    sum(p.blocked)::bigint as blocked
from touched as t
inner join per_record as p on t.object = p.object and t.record_id = p.record_id
left join stg_sfdc__campaign as c on t.campaign_id = c.sf_campaign_id
group by t.campaign_id
order by t.campaign_id
