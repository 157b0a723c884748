-- Ready and blocked changes per campaign (the plan summary's by_campaign): a change counts under every campaign
-- its record belongs to (plan_record_context: a Lead's change under each of the Lead's campaigns), once each.
-- Grain: one row per campaign with a change. Parameters: none.
with touched as (
    select distinct x.campaign_id, p.object, p.record_id, p.field, p.status
    from plan_changes as p
    join plan_record_context as x on x.object = p.object and x.record_id = p.record_id
    where x.campaign_id is not null
)
select
    t.campaign_id,
    any_value(c.name) as name,
    any_value(c.gbu) as gbu,
    count(*) filter (where t.status = 'ready') as ready,
    count(*) filter (where t.status = 'blocked') as blocked
from touched as t
left join stg_sfdc__campaign as c on c.sf_campaign_id = t.campaign_id
group by t.campaign_id
order by t.campaign_id
