-- Rule hard_bounce_union (Lead.external_hard_bounced__c): current OR any hard-bounce evidence. Never true → false,
-- and Pardot's own flag is never touched (union, seed §3.3). Evidence: sfdc_evidence first (as in every
-- rule), then every bounce. Grain: one row per Lead to change. Parameters: none.
select
    'Lead' as object,
    l.sf_lead_id as record_id,
    'external_hard_bounced__c' as field,
    'hard_bounce_union' as rule,
    to_json(l.external_hard_bounced) as before,
    to_json(true) as after,
    cast([] as varchar[]) as rule_reasons,
    list_prepend(
        sfdc_evidence(l.file, l.row, 'external_hard_bounced__c', to_json(l.external_hard_bounced)),
        list_sort(list(b.ev))
    ) as evidence
from stg_sfdc__lead as l
join int_bounce_evidence as b on b.sf_lead_id = l.sf_lead_id
where not l.external_hard_bounced
group by l.sf_lead_id, l.external_hard_bounced, l.file, l.row
