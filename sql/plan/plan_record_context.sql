-- Which campaigns and GBUs a record belongs to — the one rule behind the plan's campaign_id/gbu, the summary's
-- by_campaign/by_gbu and the notebooks' campaign/GBU filters. A CampaignMember belongs to its Campaign and that
-- Campaign's GBU (else its Lead's). A Lead belongs to its own GBU__c (its own row, no campaign) and to every campaign
-- it is a member of, with that campaign's GBU (else the Lead's): a Lead's change touches all its campaigns.
-- is_own marks the record's own row (the plan's campaign_id and gbu columns). A view: computed where it is read.
-- The own row also carries is_converted (NULL on a Lead's campaign rows): plan_changes reads the record once, in one
-- join (a second join on (object, record_id) cost ~0.9 CPU s at 1.58M changes, backfill 1M).
-- Grain: one row per (object, record, campaign); a Lead's own row has no campaign. Parameters: none.
select
    'Lead' as object,
    sf_lead_id as record_id,
    cast(null as varchar) as campaign_id,
    gbu,
    true as is_own,
    is_converted
from stg_sfdc__lead
union all
select
    'Lead',
    m.sf_lead_id,
    m.sf_campaign_id,
    coalesce(c.gbu, l.gbu),
    false,
    null
from stg_sfdc__campaign_member as m
left join stg_sfdc__campaign as c on c.sf_campaign_id = m.sf_campaign_id
left join stg_sfdc__lead as l on l.sf_lead_id = m.sf_lead_id
where m.sf_lead_id is not null
union all
select
    'CampaignMember',
    m.sf_campaign_member_id,
    m.sf_campaign_id,
    coalesce(c.gbu, l.gbu),
    true,
    false
from stg_sfdc__campaign_member as m
left join stg_sfdc__campaign as c on c.sf_campaign_id = m.sf_campaign_id
left join stg_sfdc__lead as l on l.sf_lead_id = m.sf_lead_id
