-- The latest reply-classification event per CampaignMember: latest time first, then Clay before Smartlead
-- (ties → Clay); events of one source at the very same time are ordered by category, so row order never
-- matters. Grain: one row per CampaignMember with a classification event. Parameters: none.
with ranked as (
    select
        sf_campaign_member_id,
        category,
        ev,
        row_number() over (
            partition by sf_campaign_member_id
            order by event_at desc, priority asc, lower(category) asc, category asc, file asc, row asc
        ) as rn
    from int_classification_events
)
select sf_campaign_member_id, category, ev
from ranked
where rn = 1
