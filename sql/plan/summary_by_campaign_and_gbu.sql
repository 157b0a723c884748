-- Ready and blocked changes per campaign and per GBU (the plan summary's by_campaign and by_gbu): a change counts
-- under every campaign and every GBU its record belongs to (plan_record_context: a Lead's change under each of
-- the Lead's campaigns, its own GBU and its campaigns' GBUs), once each; '(none)' when a row has no GBU.
-- A record's changes are counted first and its distinct campaigns / GBUs joined to those counts (a change is
-- unique per record and field, audit assert_one_change_per_record_field): the same counts as a distinct over every
-- (campaign or GBU, change) pair, without that distinct over 1.7M string keys. Both in one query, so the records'
-- campaigns and GBUs are looked up once (backfill 1M: two queries of a distinct per change 4.8 CPU s, this 3.2).
-- The record's counts travel with its memberships under a number (rid), so the distinct is over (campaign or GBU,
-- rid) and nothing is joined back by (object, record_id) (backfill 1M under the build's 1 GB limit: 4.7-5.8 -> 3.4-4.3
-- CPU s). A record's own row of plan_record_context is already in plan_changes (its campaign_id and gbu), so only
-- the other rows (a Lead's campaigns) are joined: backfill 1M 1.55-1.68 -> 1.27-1.36 s, quiet 0.71-1.08 -> 0.37-0.74.
-- Only those other rows need the distinct: a record's own row is one per record, a Lead's own campaign is NULL (only a
-- CampaignMember has one, and only a Lead has other rows), and another row of the record's own GBU is dropped before
-- (backfill 1M, the query alone: 0.85-1.07 -> 0.71-0.74 s; tests/test_plan_format.py writes the full distinct out).
-- Grain: one row per campaign with a change (dimension 'campaign': name and gbu of the campaign) and one per GBU
-- (dimension 'gbu'). Parameters: none.
with per_record as (  -- campaign_id and gbu: the record's own row of plan_record_context, one per record
    select
        object,
        record_id,
        campaign_id,
        gbu,
        count(*) filter (where status = 'ready') as ready,
        count(*) filter (where status = 'blocked') as blocked,
        row_number() over () as rid
    from plan_changes
    group by object, record_id, campaign_id, gbu
),

others as materialized (  -- a Lead's campaigns: its rows of plan_record_context but its own, with its counts
    select
        x.campaign_id,
        coalesce(x.gbu, '(none)') as gbu,
        coalesce(p.gbu, '(none)') as own_gbu,
        p.rid,
        p.ready,
        p.blocked
    from plan_record_context as x
    inner join per_record as p on x.object = p.object and x.record_id = p.record_id
    where not x.is_own
),

by_campaign as (  -- a record's own campaign (a CampaignMember's: a Lead has none) is never among its other rows
    select
        campaign_id,
        ready,
        blocked
    from per_record
    where campaign_id is not null
    union all
    select
        campaign_id,
        ready,
        blocked
    from (select distinct campaign_id, rid, ready, blocked from others where campaign_id is not null) as d
),

by_gbu as (  -- a record's own GBU, then the other GBUs of its campaigns, each once
    select
        coalesce(gbu, '(none)') as gbu,
        ready,
        blocked
    from per_record
    union all
    select
        gbu,
        ready,
        blocked
    from (select distinct gbu, rid, ready, blocked from others where gbu <> own_gbu) as d
)

select
    'campaign' as dimension,
    t.campaign_id as key,
    any_value(c.name) as name,
    any_value(c.gbu) as gbu,
    sum(t.ready)::bigint as ready,
    sum(t.blocked)::bigint as blocked
from by_campaign as t
left join stg_sfdc__campaign as c on t.campaign_id = c.sf_campaign_id
group by t.campaign_id
union all
select
    'gbu',
    gbu,
    null,
    null,
    sum(ready)::bigint,
    sum(blocked)::bigint
from by_gbu
group by gbu
order by dimension, key
