-- Rule reply_set_once (CampaignMember.Has_Replied__c): current OR reply evidence. Never true → false (first
-- response only, seed §3.3). Evidence: sfdc_evidence first (as in every rule), then every reply.
-- Grain: one row per CampaignMember to change. Parameters: none.
select
    'CampaignMember' as object,
    m.sf_campaign_member_id as record_id,
    'Has_Replied__c' as field,
    'reply_set_once' as rule,
    to_json(m.has_replied) as before,
    to_json(true) as after,
    cast([] as varchar[]) as rule_reasons,
    list_prepend(
        sfdc_evidence(m.file, m.row, 'Has_Replied__c', to_json(m.has_replied)),
        list_sort(list(r.ev))
    ) as evidence
from stg_sfdc__campaign_member as m
join int_reply_evidence as r on r.sf_campaign_member_id = m.sf_campaign_member_id
where not m.has_replied
group by m.sf_campaign_member_id, m.has_replied, m.file, m.row
