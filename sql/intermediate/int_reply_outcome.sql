-- The reply state the plan leads to, for every CampaignMember with a classification: the latest classification
-- event's category (else SFDC's), whether any source records a reply, and the classification's evidence.
-- Grain: one row per classified CampaignMember. Parameters: none.
select
    m.sf_campaign_member_id,
    coalesce(l.category, clean_text(m.reply_classification)) as classification,
    m.has_replied
    or exists (select 1 from int_reply_evidence as r where r.sf_campaign_member_id = m.sf_campaign_member_id)
        as replied,
    case when l.ev is not null then [l.ev]
         else [evidence('sfdc', m.file, m.row, 'ReplyClassification__c', m.reply_classification, null)]
    end as evidence
from stg_sfdc__campaign_member as m
left join int_classification_latest as l on l.sf_campaign_member_id = m.sf_campaign_member_id
where coalesce(l.category, clean_text(m.reply_classification)) is not null
