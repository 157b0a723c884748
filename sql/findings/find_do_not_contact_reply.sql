-- Finding do_not_contact_reply: the contact replied "Do Not Contact" (in the state the plan leads to); routed to
-- the DPO. Also on the Lead for a "Do Not Contact" category in a source row that reaches its Lead but no
-- CampaignMember (int_unlinked_do_not_contact; the row is unmatched_source_row as well).
-- Grain: one row per CampaignMember, or per Lead for rows reaching no CampaignMember.
-- Parameters: $value_do_not_contact (the category, policy [source_values]).
select
    'do_not_contact_reply' as kind,
    'CampaignMember' as object,
    sf_campaign_member_id as record_id,
    'The contact replied "Do Not Contact": route to the DPO and make sure no further outreach happens.' as detail,
    cast(null as varchar) as at,
    evidence
from int_reply_outcome
where lower(classification) = lower($value_do_not_contact)
union all
select
    'do_not_contact_reply',
    'Lead',
    sf_lead_id,
    'The lead was categorised "Do Not Contact" in a source row that reaches no CampaignMember: route to the DPO '
    || 'and make sure no further outreach happens.',
    cast(null as varchar),
    list_sort(list(ev))
from int_unlinked_do_not_contact
group by sf_lead_id
