-- Finding overall_formula_mismatch: SFDC's overall_hard_bounced__c ≠ pi__pardot_hard_bounced__c OR
-- external_hard_bounced__c as SFDC holds them. Runbook (seed §3.5): check Pardot's source first, then Clay's
-- external_hard_bounced__c. Grain: one row per Lead. Parameters: none.
select
    'overall_formula_mismatch' as kind,
    'Lead' as object,
    sf_lead_id as record_id,
    'overall_hard_bounced__c is ' || overall_hard_bounced || ' but pi__pardot_hard_bounced__c OR '
        || 'external_hard_bounced__c is ' || (pardot_hard_bounced or external_hard_bounced)
        || '. Check Pardot''s hard-bounce source first, then Clay''s external_hard_bounced__c; never override '
        || 'manually without an audit trail.' as detail,
    cast(null as varchar) as at,
    [  -- the formula's value and the two values it is computed from, all from the Lead's row
        evidence('sfdc', file, row, 'overall_hard_bounced__c', cast(overall_hard_bounced as varchar), null),
        evidence('sfdc', file, row, 'pi__pardot_hard_bounced__c', cast(pardot_hard_bounced as varchar), null),
        evidence('sfdc', file, row, 'external_hard_bounced__c', cast(external_hard_bounced as varchar), null)
    ] as evidence
from stg_sfdc__lead
where overall_hard_bounced <> (pardot_hard_bounced or external_hard_bounced)
