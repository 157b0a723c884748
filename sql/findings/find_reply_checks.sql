-- Findings classification_without_reply (a classification but no reply evidence anywhere) and
-- do_not_contact_reply (routed to the DPO). Judged on the state the plan leads to.
-- Grain: one row per finding. Parameters: none.
with desired as (
    select
        m.cm_id,
        coalesce(l.category, m.reply_classification) as classification,
        m.has_replied or exists (select 1 from int_reply_evidence as r where r.cm_id = m.cm_id) as replied,
        case when l.ev is not null then [l.ev]
             else [evidence('sfdc', m.file, m.row, 'ReplyClassification__c', m.reply_classification, null)]
        end as evidence
    from stg_sfdc__campaign_member as m
    left join int_classification_latest as l on l.cm_id = m.cm_id
    where coalesce(l.category, trim(m.reply_classification), '') <> ''
)
select
    'classification_without_reply' as kind,
    'CampaignMember' as object,
    cm_id as record_id,
    'Classified "' || classification || '" but no source records a reply.' as detail,
    cast(null as varchar) as at,
    evidence
from desired
where not replied and lower(classification) <> 'sender originated bounce'
union all
select
    'do_not_contact_reply',
    'CampaignMember',
    cm_id,
    'The contact replied "Do Not Contact": route to the DPO and make sure no further outreach happens.',
    cast(null as varchar),
    evidence
from desired
where lower(trim(classification)) = 'do not contact'
