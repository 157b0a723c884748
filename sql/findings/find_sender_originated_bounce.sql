-- Finding sender_originated_bounce: Smartlead categorised the lead as a sender-side failure (int_sender_bounces: its
-- own category, or Clay's Reply Category relaying it); it is no bounce evidence. Grain: one row per Lead.
-- Parameters: none.
select
    'sender_originated_bounce' as kind,
    'Lead' as object,
    sf_lead_id as record_id,
    'Smartlead categorised the lead "Sender Originated Bounce": a sender-side failure, not a recipient hard bounce, '
        || 'so it is no bounce evidence (a bounce field changes only on other evidence). Check the sending mailbox.'
        as detail,
    cast(null as varchar) as at,
    list_sort(list(ev)) as evidence
from int_sender_bounces
group by sf_lead_id
