-- Ready and blocked changes per GBU (the plan summary's by_gbu): a change counts under every GBU its record belongs
-- to (plan_record_context: a Lead's own GBU and its campaigns' GBUs), once each; '(none)' when a row has no GBU.
-- Grain: one row per GBU with a change. Parameters: none.
with touched as (
    select distinct coalesce(x.gbu, '(none)') as gbu, p.object, p.record_id, p.field, p.status
    from plan_changes as p
    join plan_record_context as x on x.object = p.object and x.record_id = p.record_id
)
select
    gbu,
    count(*) filter (where status = 'ready') as ready,
    count(*) filter (where status = 'blocked') as blocked
from touched
group by gbu
order by gbu
