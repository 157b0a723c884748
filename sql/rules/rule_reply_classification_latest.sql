-- Rule reply_classification_latest (CampaignMember.ReplyClassification__c): the category of the latest event by
-- time across Clay and Smartlead; ties → Clay; blanks never clear; written in the picklist's canonical spelling
-- (a category outside the picklist is blocked by the gate in plan_changes). Evidence: sfdc_evidence first (as in every
-- rule), then the winning event.
-- Grain: one row per CampaignMember to change. Parameters: none.
with picklist as (
    select value as canonical, lower(trim(value)) as norm
    from policy_picklist where object = 'CampaignMember' and field = 'ReplyClassification__c'
),
candidates as (
    select
        m.sf_campaign_member_id,
        m.file,
        m.row,
        m.reply_classification as current_value,
        coalesce(p.canonical, l.category) as after_value,
        l.ev
    from int_classification_latest as l
    join stg_sfdc__campaign_member as m on m.sf_campaign_member_id = l.sf_campaign_member_id
    left join picklist as p on p.norm = lower(trim(l.category))
)
select
    'CampaignMember' as object,
    sf_campaign_member_id as record_id,
    'ReplyClassification__c' as field,
    'reply_classification_latest' as rule,
    to_json(current_value) as before,
    to_json(after_value) as after,
    cast([] as varchar[]) as rule_reasons,
    [sfdc_evidence(file, row, 'ReplyClassification__c', to_json(current_value)), ev] as evidence
from candidates
where clean_text(current_value) is null or lower(clean_text(current_value)) <> lower(after_value)
