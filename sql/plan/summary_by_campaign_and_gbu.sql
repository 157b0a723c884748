-- Ready and blocked changes per campaign and per GBU (the plan summary's by_campaign and by_gbu): a change counts
-- under every campaign and every GBU its record belongs to (plan_record_context: a Lead's change under each of
-- the Lead's campaigns, its own GBU and its campaigns' GBUs), once each; '(none)' when a row has no GBU.
-- A record's changes are counted first and its distinct campaigns / GBUs joined to those counts (a change is
-- unique per record and field, audit assert_one_change_per_record_field): the same counts as a distinct over every
-- (campaign or GBU, change) pair, without that distinct over 1.7M string keys. Both in one query, so the records'
-- campaigns and GBUs are looked up once (backfill 1M: two queries of a distinct per change 4.8 CPU s, this 3.2).
-- Grain: one row per campaign with a change (dimension 'campaign': name and gbu of the campaign) and one per GBU
-- (dimension 'gbu'). Parameters: none.
with per_record as (
    select
        object,
        record_id,
        count(*) filter (where status = 'ready') as ready,
        count(*) filter (where status = 'blocked') as blocked
    from plan_changes
    group by object, record_id
),

context as materialized (
    select
        x.object,
        x.record_id,
        x.campaign_id,
        coalesce(x.gbu, '(none)') as gbu
    from plan_record_context as x
    semi join per_record as p on x.object = p.object and x.record_id = p.record_id
),

by_campaign as (
    select distinct
        campaign_id,
        object,
        record_id
    from context
    where campaign_id is not null
),

by_gbu as (
    select distinct
        gbu,
        object,
        record_id
    from context
)

select
    'campaign' as dimension,
    t.campaign_id as key,
    any_value(c.name) as name,
    any_value(c.gbu) as gbu,
    sum(p.ready)::bigint as ready,
    sum(p.blocked)::bigint as blocked
from by_campaign as t
inner join per_record as p on t.object = p.object and t.record_id = p.record_id
left join stg_sfdc__campaign as c on t.campaign_id = c.sf_campaign_id
group by t.campaign_id
union all
select
    'gbu',
    t.gbu,
    null,
    null,
    sum(p.ready)::bigint,
    sum(p.blocked)::bigint
from by_gbu as t
inner join per_record as p on t.object = p.object and t.record_id = p.record_id
group by t.gbu
order by dimension, key
