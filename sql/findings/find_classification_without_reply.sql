-- Finding classification_without_reply: a CampaignMember classified (in the state the plan leads to) while no
-- source records a reply (a sender-originated bounce is no reply). Grain: one row per CampaignMember.
-- Parameters: $value_sender_originated_bounce (the category, policy [source_values]).
select
    'classification_without_reply' as kind,
    'CampaignMember' as object,
    sf_campaign_member_id as record_id,
    'Classified "' || classification || '" but no source records a reply.' as detail,
    cast(null as varchar) as at,
    evidence
from int_reply_outcome
where not replied and lower(classification) <> lower($value_sender_originated_bounce)
