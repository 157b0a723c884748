-- Finding do_not_contact_reply: the contact replied "Do Not Contact" (in the state the plan leads to); routed to
-- the DPO. Grain: one row per CampaignMember. Parameters: $value_do_not_contact (the category, policy
-- [source_values]).
select
    'do_not_contact_reply' as kind,
    'CampaignMember' as object,
    sf_campaign_member_id as record_id,
    'The contact replied "Do Not Contact": route to the DPO and make sure no further outreach happens.' as detail,
    cast(null as varchar) as at,
    evidence
from int_reply_outcome
where lower(classification) = lower($value_do_not_contact)
