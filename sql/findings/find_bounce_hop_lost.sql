-- Finding bounce_hop_lost: hard-bounce evidence only in Smartlead (the Smartlead → Clay hop failed) for a Lead whose
-- external_hard_bounced__c is still false. Grain: one row per Lead. Parameters: none.
with by_lead as (
    select sf_lead_id, bool_or(source = 'clay') as in_clay, list_sort(list(ev)) as evidence
    from int_bounce_evidence
    group by sf_lead_id
)
select
    'bounce_hop_lost' as kind,
    'Lead' as object,
    b.sf_lead_id as record_id,
    'Smartlead recorded a hard bounce that never reached Clay (Smartlead → Clay hop failed); '
        || 'external_hard_bounced__c is set from Smartlead''s evidence.' as detail,
    cast(null as varchar) as at,
    b.evidence
from by_lead as b
join stg_sfdc__lead as l on l.sf_lead_id = b.sf_lead_id
where not b.in_clay and not l.external_hard_bounced
